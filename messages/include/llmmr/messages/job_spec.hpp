#pragma once

#include <cstdint>
#include <string>

#include "llmmr/messages/strategy.hpp"
#include "llmmr/messages/structured_output.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// What a job asks and the limits it runs under.
struct job_spec {
  /// The question to answer over the document.
  std::string question;
  /// How the document is divided among calls.
  llmmr::strategy strategy = strategy::mapreduce;
  /// The prompt family.
  task_profile profile = task_profile::qa;
  /// Per-call token budget `L` (method.md section 1).
  uint32_t budget = 4096;
  /// Reserved output `R`, sent as `max_tokens`; 0 means the profile's default
  /// (300, or 1500 for `summary`).
  uint32_t max_tokens = 0;
  /// Reserved output of the reduce call (the final answer); 0 means
  /// `R + min(R, budget / 16)`: more than a map call's, since the answer
  /// must not be cut off, but within reach of small budgets.
  uint32_t reduce_max_tokens = 0;
  /// Whether calls ask for JSON-schema constrained output.
  llmmr::structured_output structured_output = structured_output::automatic;
  /// Fraction of chunks allowed to fail before the whole job fails.
  double max_failed_fraction = 0;
  /// Wall-clock limit for the job in milliseconds; 0 means none.
  uint64_t deadline_ms = 0;
  /// Start collapsing full groups while later chunks are still being mapped
  /// (the first round's groups are the same either way; not for the
  /// retrieval profile, whose selection needs every record).
  bool early_collapse = true;
  /// How often an unusable output (truncated with nothing usable, empty,
  /// unparsable) is asked for again with a corrective prompt, in every stage
  /// (0 disables).
  uint32_t reask_unparsable = 1;
  /// Model name to request; empty means the endpoint's configured model.
  std::string model;
  /// Sampling temperature sent with every call of the job.
  double temperature = 0;

  friend bool operator==(const job_spec&, const job_spec&) = default;
};

/// Returns the reserved output tokens of `spec`, resolving the default.
constexpr uint32_t reserved_output(const job_spec& spec) noexcept {
  if (spec.max_tokens != 0)
    return spec.max_tokens;
  return spec.profile == task_profile::summary ? 1500 : 300;
}

/// Returns the reserved output of the reduce call of `spec`.
constexpr uint32_t reduce_reserved_output(const job_spec& spec) noexcept {
  if (spec.reduce_max_tokens != 0)
    return spec.reduce_max_tokens;
  auto r = reserved_output(spec);
  auto extra = spec.budget / 16;
  return r + (r < extra ? r : extra);
}

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_spec& x) {
  return f(x.question, x.strategy, x.profile, x.budget, x.max_tokens,
           x.reduce_max_tokens, x.structured_output, x.max_failed_fraction,
           x.deadline_ms, x.early_collapse, x.reask_unparsable, x.model,
           x.temperature);
}

} // namespace llmmr

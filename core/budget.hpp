#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <caf/expected.hpp>

#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tokenizer.hpp"
#include "llmmr/messages/job_spec.hpp"

namespace llmmr {

/// The smallest payload budget `compute_budget` accepts. Below it a chunk
/// holds a sentence or two (so a document turns into thousands of calls) and a
/// collapse group cannot hold even one rendered record, whose header and four
/// labels alone take about 20 tokens.
inline constexpr uint32_t min_payload_tokens = 64;

/// The token arithmetic of method.md section 1 for one job.
struct call_budget {
  /// Per-call budget `L`.
  uint32_t total = 0;
  /// Reserved output `R` (the `max_tokens` actually sent).
  uint32_t reserved_output = 0;
  /// Reserved output of the reduce call (`reduce_reserved_output`).
  uint32_t reduce_reserved_output = 0;
  /// Tokens of the question, counted once per `{question}` in a template.
  uint32_t question_tokens = 0;
  /// The map template rendered with empty question and chunk (rubric
  /// included), plus the longest corrective note when re-asks are on.
  uint32_t map_template_tokens = 0;
  /// The collapse template rendered with empty question and records.
  uint32_t collapse_template_tokens = 0;
  /// The reduce template rendered with empty question and records.
  uint32_t reduce_template_tokens = 0;
  /// `B_chunk = L - map template - question - R`.
  uint32_t chunk_payload = 0;
  /// `B_collapse = L - collapse template - question - R` (the reference forgot
  /// the question; we do not).
  uint32_t collapse_payload = 0;
  /// `B_reduce = L - reduce template - question - R_reduce`.
  uint32_t reduce_payload = 0;

  friend bool operator==(const call_budget&, const call_budget&) = default;
};

/// Reads how much too long a prompt was from a server's
/// `context_length_exceeded` message, which names both counts (llama.cpp:
/// "request (2396 tokens) exceeds the available context size (2048
/// tokens)"; OpenAI and vLLM: "maximum context length is 2048 tokens.
/// However, you requested 2396 tokens"). Returns the window divided by the
/// prompt, below 1, or `std::nullopt` when the message does not say.
std::optional<double> context_overflow_ratio(std::string_view message);

/// Returns the payload budget to try after a prompt built for `budget` was
/// too long: `budget` scaled by the server's ratio (with a 10 % margin), or
/// by 3/4 when the server did not say; never above 9/10 of `budget`.
size_t shrink_after_overflow(size_t budget, std::string_view message);

/// Computes the budgets of `spec` with the templates of `spec.profile`.
/// Returns `error_kind::budget`, naming the numbers, when a payload budget
/// would be below `min_payload_tokens`.
caf::expected<call_budget> compute_budget(const job_spec& spec,
                                          const prompt_library& prompts,
                                          const tokenizer& tok);

} // namespace llmmr

#pragma once

#include <cstdint>

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

/// Computes the budgets of `spec` with the templates of `spec.profile`.
/// Returns `error_kind::budget`, naming the numbers, when a payload budget
/// would be below `min_payload_tokens`.
caf::expected<call_budget> compute_budget(const job_spec& spec,
                                          const prompt_library& prompts,
                                          const tokenizer& tok);

} // namespace llmmr

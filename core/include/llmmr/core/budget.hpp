#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "llmmr/messages/expected.hpp"

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
  /// The chunker's budget: `B_chunk = L - map template - question - R` for
  /// `mapreduce`, `chain_chunk_payload` for `chain`, and for `direct` the size
  /// of the pieces its head and tail are kept in (a quarter of
  /// `direct_payload`, at least `min_payload_tokens`).
  uint32_t chunk_payload = 0;
  /// `B_collapse = L - collapse template - question - R` (the reference forgot
  /// the question; we do not).
  uint32_t collapse_payload = 0;
  /// `B_reduce = L - reduce template - question - R_reduce`.
  uint32_t reduce_payload = 0;

  // -- the baselines (`strategy::chain`, `strategy::direct`) ------------------

  /// The chain worker template rendered with empty question, notes and chunk,
  /// plus its longest corrective note when re-asks are on.
  uint32_t chain_template_tokens = 0;
  /// Room kept for the notes one worker passes to the next: `R`, the most a
  /// worker may write.
  uint32_t chain_notes_tokens = 0;
  /// `B_chain = L - chain template - question - notes (R) - R`: a chain
  /// worker's chunk.
  uint32_t chain_chunk_payload = 0;
  /// The chain manager template (and the reduce's corrective note).
  uint32_t chain_answer_template_tokens = 0;
  /// `B_manager = L - manager template - question - R_reduce`: room for the
  /// last notes in the manager call (they are cut to it when longer).
  uint32_t chain_answer_payload = 0;
  /// The direct template, the reduce's corrective note and the cut marker.
  uint32_t direct_template_tokens = 0;
  /// `B_direct = L - direct template - question - R_reduce`: the document
  /// tokens the one direct call holds (first half and last half).
  uint32_t direct_payload = 0;

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
/// of a call the strategy makes would be below `min_payload_tokens`
/// (mapreduce: map, collapse, reduce; chain: worker chunk and manager notes;
/// direct: the document). The budgets of calls the strategy does not make
/// are computed too, clamped at 0.
expected<call_budget> compute_budget(const job_spec& spec,
                                     const prompt_library& prompts,
                                     const tokenizer& tok);

} // namespace llmmr

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/byte_range.hpp"
#include "llmmr/messages/chunk_failure.hpp"
#include "llmmr/messages/evidence_loss.hpp"
#include "llmmr/messages/node_stats.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/strategy.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// A record that reached the reducer, with the document ranges it covers.
struct evidence {
  /// The record as the reducer saw it.
  llmmr::record record;
  /// Byte ranges of the chunks listed in `record.chunks`, in the same order.
  std::vector<byte_range> ranges;

  friend bool operator==(const evidence&, const evidence&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, evidence& x) {
  return f(x.record, x.ranges);
}

/// How many LLM calls each stage made (retries not counted). The stages are
/// those of `strategy::mapreduce`; the baselines fill the same fields:
/// `chain` counts its worker calls (one per chunk, in document order) as
/// `map` and its manager calls as `reduce`; `direct` counts its one call as
/// `reduce`. `collapse` is 0 for both.
struct call_counts {
  /// Map calls, one per chunk plus re-asks (chain: worker calls).
  uint32_t map = 0;
  /// Collapse calls over all rounds (0 for chain and direct).
  uint32_t collapse = 0;
  /// Reduce calls (chain: manager calls; direct: its single call and its
  /// re-asks).
  uint32_t reduce = 0;

  friend bool operator==(const call_counts&, const call_counts&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_counts& x) {
  return f(x.map, x.collapse, x.reduce);
}

/// Wall time per stage in microseconds. For `chain`, `map_us` spans the
/// worker calls (first chunk to last unit) and `reduce_us` the manager call;
/// for `direct`, `map_us` and `collapse_us` are 0 and `reduce_us` is its one
/// call.
struct stage_timings {
  /// From the first byte received to the last chunk emitted.
  uint64_t chunk_us = 0;
  /// From the first map call to the last map reply (chain: the worker calls).
  uint64_t map_us = 0;
  /// All collapse rounds.
  uint64_t collapse_us = 0;
  /// The reduce call (chain: the manager call; direct: its call).
  uint64_t reduce_us = 0;
  /// The whole job.
  uint64_t total_us = 0;

  friend bool operator==(const stage_timings&, const stage_timings&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_timings& x) {
  return f(x.chunk_us, x.map_us, x.collapse_us, x.reduce_us, x.total_us);
}

/// The outcome of a job.
struct job_result {
  /// The job's identifier.
  uint64_t job_id = 0;
  /// The strategy that ran (`job_spec::strategy`).
  llmmr::strategy strategy = strategy::mapreduce;
  /// The answer alone, with no rationale or score text in it.
  std::string answer;
  /// The reducer's reasoning.
  std::string rationale;
  /// The reducer's confidence on the 0-5 scale.
  double confidence = 0;
  /// The records that reached the reducer.
  std::vector<llmmr::evidence> evidence;
  /// LLM calls per stage.
  call_counts calls;
  /// Corrective re-asks per stage (included in `calls`).
  call_counts reasks;
  /// True when no record was left after mapping: no reduce call was made and
  /// `answer` is the profile's no-information answer.
  bool no_information = false;
  /// Number of collapse rounds that ran.
  uint32_t collapse_rounds = 0;
  /// True when collapse had to fall back (truncate or drop records) because a
  /// round did not shrink the records.
  bool collapse_fallback = false;
  /// What the fallback did, when it ran.
  std::string fallback_note;
  /// Total token usage.
  llmmr::usage usage;
  /// Wall time per stage.
  stage_timings timings;
  /// Number of chunks the document was split into (direct: the pieces its
  /// head and tail were taken from).
  uint32_t chunks = 0;
  /// The document's tokens, summed over its chunks as the job's tokenizer
  /// counted them.
  uint64_t document_tokens = 0;
  /// Tokens of the document the answer never saw because `direct` cut them
  /// from the middle to fit the window (0 otherwise). A cut makes the result
  /// `partial` and is listed in `losses`.
  uint64_t cut_tokens = 0;
  /// Chunks that ended without a record.
  std::vector<chunk_failure> failures;
  /// Evidence that did not reach the reducer whole (collapse fallback,
  /// truncated or unusable map outputs).
  std::vector<evidence_loss> losses;
  /// The tokenizer that counted the budgets, e.g. "hf:tokenizer.json".
  std::string tokenizer;
  /// True when that tokenizer only estimates (`approx`).
  bool token_counts_estimated = false;
  /// Per node (the local mappers and each worker node), what it did for the
  /// map stage, in the order the nodes first took a chunk.
  std::vector<node_stats> nodes;
  /// True when the answer was not computed from all of the document: some
  /// chunks failed (no more than the job allows), evidence was lost, or
  /// `direct` cut the document (`cut_tokens`).
  bool partial = false;

  friend bool operator==(const job_result&, const job_result&) = default;
};

/// Approximate bytes `x` holds in memory, its heap allocations included;
/// what a cache of results counts against its byte budget.
size_t footprint(const job_result& x);

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_result& x) {
  return f(x.job_id, x.strategy, x.answer, x.rationale, x.confidence,
           x.evidence, x.calls, x.reasks, x.no_information, x.collapse_rounds,
           x.collapse_fallback, x.fallback_note, x.usage, x.timings, x.chunks,
           x.document_tokens, x.cut_tokens, x.failures, x.losses, x.tokenizer,
           x.token_counts_estimated, x.nodes, x.partial);
}

} // namespace llmmr

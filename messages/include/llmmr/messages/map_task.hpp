#pragma once

#include <cstdint>
#include <vector>

#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/chunk_failure.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/node_stats.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// One chunk to map, as the job coordinator hands it to the mapper pool.
struct map_task {
  /// The chunk (carries its job id and index).
  llmmr::chunk chunk;
  /// The job's question, profile and limits.
  job_spec spec;
  /// `B_chunk` of the job; a chunk the endpoint rejects as too long is split
  /// again with half of it.
  uint32_t payload_budget = 0;

  friend bool operator==(const map_task&, const map_task&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, map_task& x) {
  return f(x.chunk, x.spec, x.payload_budget);
}

/// How mapping one chunk ended: records (calibrated, in text order; several
/// when the chunk had to be split again) or a failure.
struct map_outcome {
  /// The job the chunk belongs to.
  uint64_t job_id = 0;
  /// The chunk's index.
  uint32_t index = 0;
  /// The chunk's records; empty when `failed`.
  std::vector<record> records;
  /// True when the chunk ended without a record.
  bool failed = false;
  /// Why it failed, when `failed`.
  chunk_failure failure;
  /// LLM calls made for this chunk (re-asks and splits included).
  uint32_t calls = 0;
  /// Corrective re-asks among `calls`.
  uint32_t reasks = 0;
  /// Tokens spent on this chunk.
  llmmr::usage usage;
  /// Who worked on the chunk: the node that ended it and any that gave it
  /// back before (their calls and tokens are included in `calls` and
  /// `usage`). Filled in by the mapper pool that dispatched it.
  std::vector<node_stats> nodes;
  /// Set by a worker node: the chunks it can take at once now (its map
  /// credit, following its endpoints' adaptive limits); 0 when not reported.
  uint32_t node_capacity = 0;

  friend bool operator==(const map_outcome&, const map_outcome&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, map_outcome& x) {
  return f(x.job_id, x.index, x.records, x.failed, x.failure, x.calls, x.reasks,
           x.usage, x.nodes, x.node_capacity);
}

} // namespace llmmr

#pragma once

#include <vector>

#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/job_stats.hpp"

namespace llmmr {

/// What a chunker actor sends to its job coordinator: the chunks it cut since
/// its last batch (in document order) and its buffer statistics.
struct chunk_batch {
  /// Freshly cut chunks; possibly none (a batch may only carry statistics).
  std::vector<llmmr::chunk> chunks;
  /// True in the last batch: the document ended and every chunk was sent.
  bool complete = false;
  /// The chunker's high-water marks (`chunks_buffered_hwm`,
  /// `bytes_buffered_hwm`, `pieces_held_hwm`) and `bytes_received`; the other
  /// fields are left to the coordinator.
  job_stats stats;

  friend bool operator==(const chunk_batch&, const chunk_batch&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk_batch& x) {
  return f(x.chunks, x.complete, x.stats);
}

} // namespace llmmr

#pragma once

#include <cstdint>

namespace llmmr {

/// High-water marks of one job's buffers: what the windows kept bounded.
struct job_stats {
  /// The job's identifier.
  uint64_t job_id = 0;
  /// Most chunks held at once that no mapper had started yet (the chunk
  /// window bounds it).
  uint32_t chunks_buffered_hwm = 0;
  /// Most bytes held at once by the chunker's carry-over plus those chunks.
  uint64_t bytes_buffered_hwm = 0;
  /// Most pieces of input held back at once, waiting for their ack.
  uint32_t pieces_held_hwm = 0;
  /// Most map requests of this job running at once.
  uint32_t map_in_flight_hwm = 0;
  /// Bytes of document received.
  uint64_t bytes_received = 0;

  friend bool operator==(const job_stats&, const job_stats&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_stats& x) {
  return f(x.job_id, x.chunks_buffered_hwm, x.bytes_buffered_hwm,
           x.pieces_held_hwm, x.map_in_flight_hwm, x.bytes_received);
}

} // namespace llmmr

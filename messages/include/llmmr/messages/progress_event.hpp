#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// The stage a job is in.
enum class job_stage : uint8_t {
  /// Receiving and splitting the document.
  chunking,
  /// Mapping chunks.
  mapping,
  /// Collapsing records.
  collapsing,
  /// Producing the answer.
  reducing,
  /// Finished with a result.
  done,
  /// Finished with an error.
  failed,
};

/// Returns the name of `x`, e.g. `"mapping"`.
std::string to_string(job_stage x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, job_stage& x);

/// A snapshot of a job's progress, sent to subscribers as it changes.
struct progress_event {
  /// The job's identifier.
  uint64_t job_id = 0;
  /// The current stage.
  job_stage stage = job_stage::chunking;
  /// Chunks known so far (final once the document is complete).
  uint32_t chunks_total = 0;
  /// True once the whole document has been received.
  bool document_complete = false;
  /// Chunks that ended with a record.
  uint32_t chunks_mapped = 0;
  /// Chunks that ended as failures.
  uint32_t chunks_failed = 0;
  /// Chunks whose map calls are under way.
  uint32_t chunks_in_flight = 0;
  /// Current collapse round, 0 before collapse.
  uint32_t collapse_round = 0;
  /// Tokens spent so far.
  llmmr::usage usage;
  /// Time since the job started, in microseconds.
  uint64_t elapsed_us = 0;
  /// Estimated time to completion in microseconds, 0 when unknown.
  uint64_t eta_us = 0;

  friend bool operator==(const progress_event&, const progress_event&)
    = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, progress_event& x) {
  return f(x.job_id, x.stage, x.chunks_total, x.document_complete,
           x.chunks_mapped, x.chunks_failed, x.chunks_in_flight,
           x.collapse_round, x.usage, x.elapsed_us, x.eta_us);
}

} // namespace llmmr

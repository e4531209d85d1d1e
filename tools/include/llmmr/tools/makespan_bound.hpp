#pragma once

// The lower bound on a job's makespan that `llmmr bench` compares with, and
// where the time above it went. Pure functions over the calls a job made, as
// the simulator's call log records them (docs/performance.md).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr::cli {

/// The pipeline stage of one LLM call.
enum class call_stage : uint8_t { map, collapse, reduce, other };

/// One LLM call of a job, its service time from the simulator's latency
/// model and when it held its slot, relative to the job's start.
struct timed_call {
  call_stage stage = call_stage::other;
  /// Collapse round of the call as its label names it: 0 for a group
  /// collapsed early (while mapping), 1 and up for the rounds after the map.
  uint32_t round = 0;
  /// How long the call held its slot (`latency_model::service_ms`).
  double service_ms = 0;
  /// When it got its slot, ms after the job's start.
  double start_ms = 0;
  /// When it released the slot, ms after the job's start.
  double finish_ms = 0;
};

/// Parses the stage and round from a call label such as `job 3 map 17`,
/// `job 3 collapse 2` or `job 3 reduce (corrective re-ask)`.
timed_call classify_label(std::string_view label);

/// A lower bound on the makespan of any schedule of the same calls.
struct makespan_bound {
  /// Sum of all service times.
  double total_service_ms = 0;
  /// `total_service_ms / slots`: no schedule keeps more than `slots` busy.
  double work_ms = 0;
  /// The chain of dependent calls: the longest map call, then for every
  /// collapse round after the map (1, 2, ...) its shortest call, then every
  /// reduce call (a re-ask follows the call before it). Every record reaches
  /// the reduce through each round that grouped it, so some chain of calls
  /// is at least this long; early collapse groups (round 0) are left out
  /// because a record need not pass through one.
  double chain_ms = 0;
  /// The larger of `work_ms` and `chain_ms`.
  double bound_ms = 0;
  /// Calls per stage.
  uint32_t map_calls = 0;
  uint32_t collapse_calls = 0;
  uint32_t reduce_calls = 0;
  /// Highest collapse round seen.
  uint32_t collapse_rounds = 0;
};

/// Computes the bound of `calls` on `slots` slots (at least 1).
makespan_bound compute_bound(const std::vector<timed_call>& calls,
                             uint32_t slots);

/// Where a job's slot time went: `makespan_ms * slots` splits into the busy
/// slot time (`total_service_ms`) and the idle slot time of four phases, so
/// `makespan = work_ms + (startup + map + tail + end) / slots` exactly.
struct idle_breakdown {
  /// Idle slot-ms before the first call got a slot (reading and chunking
  /// the first chunk, request set-up).
  double startup_ms = 0;
  /// Idle slot-ms from the first call's start to the last map call's end:
  /// slots the pipeline did not keep busy while it was still mapping.
  double map_ms = 0;
  /// Idle slot-ms from the last map call's end to the last call's end:
  /// collapse rounds and the reduce, which have fewer calls than slots.
  double tail_ms = 0;
  /// Idle slot-ms from the last call's end to the job's result.
  double end_ms = 0;
};

/// Splits the idle slot time of a job that took `makespan_ms`.
idle_breakdown break_down_idle(const std::vector<timed_call>& calls,
                               uint32_t slots, double makespan_ms);

} // namespace llmmr::cli

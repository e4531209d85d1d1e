#pragma once

// Running one job whose document is streamed in acknowledged pieces, with
// progress on stderr.

#include <cstdint>
#include <functional>
#include <string_view>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"
#include <caf/fwd.hpp>

#include "llmmr/actors/job_runner.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/progress_event.hpp"

namespace llmmr::cli {

/// How progress is shown on stderr.
enum class progress_mode {
  /// Not at all.
  none,
  /// One live line redrawn in place (for a terminal).
  bar,
  /// Plain lines every two seconds and on stage changes (for logs).
  lines,
};

/// Returns `bar` when stderr is a terminal and `lines` otherwise.
progress_mode default_progress_mode();

/// What `run_streamed_job` observed.
struct job_outcome {
  /// The job's result, or why the job (or its input) failed.
  expected<job_result> result{
    error{error_kind::internal, "the job produced no outcome"}};
  /// The last progress event received (chunk counts of a failed job).
  progress_event last;
  /// The job's id, 0 when the job never started.
  uint64_t job_id = 0;
  /// Wall time from the job's start to its result, in microseconds.
  uint64_t wall_us = 0;
};

/// Runs a job with `llmmr::run_streamed_job` (the pieces `source` produces,
/// each acknowledged before the next, no time limit). Progress goes to
/// stderr as `mode` says; `size_hint`, the document's size in bytes when
/// known (0 otherwise), lets the progress show how much of the input was
/// consumed before the chunk count is final. Blocks the calling thread; never
/// call it from an actor.
job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source, progress_mode mode,
                             uint64_t size_hint = 0);

} // namespace llmmr::cli

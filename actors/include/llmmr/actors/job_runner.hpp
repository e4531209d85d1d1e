#pragma once

// The one blocking job runner, for code outside actors: the CLI's commands,
// tests and hosts without an actor of their own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/job_spec.hpp"

namespace llmmr {

/// Hands a document to `consume` piece by piece; returns the first error of
/// the source or of `consume`.
using document_source
  = std::function<error(const std::function<error(std::string_view)>& consume)>;

/// Returns a source that hands `text` on in pieces of `piece` bytes. `text`
/// must outlive the source.
document_source text_source(std::string_view text, size_t piece = 1 << 16);

/// What the caller of `run_streamed_job` may watch while it blocks.
struct job_watchers {
  /// Subscribed to the job's `progress_event`s (`job_watch_atom`); may be
  /// null.
  caf::actor progress;
  /// Called on the calling thread with the bytes acknowledged so far after
  /// every piece; may be empty.
  std::function<void(uint64_t)> on_ack;
};

/// What `run_streamed_job` observed.
struct job_outcome {
  /// The job's result, or why the job (or its input) failed.
  expected<job_result> result{
    error{error_kind::internal, "the job produced no outcome"}};
  /// The job's id, 0 when the job never started.
  uint64_t job_id = 0;
  /// Wall time from the job's start to its result, in microseconds.
  uint64_t wall_us = 0;
};

/// Starts a job with `spec` on `pipeline`, sends it the pieces `source`
/// produces with `job_piece_atom`, waiting for each piece's ack before the
/// next one (so a slow pipeline slows the reader down and memory stays
/// bounded), ends the document and waits for the result. A source that
/// fails cancels the job and its error becomes the outcome. When `timeout`
/// (from the start, for the whole job) passes, the job is cancelled and the
/// outcome is `error_kind::timeout`; `std::chrono::milliseconds::max()`
/// waits forever. Blocks the calling thread; never call it from an actor.
job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source,
                             std::chrono::milliseconds timeout,
                             const job_watchers& watchers = {});

/// Runs one job over a whole document and blocks until its result, for code
/// outside actors: `run_streamed_job` with the document in one piece. On
/// `timeout` the job is cancelled and the error is `error_kind::timeout`.
expected<job_result> run_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             std::string document,
                             std::chrono::milliseconds timeout);

} // namespace llmmr

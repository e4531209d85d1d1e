#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/pipeline_defaults.hpp"
#include "llmmr/core/tokenizer.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/job_stats.hpp"
#include "llmmr/messages/progress_event.hpp"

namespace llmmr {

// -- atoms of the public interface --------------------------------------------

/// Starts a job: `(job_start_atom, job_spec) -> uint64_t job_id`.
using job_start_atom = caf::atom_constant<caf::atom("job_start")>;

/// Sends a piece of a job's document:
/// `(job_piece_atom, uint64_t job_id, std::string text) -> uint64_t bytes`.
using job_piece_atom = caf::atom_constant<caf::atom("job_piece")>;

/// Marks the end of a job's document:
/// `(job_end_atom, uint64_t job_id) -> uint32_t chunks`.
using job_end_atom = caf::atom_constant<caf::atom("job_end")>;

/// Starts a job over a whole document:
/// `(job_doc_atom, job_spec, std::string document) -> uint64_t job_id`.
using job_doc_atom = caf::atom_constant<caf::atom("job_doc")>;

/// Awaits a job's result: `(job_result_atom, uint64_t job_id) -> job_result`.
using job_result_atom = caf::atom_constant<caf::atom("job_result")>;

/// Subscribes an actor to progress events:
/// `(job_watch_atom, uint64_t job_id, caf::actor subscriber) -> bool`.
using job_watch_atom = caf::atom_constant<caf::atom("job_watch")>;

/// Ends a subscription made with `job_watch_atom`:
/// `(job_unwatch_atom, uint64_t job_id, caf::actor subscriber) -> bool`.
using job_unwatch_atom = caf::atom_constant<caf::atom("job_unwat")>;

/// Cancels a job: `(job_cancel_atom, uint64_t job_id) -> bool`.
using job_cancel_atom = caf::atom_constant<caf::atom("job_cancel")>;

/// Queries a job's buffer high-water marks:
/// `(job_stats_atom, uint64_t job_id) -> job_stats`.
using job_stats_atom = caf::atom_constant<caf::atom("job_stats")>;

// -- the pipeline's typed interface -------------------------------------------

/// The messages a pipeline understands. Every handler answers with an error
/// (`error_kind::usage`) for an unknown job id.
///
/// - `job_start_atom, job_spec`: creates a job that receives its document in
///   pieces; answers the job id (never 0). Fails with `error_kind::budget`
///   when the spec's budget cannot hold a prompt. Beyond `max_jobs` running
///   jobs the job waits (FIFO) until one ends; it fails with
///   `error_kind::usage` when `max_queued_jobs` jobs wait already. Cancelling
///   a waiting job removes it from the queue.
/// - `job_piece_atom, id, text`: appends `text` to the document. The answer
///   (total bytes received so far) is **held back until the chunker has room**
///   (fewer than `chunk_window` chunks waiting for a mapper): a sender that
///   waits for each ack before sending the next piece is slowed down to the
///   pace of the mappers and the job's memory stays bounded.
/// - `job_end_atom, id`: the document is complete; answers the number of
///   chunks once the chunker has consumed every piece.
/// - `job_doc_atom, spec, document`: `job_start` with the whole document;
///   answers the job id at once and feeds the document internally under the
///   same window.
/// - `job_result_atom, id`: answers the `job_result` when the job finishes,
///   or its error (`error_kind::too_many_failures`, `cancelled`, `deadline`,
///   or the reduce call's error). Results of finished jobs are kept for the
///   last `retain_results` jobs, within `retain_results_bytes`.
/// - `job_watch_atom, id, subscriber`: `subscriber` receives a
///   `progress_event` message whenever the job (every job when `id` is 0)
///   makes progress, and a last one with stage `done` or `failed`. A
///   subscriber is dropped when it terminates; subscribing twice is the same
///   as subscribing once.
/// - `job_unwatch_atom, id, subscriber`: ends that subscription (id 0: the
///   one to every job); answers whether there was one.
/// - `job_cancel_atom, id`: cancels a running job (its result becomes an
///   `error_kind::cancelled` error); answers whether the job was running.
/// - `job_stats_atom, id`: answers the job's high-water marks.
using pipeline_actor = caf::typed_actor<
  caf::replies_to<job_start_atom, job_spec>::with<uint64_t>,
  caf::replies_to<job_piece_atom, uint64_t, std::string>::with<uint64_t>,
  caf::replies_to<job_end_atom, uint64_t>::with<uint32_t>,
  caf::replies_to<job_doc_atom, job_spec, std::string>::with<uint64_t>,
  caf::replies_to<job_result_atom, uint64_t>::with<job_result>,
  caf::replies_to<job_watch_atom, uint64_t, caf::actor>::with<bool>,
  caf::replies_to<job_unwatch_atom, uint64_t, caf::actor>::with<bool>,
  caf::replies_to<job_cancel_atom, uint64_t>::with<bool>,
  caf::replies_to<job_stats_atom, uint64_t>::with<job_stats>>;

// -- options and handle -------------------------------------------------------

/// Sizes of the pipeline's windows and its limits.
struct pipeline_options {
  /// Number of mapper actors in the shared pool.
  uint32_t mappers = pipeline_defaults::mappers;
  /// Map requests in flight per mapper (`W`); the `llm_client`'s per-endpoint
  /// cap sits below this.
  uint32_t map_window = pipeline_defaults::map_window;
  /// Chunks per job that may wait for a mapper before input acks are held
  /// back.
  uint32_t chunk_window = pipeline_defaults::chunk_window;
  /// Collapse rounds after which the fallback makes the records fit.
  uint32_t max_collapse_rounds = pipeline_defaults::max_collapse_rounds;
  /// Jobs that may run at once; further jobs wait in submission order (their
  /// input is taken up to `chunk_window` chunks) and start as jobs end.
  uint32_t max_jobs = pipeline_defaults::max_jobs;
  /// Jobs that may wait for admission; a start beyond fails with
  /// `error_kind::usage`.
  uint32_t max_queued_jobs = pipeline_defaults::max_queued_jobs;
  /// Collapse calls of one job in flight at once; 0 means
  /// `mappers * map_window + workers.size() * worker_window`.
  uint32_t collapse_window = pipeline_defaults::collapse_window;
  /// How often a chunk the endpoint rejects as too long is split again.
  uint32_t max_resplits = pipeline_defaults::max_resplits;
  /// Finished jobs whose result (or error) stays available.
  uint32_t retain_results = pipeline_defaults::retain_results;
  /// Bytes the retained results may take together (`footprint`); the oldest
  /// go first, the newest result always stays.
  size_t retain_results_bytes
    = size_t{pipeline_defaults::retain_results_mb} * 1024 * 1024;
  /// Ask endpoints to stream replies (server-sent events). The result is
  /// the same; streaming lets idle timeouts catch a stalled generation.
  bool stream = pipeline_defaults::stream;
  /// Replace ill-formed UTF-8 in documents with U+FFFD instead of failing
  /// the job with `error_kind::invalid_utf8`.
  bool replace_invalid_utf8 = pipeline_defaults::replace_invalid_utf8;
  /// Directory of prompt overrides; empty means the built-in prompts.
  std::string prompts_dir;
  /// Limit for one chunk's map request, queueing included.
  std::chrono::milliseconds map_timeout{pipeline_defaults::map_timeout_ms};
  /// Limit for one collapse or reduce call to come back.
  std::chrono::milliseconds call_timeout{pipeline_defaults::call_timeout_ms};
  /// Worker nodes (`llmmr worker`) as "host:port"; their mappers serve as
  /// extra slots next to the `mappers` local ones (which may then be 0).
  std::vector<std::string> workers;
  /// Map requests in flight per worker node; 0 (the default) gives each
  /// node the capacity it advertises, its own `map_credit`, which follows
  /// its endpoints' adaptive limits.
  uint32_t worker_window = pipeline_defaults::worker_window;
  /// Limit for one map request to a worker node. A worker that dies is
  /// noticed at once (its chunks go back to the queue); this bounds a worker
  /// that stays connected but never answers.
  std::chrono::milliseconds worker_timeout{
    pipeline_defaults::worker_timeout_ms};
  /// Limit for connecting to one worker node (in the background) when the
  /// pipeline starts.
  std::chrono::milliseconds worker_connect_timeout{
    pipeline_defaults::worker_connect_timeout_ms};
  /// How often a chunk a worker node gives back (an endpoint error after its
  /// retries, a timeout: not the chunk's own fault) is mapped on another
  /// node before it counts as failed.
  uint32_t worker_max_requeues = pipeline_defaults::worker_max_requeues;
  /// Given-back chunks in a row after which a worker node is benched: it
  /// gets no chunk for `worker_bench` while another node can take one.
  uint32_t worker_bench_after = pipeline_defaults::worker_bench_after;
  /// How long a bench lasts.
  std::chrono::milliseconds worker_bench{pipeline_defaults::worker_bench_ms};
  /// First wait before reconnecting to a worker node of `workers` that went
  /// down; doubles per failed attempt up to `worker_reconnect_max`. A node
  /// that comes back takes chunks of the running jobs again. 0 never
  /// reconnects.
  std::chrono::milliseconds worker_reconnect_backoff{
    pipeline_defaults::worker_reconnect_backoff_ms};
  /// Longest wait between two reconnection attempts.
  std::chrono::milliseconds worker_reconnect_max{
    pipeline_defaults::worker_reconnect_max_ms};
  /// When every worker node is down and there are no local mappers, how
  /// long queued chunks wait for one to come back before they fail with
  /// `error_kind::node_down`.
  std::chrono::milliseconds worker_rejoin_wait{
    pipeline_defaults::worker_rejoin_wait_ms};
};

/// A running pipeline.
struct pipeline_handle {
  /// The pipeline's front actor; send it the messages of `pipeline_actor`.
  pipeline_actor actor;

  /// Stops the pipeline: running jobs end, their awaiters get an error.
  void stop() const;
};

// -- functions ----------------------------------------------------------------

/// Spawns a pipeline in `sys` that sends every LLM call through `client` and
/// counts tokens with `tok`. Fails with `error_kind::config` when the prompts
/// cannot be loaded or an option is zero. Call `register_types` on the
/// system's config before creating the system.
///
/// Never blocks, so an actor may call it. With `opts.workers`, the system
/// needs the middleman (`caf::io::middleman` loaded in its config); the
/// pipeline connects to the worker nodes in the background (each within
/// `worker_connect_timeout`) and jobs queue until a mapper can take their
/// chunks (local mappers can at once). A node that cannot be reached is
/// logged and skipped; when `opts.mappers` is 0 and no node could be
/// reached, jobs fail with `error_kind::unreachable` naming the nodes and
/// their errors.
expected<pipeline_handle> spawn_pipeline(caf::actor_system& sys,
                                         pipeline_options opts,
                                         std::shared_ptr<llm_client> client,
                                         std::shared_ptr<const tokenizer> tok);

/// The label of LLM requests: `"job <id> map <index>"`,
/// `"job <id> collapse <round>"` or `"job <id> reduce"`; for the baselines
/// `"job <id> chain <index>"` (a Chain-of-Agents worker),
/// `"job <id> manager"` and `"job <id> direct"`. Returns the stage word
/// ("map", "collapse", "reduce", "chain", "manager", "direct") of such a
/// label, empty otherwise.
std::string stage_of_label(const std::string& label);

} // namespace llmmr

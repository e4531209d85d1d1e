#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/messages/map_task.hpp"

namespace llmmr {

// Internal atoms of the pipeline's actors (not part of the public interface).

/// Maps one chunk: `(map_atom, map_task) -> map_outcome`.
using map_atom = caf::atom_constant<caf::atom("map")>;

/// Pool to coordinator: a mapper started chunk `(map_started_atom, index)`.
using map_started_atom = caf::atom_constant<caf::atom("mapstarted")>;

/// Coordinator to pool: drop the queued chunks of `(map_drop_atom, job_id)`.
using map_drop_atom = caf::atom_constant<caf::atom("mapdrop")>;

/// Coordinator to front: `(job_done_atom, id, job_result, job_stats)`.
using job_done_atom = caf::atom_constant<caf::atom("job_done")>;

/// Coordinator to front: `(job_failed_atom, id, caf::error, job_stats)`.
using job_failed_atom = caf::atom_constant<caf::atom("job_failed")>;

/// A job's deadline passed: `(deadline_atom)`.
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

/// What a worker node (`llmmr worker`) publishes: maps one chunk with the
/// node's own mappers, client, prompts and calibrator.
using worker_actor
  = caf::typed_actor<caf::replies_to<map_atom, map_task>::with<map_outcome>>;

/// Spawns the mapper pool: `opts.mappers` mappers with `opts.map_window`
/// map requests in flight each, plus `opts.worker_window` slots for each
/// worker node in `ctx->workers`, shared round-robin between jobs. The pool
/// understands `(map_atom, map_task) -> map_outcome` (telling the sender
/// `(map_started_atom, index)` when a mapper takes the chunk) and
/// `(map_drop_atom, job_id)`. Mappers parse each output and ask
/// `ctx->calibrator` to calibrate it (and whether to re-ask). The mappers are
/// linked to the pool; the front links the pool to itself. The pool monitors
/// every worker node: when one goes down, the chunks it was mapping go back
/// to the front of their jobs' queues at once (a late reply from the dead
/// node is ignored) and the node is not used again.
caf::actor spawn_mapper_pool(caf::actor_system& sys,
                             std::shared_ptr<const pipeline_context> ctx);

/// Spawns what a worker node serves: a calibrator, a mapper pool with
/// `opts.mappers` mappers (`opts.map_window` each) and a `worker_actor` in
/// front of them, to which the pool and the calibrator are linked (send it an
/// exit to stop them all). Fails with `error_kind::config` when the prompts
/// cannot be loaded or an option is zero.
expected<worker_actor>
spawn_worker_mappers(caf::actor_system& sys, pipeline_options opts,
                     std::shared_ptr<llm_client> client,
                     std::shared_ptr<const tokenizer> tok);

} // namespace llmmr

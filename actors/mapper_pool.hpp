#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/pipeline_context.hpp"

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

/// Spawns the mapper pool: `opts.mappers` mappers with `opts.map_window`
/// map requests in flight each, shared round-robin between jobs. The pool
/// understands `(map_atom, map_task) -> map_outcome` (telling the sender
/// `(map_started_atom, index)` when a mapper takes the chunk) and
/// `(map_drop_atom, job_id)`. Mappers parse each output and ask
/// `ctx->calibrator` to calibrate it (and whether to re-ask). The mappers are
/// linked to the pool; the front links the pool to itself.
caf::actor spawn_mapper_pool(caf::actor_system& sys,
                             std::shared_ptr<const pipeline_context> ctx);

} // namespace llmmr

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
#include "llmmr/actors/worker_actor.hpp"
#include "llmmr/core/worker_policy.hpp"
#include "llmmr/messages/map_task.hpp"

namespace llmmr {

// Internal atoms of the pipeline's actors (not part of the public interface).

/// Pool to coordinator: a mapper started chunk `(map_started_atom, index)`.
using map_started_atom = caf::atom_constant<caf::atom("mapstarted")>;

/// Front to coordinator: the job may start mapping `(job_admit_atom)`.
using job_admit_atom = caf::atom_constant<caf::atom("job_admit")>;

/// Coordinator to front: `(job_done_atom, id, job_result, job_stats)`.
using job_done_atom = caf::atom_constant<caf::atom("job_done")>;

/// Coordinator to front: `(job_failed_atom, id, caf::error, job_stats)`.
using job_failed_atom = caf::atom_constant<caf::atom("job_failed")>;

/// A job's deadline passed: `(deadline_atom)`.
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

/// The mapper pool: the same messages as a worker node. The sender of a
/// `map_atom` request receives `(map_started_atom, index)` when a mapper
/// takes the chunk.
using mapper_pool_actor = worker_actor;

/// Spawns the mapper pool: `opts.mappers` mappers with at most
/// `opts.map_window` chunks each and together at most their map credit
/// (`map_credit` of the client's capacity), plus one slot per worker node of
/// `opts.workers` holding the capacity the node advertises (or
/// `opts.worker_window` when not 0), shared round-robin between jobs. The pool
/// connects to the worker nodes in the background (each within
/// `worker_connect_timeout`; a node that cannot be used is logged and
/// skipped; with CAF's OpenSSL module loaded, see `configure_node_tls`, the
/// connection uses TLS), checks each node's handshake (protocol version and
/// message types, a mismatch makes it unusable with an error naming it and
/// both versions); chunks wait in the queue until a mapper can take them, and
/// when there are no local mappers and no node could be reached they fail with
/// `error_kind::unreachable` naming the nodes. The pool understands
/// `(map_atom, map_task) -> map_outcome` (telling the sender
/// `(map_started_atom, index)` when a mapper takes the chunk) and
/// `(map_drop_atom, job_id)`, which drops the job's queued chunks and passes
/// the drop on to the mappers and worker nodes, which cancel the job's calls
/// in flight. Mappers parse each output and ask `ctx->calibrator` to
/// calibrate it (and whether to re-ask). The mappers are linked to the pool;
/// the front links the pool to itself. The pool monitors every worker node:
/// when one goes down, the chunks it was mapping go back to the front of
/// their jobs' queues at once (a late reply from the dead node is ignored)
/// and the pool reconnects it with backoff (`worker_reconnect_backoff`,
/// doubling up to `worker_reconnect_max`); once back it takes chunks again.
/// With no mapper left, queued chunks wait `worker_rejoin_wait` for a node to
/// come back before they fail with `error_kind::node_down`.
mapper_pool_actor
spawn_mapper_pool(caf::actor_system& sys,
                  std::shared_ptr<const pipeline_context> ctx);

/// Spawns what a worker node serves: a calibrator, a mapper pool with
/// `opts.mappers` mappers (`opts.map_window` each) and a `worker_node_actor`
/// in front of them, to which the pool and the calibrator are linked (send it
/// an exit to stop them all). The front answers the handshake
/// (`hello_atom`; a peer with another protocol version or other message
/// types is refused with `error_kind::policy`) and maps chunks only for
/// peers that passed it; a chunk outside `policy` (another model, more
/// `max_tokens`) fails with `error_kind::policy` and a reason naming the
/// model or the limit. It logs who connects, who disconnects and what it
/// refuses. Fails with `error_kind::config` when the prompts cannot be
/// loaded or an option is zero.
expected<worker_node_actor>
spawn_worker_mappers(caf::actor_system& sys, pipeline_options opts,
                     std::shared_ptr<llm_client> client,
                     std::shared_ptr<const tokenizer> tok,
                     worker_policy policy);

} // namespace llmmr

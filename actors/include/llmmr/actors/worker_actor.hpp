#pragma once

#include <cstdint>

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/messages/map_task.hpp"

namespace llmmr {

// The interface a pipeline's mapper pool shares with worker nodes (internal,
// not part of the public interface).

/// Maps one chunk: `(map_atom, map_task) -> map_outcome`.
using map_atom = caf::atom_constant<caf::atom("map")>;

/// Coordinator to pool: drop the queued chunks of `(map_drop_atom, job_id)`.
using map_drop_atom = caf::atom_constant<caf::atom("mapdrop")>;

/// What a worker node (`llmmr worker`) publishes: maps one chunk with the
/// node's own mappers, client, prompts and calibrator.
/// `(map_drop_atom, job_id)` from a pipeline drops that job's queued chunks
/// on the node and cancels its calls in flight.
using worker_actor
  = caf::typed_actor<caf::replies_to<map_atom, map_task>::with<map_outcome>,
                     caf::reacts_to<map_drop_atom, uint64_t>>;

/// Pool to worker node on connect: `(hello_atom, protocol_version,
/// types_fingerprint) -> (protocol_version, types_fingerprint)` of the node
/// (see `llmmr/actors/node_handshake.hpp`).
using hello_atom = caf::atom_constant<caf::atom("hello")>;

/// Pool to worker node after the handshake: `(capacity_atom) -> uint32_t`,
/// the chunks the node can take at once (its map credit, see
/// `map_credit`). Each `map_outcome` from the node carries the figure as it
/// changes (`map_outcome::node_capacity`).
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;

/// What `llmmr worker` publishes: a `worker_actor` that first answers the
/// handshake and tells its capacity. A node maps chunks only for peers whose
/// handshake it accepted.
using worker_node_actor = worker_actor::extend<
  caf::replies_to<hello_atom, uint32_t, uint64_t>::with<uint32_t, uint64_t>,
  caf::replies_to<capacity_atom>::with<uint32_t>>;

} // namespace llmmr

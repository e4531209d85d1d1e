#pragma once

#include <cstdint>
#include <memory>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/messages/chain_notes.hpp"
#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/map_task.hpp"

namespace llmmr {

/// Coordinator to chain runner: the next chunk, in document order:
/// `(chain_step_atom, chunk)`.
using chain_step_atom = caf::atom_constant<caf::atom("chain_step")>;

/// Chain runner to coordinator: a chunk's worker call ended (its notes were
/// taken, or it failed): `(chain_done_atom, map_outcome)`.
using chain_done_atom = caf::atom_constant<caf::atom("chain_done")>;

/// Coordinator to chain runner once every chunk ended:
/// `(chain_notes_atom) -> chain_notes`.
using chain_notes_atom = caf::atom_constant<caf::atom("chain_note")>;

/// Where a chain runner reports (the job coordinator): a chunk's worker call
/// started (`map_started_atom, index`: the chunk left the chunk window) and
/// ended (`chain_done_atom`).
using chain_sink_actor
  = caf::typed_actor<caf::reacts_to<map_started_atom, uint32_t>,
                     caf::reacts_to<chain_done_atom, map_outcome>>;

/// The Chain-of-Agents worker of one job (`strategy::chain`, method.md
/// section 9). Chunks are read strictly one after another, in the order they
/// arrive (document order): each worker call gets the question, the notes
/// so far (the "communication unit") and the chunk, and its reply becomes
/// the notes for the next chunk.
///
/// - `chain_step_atom, chunk`: queues the chunk; when it starts the runner
///   sends `map_started_atom` to the sink, and when its call ended
///   `chain_done_atom` with a `map_outcome` (no records; calls, re-asks,
///   usage; `failed` with a `chunk_failure` when the call failed after the
///   client's retries or its reply held no notes after
///   `job_spec::reask_unparsable` corrective re-asks). A failed chunk leaves
///   the notes as they were: the chain goes on with the previous unit.
/// - `chain_notes_atom`: answers the last notes, the chunks they were
///   written from and the notes cut on the way.
///
/// Budget: the worker's prompt holds at most `B_chain` chunk tokens and `R`
/// note tokens (`call_budget::chain_chunk_payload`, `chain_notes_tokens`);
/// notes that count more than the chunk leaves room for are cut from the end
/// and the cut is listed as a loss. Calls are labelled
/// `job <id> chain <index>`, limited to `call_timeout`, send `R` as
/// `max_tokens` and never ask for a JSON schema (notes are free text).
using chain_runner_actor
  = caf::typed_actor<caf::reacts_to<chain_step_atom, chunk>,
                     caf::replies_to<chain_notes_atom>::with<chain_notes>>::
    extend_with<llm_reply_actor>;

/// Spawns the chain runner of job `job_id`.
chain_runner_actor
spawn_chain_runner(caf::actor_system& sys,
                   std::shared_ptr<const pipeline_context> ctx, uint64_t job_id,
                   job_spec spec, call_budget budget, chain_sink_actor sink);

} // namespace llmmr

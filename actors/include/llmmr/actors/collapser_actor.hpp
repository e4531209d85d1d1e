#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/messages/collapse_progress.hpp"
#include "llmmr/messages/collapse_result.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/record.hpp"

namespace llmmr {

/// Hands settled records to a collapser while mapping goes on:
/// `(collapse_add_atom, std::vector<record>)`.
using collapse_add_atom = caf::atom_constant<caf::atom("coll_add")>;

/// Collapses every record handed in so far plus the given ones:
/// `(collapse_atom, std::vector<record>) -> collapse_result`.
using collapse_atom = caf::atom_constant<caf::atom("collapse")>;

/// Collapses final records again into a smaller budget, after the reduce
/// prompt was too long for the server:
/// `(recollapse_atom, std::vector<record>, uint64_t budget) ->
/// collapse_result`.
using recollapse_atom = caf::atom_constant<caf::atom("recollapse")>;

/// Collapser to its observer: `(collapse_prog_atom, collapse_progress)`.
using collapse_prog_atom = caf::atom_constant<caf::atom("coll_prog")>;

/// Who learns about a collapser's progress (the job coordinator).
using collapse_observer_actor
  = caf::typed_actor<caf::reacts_to<collapse_prog_atom, collapse_progress>>;

/// The collapser of one job (method.md section 4): makes the records fit the
/// collapse budget. The pure `collapse_planner` decides what to call; the
/// actor makes the calls through the pipeline's `llm_client` (at most
/// `collapse_window` at once, each limited to `call_timeout`) and asks the
/// calibrator to calibrate every output (retrieval rule against the group's
/// rendered inputs) and to `select` the records before every round and
/// before the end.
///
/// - `collapse_add_atom, records`: records whose chunks form a settled prefix
///   of the document (every earlier chunk ended), in document order. With
///   `job_spec::early_collapse`, whenever the records held exceed the budget,
///   every full group but the last (which may still grow) is collapsed at
///   once (label `collapse 1`); the first round later takes their outputs
///   for the groups it forms identically. Without it (and for the retrieval
///   profile) they are only kept.
/// - `collapse_atom, records`: the last records (any order; they are sorted
///   by their first chunk together with the rest). Once the early calls came
///   back, runs the rounds and answers the final records, rounds, fallback
///   and its note, the number of collapse calls and their usage. A second
///   request is an `error_kind::usage` error; the actor does not end by itself
///   (its job coordinator ends it).
///
/// - `recollapse_atom, records, budget`: after the collapse answered, runs
///   it again over `records` with the smaller `budget` (the reduce prompt
///   was too long for the server); calls and usage count from zero again.
///
/// A collapse call rejected as `context_length_exceeded` lowers the budget
/// (`shrink_after_overflow`, from the server's counts) for the next round,
/// as long as it stays at least `min_payload_tokens`.
///
/// Termination holds whatever the model answers: a round that does not
/// shrink the records, or `max_collapse_rounds` rounds, end in the fallback
/// of `force_fit`. A failed, timed-out or unparsable call keeps its group's
/// inputs. Outputs carry the union of their inputs' chunks (provenance).
///
/// The observer (may be null) receives `(collapse_prog_atom,
/// collapse_progress)` when a round starts and when a call comes back.
/// The `llm_reply_actor` messages are the outcomes of the actor's own calls.
using collapser_actor = caf::typed_actor<
  caf::reacts_to<collapse_add_atom, std::vector<record>>,
  caf::replies_to<collapse_atom, std::vector<record>>::with<collapse_result>,
  caf::replies_to<recollapse_atom, std::vector<record>, uint64_t>::with<
    collapse_result>>::extend_with<llm_reply_actor>;

/// Spawns the collapser of job `job_id` (used in call labels) for `spec`,
/// with `budget` tokens for all records together (`min(B_collapse,
/// B_reduce)`). LLM calls, the tokenizer, the prompts, the calibrator, the
/// window, the round limit and the call timeout come from `ctx`.
collapser_actor spawn_collapser(caf::actor_system& sys,
                                std::shared_ptr<const pipeline_context> ctx,
                                uint64_t job_id, job_spec spec, size_t budget,
                                collapse_observer_actor observer);

/// Returns the collapse window of `opts` for a client that serves
/// `capacity` calls at once (`llm_client::capacity`, 0 when unknown):
/// `collapse_window`, or when that is 0 the capacity plus the map credit's
/// headroom (collapse calls go to the coordinator's own endpoints), or
/// `max(mappers, 1) * map_window` when the capacity is unknown.
uint32_t collapse_window_of(const pipeline_options& opts,
                            size_t capacity) noexcept;

} // namespace llmmr

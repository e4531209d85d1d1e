#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/reduce_result.hpp"

namespace llmmr {

/// Produces the final answer over the records:
/// `(reduce_atom, std::vector<record>) -> reduce_result`.
using reduce_atom = caf::atom_constant<caf::atom("reduce")>;

/// Makes the final-answer call over a prompt another stage rendered (the
/// chain manager, the direct call):
/// `(reduce_prompt_atom, std::string stage, std::string prompt) ->
/// reduce_result`.
using reduce_prompt_atom = caf::atom_constant<caf::atom("reduce_pr")>;

/// The reducer of one job: renders the reduce prompt over the records (which
/// must fit `B_reduce`; the collapser sees to that), makes the call (label
/// `job <id> reduce`, limited to `call_timeout`), and parses the output with
/// `parse_final_answer`.
///
/// - `reduce_atom, records`: answers the clean answer, the rationale, the
///   confidence (normalised to 0-5; 0 for profiles without scores and for a
///   truncated output), the parse status, one call and its usage. Fails with
///   the prompt's error when it cannot be rendered, and with the call's error
///   kind (`"job <id>: the reduce call failed: ..."`) when the call fails or
///   times out.
/// - `reduce_prompt_atom, stage, prompt`: the same call, re-asks and outcome
///   rules over a prompt rendered elsewhere (`strategy::chain`'s manager,
///   `strategy::direct`); `stage` names the call in its label
///   (`job <id> <stage>`) and errors, e.g. `"manager"` or `"direct"`.
///
/// The `llm_reply_actor` messages are the outcomes of the actor's own call.
using reducer_actor = caf::typed_actor<
  caf::replies_to<reduce_atom, std::vector<record>>::with<reduce_result>,
  caf::replies_to<reduce_prompt_atom, std::string, std::string>::with<
    reduce_result>>::extend_with<llm_reply_actor>;

/// Spawns the reducer of job `job_id` for `spec`; the client, the prompts and
/// the call timeout come from `ctx`.
reducer_actor spawn_reducer(caf::actor_system& sys,
                            std::shared_ptr<const pipeline_context> ctx,
                            uint64_t job_id, job_spec spec);

} // namespace llmmr

#pragma once

#include <string>

#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/job_spec.hpp"

namespace llmmr {

/// Returns whether calls of `spec` ask for JSON-schema constrained output
/// through `client`: always for `json_schema`, never for `text`, and for
/// `auto` when the client says its endpoints support it (which stops being
/// true once a server rejected a schema, see `schema_fallback_client`).
bool wants_json_schema(const job_spec& spec, const llm_client& client);

/// Builds the request of one map, collapse or reduce call of job `job_id`:
/// the prompt as one user message, the job's model and temperature, the
/// stage's reserved output as `max_tokens` (`reduce_reserved_output` for the
/// reduce), streaming as configured, the stage's JSON schema when
/// `wants_json_schema`, and `label` for logs.
chat_request make_stage_request(const pipeline_context& ctx,
                                const job_spec& spec, prompt_stage stage,
                                std::string prompt, std::string label);

} // namespace llmmr

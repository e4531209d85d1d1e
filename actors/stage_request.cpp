#include "llmmr/actors/stage_request.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <utility>

#include "llmmr/core/protocol.hpp"

namespace llmmr {

bool wants_json_schema(const job_spec& spec, const llm_client& client) {
  switch (spec.structured_output) {
  case structured_output::json_schema:
    return true;
  case structured_output::text:
    return false;
  default:
    return client.supports_json_schema();
  }
}

chat_request make_stage_request(const pipeline_context& ctx,
                                const job_spec& spec, prompt_stage stage,
                                std::string prompt, std::string label) {
  chat_request req;
  req.messages.push_back(chat_message{"user", std::move(prompt)});
  req.model = spec.model;
  req.max_tokens = stage == prompt_stage::reduce ? reduce_reserved_output(spec)
                                                 : reserved_output(spec);
  req.temperature = spec.temperature;
  req.stream = ctx.opts.stream;
  if (wants_json_schema(spec, *ctx.client))
    req.json_schema = stage == prompt_stage::reduce
                        ? final_answer_json_schema(spec.profile)
                        : record_json_schema(spec.profile);
  req.label = std::move(label);
  switch (stage) {
  case prompt_stage::map:
    req.priority = call_priority::map;
    break;
  case prompt_stage::collapse:
    req.priority = call_priority::collapse;
    break;
  case prompt_stage::reduce:
    req.priority = call_priority::reduce;
    break;
  }
  req.cancel = ctx.cancel;
  return req;
}

} // namespace llmmr

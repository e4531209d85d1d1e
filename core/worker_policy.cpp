#include "llmmr/core/worker_policy.hpp"

#include <algorithm>

namespace llmmr {

std::string policy_refusal(const worker_policy& policy, const job_spec& spec) {
  if (!spec.model.empty()
      && std::find(policy.models.begin(), policy.models.end(), spec.model)
           == policy.models.end()) {
    std::string served;
    for (const auto& m : policy.models)
      served += (served.empty() ? "\"" : ", \"") + m + "\"";
    return "model \"" + spec.model + "\" is not served here (this worker "
           + (served.empty() ? std::string{"serves only its endpoints' model"}
                             : "serves " + served)
           + ")";
  }
  if (auto wanted = reserved_output(spec); wanted > policy.max_tokens)
    return "max_tokens " + std::to_string(wanted)
           + " is above this worker's cap of "
           + std::to_string(policy.max_tokens);
  return {};
}

} // namespace llmmr

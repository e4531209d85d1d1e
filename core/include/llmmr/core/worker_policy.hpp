#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/job_spec.hpp"

namespace llmmr {

/// What a worker node agrees to run for its callers, from its own
/// configuration (`worker.models`, `worker.max_tokens`).
struct worker_policy {
  /// Models the node serves. A job naming no model is always served: its
  /// calls use the endpoints' own model.
  std::vector<std::string> models;
  /// Largest `max_tokens` of one map call.
  uint32_t max_tokens = 4096;
};

/// Returns why `policy` refuses to map chunks of a job with `spec` (naming
/// the model or the token count and the limit), or an empty string when it
/// accepts them.
std::string policy_refusal(const worker_policy& policy, const job_spec& spec);

} // namespace llmmr

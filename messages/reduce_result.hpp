#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "llmmr/messages/record_status.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// The reducer actor's answer: the final answer of a job.
struct reduce_result {
  /// The answer alone (`parse_final_answer`): no label, rationale or score.
  std::string answer;
  /// The reducer's reasoning.
  std::string rationale;
  /// Confidence on the 0-5 scale; 0 for profiles without scores and for a
  /// truncated output.
  double confidence = 0;
  /// How the output parsed.
  record_status status = record_status::ok;
  /// Reduce calls made.
  uint32_t calls = 0;
  /// Tokens spent on the reduce call.
  llmmr::usage usage;

  friend bool operator==(const reduce_result&, const reduce_result&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reduce_result& x) {
  return f(caf::meta::type_name("reduce_result"), x.answer, x.rationale,
           x.confidence, x.status, x.calls, x.usage);
}

} // namespace llmmr

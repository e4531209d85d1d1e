#pragma once

#include <cstdint>
#include <string>

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
  /// True when no record reached the reducer and the answer is the profile's
  /// no-information answer (no reduce call was made).
  bool no_information = false;
  /// True when the reply was cut at `max_tokens` after a complete answer
  /// field (accepted on the last attempt; the rationale may be cut).
  bool cut = false;
  /// Corrective re-asks among `calls`.
  uint32_t reasks = 0;
  /// Reduce calls made.
  uint32_t calls = 0;
  /// Tokens spent on the reduce call.
  llmmr::usage usage;

  friend bool operator==(const reduce_result&, const reduce_result&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reduce_result& x) {
  return f(x.answer, x.rationale, x.confidence, x.status, x.no_information,
           x.cut, x.reasks, x.calls, x.usage);
}

} // namespace llmmr

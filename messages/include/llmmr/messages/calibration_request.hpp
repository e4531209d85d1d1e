#pragma once

#include <cstdint>
#include <string>

#include "llmmr/messages/record.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// Asks the calibrator actor to calibrate one freshly parsed record.
struct calibration_request {
  /// The profile whose rules apply.
  task_profile profile = task_profile::qa;
  /// The record as the parser produced it.
  llmmr::record record;
  /// The call's finish reason (`"length"` marks a truncated output).
  std::string finish_reason;
  /// The text the record was drawn from (the chunk, or the rendered inputs of
  /// a collapse call) for the retrieval rule; empty skips the rule.
  std::string source_text;
  /// How many more times the caller may ask the model again for this output;
  /// 0 means the verdict never asks for a re-ask.
  uint32_t reasks_left = 0;

  friend bool operator==(const calibration_request&, const calibration_request&)
    = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, calibration_request& x) {
  return f(x.profile, x.record, x.finish_reason, x.source_text, x.reasks_left);
}

/// The calibrator actor's answer to a `calibration_request`.
struct calibration_verdict {
  /// The calibrated record: confidence normalised to 0-5, retrieval rule
  /// applied, truncated and unparsable outputs at confidence 0 with their
  /// status.
  llmmr::record record;
  /// True when the output is unparsable or truncated and the caller still
  /// has a re-ask left: ask the model again instead of keeping `record`.
  bool reask = false;

  friend bool operator==(const calibration_verdict&, const calibration_verdict&)
    = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, calibration_verdict& x) {
  return f(x.record, x.reask);
}

} // namespace llmmr

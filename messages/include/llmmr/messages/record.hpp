#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/record_kind.hpp"
#include "llmmr/messages/record_status.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// The structured output of a map or collapse call (method.md section 3):
/// extracted information, rationale, answer and a confidence score.
struct record {
  /// Indices of the chunks this record covers, ascending (provenance).
  std::vector<uint32_t> chunks;
  /// Information extracted from the text (for code: the relevant code).
  std::string extracted;
  /// Why the answer follows from the extracted information.
  std::string rationale;
  /// The answer, or empty when `no_information` is set.
  std::string answer;
  /// True when the answer field says the text holds no relevant information.
  bool no_information = false;
  /// Confidence on the calibrated 0-5 scale (halves allowed); 0 when
  /// `has_confidence` is false.
  double confidence = 0;
  /// False when the output gave no score (a missing score is not a 0).
  bool has_confidence = false;
  /// What the record carries: an answer, evidence only, or nothing
  /// (`classify_record`).
  record_kind kind = record_kind::empty;
  /// The model's output exactly as received.
  std::string raw;
  /// How the output was parsed.
  record_status status = record_status::ok;
  /// Tokens spent producing this record (including its inputs' calls).
  llmmr::usage usage;

  friend bool operator==(const record&, const record&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record& x) {
  return f(x.chunks, x.extracted, x.rationale, x.answer, x.no_information,
           x.confidence, x.has_confidence, x.kind, x.raw, x.status, x.usage);
}

} // namespace llmmr

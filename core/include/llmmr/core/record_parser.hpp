#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "llmmr/core/answer_markers.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/record_kind.hpp"
#include "llmmr/messages/record_status.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// Parses a map or collapse output into a record. Never throws and always
/// keeps `raw`. Accepts labelled fields (markdown emphasis or headings, any
/// case, English or Chinese labels, any order, several fields on one line),
/// and a JSON object (possibly fenced, possibly followed by other text or cut
/// off). Sets `status` to `ok` when every field of the profile was found,
/// `partial` when some were, `unparsable` when none were (then every field is
/// empty and the confidence 0). The confidence is normalised to [0, 5] in
/// steps of 0.5. Does not set `chunks` or `usage`.
record parse_record(std::string_view raw, task_profile profile);

/// Classifies a parsed record (`docs/protocol.md`, "Record classes"):
/// `answer` when its answer field holds a substantive answer; `evidence` when
/// it has no answer (or a no-information marker) but extracted information
/// that is not itself a marker; `empty` otherwise, and always for unparsable
/// output. For `summary`, a non-empty text is an `answer`.
record_kind classify_record(const record& r, task_profile profile);

/// The reducer's output.
struct final_answer {
  /// The answer alone: no label, rationale, score text, wrapping quotes or
  /// emphasis.
  std::string answer;
  /// The reducer's reasoning.
  std::string rationale;
  /// The reducer's confidence on the 0-5 scale (0 when absent).
  double confidence = 0;
  /// False when the output gave no score.
  bool has_confidence = false;
  /// `ok` when rationale and answer were found (for `summary`: a non-empty
  /// text), `partial` when only some were, `unparsable` when nothing was.
  record_status status = record_status::ok;
  /// The model's output exactly as received.
  std::string raw;
};

/// Parses the reducer's output. The answer comes from `extract_answer`
/// (core/answer_extractor.hpp) with `default_answer_kind(profile)`: the last
/// answer label, else an answer phrase, else the output as a whole. When the
/// output has no labels at all, status is `partial`.
final_answer parse_final_answer(std::string_view raw, task_profile profile);

/// Parses a confidence score written as `4`, `4.5`, `4/5`, `8/10`,
/// `4.5 out of 5`, `**5**`, `90%` or `5 (stated outright)`, rescaled to 0-5
/// but not clamped. Returns `std::nullopt` when the text holds no number.
std::optional<double> parse_score(std::string_view text);

/// Strips surrounding whitespace, markdown emphasis, backticks and quotes
/// from an answer.
std::string clean_answer(std::string_view answer);

} // namespace llmmr

#pragma once

#include <string_view>
#include <vector>

#include "llmmr/messages/record.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// Clamps `raw` to [0, 5] and rounds it to the nearest 0.5 (NaN gives 0).
double normalise_confidence(double raw);

/// The highest score a retrieval answer may get when it is not a literal copy
/// of the text, and the highest a no-information record may get.
inline constexpr double retrieval_nonliteral_cap = 4.5;

/// Returns whether `answer`, stripped of quotes, emphasis and a trailing full
/// stop, occurs literally in `text` (exactly, or after collapsing runs of
/// whitespace).
bool occurs_literally(std::string_view answer, std::string_view text);

/// The calibration rules of method.md section 6 as pure logic; an actor shell
/// wraps it.
class calibrator {
public:
  /// Creates a calibrator for `profile`.
  explicit calibrator(task_profile profile) : profile_(profile) {}

  /// Returns the profile this calibrator serves.
  task_profile profile() const noexcept { return profile_; }

  /// Applies the rules to a freshly parsed record: normalises the score;
  /// finish_reason "length" -> status truncated, confidence 0; unparsable ->
  /// confidence 0; retrieval: answers capped at 4.5 when they do not occur
  /// literally in `source_text` (pass empty to skip), "no information" never
  /// 5. Profiles without scores (`summary`) always get confidence 0.
  record calibrate(record r, std::string_view finish_reason,
                   std::string_view source_text = {}) const;

  /// Whether a corrective re-ask is worth it: the output is unusable
  /// (`diagnose_record`: truncated or unparsable with nothing usable, or
  /// empty). A truncated output with usable fields is kept instead.
  bool should_reask(const record& r) const;

  /// Classifies every record (`classify_record`) and drops the `empty` ones
  /// only: evidence records (no answer, but extracted facts) stay, because
  /// another part may complete them. For retrieval, when any answer record
  /// scores 5, only those stay. Order preserved.
  std::vector<record> select(std::vector<record> records) const;

private:
  task_profile profile_;
};

} // namespace llmmr

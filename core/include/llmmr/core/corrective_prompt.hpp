#pragma once

#include <string>
#include <string_view>

#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// What was wrong with a model's output, for a corrective re-ask and for the
/// error that ends a job when the re-ask fails too.
enum class output_problem : uint8_t {
  /// Nothing: the output is usable.
  none,
  /// The output stopped at `max_tokens` (finish_reason "length") before it
  /// held a usable field.
  truncated,
  /// The reply had no text at all (empty or `null` content).
  empty,
  /// The text held none of the requested fields.
  unparsable,
  /// The fields were there but the answer was missing or empty (reduce).
  missing_answer,
};

/// Returns a short description of `x` for errors and logs, e.g.
/// `"cut off at max_tokens before the answer"`.
std::string to_string(output_problem x);

/// Judges a map or collapse output after calibration: `truncated` when the
/// call hit `max_tokens` and the record carries nothing usable, `empty` for
/// a reply without text, `unparsable` when no field was found, `none`
/// otherwise (a truncated output whose fields are usable is kept).
output_problem diagnose_record(const record& r, std::string_view finish_reason);

/// Returns `prompt` followed by a note that tells the model what was wrong
/// with its previous reply (`problem`) and asks for a shorter one with the
/// answer first. Written in Chinese for `qa_zh`.
std::string corrective_prompt(task_profile profile, prompt_stage stage,
                              output_problem problem, std::string_view prompt);

/// Returns the longest note `corrective_prompt` may append for `profile` and
/// `stage`, so budgets can leave room for it.
std::string longest_corrective_note(task_profile profile, prompt_stage stage);

} // namespace llmmr

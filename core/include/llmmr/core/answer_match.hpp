#pragma once

#include <string>
#include <string_view>

namespace llmmr {

/// Returns `text` with ASCII letters in lower case and every ASCII
/// punctuation character and blank removed; other bytes (digits, letters of
/// other scripts) stay. "Amber-4127." and "amber 4127" both become
/// "amber4127".
std::string normalise_for_match(std::string_view text);

/// The needle-in-a-haystack judge: whether `expected`, normalised, occurs in
/// `answer`, normalised (so case, blanks and punctuation do not matter and
/// the answer may say more than the expected text). An `expected` that
/// normalises to nothing never matches.
bool answer_contains(std::string_view answer, std::string_view expected);

} // namespace llmmr

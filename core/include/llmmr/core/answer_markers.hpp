#pragma once

#include <optional>
#include <string_view>

namespace llmmr {

/// Returns whether `answer` (an answer field's value, nothing else) says that
/// the text holds no relevant information. The whole field is judged:
///
/// - it *is* a marker after normalisation (case, surrounding emphasis, quotes
///   and brackets, final punctuation): `No information`, `[NO INFORMATION]`,
///   `**No relevant information.**`, `None`, `N/A`, `Not mentioned`,
///   `Unknown`, `无相关信息`, `【无相关信息】`, `未提及` …; or
/// - it starts with a marker phrase (`No information`, `The text does not`,
///   `There is no mention of`, `文中没有` …) and the rest adds no claim of its
///   own: no contrast (`but`, `however`, `although`, `但`, `不过` …) follows.
///   `No information (the part is about the weather)` is a marker;
///   `The text does not name the thief, but it says Ben had a key` is not.
///
/// `docs/protocol.md` lists every form.
bool is_no_information(std::string_view answer);

/// Returns whether an extracted-information field holds nothing: empty, a
/// dash, `Nothing`, `Nothing relevant.`, `No relevant facts`, or any form
/// `is_no_information` accepts.
bool is_empty_extraction(std::string_view text);

/// Reads a confidence written as a word rather than a number: `very high` 5,
/// `high` 4, `medium`/`moderate` 3, `low` 2, `very low` 1, `none`/`zero` 0,
/// and the Chinese `非常高`/`很高` 5, `高`/`较高` 4, `中`/`中等`/`一般` 3,
/// `低`/`较低` 2, `很低`/`非常低` 1. The word must open the field (after
/// emphasis); returns `std::nullopt` when it does not.
std::optional<double> parse_confidence_word(std::string_view text);

} // namespace llmmr

#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmmr::python_text {

// The few Python `str` operations the benchmark scorers are written in, with
// Python's Unicode meaning, so that a rewritten rule splits, strips and
// lowers a prediction exactly where the original does. Text is UTF-8; a
// byte that is not well-formed UTF-8 counts as one character U+FFFD.

/// Decodes `text` into code points.
std::u32string decode(std::string_view text);

/// Encodes code points as UTF-8.
std::string encode(std::u32string_view text);

/// Returns whether `c` is white space for `str.split()` and `str.strip()`:
/// the ASCII blanks and controls 0x09-0x0D, 0x1C-0x1F, and U+0085, U+00A0,
/// U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool is_space(char32_t c) noexcept;

/// Returns whether `c` is a word character of a Unicode `re` pattern
/// (`\w`, which decides `\b`): a letter, a number or `_`.
bool is_word_char(char32_t c) noexcept;

/// `s.split()`: the runs between white space.
std::vector<std::string> split(std::string_view s);

/// `s.strip()`: `s` without white space at either end.
std::string_view strip(std::string_view s);

/// `s.lower()`: every code point by its lower-case mapping (U+0130 becomes
/// "i" and U+0307, as in Python). Not done: the final-sigma rule.
std::u32string lower(std::u32string_view s);

/// `s.upper()` with the simple (one code point) upper-case mappings; the
/// few expanding ones (such as "ß" to "SS") stay as they are.
std::u32string upper(std::u32string_view s);

} // namespace llmmr::python_text

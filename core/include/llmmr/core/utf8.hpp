#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr::utf8 {

/// The replacement character U+FFFD, encoded.
inline constexpr std::string_view replacement = "\xEF\xBF\xBD";

/// Tells how decoding one code point went.
enum class status : uint8_t {
  /// A complete, well-formed code point.
  ok,
  /// The bytes are not well-formed UTF-8 (bad lead byte, missing
  /// continuation, overlong form, surrogate or beyond U+10FFFF).
  invalid,
  /// The bytes are a well-formed prefix of a code point, but the input ends
  /// before the code point does.
  incomplete,
};

/// One decoded code point.
struct decoded {
  /// The code point; U+FFFD unless `state` is `status::ok`.
  char32_t code_point = 0xFFFD;
  /// Bytes consumed: the code point's length when `ok`, the length of the
  /// maximal well-formed prefix (at least 1) when `invalid`, the bytes
  /// available when `incomplete`.
  uint8_t length = 1;
  /// The outcome.
  status state = status::ok;
};

/// Returns whether `byte` is a continuation byte (10xxxxxx).
constexpr bool is_continuation(unsigned char byte) noexcept {
  return (byte & 0xC0) == 0x80;
}

/// Returns the length of the sequence that `lead` starts, or 0 when `lead`
/// cannot start a well-formed sequence.
constexpr size_t sequence_length(unsigned char lead) noexcept {
  if (lead < 0x80)
    return 1;
  if (lead < 0xC2)
    return 0; // continuation byte or overlong two-byte lead
  if (lead < 0xE0)
    return 2;
  if (lead < 0xF0)
    return 3;
  if (lead < 0xF5)
    return 4;
  return 0;
}

/// Decodes the code point that starts at `pos` in `text`; `pos` must be
/// smaller than `text.size()`.
decoded decode(std::string_view text, size_t pos) noexcept;

/// Returns the offset of the first byte of the first ill-formed sequence in
/// `text`, or of the first NUL byte when `reject_nul` is set, or `npos` when
/// there is none. A sequence cut off by the end of `text` counts as
/// ill-formed.
size_t find_invalid(std::string_view text, bool reject_nul = true) noexcept;

/// Returns whether `text` is well-formed UTF-8 (without NUL bytes when
/// `reject_nul` is set).
inline bool is_valid(std::string_view text, bool reject_nul = true) noexcept {
  return find_invalid(text, reject_nul) == std::string_view::npos;
}

/// Returns the smallest character boundary in `text` that is not below `pos`
/// (`text.size()` at most). `text` must be well-formed.
size_t ceil_boundary(std::string_view text, size_t pos) noexcept;

/// Returns the largest character boundary in `text` that is not above `pos`.
/// `text` must be well-formed.
size_t floor_boundary(std::string_view text, size_t pos) noexcept;

/// Returns the number of code points in the well-formed `text`.
size_t length(std::string_view text) noexcept;

/// Appends the UTF-8 encoding of the code point `cp` (at most U+10FFFF) to
/// `out`.
void append(std::string& out, char32_t cp);

} // namespace llmmr::utf8

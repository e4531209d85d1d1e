#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmmr::byte_level {

/// GPT-2's reversible mapping of bytes to printable code points, used by the
/// vocabularies of byte-level BPE tokenizers (`ByteLevel` in Hugging Face's
/// `tokenizer.json`): printable Latin-1 bytes map to themselves, the other
/// 68 bytes to U+0100 and up, in byte order.
char32_t to_code_point(uint8_t byte) noexcept;

/// Returns the byte that `cp` stands for, or `std::nullopt` when `cp` is not
/// in the image of `to_code_point`.
std::optional<uint8_t> to_byte(char32_t cp) noexcept;

/// Turns a token as spelled in a byte-level vocabulary (UTF-8 of mapped code
/// points, e.g. `"Ġthe"`) into the raw bytes it stands for (`" the"`).
/// Returns `std::nullopt` when `token` contains a code point outside the
/// mapping or is not well-formed UTF-8.
std::optional<std::string> decode_token(std::string_view token);

/// Spells raw bytes the way a byte-level vocabulary does.
std::string encode_token(std::string_view bytes);

} // namespace llmmr::byte_level

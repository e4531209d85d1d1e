#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// The four Unicode normalization forms.
enum class normal_form : uint8_t { nfc, nfd, nfkc, nfkd };

/// Returns whether `text` is certainly in `form` already, judged by a cheap
/// scan: true when every code point is below the first one that the form
/// can change (U+0300 for NFC, U+00C0 for NFD, U+00A0 for NFKC and NFKD).
/// A false answer means "maybe not".
bool is_quickly_normal(std::string_view text, normal_form form) noexcept;

/// Appends `text` in normalization form `form` (computed with utf8proc) to
/// `out`. Runs of bytes that are not well-formed UTF-8 are copied as they
/// are, and the well-formed runs between them are normalized separately.
void normalize(std::string_view text, normal_form form, std::string& out);

/// Returns `text` in normalization form `form`; see the overload above.
std::string normalize(std::string_view text, normal_form form);

} // namespace llmmr

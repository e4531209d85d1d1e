#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// How well a model's output turned into a record.
enum class record_status : uint8_t {
  /// Every field was found.
  ok,
  /// Some fields were found; the missing ones are empty.
  partial,
  /// No field could be found; only the raw text is kept.
  unparsable,
  /// The model hit `max_tokens` (finish_reason "length").
  truncated,
};

/// Returns the name of `x`, e.g. `"partial"`.
std::string to_string(record_status x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, record_status& x);

} // namespace llmmr

#pragma once

#include <cstdint>

namespace llmmr {

/// A half-open range `[begin, end)` of byte offsets in a document.
struct byte_range {
  /// Offset of the first byte.
  uint64_t begin = 0;
  /// Offset one past the last byte.
  uint64_t end = 0;

  /// Returns the number of bytes in the range.
  uint64_t size() const noexcept { return end - begin; }

  friend bool operator==(const byte_range&, const byte_range&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, byte_range& x) {
  return f(x.begin, x.end);
}

} // namespace llmmr

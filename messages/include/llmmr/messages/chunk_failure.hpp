#pragma once

#include <cstdint>
#include <string>

#include "llmmr/messages/byte_range.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

/// A chunk that ended without a record, and why.
struct chunk_failure {
  /// Index of the chunk.
  uint32_t index = 0;
  /// Where the chunk lies in the document.
  byte_range range;
  /// What kind of failure ended it.
  error_kind kind = error_kind::internal;
  /// A description naming the cause (endpoint, status, attempts).
  std::string reason;

  friend bool operator==(const chunk_failure&, const chunk_failure&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk_failure& x) {
  return f(x.index, x.range, x.kind, x.reason);
}

} // namespace llmmr

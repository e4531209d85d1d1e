#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/byte_range.hpp"

namespace llmmr {

/// Evidence that did not reach the reducer whole: a record the collapse
/// fallback dropped or cut, or a map output that was cut at `max_tokens` or
/// stayed unusable. Any loss makes a job's result `partial`.
struct evidence_loss {
  /// The chunks whose evidence was lost or shortened.
  std::vector<uint32_t> chunks;
  /// Byte ranges of `chunks`, in the same order (set in the job result).
  std::vector<byte_range> ranges;
  /// The confidence of the lost record (0 when it had none).
  double confidence = 0;
  /// What happened, e.g. "dropped by the collapse fallback".
  std::string what;

  friend bool operator==(const evidence_loss&, const evidence_loss&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, evidence_loss& x) {
  return f(x.chunks, x.ranges, x.confidence, x.what);
}

} // namespace llmmr

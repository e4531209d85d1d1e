#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/byte_range.hpp"

namespace llmmr {

/// The document as the `direct` strategy's one call sees it.
struct direct_text {
  /// The text for `{document}`: the whole document, or its first and last
  /// tokens joined by `direct_cut_marker` (core/direct_window.hpp).
  std::string text;
  /// Document bytes the call sees: one range, or the head and the tail.
  std::vector<byte_range> kept;
  /// The document bytes left out (empty when nothing was cut).
  byte_range cut;
  /// The document's tokens, summed over its chunks.
  uint64_t document_tokens = 0;
  /// Tokens of the head and the tail, counted piece by piece.
  uint64_t kept_tokens = 0;
  /// Tokens left out: `document_tokens - kept_tokens` (0 when whole).
  uint64_t cut_tokens = 0;
  /// True when the middle was cut.
  bool truncated = false;

  friend bool operator==(const direct_text&, const direct_text&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, direct_text& x) {
  return f(x.text, x.kept, x.cut, x.document_tokens, x.kept_tokens,
           x.cut_tokens, x.truncated);
}

} // namespace llmmr

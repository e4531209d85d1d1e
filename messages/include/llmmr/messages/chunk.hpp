#pragma once

#include <cstdint>
#include <string>

#include "llmmr/messages/byte_range.hpp"

namespace llmmr {

/// A piece of a document that fits the map budget.
struct chunk {
  /// The job this chunk belongs to.
  uint64_t job_id = 0;
  /// Position of the chunk in the document, starting at 0.
  uint32_t index = 0;
  /// Where the chunk's text lies in the document.
  byte_range range;
  /// The chunk's text (exactly the document's bytes in `range`).
  std::string text;
  /// The chunk's size as counted by the job's tokenizer.
  uint32_t tokens = 0;

  friend bool operator==(const chunk&, const chunk&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk& x) {
  return f(x.job_id, x.index, x.range, x.text, x.tokens);
}

} // namespace llmmr

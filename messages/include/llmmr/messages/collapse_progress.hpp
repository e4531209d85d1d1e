#pragma once

#include <cstdint>

#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// What a collapser actor reports to its observer while it works: sent when a
/// round starts and when a call comes back, so that progress events can show
/// the round and the tokens spent.
struct collapse_progress {
  /// The round in progress; 0 while only early collapse calls ran.
  uint32_t round = 0;
  /// Collapse calls started so far, early ones included.
  uint32_t calls = 0;
  /// Tokens spent on collapse calls so far.
  llmmr::usage usage;

  friend bool operator==(const collapse_progress&, const collapse_progress&)
    = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collapse_progress& x) {
  return f(x.round, x.calls, x.usage);
}

} // namespace llmmr

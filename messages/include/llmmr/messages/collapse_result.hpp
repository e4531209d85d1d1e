#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/evidence_loss.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// The collapser actor's answer: records that fit the reduce prompt, and what
/// it took to get there.
struct collapse_result {
  /// The records for the reducer, in document order, provenance kept.
  std::vector<record> records;
  /// Collapse rounds that ran (early collapse calls not included).
  uint32_t rounds = 0;
  /// True when the termination fallback cut or dropped records.
  bool fallback = false;
  /// What the fallback did and why; empty without fallback.
  std::string fallback_note;
  /// Records the fallback dropped or cut, and collapse inputs lost otherwise.
  std::vector<evidence_loss> losses;
  /// Corrective re-asks among `calls`.
  uint32_t reasks = 0;
  /// Collapse calls made, early ones included.
  uint32_t calls = 0;
  /// Tokens spent on collapse calls.
  llmmr::usage usage;

  friend bool operator==(const collapse_result&, const collapse_result&)
    = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collapse_result& x) {
  return f(x.records, x.rounds, x.fallback, x.fallback_note, x.losses, x.reasks,
           x.calls, x.usage);
}

} // namespace llmmr

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmmr/messages/evidence_loss.hpp"

namespace llmmr {

/// What a chain runner hands its coordinator once every chunk was read: the
/// last Chain-of-Agents "communication unit" and what happened to it on the
/// way.
struct chain_notes {
  /// The notes the last successful worker call wrote (the initial notes
  /// when none succeeded).
  std::string text;
  /// The chunks whose worker call succeeded, in document order: the notes
  /// were written from them.
  std::vector<uint32_t> chunks;
  /// Notes cut on the way: a worker reply cut at `max_tokens`, or notes cut
  /// to fit the next call.
  std::vector<evidence_loss> losses;

  friend bool operator==(const chain_notes&, const chain_notes&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chain_notes& x) {
  return f(x.text, x.chunks, x.losses);
}

} // namespace llmmr

#pragma once

#include <cstdint>
#include <span>

namespace llmmr {

struct call_budget;

/// What a job will cost at most, computed before any call is made.
struct cost_estimate {
  /// One map call per chunk.
  uint64_t map_calls = 0;
  /// Collapse rounds if every map output used all reserved output tokens.
  uint32_t worst_collapse_rounds = 0;
  /// Collapse calls over those rounds.
  uint64_t worst_collapse_calls = 0;
  /// Always one.
  uint64_t reduce_calls = 1;
  /// True when even two worst-case records exceed the collapse budget, so
  /// the collapse stage would have to fall back to truncating records.
  bool collapse_needs_fallback = false;
  /// Prompt tokens over all calls (worst case for collapse and reduce).
  uint64_t prompt_tokens = 0;
  /// Completion tokens over all calls, each using all reserved output.
  uint64_t completion_tokens = 0;
};

/// Estimates the calls and tokens of a job whose chunks have the token counts
/// in `chunk_tokens`. `record_overhead` is the number of tokens a rendered
/// record adds on top of its fields (its header and labels).
cost_estimate estimate_cost(const call_budget& budget,
                            std::span<const uint32_t> chunk_tokens,
                            uint32_t record_overhead);

} // namespace llmmr

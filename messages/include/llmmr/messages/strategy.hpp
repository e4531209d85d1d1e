#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// How a job divides the document among calls (`job.strategy`). The three
/// share the backends, the accounting and the result fields, so users can
/// compare them on their own model (method.md section 9).
enum class strategy : uint8_t {
  /// LLM×MapReduce: map every chunk in parallel, collapse, reduce.
  mapreduce,
  /// Chain-of-Agents: chunks read in order, each call passing a running
  /// summary to the next, a final call answering from the last summary.
  chain,
  /// One call with the document cut in the middle to fit the window, as
  /// InfiniteBench's baselines did.
  direct,
};

/// Returns the name of `x`: `"mapreduce"`, `"chain"` or `"direct"`.
std::string to_string(strategy x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, strategy& x);

} // namespace llmmr

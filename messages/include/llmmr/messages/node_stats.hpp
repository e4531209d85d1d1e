#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmmr {

/// What one node (the local mappers, or a worker node "host:port") did for a
/// job's chunks.
struct node_stats {
  /// "local" for the coordinator's own mappers, else the worker's address.
  std::string node;
  /// Chunks this node mapped to records.
  uint32_t chunks_mapped = 0;
  /// Chunks this node gave back (a failure that was not the chunk's own, a
  /// silent or dead node) and that went to another node.
  uint32_t requeued = 0;
  /// Chunks that failed on this node for good.
  uint32_t failures = 0;
  /// LLM calls the node made for the job's chunks.
  uint32_t calls = 0;
  /// Tokens (prompt and completion) those calls spent.
  uint64_t tokens = 0;

  friend bool operator==(const node_stats&, const node_stats&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_stats& x) {
  return f(x.node, x.chunks_mapped, x.requeued, x.failures, x.calls, x.tokens);
}

/// Adds `x` to the entry of its node in `xs` (appending one when missing).
inline void add_node_stats(std::vector<node_stats>& xs, const node_stats& x) {
  for (auto& y : xs)
    if (y.node == x.node) {
      y.chunks_mapped += x.chunks_mapped;
      y.requeued += x.requeued;
      y.failures += x.failures;
      y.calls += x.calls;
      y.tokens += x.tokens;
      return;
    }
  xs.push_back(x);
}

} // namespace llmmr

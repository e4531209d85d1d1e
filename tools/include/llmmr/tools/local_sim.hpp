#pragma once

// The simulator started in this process on loopback, for the subcommands
// that run jobs without an endpoint (`llmmr demo`, `llmmr eval
// infinitebench`).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/sim/sim_server.hpp"

namespace llmmr::cli {

/// A running in-process simulator and the settings that point at it.
struct local_sim {
  /// The server; stops when destroyed.
  std::unique_ptr<sim::sim_server> server;
  /// Its base URL, e.g. "http://127.0.0.1:41234/v1".
  std::string url;
  /// Configuration overrides for jobs against it: its URL and concurrency,
  /// pipeline windows sized for it, fast retries and short timeouts (a
  /// stalled reply should cost a retry, not a minute), log level `error`.
  /// Put them first so that `--set` can override them.
  std::vector<std::pair<std::string, std::string>> overrides;
};

/// Starts the simulator on 127.0.0.1 with a free port, 16 slots, `seed` for
/// its fault draw and `fault_rate` of every fault kind. Fails with the
/// server's error (`error_kind::unreachable` when it cannot bind).
expected<local_sim> start_local_sim(uint64_t seed, double fault_rate = 0);

} // namespace llmmr::cli

#pragma once

// The simulator that `llmmr demo` and `llmmr niah` start in their own
// process when they are not given an endpoint.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "llmmr/sim/sim_server.hpp"

namespace llmmr::cli {

/// A running in-process simulator and the settings that point at it.
struct builtin_sim {
  /// The server, on a free loopback port; stops when destroyed.
  std::unique_ptr<sim::sim_server> server;
  /// Its base URL, e.g. "http://127.0.0.1:41234/v1".
  std::string url;
  /// Configuration overrides (key, value) that send every call to it with
  /// windows and retry timings that suit it; apply them below the user's own
  /// `--set` overrides.
  std::vector<std::pair<std::string, std::string>> overrides;
};

/// Starts the simulator on 127.0.0.1 with 16 slots, the fault draw seeded
/// with `seed` and `fault_rate` spread over the fault kinds (a stalled reply
/// costs a retry after 300 ms, not a minute). Fails with the server's error.
caf::expected<builtin_sim> start_builtin_sim(uint64_t seed, double fault_rate);

} // namespace llmmr::cli

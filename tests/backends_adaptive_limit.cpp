// The adaptive concurrency limit (AIMD) on a fake clock, and the HTTP client
// using it against the simulator.

#include <chrono>
#include <cstdint>

#include <doctest/doctest.h>

#include "llmmr/backends/adaptive_limit.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

using clock_type = adaptive_limit::clock_type;

/// Drives an `adaptive_limit` with a fake time.
struct driver {
  explicit driver(adaptive_limit_options opts) : lim(opts, t) {
    // nop
  }

  /// Starts `n` calls at once and returns the ticket of the last.
  uint64_t start(uint32_t n) {
    uint64_t ticket = 0;
    for (uint32_t i = 1; i <= n; ++i)
      ticket = lim.on_start(i);
    return ticket;
  }

  /// Completes one call that started with `ticket` after `latency` with
  /// 100 output tokens.
  void ok(uint64_t ticket, std::chrono::microseconds latency) {
    t += 1ms;
    lim.on_success(ticket, latency, 100, t);
  }

  clock_type::time_point t{};
  adaptive_limit lim;
};

adaptive_limit_options cap(uint32_t n) {
  adaptive_limit_options o;
  o.cap = n;
  return o;
}

} // namespace

TEST_SUITE("backends") {
  TEST_CASE("adaptive limit: starts at the cap and halves on 429") {
    driver d{cap(16)};
    CHECK(d.lim.limit() == 16);
    auto before = d.start(16);
    d.t += 10ms;
    d.lim.on_overload(before, d.t);
    CHECK(d.lim.limit() == 8);
    // Another 429 from a call that started before the decrease says
    // nothing about the new limit.
    d.lim.on_overload(before, d.t);
    CHECK(d.lim.limit() == 8);
    // One from a call started after it does.
    auto after = d.start(8);
    d.lim.on_overload(after, d.t);
    CHECK(d.lim.limit() == 4);
    for (int i = 0; i < 10; ++i)
      d.lim.on_overload(d.start(1), d.t);
    CHECK(d.lim.limit() == 1); // never below the floor
    CHECK(d.lim.lowest() == 1);
    REQUIRE(d.lim.history().size() == 5); // start, 8, 4, 2, 1
    CHECK(d.lim.history()[1].at == 10ms);
    CHECK(d.lim.history()[1].limit == 8);
    CHECK(std::string{d.lim.history()[1].reason} == "rate_limited");
  }

  TEST_CASE("adaptive limit: recovers by one per full window in use") {
    driver d{cap(8)};
    d.lim.on_overload(d.start(8), d.t);
    REQUIRE(d.lim.limit() == 4);
    // Four successes while four are in flight: one more slot.
    for (int i = 0; i < 4; ++i)
      d.ok(d.start(4), 20ms);
    CHECK(d.lim.limit() == 5);
    // Successes while the limit is not in use do not raise it.
    for (int i = 0; i < 20; ++i)
      d.ok(d.start(1), 20ms);
    CHECK(d.lim.limit() == 5);
    // Saturated again, it climbs back to the cap and no further.
    for (int i = 0; i < 100; ++i)
      d.ok(d.start(8), 20ms);
    CHECK(d.lim.limit() == 8);
    CHECK(std::string{d.lim.history().back().reason} == "recovery");
  }

  TEST_CASE("adaptive limit: backs off when latency grows") {
    driver d{cap(10)};
    for (int i = 0; i < 20; ++i)
      d.ok(d.start(10), 200ms); // 2 ms per token
    REQUIRE(d.lim.limit() == 10);
    // Queueing at the server: calls take five times as long.
    for (int i = 0; i < 20 && d.lim.limit() == 10; ++i)
      d.ok(d.start(10), 1000ms);
    CHECK(d.lim.limit() == 8);
    CHECK(std::string{d.lim.history().back().reason} == "latency");
  }

  TEST_CASE("adaptive limit: scheduling noise on a fast endpoint is ignored") {
    driver d{cap(10)};
    for (int i = 0; i < 20; ++i)
      d.ok(d.start(10), 100us);
    // Ten times slower, but still far below a millisecond per token.
    for (int i = 0; i < 50; ++i)
      d.ok(d.start(10), 1000us);
    CHECK(d.lim.limit() == 10);
  }

  TEST_CASE("adaptive limit: disabled keeps the configured value") {
    auto o = cap(6);
    o.enabled = false;
    driver d{o};
    d.lim.on_overload(d.start(6), d.t);
    for (int i = 0; i < 20; ++i)
      d.ok(d.start(6), 1000ms);
    CHECK(d.lim.limit() == 6);
    CHECK(d.lim.history().size() == 1);
  }
}

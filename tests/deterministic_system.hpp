#pragma once

// A CAF actor system for deterministic actor tests: every actor runs on the
// test's thread under CAF's test coordinator (with its fake clock), llmmr's
// message types are registered and CAF's own logger is silent.

#include <chrono>
#include <memory>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/expected.hpp"

#include <doctest/doctest.h>

namespace llmmr::test {

/// The system, its scheduler and a scoped actor for the test to talk from.
/// Fixtures derive from it; their members are destroyed before the system.
struct deterministic_system {
  /// The configuration the system was made from.
  caf::actor_system_config cfg;
  /// The system.
  std::unique_ptr<caf::actor_system> sys;
  /// The test coordinator: `sched->run()` runs every pending message.
  caf::scheduler::test_coordinator* sched = nullptr;
  /// The test's own actor (hidden from the system's actor count).
  std::unique_ptr<caf::scoped_actor> self;

  deterministic_system() {
    register_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    self = std::make_unique<caf::scoped_actor>(*sys, true);
  }

  /// Returns whether a message waits in the test's mailbox.
  bool has_reply() { return !(*self)->mailbox().empty(); }

  /// Sends a request from the test's actor to `dest` and returns its handle
  /// (the answer is read later with `read`).
  template <class Handle, class... Ts>
  auto request_to(const Handle& dest, Ts&&... xs) {
    return (*self)->request(dest, std::chrono::seconds{3600},
                            std::forward<Ts>(xs)...);
  }

  /// Reads the answer of `rh`, which must have arrived.
  template <class T, class Handle>
  llmmr::expected<T> read(Handle& rh) {
    REQUIRE(has_reply());
    llmmr::expected<T> out{make_error(error_kind::internal, "no answer")};
    rh.receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = from_caf(err); });
    return out;
  }
};

} // namespace llmmr::test

#pragma once

// A CAF actor system for deterministic actor tests: every actor runs on the
// test's thread under CAF's test coordinator (with its fake clock), llmmr's
// message types are registered and CAF's own logger is silent.

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/actors/registration.hpp"

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
};

} // namespace llmmr::test

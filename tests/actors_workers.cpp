// The mapper pool with worker nodes, in one process: local actors stand in
// for the remote `worker_actor`s, so that a worker's death is deterministic.

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/actors/registration.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

using seen_atom = caf::atom_constant<caf::atom("seen")>;

/// A stand-in worker that tells `observer` about every chunk and then either
/// answers it (`answer`) or keeps it forever.
caf::behavior fake_worker(caf::event_based_actor* self, caf::actor observer,
                          bool answer) {
  return {
    [self, observer, answer](map_atom,
                             map_task& task) -> caf::result<map_outcome> {
      self->send(observer, seen_atom::value, answer, task.chunk.index);
      if (!answer)
        return self->make_response_promise(); // never delivered
      map_outcome out;
      out.job_id = task.chunk.job_id;
      out.index = task.chunk.index;
      out.calls = 1;
      return out;
    },
    [](map_started_atom, uint32_t) {
      // nop
    },
  };
}

map_task make_task(uint32_t index) {
  map_task t;
  t.chunk.job_id = 7;
  t.chunk.index = index;
  t.chunk.text = "chunk " + std::to_string(index);
  return t;
}

} // namespace

TEST_SUITE("actors") {
  TEST_CASE("mapper pool: a dead worker's chunks go to another worker once") {
    caf::actor_system_config cfg;
    register_types(cfg);
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    auto silent = sys.spawn(fake_worker, caf::actor{self}, false);
    auto busy = sys.spawn(fake_worker, caf::actor{self}, true);
    auto ctx = std::make_shared<pipeline_context>();
    ctx->opts.mappers = 0;
    ctx->opts.worker_window = 2;
    ctx->opts.worker_timeout = 10min;
    ctx->workers = {{"silent:1", silent}, {"busy:2", busy}};
    auto pool = spawn_mapper_pool(sys, ctx);
    constexpr uint32_t n = 8;
    std::map<uint32_t, map_outcome> outcomes;
    // Plain sends: the pool's answers arrive as ordinary messages.
    for (uint32_t i = 0; i < n; ++i)
      self->send(pool, map_atom::value, make_task(i));
    // Wait until the silent worker holds a full window, then kill it.
    uint32_t held = 0;
    uint32_t answered = 0;
    std::map<uint32_t, int> starts; // map_started notes per chunk
    auto on_seen = [&](seen_atom, bool answers, uint32_t) {
      if (answers)
        ++answered;
      else
        ++held;
    };
    auto ignore_started
      = [&](map_started_atom, uint32_t index) { ++starts[index]; };
    auto on_outcome = [&](map_outcome& out) {
      CHECK_MESSAGE(outcomes.count(out.index) == 0, "chunk ", out.index,
                    " answered twice");
      outcomes.emplace(out.index, out);
    };
    while (held < 2)
      self->receive(
        on_seen, ignore_started, on_outcome,
        caf::after(30s) >> [&] { FAIL("the silent worker got no chunk"); });
    caf::anon_send_exit(silent, caf::exit_reason::kill);
    // Every chunk comes back exactly once, mapped by the busy worker.
    while (outcomes.size() < n)
      self->receive(
        on_seen, ignore_started, on_outcome,
        caf::after(30s) >> [&] { FAIL("missing outcomes"); });
    CHECK_EQ(outcomes.size(), n);
    for (const auto& [index, out] : outcomes) {
      CHECK_FALSE(out.failed);
      CHECK_EQ(out.calls, 1u);
    }
    CHECK_EQ(held, 2u);
    CHECK_EQ(answered, n);
    caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(busy, caf::exit_reason::user_shutdown);
  }
}

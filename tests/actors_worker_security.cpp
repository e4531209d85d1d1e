// The handshake and the policy of a worker node: a pool refuses a node that
// speaks another protocol version (over the middleman on 127.0.0.1), and a
// worker node's front refuses a mismatched coordinator, chunks from a peer
// without a handshake and chunks outside its policy.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/node_handshake.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// A stand-in `llmmr worker` that answers the handshake with `version` (and
/// this build's message types) and maps every chunk without a record.
worker_node_actor::behavior_type versioned_node(worker_node_actor::pointer self,
                                                uint32_t version) {
  return {
    [self, version](hello_atom, uint32_t,
                    uint64_t) -> caf::result<uint32_t, uint64_t> {
      return {version, node_types_fingerprint(self->system())};
    },
    [](map_atom, map_task& task) {
      map_outcome out;
      out.job_id = task.chunk.job_id;
      out.index = task.chunk.index;
      out.calls = 1;
      return out;
    },
    [](map_drop_atom, uint64_t) {
      // nop
    },
    [](capacity_atom) { return uint32_t{4}; },
  };
}

map_task make_task(uint32_t index) {
  map_task t;
  t.chunk.job_id = 3;
  t.chunk.index = index;
  t.chunk.text = "chunk " + std::to_string(index);
  return t;
}

/// Maps one chunk through a pool in its own actor system whose only mapper
/// is the node published on 127.0.0.1 by `versioned_node(version)`.
map_outcome map_on_node(uint32_t version, std::string& node) {
  caf::actor_system_config node_cfg;
  register_types(node_cfg);
  node_cfg.load<caf::io::middleman>();
  caf::actor_system node_sys{node_cfg};
  auto fake = node_sys.spawn(versioned_node, version);
  auto port = node_sys.middleman().publish(fake, 0, "127.0.0.1", true);
  REQUIRE(port);
  node = "127.0.0.1:" + std::to_string(*port);
  caf::actor_system_config cfg;
  register_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto ctx = std::make_shared<pipeline_context>();
  ctx->opts.mappers = 0;
  ctx->opts.workers = {node};
  ctx->opts.worker_connect_timeout = 60s;
  ctx->opts.worker_timeout = 60s;
  auto pool = spawn_mapper_pool(sys, ctx);
  caf::scoped_actor self{sys};
  map_outcome result;
  self->request(pool, 120s, map_atom::value, make_task(0))
    .receive([&](map_outcome& out) { result = std::move(out); },
             [&](caf::error& err) { FAIL("pool error: ", describe(err)); });
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fake, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace

TEST_SUITE("actors") {
  TEST_CASE("worker handshake: a node of another protocol version is named "
            "and not used") {
    std::string node;
    auto same = map_on_node(node_protocol_version, node);
    CHECK_FALSE(same.failed);
    CHECK_EQ(same.calls, 1u);
    auto other = map_on_node(node_protocol_version + 1, node);
    REQUIRE(other.failed);
    CHECK_EQ(other.failure.kind, error_kind::unreachable);
    INFO("reason: ", other.failure.reason);
    CHECK(
      contains(other.failure.reason, "protocol mismatch with worker " + node));
    CHECK(contains(other.failure.reason,
                   "llmmr node protocol "
                     + std::to_string(node_protocol_version + 1)));
    CHECK(contains(other.failure.reason,
                   "this node " + std::to_string(node_protocol_version)));
  }

  TEST_CASE("worker front: handshake first, then only what its policy "
            "allows") {
    caf::actor_system_config cfg;
    register_types(cfg);
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    auto calls = std::make_shared<int>(0);
    auto client
      = std::make_shared<scripted_client>([calls](const chat_request&) {
          ++*calls;
          return expected<chat_reply>{
            make_error(error_kind::server_error, "not expected")};
        });
    pipeline_options opts;
    opts.mappers = 1;
    worker_policy policy;
    policy.models = {"served-model"};
    policy.max_tokens = 200;
    auto front = spawn_worker_mappers(
      sys, opts, client, std::make_shared<approx_tokenizer>(), policy);
    REQUIRE(front);
    auto map = [&](map_task task) {
      expected<map_outcome> out{make_error(error_kind::internal, "none")};
      self->request(*front, 60s, map_atom::value, std::move(task))
        .receive([&](map_outcome& x) { out = std::move(x); },
                 [&](caf::error& err) { out = from_caf(err); });
      return out;
    };
    // No handshake yet: refused.
    auto early = map(make_task(0));
    REQUIRE_FALSE(early);
    CHECK_EQ(early.error().kind(), error_kind::policy);
    CHECK(contains(early.error().what(), "handshake"));
    // Another protocol version: refused, naming both versions.
    std::string refusal;
    self
      ->request(*front, 60s, hello_atom::value, node_protocol_version + 7,
                node_types_fingerprint(sys))
      .receive([&](uint32_t, uint64_t) { FAIL("mismatch accepted"); },
               [&](caf::error& err) {
                 CHECK_EQ(kind_of(err), error_kind::policy);
                 refusal = describe(err);
               });
    CHECK(contains(refusal, "llmmr node protocol "
                              + std::to_string(node_protocol_version + 7)));
    CHECK(
      contains(refusal, "this node " + std::to_string(node_protocol_version)));
    // Other message types: refused too.
    self
      ->request(*front, 60s, hello_atom::value, node_protocol_version,
                node_types_fingerprint(sys) ^ 1)
      .receive([&](uint32_t, uint64_t) { FAIL("mismatch accepted"); },
               [&](caf::error& err) {
                 CHECK(contains(describe(err), "protocol mismatch"));
               });
    CHECK_FALSE(map(make_task(1)));
    // The right handshake.
    self
      ->request(*front, 60s, hello_atom::value, node_protocol_version,
                node_types_fingerprint(sys))
      .receive(
        [&](uint32_t v, uint64_t types) {
          CHECK_EQ(v, node_protocol_version);
          CHECK_EQ(types, node_types_fingerprint(sys));
        },
        [&](caf::error& err) { FAIL("handshake refused: ", describe(err)); });
    auto other_model = make_task(2);
    other_model.spec.model = "other-model";
    auto r1 = map(other_model);
    REQUIRE(r1);
    CHECK(r1->failed);
    CHECK_EQ(r1->failure.kind, error_kind::policy);
    CHECK_EQ(r1->failure.index, 2u);
    CHECK(contains(r1->failure.reason, "model \"other-model\" is not served"));
    auto too_long = make_task(3);
    too_long.spec.model = "served-model";
    too_long.spec.max_tokens = 201;
    auto r2 = map(too_long);
    REQUIRE(r2);
    CHECK(r2->failed);
    CHECK_EQ(r2->failure.kind, error_kind::policy);
    CHECK(contains(r2->failure.reason,
                   "max_tokens 201 is above this worker's cap of 200"));
    // Inside the policy the chunk reaches the endpoint (which fails here).
    auto allowed = make_task(4);
    allowed.spec.model = "served-model";
    allowed.spec.max_tokens = 200;
    auto r3 = map(allowed);
    REQUIRE(r3);
    CHECK(r3->failed);
    CHECK_EQ(r3->failure.kind, error_kind::server_error);
    CHECK_GE(*calls, 1);
    caf::anon_send_exit(*front, caf::exit_reason::user_shutdown);
  }
}

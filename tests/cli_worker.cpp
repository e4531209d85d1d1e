// Integration tests of `llmmr worker`: `llmmr ask` maps its chunks on worker
// processes over the CAF middleman (loopback), survives a worker killed in
// the middle of a job and names a worker it cannot reach.

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "worker_cluster.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

using namespace llmmr::test::cluster;

namespace {

/// The result's `nodes` array keyed by node.
std::map<std::string, json> by_node(const json& res) {
  std::map<std::string, json> out;
  for (const auto& n : res["nodes"])
    out[n["node"].get<std::string>()] = n;
  return out;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("ask maps every chunk on a remote worker") {
    worker_sim sim;
    worker_process worker{sim.url()};
    auto r = ask({"--endpoint", sim.url(), "--set", "pipeline.mappers=0",
                  "--set", "workers.nodes=" + worker.node()},
                 document_with_fact(21, 30, fact));
    check_complete(r);
  }

  TEST_CASE("ask skips an unreachable worker when another one works") {
    worker_sim sim;
    // Heartbeats on both sides (each side sends its own).
    worker_process worker{sim.url(),
                          {"--set", "workers.heartbeat_interval_ms=500",
                           "--set", "workers.connection_timeout_ms=5000"}};
    auto dead = "127.0.0.1:" + closed_port();
    auto r = ask({"--endpoint", sim.url(), "--set", "pipeline.mappers=0",
                  "--set", "workers.nodes=" + dead + "," + worker.node(),
                  "--set", "workers.heartbeat_interval_ms=500", "--set",
                  "workers.connection_timeout_ms=5000"},
                 document_with_fact(22, 30, fact));
    check_complete(r);
    CHECK(r.err.find("cannot use worker " + dead) != std::string::npos);
  }

  TEST_CASE("ask names a worker that is not listening") {
    worker_sim sim;
    auto dead = "127.0.0.1:" + closed_port();
    auto r = ask({"--endpoint", sim.url(), "--set", "pipeline.mappers=0",
                  "--set", "workers.nodes=" + dead},
                 document_with_fact(23, 20, fact));
    INFO("stderr: ", r.err);
    CHECK_EQ(r.exit_code, 4); // an endpoint (here: node) failure
    CHECK(r.out.empty());
    CHECK(r.err.find(dead) != std::string::npos);
    CHECK(r.err.find("no worker node can be used") != std::string::npos);
  }

  TEST_CASE("pipeline.mappers=0 without worker nodes is a config error") {
    auto r = ask(
      {"--endpoint", "http://127.0.0.1:1/v1", "--set", "pipeline.mappers=0"},
      document_with_fact(25, 2, fact));
    INFO("stderr: ", r.err);
    CHECK_EQ(r.exit_code, 6);
    CHECK(r.err.find("workers.nodes is empty") != std::string::npos);
  }

  TEST_CASE("a worker killed mid-job: its chunks are mapped elsewhere") {
    // Worker A maps through a fast sim. Worker B maps through a sim that
    // holds every completion for ten minutes, so whatever B takes is still in
    // flight when B is killed: the job can only finish if those chunks go to
    // A, and B's requests never time out during the test.
    worker_sim fast;
    worker_sim stalled{{"--ttft-ms", "600000", "--verbose"}};
    worker_process a{fast.url()};
    worker_process b{stalled.url()};
    command_result r;
    std::thread job{[&] {
      r = ask({"--endpoint", fast.url(), "--set", "pipeline.mappers=0", "--set",
               "workers.nodes=" + a.node() + "," + b.node(), "--set",
               "workers.window=2", "--set", "workers.request_timeout_ms=240000",
               "--set", "log.level=info"},
              document_with_fact(24, 60, fact));
    }};
    // Wait until B has sent its first completion request, then kill it.
    bool b_busy = stalled.wait_for_completion_request(60s);
    ::kill(b.child->pid(), SIGKILL);
    job.join();
    REQUIRE_MESSAGE(b_busy, "worker B never called its endpoint");
    check_complete(r);
    // The coordinator noticed B's death and moved B's chunks.
    auto at = r.err.find("worker " + b.node() + " went down");
    REQUIRE(at != std::string::npos);
    unsigned moved = 0;
    auto note = r.err.find("mapping its ", at);
    REQUIRE(note != std::string::npos);
    REQUIRE_EQ(std::sscanf(r.err.c_str() + note, "mapping its %u", &moved), 1);
    CHECK_GE(moved, 1u);
    // The result says which node mapped what and what moved.
    auto res = json::parse(r.out);
    auto nodes = by_node(res);
    REQUIRE(nodes.count(b.node()) == 1);
    CHECK_EQ(nodes[b.node()]["requeued"].get<unsigned>(), moved);
    CHECK_EQ(nodes[a.node()]["chunks_mapped"].get<unsigned>(),
             res["chunks"].get<unsigned>());
  }

  TEST_CASE("a worker whose endpoint fails: its chunks finish elsewhere") {
    worker_sim good;
    worker_sim broken{{"--faults", "server_error=1"}};
    worker_process a{good.url()};
    // B gives up on its endpoint quickly (two attempts, a short outage
    // limit for its circuit breaker).
    worker_process b{broken.url(),
                     {"--set", "retry.max_attempts=2", "--set",
                      "retry.initial_backoff_ms=5", "--set",
                      "retry.outage_limit_ms=1000"}};
    auto r = ask({"--endpoint", good.url(), "--set", "pipeline.mappers=0",
                  "--set", "workers.nodes=" + b.node() + "," + a.node(),
                  "--set", "workers.max_requeues=3"},
                 document_with_fact(26, 40, fact));
    check_complete(r);
    auto res = json::parse(r.out);
    auto nodes = by_node(res);
    REQUIRE(nodes.count(b.node()) == 1);
    CHECK_EQ(nodes[b.node()]["chunks_mapped"].get<unsigned>(), 0u);
    CHECK_EQ(nodes[b.node()]["failures"].get<unsigned>(), 0u);
    CHECK_GT(nodes[b.node()]["requeued"].get<unsigned>(), 0u);
    CHECK_GT(nodes[b.node()]["calls"].get<unsigned>(), 0u);
    CHECK_EQ(nodes[a.node()]["chunks_mapped"].get<unsigned>(),
             res["chunks"].get<unsigned>());
    // The broken node was benched instead of taking chunk after chunk.
    CHECK(r.err.find("worker " + b.node() + " gave back") != std::string::npos);
  }

  TEST_CASE("a frozen worker is found by heartbeat and its chunks move") {
    // B's endpoint holds every completion, so B holds chunks when it is
    // frozen; the request timeout is far beyond the test's own limit, so
    // only the heartbeats (defaults: 1 s, silence 5 s) can move them.
    worker_sim fast;
    worker_sim stalled{{"--ttft-ms", "600000", "--verbose"}};
    worker_process a{fast.url()};
    worker_process b{stalled.url()};
    command_result r;
    std::thread job{[&] {
      r = ask({"--endpoint", fast.url(), "--set", "pipeline.mappers=0", "--set",
               "workers.nodes=" + a.node() + "," + b.node(), "--set",
               "workers.window=2", "--set",
               "workers.request_timeout_ms=3600000", "--set", "log.level=info"},
              document_with_fact(27, 60, fact));
    }};
    bool b_busy = stalled.wait_for_completion_request(60s);
    ::kill(b.child->pid(), SIGSTOP);
    job.join();
    ::kill(b.child->pid(), SIGKILL); // a stopped process ends on SIGKILL
    REQUIRE_MESSAGE(b_busy, "worker B never called its endpoint");
    check_complete(r);
    CHECK(r.err.find("worker " + b.node() + " went down") != std::string::npos);
    auto nodes = by_node(json::parse(r.out));
    REQUIRE(nodes.count(b.node()) == 1);
    CHECK_GE(nodes[b.node()]["requeued"].get<unsigned>(), 1u);
  }
}

namespace {

/// The chunk indices behind the result's evidence.
std::set<unsigned> evidence_chunks(const json& res) {
  std::set<unsigned> out;
  for (const auto& ev : res["evidence"])
    for (const auto& c : ev["chunk_indices"])
      out.insert(c.get<unsigned>());
  return out;
}

/// Lines of `log` that contain `needle`.
size_t count_lines(const std::string& log, const std::string& needle) {
  size_t n = 0;
  for (auto at = log.find(needle); at != std::string::npos;
       at = log.find(needle, at + needle.size()))
    ++n;
  return n;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("three workers and a coordinator give the same answer as a local "
            "run") {
    auto doc = document_with_fact(31, 60, fact);
    worker_sim local_sim;
    auto local = ask({"--endpoint", local_sim.url(), "--set",
                      "pipeline.mappers=2", "--set", "pipeline.map_window=4"},
                     doc);
    check_complete(local);
    worker_sim sa, sb, sc;
    worker_process a{sa.url()}, b{sb.url()}, c{sc.url()};
    auto remote = ask(
      {"--endpoint", local_sim.url(), "--set", "pipeline.mappers=0", "--set",
       "workers.nodes=" + a.node() + "," + b.node() + "," + c.node()},
      doc);
    check_complete(remote);
    auto l = json::parse(local.out);
    auto r = json::parse(remote.out);
    CHECK_EQ(r["answer"], l["answer"]);
    CHECK_EQ(r["confidence"], l["confidence"]);
    CHECK_EQ(r["chunks"], l["chunks"]);
    CHECK_EQ(r["calls"]["map"], l["calls"]["map"]);
    CHECK_EQ(r["collapse_rounds"], l["collapse_rounds"]);
    CHECK_EQ(evidence_chunks(r), evidence_chunks(l));
    // Every chunk was mapped on a worker, and each worker took a share.
    auto nodes = by_node(r);
    unsigned mapped = 0;
    for (const auto* w : {&a, &b, &c}) {
      REQUIRE(nodes.count(w->node()) == 1);
      CHECK_GT(nodes[w->node()]["chunks_mapped"].get<unsigned>(), 0u);
      mapped += nodes[w->node()]["chunks_mapped"].get<unsigned>();
    }
    CHECK_EQ(mapped, r["chunks"].get<unsigned>());
    CHECK_EQ(by_node(l)["local"]["chunks_mapped"], l["chunks"]);
  }

  TEST_CASE("a restarted worker rejoins the running job") {
    // A maps slowly, so the job outlives B's restart. B's first process
    // holds whatever it takes (its endpoint never answers) and is killed;
    // a new B on the same port, over a fast endpoint, must get chunks of
    // the same job through the coordinator's reconnection.
    worker_sim slow{{"--ttft-ms", "400"}};
    worker_sim stalled{{"--ttft-ms", "600000", "--verbose"}};
    worker_sim fast{{"--verbose"}};
    worker_process a{slow.url()};
    auto b = std::make_unique<worker_process>(stalled.url());
    auto b_node = b->node();
    auto b_port = b->port;
    command_result r;
    std::thread job{[&] {
      r = ask({"--endpoint", slow.url(), "--set", "pipeline.mappers=0", "--set",
               "workers.nodes=" + a.node() + "," + b_node, "--set",
               "workers.reconnect_backoff_ms=100", "--set",
               "workers.reconnect_max_ms=400", "--set", "log.level=info"},
              document_with_fact(32, 160, fact));
    }};
    bool b_busy = stalled.wait_for_completion_request(60s);
    ::kill(b->child->pid(), SIGKILL);
    b.reset(); // reaped
    // The same address again, now over the fast endpoint.
    worker_process b2{fast.url(), {}, b_port};
    job.join();
    REQUIRE_MESSAGE(b_busy, "worker B never called its endpoint");
    check_complete(r);
    CHECK(r.err.find("worker " + b_node + " went down") != std::string::npos);
    CHECK(r.err.find("worker " + b_node + " rejoined") != std::string::npos);
    // The new B mapped chunks of the job.
    CHECK_GT(count_lines(fast.log(), "POST /v1/chat/completions"), 0u);
    auto nodes = by_node(json::parse(r.out));
    REQUIRE(nodes.count(b_node) == 1);
    CHECK_GE(nodes[b_node]["requeued"].get<unsigned>(), 1u);
    CHECK_GT(nodes[b_node]["chunks_mapped"].get<unsigned>(), 0u);
  }

  TEST_CASE("a cancelled job stops spending on the workers") {
    // The worker runs 4 calls at a time (2 mappers, window 2) but holds 16
    // chunks (a static workers.window): when the job's deadline passes, the
    // 12 queued ones must be dropped and the 4 in flight aborted, so the
    // endpoint sees no request after the deadline.
    worker_sim sim{{"--ttft-ms", "3000", "--verbose"}};
    worker_process w{sim.url()};
    auto r
      = ask({"--endpoint", sim.url(), "--set", "pipeline.mappers=0", "--set",
             "workers.nodes=" + w.node(), "--set", "workers.window=16", "--set",
             "job.deadline_ms=1500", "--set", "log.level=info"},
            document_with_fact(33, 120, fact));
    INFO("stderr: ", r.err.substr(0, 4000));
    CHECK_NE(r.exit_code, 0);
    CHECK(r.err.find("deadline") != std::string::npos);
    auto sent = count_lines(sim.log(), "POST /v1/chat/completions");
    CHECK_GT(sent, 0u);
    CHECK_LE(sent, 4u);
    // Past the calls' own latency: had they been left to run, they would
    // have been answered and the queued chunks sent by now.
    std::this_thread::sleep_for(4500ms);
    CHECK_EQ(count_lines(sim.log(), "POST /v1/chat/completions"), sent);
    // The coordinator told the worker (not only by going away).
    CHECK(w.log().find("ended there; dropping its") != std::string::npos);
  }
}

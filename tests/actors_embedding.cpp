// The pipeline as a CAF service embeds it: spawned from inside an actor with
// a worker node that never answers, jobs beyond max_jobs waiting in order,
// cancellation and deadlines ending the job's calls, and fail-fast against
// endpoints that reject every call. Against the in-process simulator.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/job_runner.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/client_factory.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"

#include "test_support.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using spawned_atom = caf::atom_constant<caf::atom("spawned")>;

const std::string fact
  = "The code name of the lighthouse keeper is Blue Heron.";

job_spec lighthouse_spec() {
  job_spec spec;
  spec.question = "What is the code name of the lighthouse keeper?";
  spec.budget = 1536;
  return spec;
}

/// A client for `port` with quick retries (at most `attempts` per call).
std::shared_ptr<llm_client> client_for(const std::string& port,
                                       uint32_t attempts = 3,
                                       std::string api_key = {}) {
  endpoint_options ep;
  ep.url = "http://127.0.0.1:" + port + "/v1";
  ep.max_concurrency = 4;
  ep.api_key = std::move(api_key);
  retry_options retry;
  retry.initial_backoff = 5ms;
  retry.max_backoff = 20ms;
  retry.max_attempts = attempts;
  retry.seed = 3;
  client_timeouts t;
  t.connect = 2s;
  auto client = make_client({ep}, t, retry, {});
  REQUIRE(client);
  return *client;
}

/// Counts the calls that reach the wrapped client.
class counting_client : public llm_client {
public:
  explicit counting_client(std::shared_ptr<llm_client> next)
    : next_(std::move(next)) {}

  void chat(chat_request req, reply_handler done,
            delta_handler on_delta) override {
    ++calls;
    next_->chat(std::move(req), std::move(done), std::move(on_delta));
  }

  size_t outstanding() const override { return next_->outstanding(); }

  size_t capacity() const override { return next_->capacity(); }

  std::atomic<size_t> calls{0};

private:
  std::shared_ptr<llm_client> next_;
};

/// A loopback port that accepts TCP connections (the kernel completes them)
/// but never says a word: a worker node that never answers the handshake.
struct silent_listener {
  int fd = -1;
  uint16_t port = 0;

  silent_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }

  ~silent_listener() { ::close(fd); }
};

/// The number of chunks `doc` makes under `spec`.
size_t chunks_of(const job_spec& spec, const std::string& doc) {
  approx_tokenizer tok;
  auto lib = prompt_library::load("");
  REQUIRE(lib);
  auto budget = compute_budget(spec, *lib, tok);
  REQUIRE(budget);
  chunker_options opts;
  opts.budget = budget->chunk_payload;
  auto xs = chunk_text(doc, tok, opts);
  REQUIRE(xs);
  return xs->size();
}

/// The progress events of every job, in arrival order.
struct event_log {
  std::mutex mtx;
  std::vector<progress_event> events;
};

caf::behavior collector(caf::event_based_actor*,
                        std::shared_ptr<event_log> log) {
  return {
    [log](progress_event& ev) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->events.push_back(ev);
    },
  };
}

/// Spawns a pipeline from inside its behaviour, tells `reply_to` that it
/// did, runs one job and passes its result (or error) on.
caf::behavior embedding_actor(caf::event_based_actor* self,
                              pipeline_options opts,
                              std::shared_ptr<llm_client> client,
                              std::string doc, caf::actor reply_to) {
  return {
    [=](go_atom) {
      auto p = spawn_pipeline(self->system(), opts, client,
                              std::make_shared<approx_tokenizer>());
      if (!p) {
        self->send(reply_to, to_caf(p.error()));
        return;
      }
      auto pipe = *p;
      self->send(reply_to, spawned_atom::value,
                 caf::actor_cast<caf::actor>(pipe.actor));
      self
        ->request(pipe.actor, caf::infinite, job_doc_atom::value,
                  lighthouse_spec(), doc)
        .then(
          [=](uint64_t id) {
            self->request(pipe.actor, caf::infinite, job_result_atom::value, id)
              .then([=](job_result& res) { self->send(reply_to, res); },
                    [=](caf::error& err) { self->send(reply_to, err); });
          },
          [=](caf::error& err) { self->send(reply_to, err); });
    },
  };
}

/// Stops a pipeline when the test leaves its scope, failed checks included
/// (an actor system does not end while a pipeline runs).
struct stop_guard {
  caf::actor hdl;
  ~stop_guard() {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  }
};

struct embedded_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  embedded_system() {
    register_types(cfg);
    cfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// A pipeline on the simulator at `port` and a progress collector, both
/// stopped when the test leaves its scope (the collector lives until told
/// otherwise, and the system waits for it).
struct watched_pipeline {
  watched_pipeline(embedded_system& es, const pipeline_options& opts,
                   uint16_t port) {
    auto made = spawn_pipeline(*es.sys, opts, client_for(std::to_string(port)),
                               std::make_shared<approx_tokenizer>());
    REQUIRE(made);
    handle = *made;
    guard_p.hdl = caf::actor_cast<caf::actor>(handle.actor);
    watcher = es.sys->spawn(collector, log);
    guard_w.hdl = watcher;
  }

  pipeline_handle handle;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor watcher;
  stop_guard guard_p;
  stop_guard guard_w;
};

} // namespace

TEST_SUITE("actors") {
  TEST_CASE("spawn_pipeline from inside an actor never waits for workers") {
    sim::sim_options so;
    so.seed = 5;
    auto sim = sim::sim_server::start(so);
    REQUIRE(sim);
    auto doc = test::document_with_fact(5, 40, fact);
    embedded_system es;
    caf::scoped_actor self{*es.sys};
    pipeline_options opts;
    // Far above every bound the test waits for.
    opts.worker_connect_timeout = 10min;
    SUBCASE("a silent worker: the job runs on the local mappers") {
      silent_listener silent;
      opts.mappers = 2;
      opts.workers = {"127.0.0.1:" + std::to_string(silent.port)};
      auto a = es.sys->spawn(embedding_actor, opts,
                             client_for(std::to_string((*sim)->port())), doc,
                             caf::actor{self});
      stop_guard guard_a{a};
      self->send(a, go_atom::value);
      caf::actor pipe;
      bool spawned = false;
      self->receive(
        [&](spawned_atom, caf::actor& p) {
          spawned = true;
          pipe = p;
        },
        [&](caf::error& err) { FAIL(describe(err)); },
        caf::after(60s) >> [] {});
      stop_guard guard_pipe{pipe};
      REQUIRE(spawned);
      std::string answer;
      self->receive([&](job_result& res) { answer = res.answer; },
                    [&](caf::error& err) { FAIL(describe(err)); },
                    caf::after(120s) >> [] {});
      CHECK_NE(answer.find("Blue Heron"), std::string::npos);
      caf::anon_send_exit(pipe, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    SUBCASE("no local mappers and no reachable worker: the job fails clearly") {
      opts.mappers = 0;
      auto dead = "127.0.0.1:" + test::closed_port();
      opts.workers = {dead};
      auto a = es.sys->spawn(embedding_actor, opts,
                             client_for(std::to_string((*sim)->port())), doc,
                             caf::actor{self});
      stop_guard guard_a{a};
      self->send(a, go_atom::value);
      caf::actor pipe;
      self->receive([&](spawned_atom, caf::actor& p) { pipe = p; },
                    [&](caf::error& err) { FAIL(describe(err)); },
                    caf::after(60s) >> [] {});
      stop_guard guard_pipe{pipe};
      REQUIRE(pipe);
      caf::error err;
      self->receive([&](job_result&) { FAIL("the job succeeded"); },
                    [&](caf::error& e) { err = std::move(e); },
                    caf::after(120s) >> [] {});
      CHECK_EQ(kind_of(err), error_kind::unreachable);
      CHECK_NE(describe(err).find(dead), std::string::npos);
      CHECK_EQ((*sim)->stats().completions, 0u);
      caf::anon_send_exit(pipe, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
  }

  TEST_CASE("jobs beyond max_jobs wait and run in submission order") {
    sim::sim_options so;
    so.seed = 9;
    auto sim = sim::sim_server::start(so);
    REQUIRE(sim);
    embedded_system es;
    caf::scoped_actor self{*es.sys};
    pipeline_options opts;
    opts.max_jobs = 1;
    opts.max_queued_jobs = 3;
    watched_pipeline wp{es, opts, (*sim)->port()};
    auto* p = &wp.handle;
    auto& log = wp.log;
    auto& watcher = wp.watcher;
    self->request(p->actor, 10s, job_watch_atom::value, uint64_t{0}, watcher)
      .receive([](bool) {}, [](caf::error& err) { FAIL(describe(err)); });
    std::vector<uint64_t> ids;
    for (uint64_t i = 0; i < 4; ++i) {
      auto doc = test::document_with_fact(i + 1, 12, fact);
      self->request(p->actor, 10s, job_doc_atom::value, lighthouse_spec(), doc)
        .receive([&](uint64_t id) { ids.push_back(id); },
                 [](caf::error& err) { FAIL(describe(err)); });
    }
    REQUIRE_EQ(ids.size(), 4u);
    // One running, three waiting: the queue is full.
    self
      ->request(p->actor, 10s, job_doc_atom::value, lighthouse_spec(),
                std::string{"more"})
      .receive([](uint64_t) { FAIL("a fifth job was accepted"); },
               [](caf::error& err) {
                 CHECK_EQ(kind_of(err), error_kind::usage);
                 CHECK_NE(describe(err).find("max_queued_jobs"),
                          std::string::npos);
               });
    // Cancelling a waiting job removes it from the queue.
    self->request(p->actor, 10s, job_cancel_atom::value, ids[2])
      .receive([](bool running) { CHECK(running); },
               [](caf::error& err) { FAIL(describe(err)); });
    for (auto id : ids) {
      self->request(p->actor, 120s, job_result_atom::value, id)
        .receive(
          [&](job_result& res) {
            CHECK_NE(id, ids[2]);
            CHECK_NE(res.answer.find("Blue Heron"), std::string::npos);
          },
          [&](caf::error& err) {
            CHECK_EQ(id, ids[2]);
            CHECK_EQ(kind_of(err), error_kind::cancelled);
          });
    }
    // The events of each job: when it first had work under way and when it
    // ended. Every job starts after the one before it ended.
    // The last job's final event may still be on its way to the collector.
    for (int i = 0; i < 600; ++i) {
      {
        std::lock_guard<std::mutex> guard{log->mtx};
        bool seen = false;
        for (auto& ev : log->events)
          seen = seen || (ev.job_id == ids[3] && ev.stage == job_stage::done);
        if (seen)
          break;
      }
      std::this_thread::sleep_for(50ms);
    }
    p->stop();
    std::vector<uint64_t> order{ids[0], ids[1], ids[3]};
    std::lock_guard<std::mutex> guard{log->mtx};
    auto first_active = [&](uint64_t id) {
      for (size_t i = 0; i < log->events.size(); ++i) {
        const auto& ev = log->events[i];
        if (ev.job_id == id
            && (ev.chunks_in_flight > 0 || ev.chunks_mapped > 0
                || ev.stage == job_stage::done))
          return i;
      }
      return log->events.size();
    };
    auto done_at = [&](uint64_t id) {
      for (size_t i = 0; i < log->events.size(); ++i)
        if (log->events[i].job_id == id
            && log->events[i].stage == job_stage::done)
          return i;
      return log->events.size();
    };
    for (size_t k = 0; k < order.size(); ++k) {
      REQUIRE_LT(done_at(order[k]), log->events.size());
      if (k > 0)
        CHECK_LT(done_at(order[k - 1]), first_active(order[k]));
    }
    CHECK_EQ(first_active(ids[2]), log->events.size());
  }

  TEST_CASE("a cancelled job's calls end and no request follows") {
    sim::sim_options so;
    so.seed = 11;
    so.slots = 8;
    so.ttft_ms = 3000;
    auto sim = sim::sim_server::start(so);
    REQUIRE(sim);
    embedded_system es;
    caf::scoped_actor self{*es.sys};
    pipeline_options opts;
    opts.mappers = 2;
    opts.map_window = 2;
    opts.stream = true;
    watched_pipeline wp{es, opts, (*sim)->port()};
    auto* p = &wp.handle;
    auto& log = wp.log;
    auto& watcher = wp.watcher;
    auto spec = lighthouse_spec();
    auto doc = test::document_with_fact(3, 200, fact);
    REQUIRE_GT(chunks_of(spec, doc), 20u);
    SUBCASE("cancel") {}
    SUBCASE("deadline") {
      spec.deadline_ms = 1000;
    }
    uint64_t id = 0;
    self->request(p->actor, 10s, job_doc_atom::value, spec, doc)
      .receive([&](uint64_t x) { id = x; },
               [](caf::error& err) { FAIL(describe(err)); });
    self->request(p->actor, 10s, job_watch_atom::value, id, watcher)
      .receive([](bool) {}, [](caf::error& err) { FAIL(describe(err)); });
    if (spec.deadline_ms == 0) {
      // Cancel once the first calls are under way: in flight for the job
      // and received by the simulator (a chunk counts as in flight before
      // its request has reached the server).
      for (int i = 0; i < 600; ++i) {
        {
          std::lock_guard<std::mutex> guard{log->mtx};
          bool busy = false;
          for (auto& ev : log->events)
            busy = busy || ev.chunks_in_flight > 0;
          if (busy && (*sim)->stats().requests > 0)
            break;
        }
        std::this_thread::sleep_for(50ms);
      }
      self->request(p->actor, 10s, job_cancel_atom::value, id)
        .receive([](bool running) { CHECK(running); },
                 [](caf::error& err) { FAIL(describe(err)); });
    }
    caf::error err;
    self->request(p->actor, 60s, job_result_atom::value, id)
      .receive([](job_result&) { FAIL("the job succeeded"); },
               [&](caf::error& e) { err = std::move(e); });
    CHECK_EQ(kind_of(err), spec.deadline_ms == 0 ? error_kind::cancelled
                                                 : error_kind::deadline);
    // Nothing was answered before the job ended, so every request sent is
    // one that was in flight then: at most the mappers' windows.
    CHECK_EQ((*sim)->stats().completions, 0u);
    // Long enough for the calls in flight to have been answered and any
    // follow-up (the next chunk, a re-ask) to have been sent: none was.
    std::this_thread::sleep_for(std::chrono::milliseconds{so.ttft_ms + 1000});
    CHECK_LE((*sim)->stats().requests,
             uint64_t{opts.mappers * opts.map_window});
    // Every call in flight closed its connection: the simulator sees each
    // streamed request aborted by the client (it notices at its next write).
    auto sent = (*sim)->stats().requests;
    // Cancelled once calls were in flight; a deadline may pass before the
    // first call went out on a loaded machine.
    if (spec.deadline_ms == 0)
      CHECK_GT(sent, 0u);
    for (int i = 0; i < 600 && (*sim)->stats().client_aborts < sent; ++i)
      std::this_thread::sleep_for(50ms);
    CHECK_EQ((*sim)->stats().client_aborts, sent);
    p->stop();
  }

  TEST_CASE("fail-fast: an endpoint that rejects every call ends the job") {
    sim::sim_options so;
    so.seed = 13;
    std::string key;
    std::string model;
    std::string expect;
    error_kind kind = error_kind::none;
    double fraction = 0;
    SUBCASE("401") {
      so.api_key = "sesame";
      kind = error_kind::auth;
      expect = "401";
    }
    SUBCASE("401 with failures allowed") {
      so.api_key = "sesame";
      kind = error_kind::auth;
      expect = "401";
      fraction = 0.5;
    }
    SUBCASE("404 model_not_found") {
      so.strict_model = true;
      model = "no-such-model";
      kind = error_kind::bad_request;
      expect = "model_not_found";
    }
    auto sim = sim::sim_server::start(so);
    REQUIRE(sim);
    embedded_system es;
    pipeline_options opts;
    opts.mappers = 2;
    opts.map_window = 2;
    constexpr uint32_t attempts = 3;
    auto p = spawn_pipeline(
      *es.sys, opts, client_for(std::to_string((*sim)->port()), attempts, key),
      std::make_shared<approx_tokenizer>());
    REQUIRE(p);
    stop_guard guard_p{caf::actor_cast<caf::actor>(p->actor)};
    auto spec = lighthouse_spec();
    spec.model = model;
    spec.max_failed_fraction = fraction;
    uint64_t before = 0;
    for (size_t paragraphs : {8, 700}) {
      auto doc = test::document_with_fact(4, paragraphs, fact);
      if (paragraphs > 8)
        REQUIRE_GE(chunks_of(spec, doc), 150u);
      auto res = run_job(*es.sys, *p, spec, doc, 120s);
      REQUIRE_FALSE(res);
      CHECK_EQ(kind_of(res.error()), kind);
      CHECK_NE(describe(res.error()).find(expect), std::string::npos);
      auto sent = (*sim)->stats().requests - before;
      before = (*sim)->stats().requests;
      CHECK_LE(sent, uint64_t{opts.mappers * opts.map_window * attempts});
    }
    p->stop();
  }

  TEST_CASE("fail-fast: a dead endpoint ends the job at its first failure") {
    embedded_system es;
    pipeline_options opts;
    opts.mappers = 2;
    opts.map_window = 2;
    auto counter
      = std::make_shared<counting_client>(client_for(test::closed_port(), 2));
    auto p = spawn_pipeline(*es.sys, opts, counter,
                            std::make_shared<approx_tokenizer>());
    REQUIRE(p);
    stop_guard guard_p{caf::actor_cast<caf::actor>(p->actor)};
    auto spec = lighthouse_spec();
    size_t before = 0;
    for (size_t paragraphs : {8, 700}) {
      auto doc = test::document_with_fact(4, paragraphs, fact);
      if (paragraphs > 8)
        REQUIRE_GE(chunks_of(spec, doc), 150u);
      auto res = run_job(*es.sys, *p, spec, doc, 120s);
      REQUIRE_FALSE(res);
      CHECK_EQ(kind_of(res.error()), error_kind::too_many_failures);
      CHECK_NE(describe(res.error()).find("unreachable"), std::string::npos);
      auto calls = counter->calls.load() - before;
      before = counter->calls.load();
      // The calls in flight at the first failure, plus the slots the pool
      // refilled before the job's drop reached it.
      CHECK_LE(calls, size_t{2 * opts.mappers * opts.map_window});
    }
    p->stop();
  }
}

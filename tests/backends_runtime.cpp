// The shared I/O runtime, call cancellation, the bounds on a call's time and
// reply bytes, and the circuit breaker: the real client against the
// in-process simulator, and the breaker's state machine on a manual clock.

#include <doctest/doctest.h>

#if __has_include("llmmr/sim/sim_server.hpp")

#  include <utility> // before the first asio header

#  include <atomic>
#  include <chrono>
#  include <deque>
#  include <fstream>
#  include <future>
#  include <memory>
#  include <mutex>
#  include <set>
#  include <string>
#  include <thread>
#  include <vector>

#  include <boost/asio/executor_work_guard.hpp>
#  include <boost/asio/io_context.hpp>

#  include "llmmr/backends/circuit_breaker_client.hpp"
#  include "llmmr/backends/client_factory.hpp"
#  include "llmmr/backends/http_client.hpp"
#  include "llmmr/backends/io_runtime.hpp"
#  include "llmmr/backends/retrying_client.hpp"
#  include "llmmr/backends/scripted_client.hpp"
#  include "llmmr/sim/sim_server.hpp"

using namespace llmmr;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::unique_ptr<sim::sim_server> start_sim(sim::sim_options opts) {
  auto srv = sim::sim_server::start(std::move(opts));
  REQUIRE_MESSAGE(srv, describe(srv.error()));
  return std::move(*srv);
}

sim::sim_options quiet_sim() {
  sim::sim_options opts;
  opts.slots = 16;
  opts.seed = 11;
  return opts;
}

endpoint_options endpoint_at(uint16_t port) {
  endpoint_options opts;
  opts.url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  opts.model = "sim-model";
  opts.profile = endpoint_profile::llamacpp;
  opts.max_concurrency = 4;
  return opts;
}

client_timeouts quick() {
  client_timeouts t;
  t.connect = 2000ms;
  t.first_byte = 5000ms;
  t.idle = 5000ms;
  t.total = 60000ms;
  return t;
}

chat_request ask(std::string text, bool stream = false) {
  chat_request req;
  req.messages.push_back({"user", std::move(text)});
  req.stream = stream;
  req.max_tokens = 64;
  req.label = "test";
  return req;
}

/// The number of threads of this process, from /proc.
int thread_count() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return -1;
}

/// Collects the outcomes of many calls and counts handler invocations.
struct outcomes {
  std::mutex mtx;
  std::vector<llmmr::expected<chat_reply>> results;
  std::set<std::thread::id> threads;
  std::atomic<size_t> invocations{0};
  std::promise<void> all;
  size_t expected;

  explicit outcomes(size_t n) : expected(n) {}

  reply_handler handler() {
    return [this](llmmr::expected<chat_reply> r) {
      ++invocations;
      std::lock_guard guard{mtx};
      threads.insert(std::this_thread::get_id());
      results.push_back(std::move(r));
      if (results.size() == expected)
        all.set_value();
    };
  }

  bool wait(std::chrono::seconds limit) {
    return all.get_future().wait_for(limit) == std::future_status::ready;
  }
};

/// Polls `pred` until it holds or `limit` passed.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 20s) {
  auto until = steady_clock::now() + limit;
  while (!pred()) {
    if (steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// A scheduler whose timers run only when the test advances the clock.
struct manual_timers {
  std::mutex mtx;
  steady_clock::time_point now{};
  std::vector<std::pair<steady_clock::time_point, std::function<void()>>> due;

  scheduler fn() {
    return [this](milliseconds delay, std::function<void()> f) {
      std::lock_guard guard{mtx};
      due.emplace_back(now + delay, std::move(f));
    };
  }

  circuit_breaker_client::clock_fn clock() {
    return [this] {
      std::lock_guard guard{mtx};
      return now;
    };
  }

  /// Moves the clock by `d` and runs every timer due by then, in order.
  void advance(milliseconds d) {
    steady_clock::time_point target;
    {
      std::lock_guard guard{mtx};
      target = now + d;
    }
    for (;;) {
      std::function<void()> f;
      {
        std::lock_guard guard{mtx};
        auto best = due.end();
        for (auto i = due.begin(); i != due.end(); ++i)
          if (i->first <= target
              && (best == due.end() || i->first < best->first))
            best = i;
        if (best == due.end()) {
          now = target;
          return;
        }
        now = std::max(now, best->first);
        f = std::move(best->second);
        due.erase(best);
      }
      f();
    }
  }
};

/// Retries for the breaker tests against the simulator: five attempts with
/// the given backoffs, the breaker opening after three failures.
retry_options breaker_retry(std::chrono::milliseconds initial_backoff,
                            std::chrono::milliseconds max_backoff,
                            std::chrono::milliseconds probe_interval,
                            std::chrono::milliseconds outage_limit) {
  retry_options retry;
  retry.max_attempts = 5;
  retry.initial_backoff = initial_backoff;
  retry.max_backoff = max_backoff;
  retry.max_total = std::chrono::milliseconds{60000};
  retry.breaker_threshold = 3;
  retry.probe_interval = probe_interval;
  retry.outage_limit = outage_limit;
  return retry;
}

} // namespace

TEST_SUITE("backends") {

  TEST_CASE("runtime: all clients share the runtime's threads") {
    auto srv = start_sim(quiet_sim());
    io_runtime_options ropts;
    ropts.threads = 2;
    auto rt = io_runtime::make(ropts);
    REQUIRE_EQ(rt->thread_ids().size(), 2u);
    constexpr size_t n_clients = 6;
    std::vector<std::shared_ptr<http_client>> clients;
    auto add_client = [&] {
      auto c = http_client::make(rt, endpoint_at(srv->port()), quick());
      REQUIRE(c);
      clients.push_back(std::move(*c));
    };
    // A first call starts what Asio starts once per io_context (its
    // resolver thread); after that no client adds a thread.
    add_client();
    {
      outcomes warm{1};
      clients.front()->chat(ask("warm up"), warm.handler());
      REQUIRE(warm.wait(30s));
    }
    auto before = thread_count();
    while (clients.size() < n_clients)
      add_client();
    outcomes out{n_clients * 3};
    for (auto& c : clients)
      for (int k = 0; k < 3; ++k)
        c->chat(ask("hello " + std::to_string(k), k == 1), out.handler());
    REQUIRE(out.wait(30s));
    for (auto& r : out.results)
      CHECK_MESSAGE(r, describe(r.error()));
    auto ids = rt->thread_ids();
    std::set<std::thread::id> runtime_threads{ids.begin(), ids.end()};
    for (auto id : out.threads)
      CHECK(runtime_threads.count(id) == 1);
    // Six clients started no thread of their own.
    CHECK_EQ(thread_count(), before);
    clients.clear(); // never blocks, never joins
    rt->stop();
    CHECK(thread_count() <= before - 2);
  }

  TEST_CASE("runtime: a host io_context runs every call, llmmr starts none") {
    auto srv = start_sim(quiet_sim());
    boost::asio::io_context host;
    auto guard = boost::asio::make_work_guard(host);
    std::thread host_thread{[&] { host.run(); }};
    auto host_id = host_thread.get_id();
    {
      auto rt = io_runtime::wrap(host);
      CHECK(rt->thread_ids().empty());
      std::vector<std::shared_ptr<http_client>> parts;
      auto client = make_client(rt, {endpoint_at(srv->port())}, quick(),
                                retry_options{}, routing_options{}, &parts);
      REQUIRE(client);
      {
        outcomes warm{1}; // starts Asio's resolver thread of `host`
        (*client)->chat(ask("warm up"), warm.handler());
        REQUIRE(warm.wait(30s));
      }
      auto before = thread_count();
      outcomes out{4};
      for (int k = 0; k < 4; ++k)
        (*client)->chat(ask("hi " + std::to_string(k), k % 2 == 0),
                        out.handler());
      REQUIRE(out.wait(30s));
      for (auto& r : out.results)
        CHECK_MESSAGE(r, describe(r.error()));
      REQUIRE_EQ(out.threads.size(), 1u);
      CHECK(*out.threads.begin() == host_id);
      CHECK_EQ(thread_count(), before);
      CHECK_EQ(parts.front()->runtime(), rt);
      rt->stop();
    }
    guard.reset();
    host.stop();
    host_thread.join();
  }

  TEST_CASE("runtime: destroying a client stack with calls in flight is safe") {
    auto opts = quiet_sim();
    opts.ttft_ms = 60000;
    opts.keepalive_ms = 20;
    auto srv = start_sim(opts);
    auto rt = io_runtime::make();
    outcomes out{6};
    {
      auto client = make_client(rt, {endpoint_at(srv->port())}, quick(),
                                retry_options{}, routing_options{});
      REQUIRE(client);
      for (int k = 0; k < 6; ++k) // 4 on the wire, 2 queued
        (*client)->chat(ask("slow " + std::to_string(k), k % 2 == 0),
                        out.handler());
      REQUIRE(eventually([&] { return srv->stats().requests >= 4; }));
    } // the whole stack goes here, on the test thread, without blocking
    REQUIRE(out.wait(20s));
    for (auto& r : out.results) {
      REQUIRE(!r);
      CHECK_EQ(kind_of(r.error()), error_kind::cancelled);
    }
    rt->stop();
    CHECK_EQ(out.invocations.load(), 6u);
  }

  TEST_CASE("cancel: a call in flight closes its connection, once") {
    auto opts = quiet_sim();
    opts.ttft_ms = 60000; // the reply would take a minute
    opts.keepalive_ms = 20;
    auto srv = start_sim(opts);
    auto rt = io_runtime::make();
    auto client = make_client(rt, {endpoint_at(srv->port())}, quick(),
                              retry_options{}, routing_options{});
    REQUIRE(client);
    for (bool stream : {true, false}) {
      CAPTURE(stream);
      auto aborts = srv->stats().client_aborts;
      auto requests = srv->stats().requests;
      auto req = ask("please wait", stream);
      req.cancel = make_cancellation();
      auto flag = req.cancel;
      outcomes out{1};
      (*client)->chat(std::move(req), out.handler());
      REQUIRE(eventually([&] { return srv->stats().requests > requests; }));
      flag->cancel();
      // Bounded by a generous limit far below the reply's minute.
      REQUIRE(out.wait(20s));
      REQUIRE(!out.results.front());
      CHECK_EQ(kind_of(out.results.front().error()), error_kind::cancelled);
      if (stream) // the simulator writes keep-alives and sees the close
        CHECK(eventually([&] { return srv->stats().client_aborts > aborts; }));
      CHECK_EQ(out.invocations.load(), 1u);
    }
    client->reset();
    rt->stop();
  }

  TEST_CASE("cancel: a queued call is dropped without a request") {
    auto opts = quiet_sim();
    opts.ttft_ms = 60000;
    opts.keepalive_ms = 20;
    auto srv = start_sim(opts);
    auto rt = io_runtime::make();
    auto eopts = endpoint_at(srv->port());
    eopts.max_concurrency = 1;
    auto http = http_client::make(rt, eopts, quick());
    REQUIRE(http);
    outcomes first{1};
    (*http)->chat(ask("first", true), first.handler());
    REQUIRE(eventually([&] { return srv->stats().requests == 1; }));
    auto req = ask("second", true);
    req.cancel = make_cancellation();
    auto flag = req.cancel;
    outcomes second{1};
    (*http)->chat(std::move(req), second.handler());
    flag->cancel();
    REQUIRE(second.wait(20s));
    REQUIRE(!second.results.front());
    CHECK_EQ(kind_of(second.results.front().error()), error_kind::cancelled);
    CHECK_EQ(srv->stats().requests, 1u);
    CHECK_EQ((*http)->stats().queued, 0u);
    http->reset();
    REQUIRE(first.wait(20s));
    rt->stop();
  }

  TEST_CASE("cancel: a call waiting out a backoff ends at once") {
    auto opts = quiet_sim();
    opts.faults.server_error = 1.0;
    auto srv = start_sim(opts);
    auto rt = io_runtime::make();
    retry_options retry;
    retry.max_attempts = 5;
    retry.initial_backoff = 60000ms; // a minute's backoff
    retry.max_backoff = 60000ms;
    retry.max_total = 600000ms;
    retry.jitter = jitter_mode::none;
    retry.breaker_threshold = 0;
    auto client = make_client(rt, {endpoint_at(srv->port())}, quick(), retry,
                              routing_options{});
    REQUIRE(client);
    auto req = ask("hello");
    req.cancel = make_cancellation();
    auto flag = req.cancel;
    outcomes out{1};
    (*client)->chat(std::move(req), out.handler());
    REQUIRE(eventually([&] { return srv->stats().faults_injected == 1; }));
    std::this_thread::sleep_for(50ms); // the failure reached the backoff
    flag->cancel();
    REQUIRE(out.wait(20s));
    REQUIRE(!out.results.front());
    CHECK_EQ(kind_of(out.results.front().error()), error_kind::cancelled);
    CHECK_EQ(srv->stats().requests, 1u); // not retried
    client->reset();
    rt->stop(); // the pending backoff timer does not hold the runtime
    CHECK_EQ(out.invocations.load(), 1u);
  }

  TEST_CASE("cancel: scripted_client drops a deferred call") {
    scripted_client sc{[](const chat_request&) -> llmmr::expected<chat_reply> {
                         return scripted_client::reply("ok");
                       },
                       scripted_client::mode::deferred};
    auto req = ask("x");
    req.cancel = make_cancellation();
    auto flag = req.cancel;
    int n = 0;
    error_kind kind = error_kind::none;
    sc.chat(std::move(req), [&](llmmr::expected<chat_reply> r) {
      ++n;
      kind = r ? error_kind::none : kind_of(r.error());
    });
    CHECK_EQ(sc.pending(), 1u);
    flag->cancel();
    CHECK_EQ(sc.pending(), 0u);
    CHECK_EQ(sc.complete_all(), 0u);
    CHECK_EQ(n, 1);
    CHECK_EQ(kind, error_kind::cancelled);
    CHECK_EQ(sc.outstanding(), 0u);
  }

  TEST_CASE("bounds: max_total ends a reply still arriving") {
    auto rt = io_runtime::make();
    retry_options retry;
    retry.max_attempts = 3;
    retry.initial_backoff = 1ms;
    retry.max_total = 1000ms;
    auto t = quick(); // idle 5 s, total 60 s: neither would end these calls
    SUBCASE("a slow-drip body") {
      auto opts = quiet_sim();
      opts.faults.slow_drip = 1.0;
      opts.drip_pause_ms = 400; // each gap below the idle timeout
      auto srv = start_sim(opts);
      auto client = make_client(rt, {endpoint_at(srv->port())}, t, retry,
                                routing_options{});
      REQUIRE(client);
      outcomes out{1};
      auto t0 = steady_clock::now();
      (*client)->chat(ask("What is the capital of France?"), out.handler());
      REQUIRE(out.wait(30s));
      auto took = steady_clock::now() - t0;
      REQUIRE(!out.results.front());
      CHECK_EQ(kind_of(out.results.front().error()), error_kind::timeout);
      CHECK(took < 10s); // the deadline is 1 s; the drip lasts far longer
    }
    SUBCASE("an SSE stream of keep-alive comments") {
      auto opts = quiet_sim();
      opts.ttft_ms = 120000;
      opts.keepalive_ms = 20;
      auto srv = start_sim(opts);
      auto client = make_client(rt, {endpoint_at(srv->port())}, t, retry,
                                routing_options{});
      REQUIRE(client);
      outcomes out{1};
      auto t0 = steady_clock::now();
      (*client)->chat(ask("hello", true), out.handler());
      REQUIRE(out.wait(30s));
      auto took = steady_clock::now() - t0;
      REQUIRE(!out.results.front());
      CHECK_EQ(kind_of(out.results.front().error()), error_kind::timeout);
      CHECK(took < 10s);
    }
    rt->stop();
  }

  TEST_CASE("bounds: one reply byte budget for all calls in flight") {
    auto opts = quiet_sim();
    opts.per_token_ms = 20; // streams last a while, so they overlap
    auto srv = start_sim(opts);
    const std::string prompt = "What is the capital of France?";
    // A streamed reply holds its bytes until it is complete.
    auto stream_ask = [&] { return ask(prompt, true); };
    // The size of one reply body, measured on a roomy runtime.
    size_t one = 0;
    {
      auto rt = io_runtime::make();
      auto http = http_client::make(rt, endpoint_at(srv->port()), quick());
      REQUIRE(http);
      outcomes out{1};
      (*http)->chat(stream_ask(), out.handler());
      REQUIRE(out.wait(30s));
      REQUIRE(out.results.front());
      one = rt->reply_budget().peak;
      CHECK_EQ(rt->reply_budget().in_flight, 0u);
      http->reset();
      rt->stop();
    }
    REQUIRE(one > 0);
    io_runtime_options ropts;
    ropts.max_reply_bytes_in_flight = one * 3 / 2; // room for one reply
    auto rt = io_runtime::make(ropts);
    auto eopts = endpoint_at(srv->port());
    eopts.max_concurrency = 16;
    retry_options retry;
    retry.max_attempts = 1;
    retry.breaker_threshold = 0;
    auto client = make_client(rt, {eopts}, quick(), retry, routing_options{});
    REQUIRE(client);
    constexpr size_t n = 16;
    outcomes out{n};
    for (size_t i = 0; i < n; ++i)
      (*client)->chat(stream_ask(), out.handler());
    REQUIRE(out.wait(30s));
    size_t ok = 0;
    size_t refused = 0;
    for (auto& r : out.results) {
      if (r) {
        ++ok;
        continue;
      }
      CHECK_EQ(kind_of(r.error()), error_kind::bad_reply);
      CHECK(describe(r.error()).find("reply byte budget") != std::string::npos);
      ++refused;
    }
    auto budget = rt->reply_budget();
    MESSAGE(n << " replies of " << one << " bytes, budget "
              << ropts.max_reply_bytes_in_flight << ": " << ok << " ok, "
              << refused << " refused, peak " << budget.peak);
    CHECK(budget.peak <= ropts.max_reply_bytes_in_flight);
    CHECK_EQ(budget.in_flight, 0u);
    CHECK_EQ(budget.refused, refused);
    CHECK(ok >= 1);      // the last stream standing always fits
    CHECK(refused >= 1); // sixteen overlapping streams do not
    // A reply larger than the whole budget always fails, without growing.
    io_runtime_options tiny;
    tiny.max_reply_bytes_in_flight = one / 2;
    auto rt2 = io_runtime::make(tiny);
    auto http = http_client::make(rt2, endpoint_at(srv->port()), quick());
    REQUIRE(http);
    outcomes small{1};
    (*http)->chat(stream_ask(), small.handler());
    REQUIRE(small.wait(30s));
    REQUIRE(!small.results.front());
    CHECK_EQ(kind_of(small.results.front().error()), error_kind::bad_reply);
    CHECK(rt2->reply_budget().peak <= tiny.max_reply_bytes_in_flight);
    http->reset();
    rt2->stop();
    client->reset();
    rt->stop();
  }

  TEST_CASE("recurring: 401 and 404 end as kinds a job can stop on") {
    auto opts = quiet_sim();
    opts.api_key = "right-key";
    auto srv = start_sim(opts);
    auto rt = io_runtime::make();
    retry_options retry;
    retry.initial_backoff = 1ms;
    struct row {
      std::string path;
      std::string key;
      error_kind kind;
    };
    for (const auto& x :
         {row{"/v1", "wrong-key", error_kind::auth},
          row{"/no/such/v1", "right-key", error_kind::bad_request}}) {
      CAPTURE(x.path);
      auto eopts = endpoint_at(srv->port());
      eopts.url = "http://127.0.0.1:" + std::to_string(srv->port()) + x.path;
      eopts.api_key = x.key;
      auto requests = srv->stats().requests;
      auto client = make_client(rt, {eopts}, quick(), retry, routing_options{});
      REQUIRE(client);
      outcomes out{1};
      (*client)->chat(ask("hello"), out.handler());
      REQUIRE(out.wait(30s));
      REQUIRE(!out.results.front());
      auto kind = kind_of(out.results.front().error());
      CHECK_EQ(kind, x.kind);
      CHECK(is_recurring(kind));
      CHECK_EQ(srv->stats().requests, requests + 1); // never retried
    }
    rt->stop();
  }

  TEST_CASE("breaker: calls are held while the endpoint is down, then resume") {
    manual_timers timers;
    std::atomic<bool> up{false};
    std::atomic<int> sent{0};
    auto inner = std::make_shared<scripted_client>(
      [&](const chat_request&) -> llmmr::expected<chat_reply> {
        ++sent;
        if (!up)
          return make_error(error_kind::unreachable, "connection refused");
        return scripted_client::reply("ok");
      });
    retry_options opts;
    opts.breaker_threshold = 3;
    opts.probe_interval = 1000ms;
    opts.outage_limit = 60000ms;
    circuit_breaker_client breaker{inner, opts, timers.fn(), timers.clock()};
    std::vector<llmmr::expected<chat_reply>> results;
    auto collect
      = [&](llmmr::expected<chat_reply> r) { results.push_back(std::move(r)); };
    // Three failures in a row open the circuit; each is reported.
    for (int i = 0; i < 3; ++i)
      breaker.chat(ask("a"), collect);
    CHECK_EQ(results.size(), 3u);
    CHECK(breaker.status().open);
    // Further calls are held, not sent.
    for (int i = 0; i < 20; ++i)
      breaker.chat(ask("b"), collect);
    CHECK_EQ(sent.load(), 3);
    CHECK_EQ(breaker.status().held, 20u);
    // One probe per interval; a failed probe is held again, not failed.
    timers.advance(1000ms);
    CHECK_EQ(sent.load(), 4);
    CHECK_EQ(breaker.status().held, 20u);
    timers.advance(3000ms);
    CHECK_EQ(sent.load(), 7);
    CHECK_EQ(results.size(), 3u);
    // The endpoint is back: the next probe succeeds and releases the rest.
    up = true;
    timers.advance(1000ms);
    CHECK_FALSE(breaker.status().open);
    CHECK_EQ(results.size(), 23u);
    for (size_t i = 3; i < results.size(); ++i)
      CHECK(results[i]);
    CHECK_EQ(sent.load(), 8 + 19);
    CHECK_EQ(breaker.outstanding(), 0u);
  }

  TEST_CASE("breaker: an endpoint that never comes back fails with one error") {
    for (size_t held : {10u, 200u}) {
      CAPTURE(held);
      manual_timers timers;
      std::atomic<int> sent{0};
      auto inner = std::make_shared<scripted_client>(
        [&](const chat_request&) -> llmmr::expected<chat_reply> {
          ++sent;
          return make_error(error_kind::server_error, "HTTP 503");
        });
      retry_options opts;
      opts.breaker_threshold = 3;
      opts.probe_interval = 1000ms;
      opts.outage_limit = 10000ms;
      circuit_breaker_client breaker{inner, opts, timers.fn(), timers.clock()};
      std::vector<llmmr::expected<chat_reply>> results;
      auto collect = [&](llmmr::expected<chat_reply> r) {
        results.push_back(std::move(r));
      };
      for (int i = 0; i < 3; ++i)
        breaker.chat(ask("a"), collect);
      for (size_t i = 0; i < held; ++i)
        breaker.chat(ask("b"), collect);
      timers.advance(10000ms);
      REQUIRE_EQ(results.size(), 3 + held);
      for (size_t i = 3; i < results.size(); ++i) {
        REQUIRE(!results[i]);
        CHECK_EQ(kind_of(results[i].error()), error_kind::unreachable);
        CHECK(describe(results[i].error()).find("was down for 10.0 s")
              != std::string::npos);
      }
      // Requests: the three that opened the circuit and one probe per
      // interval, however many calls were held.
      CHECK(sent.load() <= 3 + 10);
      CHECK(breaker.status().given_up);
      CHECK_EQ(breaker.status().held, 0u);
      // Later calls fail at once, but for one probe per interval.
      for (int i = 0; i < 5; ++i)
        breaker.chat(ask("c"), collect);
      CHECK_EQ(results.size(), 3 + held + 5);
      CHECK(sent.load() <= 3 + 10 + 1);
      CHECK_EQ(breaker.outstanding(), 0u);
    }
  }

  TEST_CASE("breaker: stopping the runtime ends held calls as cancelled") {
    uint16_t port = 0;
    {
      auto srv = start_sim(quiet_sim());
      port = srv->port();
    }
    auto rt = io_runtime::make();
    retry_options retry;
    retry.initial_backoff = 1ms;
    retry.breaker_threshold = 2;
    retry.probe_interval = 60000ms;
    retry.outage_limit = 600000ms;
    auto client
      = make_client(rt, {endpoint_at(port)}, quick(), retry, routing_options{});
    REQUIRE(client);
    outcomes out{10};
    for (int i = 0; i < 10; ++i)
      (*client)->chat(ask("hello"), out.handler());
    std::this_thread::sleep_for(200ms); // the circuit opens, calls are held
    rt->stop();
    REQUIRE(out.wait(20s));
    for (auto& r : out.results) {
      REQUIRE(!r);
      CHECK_EQ(kind_of(r.error()), error_kind::cancelled);
    }
    client->reset();
  }

  TEST_CASE("breaker: a simulator stopped and restarted on its port") {
    auto first = start_sim(quiet_sim());
    auto port = first->port();
    first->stop();
    auto rt = io_runtime::make();
    auto retry = breaker_retry(20ms, 100ms, 100ms, 30000ms);
    auto client
      = make_client(rt, {endpoint_at(port)}, quick(), retry, routing_options{});
    REQUIRE(client);
    constexpr size_t n = 20;
    outcomes out{n};
    for (size_t i = 0; i < n; ++i)
      (*client)->chat(ask("hello " + std::to_string(i), i % 2 == 0),
                      out.handler());
    std::this_thread::sleep_for(1000ms); // the outage
    auto opts = quiet_sim();
    opts.port = port;
    auto second = start_sim(opts);
    REQUIRE(out.wait(60s));
    for (auto& r : out.results)
      CHECK_MESSAGE(r, describe(r.error()));
    CHECK_EQ(second->stats().completions, n);
    client->reset();
    rt->stop();
  }

  TEST_CASE("breaker: requests to a dead endpoint are bounded, not per call") {
    uint16_t port = 0;
    {
      auto srv = start_sim(quiet_sim());
      port = srv->port();
    }
    auto rt = io_runtime::make();
    auto retry = breaker_retry(10ms, 50ms, 200ms, 1500ms);
    std::vector<std::shared_ptr<http_client>> parts;
    auto client = make_client(rt, {endpoint_at(port)}, quick(), retry,
                              routing_options{}, &parts);
    REQUIRE(client);
    constexpr size_t n = 50;
    outcomes out{n};
    for (size_t i = 0; i < n; ++i)
      (*client)->chat(ask("hello"), out.handler());
    REQUIRE(out.wait(30s)); // the outage limit is 1.5 s
    for (auto& r : out.results) {
      REQUIRE(!r);
      CHECK_EQ(kind_of(r.error()), error_kind::unreachable);
    }
    size_t one_error = 0;
    for (auto& r : out.results)
      if (describe(r.error()).find("was down for") != std::string::npos)
        ++one_error;
    auto sent = parts.front()->stats().calls;
    MESSAGE(n << " calls against a dead endpoint: " << sent << " requests, "
              << one_error << " ended by the outage limit");
    // The window (4 in flight) plus the threshold before the circuit opened,
    // then one probe per 200 ms of the 1.5 s limit (slack for a slow machine
    // is in the probe count: probes never overlap).
    CHECK(one_error >= n - 7);
    CHECK(sent <= 4 + 3 + 1500 / 200 + 6);
    parts.clear();
    client->reset();
    rt->stop();
  }

  TEST_CASE("runtime: the client's concurrency limit backs off on 429") {
    for (bool adaptive : {true, false}) {
      CAPTURE(adaptive);
      auto sim_opts = quiet_sim();
      sim_opts.faults.rate_limit = 0.3;
      auto srv = start_sim(sim_opts);
      auto rt = io_runtime::make({});
      auto eopts = endpoint_at(srv->port());
      eopts.max_concurrency = 8;
      eopts.adaptive_concurrency = adaptive;
      auto c = http_client::make(rt, eopts, quick());
      REQUIRE(c);
      constexpr size_t calls = 40;
      outcomes out{calls};
      for (size_t k = 0; k < calls; ++k)
        (*c)->chat(ask("call " + std::to_string(k)), out.handler());
      REQUIRE(out.wait(30s));
      size_t limited = 0;
      for (auto& r : out.results)
        if (!r && kind_of(r.error()) == error_kind::rate_limited)
          ++limited;
      REQUIRE(limited > 0); // 30 % of 40 calls: some are refused
      auto st = (*c)->stats();
      if (adaptive) {
        CHECK(st.lowest_concurrency_limit < 8);
        REQUIRE(st.limit_history.size() >= 2);
        CHECK(st.limit_history.front().limit == 8);
        CHECK(std::string{st.limit_history[1].reason} == "rate_limited");
      } else {
        CHECK(st.concurrency_limit == 8);
        CHECK(st.lowest_concurrency_limit == 8);
        CHECK(st.limit_history.size() == 1);
      }
      c->reset();
      rt->stop();
    }
  }

  TEST_CASE("runtime: queued calls leave by priority, FIFO within one") {
    auto sim_opts = quiet_sim();
    sim_opts.slots = 1;
    sim_opts.ttft_ms = 1500; // holds the first call while the rest queue
    auto srv = start_sim(sim_opts);
    auto rt = io_runtime::make({});
    auto eopts = endpoint_at(srv->port());
    eopts.max_concurrency = 1;
    eopts.adaptive_concurrency = false;
    auto c = http_client::make(rt, eopts, quick());
    REQUIRE(c);
    std::mutex mtx;
    std::vector<std::string> order;
    outcomes out{6};
    auto send = [&](std::string name, uint8_t priority) {
      auto req = ask("call " + name);
      req.priority = priority;
      auto done = out.handler();
      (*c)->chat(std::move(req), [&, name, done](expected<chat_reply> r) {
        {
          std::lock_guard guard{mtx};
          order.push_back(name);
        }
        done(std::move(r));
      });
    };
    send("first", call_priority::map);
    REQUIRE(eventually([&] { return (*c)->stats().in_flight == 1; }));
    send("map-a", call_priority::map);
    send("map-b", call_priority::map);
    send("collapse-a", call_priority::collapse);
    send("reduce", call_priority::reduce);
    send("collapse-b", call_priority::collapse);
    // All five queued behind the first (else the order says nothing).
    REQUIRE(eventually([&] { return (*c)->stats().queued == 5; }));
    REQUIRE(out.wait(60s));
    std::vector<std::string> want{"first",      "reduce", "collapse-a",
                                  "collapse-b", "map-a",  "map-b"};
    CHECK(order == want);
    c->reset();
    rt->stop();
  }
}

#endif

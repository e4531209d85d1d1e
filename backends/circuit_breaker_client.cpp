#include "llmmr/backends/circuit_breaker_client.hpp"
#include "llmmr/core/log.hpp"

#include "call_queue.hpp"
#include "decorated_call.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace llmmr {

using std::chrono::milliseconds;
using time_point = std::chrono::steady_clock::time_point;

namespace {

/// One call that passed through the breaker.
using breaker_call = decorated_call;

using breaker_call_ptr = std::shared_ptr<breaker_call>;

} // namespace

struct circuit_breaker_client::state
  : std::enable_shared_from_this<circuit_breaker_client::state> {
  // -- configuration ----------------------------------------------------------

  retry_options opts;
  scheduler wait;
  clock_fn clock;
  size_t window = 0; // most attempts forwarded at once; 0: no limit

  // -- state, guarded by mtx --------------------------------------------------

  mutable std::mutex mtx;
  std::shared_ptr<llm_client> inner; // null once closed
  bool closing = false;
  bool open = false;
  bool given_up = false;
  bool probing = false;
  uint32_t consecutive = 0;
  uint64_t epoch = 0; // counts outages; stale timers compare it
  time_point opened_at{};
  time_point next_probe_at{};
  std::string endpoint; // the last endpoint that failed
  std::deque<breaker_call_ptr> held;
  size_t in_flight = 0; // attempts forwarded and not yet answered
  uint64_t times_opened = 0;
  uint64_t probes = 0;
  uint64_t failed_by_outage = 0;

  std::atomic<size_t> outstanding{0};

  /// Timers requested under mtx, started by `flush_timers` after unlocking
  /// (a scheduler may run its function at once).
  std::vector<std::pair<milliseconds, std::function<void()>>> timers;

  void flush_timers() {
    std::vector<std::pair<milliseconds, std::function<void()>>> todo;
    {
      std::lock_guard guard{mtx};
      todo.swap(timers);
    }
    for (auto& [delay, fn] : todo)
      wait(delay, std::move(fn));
  }

  // -- delivery ---------------------------------------------------------------

  void finish(const breaker_call_ptr& c, expected<chat_reply> res,
              attempt_info info) {
    c->deliver(std::move(res), std::move(info), outstanding);
  }

  /// The one error of an outage past its limit; caller holds mtx.
  std::pair<error, attempt_info> outage_error_locked() const {
    auto secs
      = std::chrono::duration_cast<milliseconds>(clock() - opened_at).count()
        / 1000.0;
    char buf[96];
    std::snprintf(buf, sizeof(buf),
                  " was down for %.1f s (outage limit %.1f s)", secs,
                  static_cast<double>(opts.outage_limit.count()) / 1000);
    std::string what = (endpoint.empty() ? std::string{"the endpoint"}
                                         : "endpoint " + endpoint)
                       + buf + "; giving up";
    attempt_info info;
    info.retryable = false;
    info.reason = "endpoint down";
    info.endpoint = endpoint;
    return {make_error(error_kind::unreachable, std::move(what)),
            std::move(info)};
  }

  // -- sending ----------------------------------------------------------------

  /// Moves held calls to `out` while the circuit is closed and the window
  /// has room; caller holds mtx.
  void pump_locked(std::vector<breaker_call_ptr>& out) {
    while (!open && !closing && !held.empty()
           && (window == 0 || in_flight < window)) {
      out.push_back(held.front());
      held.pop_front();
      ++in_flight;
    }
  }

  void send(const breaker_call_ptr& c, bool probe) {
    std::shared_ptr<llm_client> in;
    {
      std::lock_guard guard{mtx};
      in = inner;
    }
    if (!in) {
      attempt_info info;
      info.reason = "cancelled";
      finish(c, make_error(error_kind::cancelled, "the client was shut down"),
             std::move(info));
      return;
    }
    auto self = shared_from_this();
    in->try_chat(
      c->req,
      [self, c, probe](expected<chat_reply> res, attempt_info info) {
        self->on_attempt(c, probe, std::move(res), std::move(info));
      },
      c->on_delta);
  }

  void on_attempt(const breaker_call_ptr& c, bool probe,
                  expected<chat_reply> res, attempt_info info) {
    auto kind = res ? error_kind::none : kind_of(res.error());
    if (kind == error_kind::cancelled) {
      // Says nothing about the endpoint.
      std::vector<breaker_call_ptr> next;
      {
        std::lock_guard guard{mtx};
        --in_flight;
        if (probe) {
          probing = false;
          if (open)
            schedule_probe_locked();
        }
        pump_locked(next);
      }
      flush_timers();
      finish(c, std::move(res), std::move(info));
      for (auto& h : next)
        send(h, false);
      return;
    }
    bool down;
    {
      std::lock_guard guard{mtx};
      // While open, a probe that times out did not show the endpoint back.
      down = !res && (is_outage(kind) || (open && kind == error_kind::timeout));
    }
    std::vector<breaker_call_ptr> release;
    std::optional<std::pair<error, attempt_info>> fail_probe;
    bool hold_again = false;
    {
      std::lock_guard guard{mtx};
      --in_flight;
      if (probe)
        probing = false;
      if (!down) {
        consecutive = 0;
        if (open && !closing) {
          auto secs
            = std::chrono::duration_cast<milliseconds>(clock() - opened_at)
                .count();
          logger()->info("llmmr: endpoint {} answers again after {} ms; "
                         "resuming {} held calls",
                         endpoint.empty() ? "endpoint" : endpoint, secs,
                         held.size());
          open = false;
          given_up = false;
          ++epoch;
        }
      } else {
        if (!info.endpoint.empty())
          endpoint = info.endpoint;
        if (!open) {
          if (++consecutive >= std::max<uint32_t>(opts.breaker_threshold, 1)
              && !closing)
            open_locked();
        } else if (probe) {
          next_probe_at = clock() + opts.probe_interval;
          if (given_up && !closing) {
            fail_probe = outage_error_locked();
            ++failed_by_outage;
          } else if (!closing
                     && !(c->req.cancel && c->req.cancel->cancelled())) {
            // The probe's call is not failed: it waits for the next probe.
            held.push_front(c);
            hold_again = true;
          }
          schedule_probe_locked();
        }
      }
      pump_locked(release);
    }
    flush_timers();
    if (hold_again)
      return;
    if (fail_probe)
      finish(c, fail_probe->first, fail_probe->second);
    else
      finish(c, std::move(res), std::move(info));
    for (auto& h : release)
      send(h, false);
  }

  /// Opens the circuit; caller holds mtx.
  void open_locked() {
    open = true;
    given_up = false;
    ++times_opened;
    ++epoch;
    opened_at = clock();
    next_probe_at = opened_at + opts.probe_interval;
    logger()->warn("llmmr: endpoint {} failed {} attempts in a row; holding "
                   "calls and probing every {} ms (outage limit {} ms)",
                   endpoint.empty() ? "endpoint" : endpoint, consecutive,
                   opts.probe_interval.count(), opts.outage_limit.count());
    auto self = shared_from_this();
    auto e = epoch;
    timers.emplace_back(opts.outage_limit,
                        [self, e] { self->outage_reached(e); });
    schedule_probe_locked();
  }

  void schedule_probe_locked() {
    auto self = shared_from_this();
    auto e = epoch;
    auto delay
      = std::chrono::ceil<milliseconds>(next_probe_at - clock()); // never early
    if (delay < milliseconds{0})
      delay = milliseconds{0};
    timers.emplace_back(delay, [self, e] { self->probe_due(e); });
  }

  void probe_due(uint64_t e) {
    breaker_call_ptr c;
    std::vector<breaker_call_ptr> dropped;
    {
      std::lock_guard guard{mtx};
      if (e != epoch || !open || probing || closing || held.empty())
        return;
      if (clock() < next_probe_at) {
        // Timers only run early when the scheduler shuts down: the held
        // calls end as cancelled.
        dropped.assign(held.begin(), held.end());
        held.clear();
      } else {
        c = held.front();
        held.pop_front();
        probing = true;
        ++probes;
        ++in_flight;
      }
    }
    flush_timers();
    for (auto& x : dropped) {
      attempt_info info;
      info.reason = "cancelled";
      finish(x,
             make_error(error_kind::cancelled,
                        "the client was shut down while the endpoint was down"),
             std::move(info));
    }
    if (c)
      send(c, true);
  }

  void outage_reached(uint64_t e) {
    std::vector<breaker_call_ptr> failed;
    std::pair<error, attempt_info> err;
    {
      std::lock_guard guard{mtx};
      if (e != epoch || !open || closing)
        return;
      failed.assign(held.begin(), held.end());
      held.clear();
      if (clock() - opened_at < opts.outage_limit) {
        // Run early: the scheduler is shutting down. The held calls end as
        // cancelled, not as an outage.
        attempt_info info;
        info.reason = "cancelled";
        err = {make_error(error_kind::cancelled,
                          "the client was shut down while the endpoint was "
                          "down"),
               std::move(info)};
      } else {
        given_up = true;
        err = outage_error_locked();
        failed_by_outage += failed.size();
        if (!failed.empty())
          logger()->error("llmmr: {}; failing {} held calls",
                          describe(err.first), failed.size());
      }
    }
    for (auto& c : failed)
      finish(c, err.first, err.second);
  }

  void cancel_held(const breaker_call_ptr& c) {
    {
      std::lock_guard guard{mtx};
      auto i = std::find(held.begin(), held.end(), c);
      if (i == held.end())
        return; // in flight: the inner client cancels it
      held.erase(i);
    }
    attempt_info info;
    info.reason = "cancelled";
    finish(c,
           make_error(error_kind::cancelled,
                      "the call was cancelled while the endpoint was down"),
           std::move(info));
  }

  void submit(breaker_call_ptr c) {
    std::vector<breaker_call_ptr> out; // calls to send now
    bool as_probe = false;
    std::optional<std::pair<error, attempt_info>> fail;
    {
      std::lock_guard guard{mtx};
      bool probe_due = open && !probing && clock() >= next_probe_at;
      if (closing || !inner) {
        attempt_info info;
        info.reason = "cancelled";
        fail.emplace(
          make_error(error_kind::cancelled, "the client was shut down"),
          std::move(info));
      } else if (!open) {
        insert_by_priority(held, c);
        pump_locked(out);
      } else if (given_up && !probe_due) {
        fail = outage_error_locked();
        ++failed_by_outage;
      } else {
        insert_by_priority(held, c);
        if (probe_due) {
          out.push_back(held.front());
          held.pop_front();
          as_probe = true;
          probing = true;
          ++probes;
          ++in_flight;
        }
      }
    }
    if (fail) {
      finish(c, fail->first, fail->second);
      return;
    }
    for (auto& x : out)
      send(x, as_probe);
  }
};

bool circuit_breaker_client::is_outage(error_kind kind) noexcept {
  return kind == error_kind::unreachable || kind == error_kind::server_error;
}

circuit_breaker_client::circuit_breaker_client(
  std::shared_ptr<llm_client> inner, retry_options opts, scheduler wait,
  clock_fn clock, size_t window)
  : st_(std::make_shared<state>()) {
  st_->window = window;
  st_->inner = std::move(inner);
  st_->opts = opts;
  st_->wait = std::move(wait);
  st_->clock = clock
                 ? std::move(clock)
                 : clock_fn{[] { return std::chrono::steady_clock::now(); }};
}

circuit_breaker_client::~circuit_breaker_client() {
  std::shared_ptr<llm_client> inner;
  std::deque<breaker_call_ptr> held;
  {
    std::lock_guard guard{st_->mtx};
    st_->closing = true;
    inner.swap(st_->inner);
    held.swap(st_->held);
  }
  for (auto& c : held) {
    attempt_info info;
    info.reason = "cancelled";
    st_->finish(c,
                make_error(error_kind::cancelled, "the client was shut down"),
                std::move(info));
  }
  inner.reset();
}

void circuit_breaker_client::try_chat(chat_request req, attempt_handler done,
                                      delta_handler on_delta) {
  auto c = std::make_shared<breaker_call>();
  c->req = std::move(req);
  c->done = std::move(done);
  c->on_delta = std::move(on_delta);
  ++st_->outstanding;
  if (c->req.cancel) {
    std::weak_ptr<state> weak = st_;
    c->cancel_id = c->req.cancel->on_cancel([weak, c] {
      if (auto s = weak.lock())
        s->cancel_held(c);
    });
  }
  st_->submit(std::move(c));
}

size_t circuit_breaker_client::outstanding() const {
  return st_->outstanding.load();
}

size_t circuit_breaker_client::capacity() const {
  std::lock_guard guard{st_->mtx};
  return st_->inner ? st_->inner->capacity() : 0;
}

bool circuit_breaker_client::supports_json_schema() const {
  std::lock_guard guard{st_->mtx};
  return st_->inner && st_->inner->supports_json_schema();
}

circuit_status circuit_breaker_client::status() const {
  std::lock_guard guard{st_->mtx};
  circuit_status result;
  result.open = st_->open;
  result.given_up = st_->given_up;
  result.held = st_->held.size();
  result.in_flight = st_->in_flight;
  result.times_opened = st_->times_opened;
  result.probes = st_->probes;
  result.failed_by_outage = st_->failed_by_outage;
  return result;
}

} // namespace llmmr

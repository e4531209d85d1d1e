#include <utility> // before the first asio header

#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/core/log.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

namespace llmmr {

namespace asio = boost::asio;

struct io_runtime::state {
  io_runtime_options opts;
  std::unique_ptr<asio::io_context> owned;
  asio::io_context* ioc = nullptr;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
    guard;
  std::vector<std::thread> threads;
  std::vector<std::thread::id> ids;

  mutable std::mutex mtx;
  bool accepting = true; // guarded by mtx
  bool stopped = false;  // guarded by mtx: stop() or the destructor ran
  uint64_t next_hook = 1;
  std::map<uint64_t, std::function<void()>> hooks;
  // Timers waiting; guarded by mtx.
  std::set<std::shared_ptr<asio::steady_timer>> timers;

  std::atomic<bool> stopping{false};
  std::atomic<size_t> reply_in_flight{0};
  std::atomic<size_t> reply_peak{0};
  std::atomic<uint64_t> reply_refused{0};

  /// Runs the stop hooks and cancels the timers; on the event loop.
  void cancel_all() {
    std::map<uint64_t, std::function<void()>> to_run;
    {
      std::lock_guard guard_lock{mtx};
      to_run.swap(hooks);
    }
    for (auto& [id, fn] : to_run) {
      try {
        fn();
      } catch (const std::exception& ex) {
        logger()->error("llmmr io runtime: a stop hook threw: {}", ex.what());
      }
    }
    std::set<std::shared_ptr<asio::steady_timer>> waiting;
    {
      std::lock_guard guard_lock{mtx};
      waiting.swap(timers);
    }
    for (auto& t : waiting)
      t->cancel();
  }

  /// Stops accepting work and schedules the cancellation on the loop; the
  /// loop ends once the cancelled work drained (owned context only).
  void begin_stop() {
    {
      std::lock_guard guard_lock{mtx};
      if (stopped)
        return;
      stopped = true;
      stopping = true;
    }
    // The cancellation is the last work accepted.
    asio::post(*ioc, [this, keep = shared()] {
      cancel_all();
      std::lock_guard guard_lock{mtx};
      accepting = false;
    });
    guard.reset();
  }

  std::weak_ptr<state> self;
  std::shared_ptr<state> shared() { return self.lock(); }
};

std::shared_ptr<io_runtime> io_runtime::make(io_runtime_options opts) {
  auto st = std::make_shared<state>();
  st->self = st;
  st->opts = opts;
  auto n = std::max<uint32_t>(opts.threads, 1);
  st->owned = std::make_unique<asio::io_context>(static_cast<int>(n));
  st->ioc = st->owned.get();
  st->guard.emplace(st->ioc->get_executor());
  for (uint32_t i = 0; i < n; ++i) {
    // Each thread holds the state, so the loop outlives a detached thread.
    st->threads.emplace_back([keep = st] {
      for (;;) {
        try {
          keep->ioc->run();
          return;
        } catch (const std::exception& ex) {
          logger()->error("llmmr io runtime: event loop error: {}", ex.what());
        }
      }
    });
    st->ids.push_back(st->threads.back().get_id());
  }
  return std::shared_ptr<io_runtime>{new io_runtime(std::move(st))};
}

std::shared_ptr<io_runtime> io_runtime::wrap(asio::io_context& ctx,
                                             io_runtime_options opts) {
  auto st = std::make_shared<state>();
  st->self = st;
  st->opts = opts;
  st->ioc = &ctx;
  return std::shared_ptr<io_runtime>{new io_runtime(std::move(st))};
}

io_runtime::io_runtime(std::shared_ptr<state> st) : st_(std::move(st)) {
  // nop
}

io_runtime::~io_runtime() {
  st_->begin_stop();
  // Never join here: the last reference may be dropped on an actor thread
  // or on an I/O thread. The threads end once the loop drained.
  for (auto& t : st_->threads)
    if (t.joinable())
      t.detach();
}

asio::io_context& io_runtime::context() noexcept {
  return *st_->ioc;
}

const io_runtime_options& io_runtime::options() const noexcept {
  return st_->opts;
}

std::vector<std::thread::id> io_runtime::thread_ids() const {
  return st_->ids;
}

bool io_runtime::on_io_thread() const noexcept {
  auto me = std::this_thread::get_id();
  for (auto id : st_->ids)
    if (id == me)
      return true;
  return false;
}

bool io_runtime::stopping() const noexcept {
  return st_->stopping.load();
}

bool io_runtime::post(std::function<void()> fn) {
  std::lock_guard guard{st_->mtx};
  if (!st_->accepting)
    return false;
  asio::post(*st_->ioc, std::move(fn));
  return true;
}

void io_runtime::schedule(std::chrono::milliseconds delay,
                          std::function<void()> fn) {
  auto st = st_;
  auto shared_fn = std::make_shared<std::function<void()>>(std::move(fn));
  auto posted = post([st, delay, shared_fn] {
    auto timer = std::make_shared<asio::steady_timer>(*st->ioc, delay);
    {
      std::unique_lock guard{st->mtx};
      if (st->stopping) {
        guard.unlock();
        (*shared_fn)();
        return;
      }
      st->timers.insert(timer);
    }
    timer->async_wait([st, timer, shared_fn](const boost::system::error_code&) {
      {
        std::lock_guard guard{st->mtx};
        st->timers.erase(timer);
      }
      (*shared_fn)();
    });
  });
  if (!posted)
    (*shared_fn)();
}

void io_runtime::stop() {
  auto& st = *st_;
  st.begin_stop();
  if (on_io_thread()) {
    logger()->error("llmmr io runtime: stop() called on an I/O thread; "
                    "detaching instead of joining");
    for (auto& t : st.threads)
      if (t.joinable())
        t.detach();
    return;
  }
  for (auto& t : st.threads)
    if (t.joinable())
      t.join();
}

uint64_t io_runtime::add_stop_hook(std::function<void()> fn) {
  std::lock_guard guard{st_->mtx};
  auto id = st_->next_hook++;
  st_->hooks.emplace(id, std::move(fn));
  return id;
}

void io_runtime::remove_stop_hook(uint64_t id) {
  std::lock_guard guard{st_->mtx};
  st_->hooks.erase(id);
}

bool io_runtime::reserve_reply_bytes(size_t n) noexcept {
  auto& st = *st_;
  auto cur = st.reply_in_flight.load();
  for (;;) {
    if (cur + n > st.opts.max_reply_bytes_in_flight) {
      ++st.reply_refused;
      return false;
    }
    if (st.reply_in_flight.compare_exchange_weak(cur, cur + n))
      break;
  }
  auto now = cur + n;
  auto peak = st.reply_peak.load();
  while (now > peak && !st.reply_peak.compare_exchange_weak(peak, now))
    ; // nop
  return true;
}

void io_runtime::release_reply_bytes(size_t n) noexcept {
  st_->reply_in_flight -= n;
}

reply_budget_stats io_runtime::reply_budget() const noexcept {
  return reply_budget_stats{st_->reply_in_flight.load(), st_->reply_peak.load(),
                            st_->reply_refused.load()};
}

} // namespace llmmr

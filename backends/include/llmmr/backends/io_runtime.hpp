#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace llmmr {

/// Parameters of an `io_runtime`.
struct io_runtime_options {
  /// I/O threads the runtime starts; 0 is taken as 1. Ignored when the host
  /// passes its own `io_context`.
  uint32_t threads = 1;
  /// Reply bytes all calls on the runtime may hold at once (bodies being
  /// received and stream text being assembled). A call whose reply would pass
  /// the remaining budget fails with `error_kind::bad_reply`.
  size_t max_reply_bytes_in_flight = size_t{64} * 1024 * 1024;
  /// Largest reply body one call accepts.
  size_t max_reply_bytes = size_t{64} * 1024 * 1024;
};

/// Counters of the reply byte budget.
struct reply_budget_stats {
  /// Bytes reserved by replies being received right now.
  size_t in_flight = 0;
  /// The highest value `in_flight` ever had.
  size_t peak = 0;
  /// Replies refused because the budget was used up.
  uint64_t refused = 0;
};

/// The event loop every `http_client` of a pipeline shares: one
/// `boost::asio::io_context` and the threads running it, or an
/// `io_context` the host runs itself.
///
/// Ownership and threads: clients keep the runtime alive through a
/// `shared_ptr` but never own or join threads. Only `stop` joins the I/O
/// threads; call it from the runtime's owner on a thread that is neither an
/// I/O thread nor an actor's (e.g. `main`, or the host's shutdown path) once
/// the pipeline is stopped. `stop` cancels every call still pending on the
/// runtime (their handlers receive `error_kind::cancelled`), lets the loop
/// drain and joins. When the last reference goes without `stop`, the
/// destructor cancels the same way but detaches the threads instead of
/// joining them (they end once the loop has drained), so dropping a client
/// on an actor thread never blocks it.
class io_runtime {
public:
  /// Starts a runtime with `opts.threads` I/O threads.
  static std::shared_ptr<io_runtime> make(io_runtime_options opts = {});

  /// Wraps an `io_context` the host runs; llmmr starts no thread. The host
  /// must keep `ctx` alive and running until `stop` returned.
  static std::shared_ptr<io_runtime> wrap(boost::asio::io_context& ctx,
                                          io_runtime_options opts = {});

  /// Cancels pending work; detaches the threads when `stop` was not called.
  ~io_runtime();

  io_runtime(const io_runtime&) = delete;
  io_runtime& operator=(const io_runtime&) = delete;

  /// Returns the event loop.
  boost::asio::io_context& context() noexcept;

  /// Returns the options.
  const io_runtime_options& options() const noexcept;

  /// Returns the ids of the threads the runtime started (empty when it
  /// wraps a host's `io_context`).
  std::vector<std::thread::id> thread_ids() const;

  /// Returns whether the caller runs on one of the runtime's own threads.
  bool on_io_thread() const noexcept;

  /// Runs `fn` on the event loop after `delay`. When the runtime is stopping
  /// or stopped, `fn` runs at once on the calling thread (or the stopping
  /// one), so a waiting retry always learns the outcome.
  void schedule(std::chrono::milliseconds delay, std::function<void()> fn);

  /// Posts `fn` to the event loop. Returns false (and drops `fn`) once the
  /// runtime stopped accepting work.
  bool post(std::function<void()> fn);

  /// Returns whether `stop` began or the destructor ran.
  bool stopping() const noexcept;

  /// Cancels every pending call and timer, lets the loop drain and joins the
  /// I/O threads. Never call it from an I/O thread or an actor. Idempotent.
  void stop();

  /// Registers `fn` to run on the event loop when the runtime stops (clients
  /// cancel their calls there). Returns an id for `remove_stop_hook`.
  uint64_t add_stop_hook(std::function<void()> fn);

  /// Removes a hook registered with `add_stop_hook`.
  void remove_stop_hook(uint64_t id);

  /// Reserves `n` bytes of the reply budget; returns false when they do not
  /// fit (the refusal is counted).
  bool reserve_reply_bytes(size_t n) noexcept;

  /// Gives back `n` bytes reserved with `reserve_reply_bytes`.
  void release_reply_bytes(size_t n) noexcept;

  /// Returns the budget's counters.
  reply_budget_stats reply_budget() const noexcept;

  /// Internal state, defined in io_runtime.cpp.
  struct state;

private:
  explicit io_runtime(std::shared_ptr<state> st);
  std::shared_ptr<state> st_;
};

/// Shared ownership of a runtime.
using io_runtime_ptr = std::shared_ptr<io_runtime>;

} // namespace llmmr

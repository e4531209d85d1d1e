#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "llmmr/backends/llm_client.hpp"
#include "llmmr/backends/retry_policy.hpp"

namespace llmmr {

/// Runs a function after a delay (on some thread of the implementation).
/// Must run it, possibly at once, even when shutting down.
using scheduler
  = std::function<void(std::chrono::milliseconds, std::function<void()>)>;

/// A decorator that retries the attempts of an inner client according to a
/// `retry_policy`: transient failures are retried after the server's delay
/// or a jittered exponential backoff, within `max_attempts` and `max_total`.
/// Every retry is logged (endpoint, attempt, reason, delay) at warn level.
///
/// When a streamed call is retried, `on_delta` receives the deltas of the
/// new attempt from its beginning.
///
/// Every attempt carries a `chat_request::deadline` at most `max_total`
/// after the call started, so a reply still arriving cannot hold it longer.
/// When `chat_request::cancel` fires, the call ends at once with
/// `error_kind::cancelled` (also during a backoff) and is not retried.
/// Handlers hold the decorator's state, so destroying it while calls are in
/// flight is safe.
class retrying_client final : public attempt_client {
public:
  /// The clock measuring a call's total time (for tests).
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// Wraps `inner`; `wait` runs the retries after their delay.
  retrying_client(std::shared_ptr<llm_client> inner, retry_options opts,
                  scheduler wait);

  /// Releases the inner client (cancelling its calls, whose handlers receive
  /// the cancellation without further retries).
  ~retrying_client() override;

  /// Replaces the clock measuring a call's total time.
  void set_clock(clock_fn fn);

  /// Returns the policy (e.g. to replace its wall clock in tests).
  retry_policy& policy() noexcept;

  /// Makes the call with retries; the outcome has `chat_reply::attempts`
  /// set and the info describes the last attempt.
  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not completed.
  size_t outstanding() const override;

  /// Forwards to the inner client.
  size_t capacity() const override;

  /// Forwards to the inner client.
  bool supports_json_schema() const override;

  /// Returns the number of retries made so far (all calls).
  uint64_t retries() const noexcept;

private:
  struct call;
  struct state;
  std::shared_ptr<state> st_;
};

} // namespace llmmr

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/backends/retrying_client.hpp"

namespace llmmr {

/// The state of a `circuit_breaker_client`.
struct circuit_status {
  /// Whether the circuit is open (calls are held).
  bool open = false;
  /// Whether the outage limit passed in the current outage (calls fail at
  /// once, except the periodic probe).
  bool given_up = false;
  /// Calls held right now (waiting for the window or for the endpoint).
  size_t held = 0;
  /// Attempts forwarded to the inner client and not yet answered.
  size_t in_flight = 0;
  /// Times the circuit opened.
  uint64_t times_opened = 0;
  /// Probe attempts sent while open.
  uint64_t probes = 0;
  /// Calls failed because the outage limit passed.
  uint64_t failed_by_outage = 0;
};

/// A decorator that stops sending work to an endpoint that stopped
/// answering, and resumes when it is back.
///
/// After `retry_options::breaker_threshold` attempts in a row failed with
/// `unreachable` or `server_error` (connection refused or reset, 5xx), the
/// circuit opens. While open, calls are held in FIFO order instead of being
/// sent (so they do not spend their own retry budgets), and one held call at
/// a time goes out as a probe, `probe_interval` after the previous probe
/// failed; a failed probe goes back to the head of the queue. The first
/// probe that gets any answer other than those failures closes the circuit
/// and sends every held call. When the circuit stayed open for
/// `outage_limit`, every held call fails with one `error_kind::unreachable`
/// error saying how long the endpoint was down (not retryable); later calls
/// fail the same way at once, except one probe per `probe_interval`.
///
/// Sits below `retrying_client` (it sees attempts). Thread-safe; handlers
/// hold the state, so destroying the decorator while calls are in flight is
/// safe (held calls then end as cancelled). A held call whose
/// `chat_request::cancel` fires ends at once with `error_kind::cancelled`.
class circuit_breaker_client final : public attempt_client {
public:
  /// The clock measuring the outage (for tests).
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// Wraps `inner`; `wait` runs the probe and outage timers. `opts` gives
  /// `breaker_threshold` (0 is taken as 1), `probe_interval` and
  /// `outage_limit`. At most `window` attempts are forwarded at once (0: no
  /// limit; `make_client` passes the endpoints' total `max_concurrency`), the
  /// rest wait here in FIFO order, so that an outage never finds a backlog
  /// already queued below.
  circuit_breaker_client(std::shared_ptr<llm_client> inner, retry_options opts,
                         scheduler wait, clock_fn clock = {},
                         size_t window = 0);

  /// Fails the held calls with `error_kind::cancelled`.
  ~circuit_breaker_client() override;

  /// Forwards, holds or fails one attempt (see the class description).
  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not completed (held included).
  size_t outstanding() const override;

  /// Forwards to the inner client.
  size_t capacity() const override;

  /// Forwards to the inner client.
  bool supports_json_schema() const override;

  /// Returns the breaker's state.
  circuit_status status() const;

  /// Returns whether an attempt failed with `kind` counts as "the endpoint
  /// is down".
  static bool is_outage(error_kind kind) noexcept;

private:
  struct state;
  std::shared_ptr<state> st_;
};

} // namespace llmmr

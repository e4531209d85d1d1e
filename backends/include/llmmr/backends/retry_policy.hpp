#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

/// HTTP response headers as (name, value) pairs; names compare
/// case-insensitively.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Returns the value of header `name` (case-insensitive), or nothing.
std::optional<std::string_view> find_header(const header_list& headers,
                                            std::string_view name);

/// The verdict on one failed attempt.
struct retry_decision {
  /// The failure is transient and the call may be retried.
  bool retry = false;
  /// The error kind the failure is reported as.
  error_kind kind = error_kind::none;
  /// A delay the server asked for; nothing when it asked for none.
  std::optional<std::chrono::milliseconds> delay;
  /// A short reason for logs, e.g. "429 rate_limit_exceeded".
  std::string reason;
};

/// Parses a duration such as "1s", "6m0s", "20ms", "1h2m3.5s" or a bare
/// number of seconds, as used by `x-ratelimit-reset-*`.
std::optional<std::chrono::milliseconds>
parse_reset_duration(std::string_view text);

/// Parses an HTTP date (IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT").
std::optional<std::chrono::system_clock::time_point>
parse_http_date(std::string_view text);

/// Decides which failures are retried and how long to wait. One object per
/// client; thread-safe.
///
/// Retried: connection failures, timeouts, 408, 409, 429
/// `rate_limit_exceeded`, 5xx, errors in the stream after HTTP 200, and
/// unparsable replies. Never retried: 400 (`context_length_exceeded` gets
/// its own kind), 401, 403, 404, other 4xx, 429 `insufficient_quota`, TLS
/// failures and cancellations.
class retry_policy {
public:
  /// The wall clock, used to turn an HTTP-date `retry-after` into a delay.
  using wall_clock_fn = std::function<std::chrono::system_clock::time_point()>;

  /// Creates a policy. `opts.seed` seeds the jitter (0: random device).
  explicit retry_policy(retry_options opts = {});

  /// Replaces the wall clock (for tests).
  void set_wall_clock(wall_clock_fn fn);

  /// Returns the options.
  const retry_options& options() const noexcept { return opts_; }

  /// Classifies an HTTP response with a non-2xx `status`. The delay comes
  /// from `retry-after-ms`, `retry-after` (seconds or HTTP date) or
  /// `x-ratelimit-reset-requests`/`-tokens` (the larger), in that order.
  retry_decision classify(int status, std::string_view body,
                          const header_list& headers) const;

  /// Classifies a failure that is not an HTTP status (transport, timeout,
  /// TLS, error mid-stream, bad reply) by its kind.
  retry_decision classify(error_kind kind) const;

  /// Returns the server-requested delay found in `headers`, if any.
  std::optional<std::chrono::milliseconds>
  server_delay(const header_list& headers) const;

  /// Returns the wait before the next attempt after `attempts_done`
  /// attempts (1 after the first) failed with `decision`, `elapsed` after
  /// the call started; nothing when the call must give up (not retryable,
  /// attempts used up, or the wait would pass `max_total`). Without a server
  /// delay the wait is uniform in [0, min(max_backoff, initial * 2^(n-1))]
  /// ("full jitter").
  std::optional<std::chrono::milliseconds>
  next_delay(const retry_decision& decision, uint32_t attempts_done,
             std::chrono::milliseconds elapsed);

  /// Returns the backoff bound (before jitter) for retry number `n` (1-based).
  std::chrono::milliseconds backoff_cap(uint32_t n) const noexcept;

private:
  retry_options opts_;
  wall_clock_fn wall_clock_;
  std::mutex mtx_;
  std::mt19937_64 rng_;
};

} // namespace llmmr

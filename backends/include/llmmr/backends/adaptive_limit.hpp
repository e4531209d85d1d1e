#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace llmmr {

/// Parameters of an `adaptive_limit`.
struct adaptive_limit_options {
  /// The configured `max_concurrency`: where the limit starts and what it
  /// never exceeds.
  uint32_t cap = 8;
  /// The lowest the limit goes.
  uint32_t floor = 1;
  /// False keeps the limit at `cap` (no adaptation).
  bool enabled = true;
  /// Factor applied when the endpoint answers 429 (rate limited).
  double overload_factor = 0.5;
  /// Factor applied when latency has grown past `latency_tolerance`.
  double latency_factor = 0.8;
  /// How much slower than the fastest recent calls (per output token) the
  /// smoothed latency may get before the limit backs off.
  double latency_tolerance = 3.0;
  /// Growth of the per-token latency, in microseconds, below which latency
  /// never counts as overload: it keeps scheduling noise on a fast or
  /// zero-latency endpoint from shrinking the limit.
  double min_latency_growth_us = 1000;
  /// Weight of a new sample in the smoothed latency.
  double smoothing = 0.2;
  /// Samples before latency may reduce the limit at all.
  uint32_t warmup_samples = 8;
  /// How many samples the fastest-call baseline remembers.
  uint32_t baseline_samples = 256;
};

/// One change of an `adaptive_limit`.
struct limit_change {
  /// When it happened, relative to the limit's creation.
  std::chrono::milliseconds at{0};
  /// The limit from then on.
  uint32_t limit = 0;
  /// Why: "rate_limited", "latency" or "recovery".
  const char* reason = "";

  friend bool operator==(const limit_change&, const limit_change&) = default;
};

/// The number of requests one endpoint may have in flight, adapted to what
/// it can take: additive increase, multiplicative decrease (the rule of TCP
/// congestion control, applied to concurrency as Netflix's concurrency-limits
/// does).
///
/// - A 429 multiplies the limit by `overload_factor`; growth of the smoothed
///   per-token latency beyond `latency_tolerance` times the recent fastest
///   multiplies it by `latency_factor`. Either happens at most once per
///   window: signals from calls started before the last decrease describe
///   the old limit and are ignored.
/// - After `limit` successes in a row while the limit was in use (at least
///   `limit` calls in flight at some point), the limit grows by one, never
///   above `cap`.
///
/// Pure logic: the caller passes the time and serializes access (the HTTP
/// client calls it on its strand).
class adaptive_limit {
public:
  using clock_type = std::chrono::steady_clock;

  /// Starts at `opts.cap`; `now` is the origin of `history()`.
  adaptive_limit(adaptive_limit_options opts, clock_type::time_point now);

  /// The current limit.
  uint32_t limit() const noexcept { return limit_; }

  /// Records that a call starts while `in_flight` calls (itself included)
  /// are on the wire; returns the ticket to pass to its outcome.
  uint64_t on_start(uint32_t in_flight) noexcept;

  /// Records a reply that took `latency` and produced `output_tokens`.
  void on_success(uint64_t ticket, std::chrono::microseconds latency,
                  uint64_t output_tokens, clock_type::time_point now);

  /// Records a 429 from the endpoint.
  void on_overload(uint64_t ticket, clock_type::time_point now);

  /// Every change so far, oldest first (at most 256 entries: later changes
  /// replace the oldest, the first entry is always the start).
  const std::vector<limit_change>& history() const noexcept { return history_; }

  /// The lowest value the limit has had.
  uint32_t lowest() const noexcept { return lowest_; }

private:
  void decrease(double factor, const char* reason, clock_type::time_point now);
  void set(uint32_t value, const char* reason, clock_type::time_point now);

  adaptive_limit_options opts_;
  clock_type::time_point origin_;
  uint32_t limit_;
  uint32_t lowest_;
  uint64_t next_ticket_ = 0;
  /// Tickets at or below this started before the last decrease.
  uint64_t decreased_at_ticket_ = 0;
  uint32_t successes_ = 0;
  bool saturated_ = false;
  // Latency per output token, in microseconds.
  double smoothed_ = 0;
  uint32_t samples_ = 0;
  std::vector<double> recent_; // ring of the last `baseline_samples`
  size_t recent_pos_ = 0;
  std::vector<limit_change> history_;
};

} // namespace llmmr

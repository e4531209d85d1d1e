#include "llmmr/backends/adaptive_limit.hpp"

#include <algorithm>
#include <cmath>

#include "llmmr/core/log.hpp"

#include <spdlog/spdlog.h>

namespace llmmr {

namespace {

constexpr size_t max_history = 256;

} // namespace

adaptive_limit::adaptive_limit(adaptive_limit_options opts,
                               clock_type::time_point now)
  : opts_(opts), origin_(now) {
  opts_.cap = std::max<uint32_t>(opts_.cap, 1);
  opts_.floor = std::clamp<uint32_t>(opts_.floor, 1, opts_.cap);
  opts_.baseline_samples = std::max<uint32_t>(opts_.baseline_samples, 1);
  limit_ = opts_.cap;
  lowest_ = limit_;
  history_.push_back({std::chrono::milliseconds{0}, limit_, "start"});
}

uint64_t adaptive_limit::on_start(uint32_t in_flight) noexcept {
  if (in_flight >= limit_)
    saturated_ = true;
  return ++next_ticket_;
}

void adaptive_limit::on_success(uint64_t ticket,
                                std::chrono::microseconds latency,
                                uint64_t output_tokens,
                                clock_type::time_point now) {
  if (!opts_.enabled)
    return;
  auto sample = static_cast<double>(latency.count())
                / static_cast<double>(output_tokens + 1);
  if (recent_.size() < opts_.baseline_samples) {
    recent_.push_back(sample);
  } else {
    recent_[recent_pos_] = sample;
    recent_pos_ = (recent_pos_ + 1) % recent_.size();
  }
  smoothed_ = samples_ == 0
                ? sample
                : opts_.smoothing * sample + (1 - opts_.smoothing) * smoothed_;
  ++samples_;
  auto fastest = *std::min_element(recent_.begin(), recent_.end());
  if (samples_ >= opts_.warmup_samples && fastest > 0
      && smoothed_ > opts_.latency_tolerance * fastest
      && smoothed_ - fastest > opts_.min_latency_growth_us) {
    if (ticket > decreased_at_ticket_) {
      decrease(opts_.latency_factor, "latency", now);
      // Judge the new limit by its own calls.
      smoothed_ = fastest;
    }
    return;
  }
  if (ticket <= decreased_at_ticket_)
    return; // started under the old limit: says nothing about the new one
  if (++successes_ >= limit_ && saturated_) {
    if (limit_ < opts_.cap)
      set(limit_ + 1, "recovery", now);
    successes_ = 0;
    saturated_ = false;
  }
}

void adaptive_limit::on_overload(uint64_t ticket, clock_type::time_point now) {
  if (!opts_.enabled || ticket <= decreased_at_ticket_)
    return;
  decrease(opts_.overload_factor, "rate_limited", now);
}

void adaptive_limit::decrease(double factor, const char* reason,
                              clock_type::time_point now) {
  auto next = static_cast<uint32_t>(std::floor(limit_ * factor));
  next = std::clamp<uint32_t>(next, opts_.floor, opts_.cap);
  // Calls started from here on see the new limit.
  decreased_at_ticket_ = next_ticket_;
  successes_ = 0;
  saturated_ = false;
  if (next != limit_)
    set(next, reason, now);
}

void adaptive_limit::set(uint32_t value, const char* reason,
                         clock_type::time_point now) {
  logger()->debug("llmmr: concurrency limit {} -> {} ({})", limit_, value,
                  reason);
  limit_ = value;
  lowest_ = std::min(lowest_, value);
  auto at
    = std::chrono::duration_cast<std::chrono::milliseconds>(now - origin_);
  if (history_.size() >= max_history)
    history_.erase(history_.begin() + 1);
  history_.push_back({at, value, reason});
}

} // namespace llmmr

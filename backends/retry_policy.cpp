#include "llmmr/backends/retry_policy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "llmmr/backends/profile.hpp"
#include "llmmr/core/ascii.hpp"

namespace llmmr {

using namespace std::chrono;

namespace {

using ascii::iequals;

using ascii::trim;

std::optional<double> parse_number(std::string_view x) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(x.data(), x.data() + x.size(), value);
  if (ec != std::errc{} || ptr != x.data() + x.size() || x.empty()
      || !std::isfinite(value) || value < 0)
    return std::nullopt;
  return value;
}

milliseconds from_seconds(double secs) {
  return milliseconds{static_cast<int64_t>(std::ceil(secs * 1000.0))};
}

} // namespace

std::optional<std::string_view> find_header(const header_list& headers,
                                            std::string_view name) {
  for (const auto& [key, value] : headers)
    if (iequals(key, name))
      return std::string_view{value};
  return std::nullopt;
}

std::optional<milliseconds> parse_reset_duration(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return std::nullopt;
  if (auto secs = parse_number(text))
    return from_seconds(*secs);
  double total_ms = 0;
  while (!text.empty()) {
    size_t i = 0;
    while (
      i < text.size()
      && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    auto value = parse_number(text.substr(0, i));
    if (!value)
      return std::nullopt;
    text.remove_prefix(i);
    size_t j = 0;
    while (j < text.size() && !std::isdigit(static_cast<unsigned char>(text[j]))
           && text[j] != '.')
      ++j;
    auto unit = text.substr(0, j);
    text.remove_prefix(j);
    double factor = 0;
    if (unit == "h")
      factor = 3'600'000;
    else if (unit == "m")
      factor = 60'000;
    else if (unit == "s")
      factor = 1'000;
    else if (unit == "ms")
      factor = 1;
    else if (unit == "us" || unit == "\xC2\xB5s")
      factor = 0.001;
    else if (unit == "ns")
      factor = 0.000001;
    else
      return std::nullopt;
    total_ms += *value * factor;
  }
  return milliseconds{static_cast<int64_t>(std::ceil(total_ms))};
}

std::optional<system_clock::time_point> parse_http_date(std::string_view text) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  text = trim(text);
  auto comma = text.find(',');
  if (comma == std::string_view::npos)
    return std::nullopt;
  text = trim(text.substr(comma + 1));
  auto next_word = [&]() {
    auto sp = text.find(' ');
    auto word = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{}
                                        : trim(text.substr(sp + 1));
    return word;
  };
  auto to_int = [](std::string_view x) -> std::optional<int> {
    int value = 0;
    auto [ptr, ec] = std::from_chars(x.data(), x.data() + x.size(), value);
    if (ec != std::errc{} || ptr != x.data() + x.size() || x.empty())
      return std::nullopt;
    return value;
  };
  auto day = to_int(next_word());
  auto month_name = next_word();
  auto year = to_int(next_word());
  auto clock = next_word();
  auto zone = next_word();
  static constexpr std::string_view months[]
    = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (iequals(months[i], month_name))
      month = i + 1;
  if (!day || !year || month == 0 || clock.size() != 8 || clock[2] != ':'
      || clock[5] != ':' || !iequals(zone, "GMT"))
    return std::nullopt;
  auto hh = to_int(clock.substr(0, 2));
  auto mm = to_int(clock.substr(3, 2));
  auto ss = to_int(clock.substr(6, 2));
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60)
    return std::nullopt;
  year_month_day ymd{std::chrono::year{*year}, std::chrono::month{month},
                     std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok())
    return std::nullopt;
  return sys_days{ymd} + hours{*hh} + minutes{*mm} + seconds{*ss};
}

retry_policy::retry_policy(retry_options opts)
  : opts_(opts), wall_clock_([] { return system_clock::now(); }) {
  if (opts_.max_attempts == 0)
    opts_.max_attempts = 1;
  auto seed = opts_.seed;
  if (seed == 0)
    seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  rng_.seed(seed);
}

void retry_policy::set_wall_clock(wall_clock_fn fn) {
  wall_clock_ = std::move(fn);
}

std::optional<milliseconds>
retry_policy::server_delay(const header_list& headers) const {
  if (auto x = find_header(headers, "retry-after-ms"))
    if (auto v = parse_number(trim(*x)))
      return milliseconds{static_cast<int64_t>(std::ceil(*v))};
  if (auto x = find_header(headers, "retry-after")) {
    if (auto v = parse_number(trim(*x)))
      return from_seconds(*v);
    if (auto when = parse_http_date(*x)) {
      auto diff = duration_cast<milliseconds>(*when - wall_clock_());
      return std::max(diff, milliseconds{0});
    }
  }
  std::optional<milliseconds> result;
  for (auto name : {"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"})
    if (auto x = find_header(headers, name))
      if (auto v = parse_reset_duration(*x))
        result = result ? std::max(*result, *v) : *v;
  return result;
}

retry_decision retry_policy::classify(int status, std::string_view body,
                                      const header_list& headers) const {
  retry_decision result;
  auto err = parse_api_error(body);
  result.reason = std::to_string(status);
  if (!err.code.empty() && err.code != result.reason)
    result.reason += " " + err.code;
  else if (!err.type.empty())
    result.reason += " " + err.type;
  if (err.context_length_exceeded() && status >= 400 && status < 500
      && status != 429) {
    result.kind = error_kind::context_length_exceeded;
    return result;
  }
  switch (status) {
  case 400:
    result.kind = error_kind::bad_request;
    return result;
  case 401:
  case 403:
    result.kind = error_kind::auth;
    return result;
  case 404:
    result.kind = error_kind::bad_request;
    return result;
  case 408:
    result.kind = error_kind::timeout;
    result.retry = true;
    break;
  case 409:
    result.kind = error_kind::server_error;
    result.retry = true;
    break;
  case 429:
    if (err.insufficient_quota()) {
      result.kind = error_kind::quota;
      return result;
    }
    result.kind = error_kind::rate_limited;
    result.retry = true;
    break;
  default:
    if (status >= 500 && status < 600) {
      result.kind = error_kind::server_error;
      result.retry = true;
      break;
    }
    result.kind = status >= 400 && status < 500 ? error_kind::bad_request
                                                : error_kind::bad_reply;
    return result;
  }
  result.delay = server_delay(headers);
  return result;
}

retry_decision retry_policy::classify(error_kind kind) const {
  retry_decision result;
  result.kind = kind;
  result.reason = to_string(kind);
  switch (kind) {
  case error_kind::unreachable:
  case error_kind::timeout:
  case error_kind::server_error:
  case error_kind::rate_limited:
  case error_kind::bad_reply:
    result.retry = true;
    break;
  default:
    break;
  }
  return result;
}

milliseconds retry_policy::backoff_cap(uint32_t n) const noexcept {
  auto cap = opts_.max_backoff.count();
  auto x = std::max<int64_t>(opts_.initial_backoff.count(), 0);
  for (uint32_t i = 1; i < n && x < cap; ++i)
    x *= 2;
  return milliseconds{std::min(x, cap)};
}

std::optional<milliseconds>
retry_policy::next_delay(const retry_decision& decision, uint32_t attempts_done,
                         milliseconds elapsed) {
  if (!decision.retry || attempts_done >= opts_.max_attempts)
    return std::nullopt;
  milliseconds wait;
  if (decision.delay) {
    wait = *decision.delay;
  } else {
    auto cap = backoff_cap(attempts_done).count();
    if (opts_.jitter == jitter_mode::none)
      return elapsed + milliseconds{cap} >= opts_.max_total
               ? std::nullopt
               : std::optional<milliseconds>{milliseconds{cap}};
    std::lock_guard guard{mtx_};
    std::uniform_int_distribution<int64_t> dist{0, std::max<int64_t>(cap, 0)};
    wait = milliseconds{dist(rng_)};
  }
  if (elapsed + wait >= opts_.max_total)
    return std::nullopt;
  return wait;
}

} // namespace llmmr

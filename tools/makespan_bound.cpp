#include "llmmr/tools/makespan_bound.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

namespace llmmr::cli {

namespace {

std::vector<std::string_view> words_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ')
      ++i;
    auto j = i;
    while (j < s.size() && s[j] != ' ')
      ++j;
    if (j > i)
      out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

/// Busy slot-ms of `calls` inside [from, to).
double busy_within(const std::vector<timed_call>& calls, double from,
                   double to) {
  double sum = 0;
  for (const auto& c : calls) {
    auto a = std::max(c.start_ms, from);
    auto b = std::min(c.finish_ms, to);
    if (b > a)
      sum += b - a;
  }
  return sum;
}

} // namespace

timed_call classify_label(std::string_view label) {
  timed_call out;
  auto w = words_of(label);
  if (w.size() < 3 || w[0] != "job")
    return out;
  if (w[2] == "map") {
    out.stage = call_stage::map;
  } else if (w[2] == "collapse") {
    out.stage = call_stage::collapse;
    if (w.size() > 3) {
      uint32_t r = 0;
      auto [p, ec] = std::from_chars(w[3].data(), w[3].data() + w[3].size(), r);
      if (ec == std::errc{})
        out.round = r;
    }
  } else if (w[2] == "reduce") {
    out.stage = call_stage::reduce;
  }
  return out;
}

makespan_bound compute_bound(const std::vector<timed_call>& calls,
                             uint32_t slots) {
  makespan_bound out;
  double longest_map = 0;
  double reduce = 0;
  std::map<uint32_t, double> shortest_by_round;
  for (const auto& c : calls) {
    out.total_service_ms += c.service_ms;
    switch (c.stage) {
    case call_stage::map:
      ++out.map_calls;
      longest_map = std::max(longest_map, c.service_ms);
      break;
    case call_stage::collapse: {
      ++out.collapse_calls;
      out.collapse_rounds = std::max(out.collapse_rounds, c.round);
      if (c.round == 0)
        break;
      auto [i, fresh] = shortest_by_round.try_emplace(c.round, c.service_ms);
      if (!fresh)
        i->second = std::min(i->second, c.service_ms);
      break;
    }
    case call_stage::reduce:
      ++out.reduce_calls;
      reduce += c.service_ms;
      break;
    default:
      break;
    }
  }
  out.work_ms = out.total_service_ms / std::max<uint32_t>(1, slots);
  out.chain_ms = longest_map + reduce;
  for (const auto& [round, ms] : shortest_by_round)
    out.chain_ms += ms;
  out.bound_ms = std::max(out.work_ms, out.chain_ms);
  return out;
}

idle_breakdown break_down_idle(const std::vector<timed_call>& calls,
                               uint32_t slots, double makespan_ms) {
  idle_breakdown out;
  double n = std::max<uint32_t>(1, slots);
  if (calls.empty()) {
    out.startup_ms = n * makespan_ms;
    return out;
  }
  double first = std::numeric_limits<double>::max();
  double last = 0;
  double last_map = -1;
  for (const auto& c : calls) {
    first = std::min(first, c.start_ms);
    last = std::max(last, c.finish_ms);
    if (c.stage == call_stage::map)
      last_map = std::max(last_map, c.finish_ms);
  }
  if (last_map < first)
    last_map = first;
  auto idle = [&](double from, double to) {
    if (to <= from)
      return 0.0;
    return n * (to - from) - busy_within(calls, from, to);
  };
  out.startup_ms = idle(0, first);
  out.map_ms = idle(first, last_map);
  out.tail_ms = idle(last_map, last);
  out.end_ms = idle(last, std::max(last, makespan_ms));
  return out;
}

} // namespace llmmr::cli

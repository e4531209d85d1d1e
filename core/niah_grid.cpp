#include "llmmr/core/niah_grid.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

using json = nlohmann::ordered_json;

std::vector<std::string_view> split_commas(std::string_view list) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string_view::npos
                                     ? std::string_view::npos
                                     : comma - start);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    out.push_back(item);
    if (comma == std::string_view::npos)
      return out;
    start = comma + 1;
  }
}

error usage(std::string text) {
  return make_error(error_kind::usage, std::move(text));
}

/// A cell's coordinates, read from its JSON object.
bool coordinates(const json& cell, uint64_t& length, double& depth) {
  if (!cell.is_object() || !cell.contains("length_tokens")
      || !cell["length_tokens"].is_number_integer()
      || cell["length_tokens"].get<int64_t>() < 0
      || !cell.contains("depth_percent") || !cell["depth_percent"].is_number())
    return false;
  length = cell["length_tokens"].get<uint64_t>();
  depth = cell["depth_percent"].get<double>();
  return true;
}

template <class T>
T number_or(const json& obj, const char* key, T fallback) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_number())
    return obj[key].get<T>();
  return fallback;
}

} // namespace

niah_grid default_niah_grid() {
  niah_grid out;
  for (uint64_t k = 1; k <= 20; ++k)
    out.lengths.push_back(k * 64'000);
  for (int d = 0; d <= 100; d += 10)
    out.depths.push_back(d);
  return out;
}

expected<std::vector<uint64_t>> parse_niah_lengths(std::string_view list) {
  std::vector<uint64_t> out;
  for (auto item : split_commas(list)) {
    auto what = "--lengths: '" + std::string{item} + "' ";
    uint64_t scale = 1;
    auto digits = item;
    if (!digits.empty()) {
      auto last = digits.back();
      if (last == 'k' || last == 'K')
        scale = 1000;
      else if (last == 'm' || last == 'M')
        scale = 1'000'000;
      if (scale != 1)
        digits.remove_suffix(1);
    }
    uint64_t value = 0;
    auto [ptr, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{}
        || ptr != digits.data() + digits.size())
      return usage(what
                   + "is not a token count (an integer, optionally with k or "
                     "m, e.g. 64k)");
    if (value == 0)
      return usage(what + "is not a positive token count");
    if (value > std::numeric_limits<uint64_t>::max() / scale)
      return usage(what + "is too large");
    value *= scale;
    if (std::find(out.begin(), out.end(), value) != out.end())
      return usage(what + "is given twice");
    out.push_back(value);
  }
  return out;
}

expected<std::vector<double>> parse_niah_depths(std::string_view list) {
  std::vector<double> out;
  for (auto item : split_commas(list)) {
    auto what = "--depths: '" + std::string{item} + "' ";
    double value = 0;
    auto [ptr, ec]
      = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || ptr != item.data() + item.size())
      return usage(what + "is not a number (depths are percentages, e.g. 50)");
    if (!(value >= 0 && value <= 100))
      return usage(what + "is not between 0 and 100 (percent)");
    if (std::find(out.begin(), out.end(), value) != out.end())
      return usage(what + "is given twice");
    out.push_back(value);
  }
  return out;
}

std::string niah_length_label(uint64_t tokens) {
  auto scaled = [](uint64_t n, uint64_t unit, const char* suffix) {
    char buf[32];
    if (n % unit == 0)
      std::snprintf(buf, sizeof(buf), "%llu%s",
                    static_cast<unsigned long long>(n / unit), suffix);
    else
      std::snprintf(buf, sizeof(buf), "%.1f%s",
                    static_cast<double>(n) / static_cast<double>(unit), suffix);
    return std::string{buf};
  };
  if (tokens >= 1'000'000 && tokens % 1'000'000 == 0)
    return scaled(tokens, 1'000'000, "M");
  if (tokens >= 1000)
    return scaled(tokens, 1000, "K");
  return std::to_string(tokens);
}

std::string niah_depth_label(double percent) {
  char buf[32];
  if (percent == std::floor(percent))
    std::snprintf(buf, sizeof(buf), "%.0f", percent);
  else
    std::snprintf(buf, sizeof(buf), "%g", percent);
  return buf;
}

expected<std::vector<json>> niah_resumable_cells(const json& results,
                                                 const json& settings,
                                                 const niah_grid& grid) {
  if (!results.is_object() || !results.contains("settings")
      || !results["settings"].is_object() || !results.contains("cells")
      || !results["cells"].is_array())
    return usage("not a results file of llmmr niah (no settings and cells)");
  const auto& old = results["settings"];
  auto show = [](const json& x) { return x.is_null() ? "(none)" : x.dump(); };
  for (const auto& [key, value] : settings.items()) {
    auto before = old.contains(key) ? old[key] : json{};
    if (before != value)
      return usage("it was written with " + key + " = " + show(before)
                   + ", this run has " + key + " = " + show(value));
  }
  for (const auto& [key, value] : old.items())
    if (!settings.contains(key))
      return usage("it was written with " + key + " = " + show(value)
                   + ", which this run does not set");
  std::vector<json> out;
  for (const auto& cell : results["cells"]) {
    uint64_t length = 0;
    double depth = 0;
    if (!coordinates(cell, length, depth) || cell.contains("error"))
      continue;
    auto on_grid = std::find(grid.lengths.begin(), grid.lengths.end(), length)
                     != grid.lengths.end()
                   && std::find(grid.depths.begin(), grid.depths.end(), depth)
                        != grid.depths.end();
    auto duplicate = std::any_of(out.begin(), out.end(), [&](const json& x) {
      return x["length_tokens"] == length && x["depth_percent"] == depth;
    });
    if (on_grid && !duplicate)
      out.push_back(cell);
  }
  return out;
}

json niah_summary(const std::vector<json>& cells, size_t grid_cells) {
  uint64_t found = 0, failed = 0, needles = 0, needles_found = 0, calls = 0;
  uint64_t prompt = 0, completion = 0;
  double wall_ms = 0;
  for (const auto& c : cells) {
    if (c.value("found", false))
      ++found;
    if (c.contains("error"))
      ++failed;
    needles += number_or<uint64_t>(c, "needles", 0);
    needles_found += number_or<uint64_t>(c, "needles_found", 0);
    calls += number_or<uint64_t>(c, "calls", 0);
    if (c.contains("tokens")) {
      prompt += number_or<uint64_t>(c["tokens"], "prompt", 0);
      completion += number_or<uint64_t>(c["tokens"], "completion", 0);
    }
    wall_ms += number_or<double>(c, "wall_ms", 0);
  }
  return json{
    {"cells", grid_cells},
    {"cells_run", cells.size()},
    {"cells_found", found},
    {"cells_failed", failed},
    {"needles", needles},
    {"needles_found", needles_found},
    {"calls", calls},
    {"prompt_tokens", prompt},
    {"completion_tokens", completion},
    {"wall_ms", wall_ms},
    {"all_found", cells.size() == grid_cells && found == grid_cells},
  };
}

heatmap_spec niah_heatmap(const niah_grid& grid, const std::vector<json>& cells,
                          std::string title, std::string subtitle) {
  heatmap_spec out;
  out.title = std::move(title);
  out.subtitle = std::move(subtitle);
  out.x_title = "Context length (tokens)";
  out.y_title = "Needle depth (%)";
  out.legend_title = "Fraction of needles found";
  // Lengths and depths ascending, whatever order they were given in.
  auto lengths = grid.lengths;
  auto depths = grid.depths;
  std::sort(lengths.begin(), lengths.end());
  std::sort(depths.begin(), depths.end());
  for (auto l : lengths)
    out.x_labels.push_back(niah_length_label(l));
  for (auto d : depths)
    out.y_labels.push_back(niah_depth_label(d));
  out.values.assign(depths.size(),
                    std::vector<double>(lengths.size(), std::nan("")));
  out.tooltips.assign(depths.size(), std::vector<std::string>(lengths.size()));
  for (const auto& cell : cells) {
    uint64_t length = 0;
    double depth = 0;
    if (!coordinates(cell, length, depth))
      continue;
    auto c = std::find(lengths.begin(), lengths.end(), length);
    auto r = std::find(depths.begin(), depths.end(), depth);
    if (c == lengths.end() || r == depths.end())
      continue;
    auto col = static_cast<size_t>(c - lengths.begin());
    auto row = static_cast<size_t>(r - depths.begin());
    auto n = number_or<uint64_t>(cell, "needles", 0);
    auto k = number_or<uint64_t>(cell, "needles_found", 0);
    out.values[row][col]
      = n == 0 ? 0.0 : static_cast<double>(k) / static_cast<double>(n);
    auto tip = niah_length_label(length) + " tokens, depth "
               + niah_depth_label(depth) + " %: " + std::to_string(k) + " of "
               + std::to_string(n) + " needle" + (n == 1 ? "" : "s") + " found";
    if (cell.contains("error") && cell["error"].is_string())
      tip += " (error: " + cell["error"].get<std::string>() + ")";
    else if (cell.contains("answer") && cell["answer"].is_string())
      tip += "; answer: " + cell["answer"].get<std::string>().substr(0, 200);
    out.tooltips[row][col] = std::move(tip);
  }
  return out;
}

} // namespace llmmr

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"
#include <nlohmann/json.hpp>

#include "llmmr/core/svg_heatmap.hpp"

namespace llmmr {

/// The grid of a needle-in-a-haystack run: document lengths × needle
/// depths, one cell per pair.
struct niah_grid {
  /// Document lengths in tokens, in the order given.
  std::vector<uint64_t> lengths;
  /// Depths of the (first) needle in percent, in the order given.
  std::vector<double> depths;

  /// Returns the number of cells.
  size_t cells() const noexcept { return lengths.size() * depths.size(); }
};

/// Returns the default grid: 64K to 1280K tokens in steps of 64K (K = 1000;
/// 20 lengths) × the depths 0, 10, ..., 100 percent (11 depths).
niah_grid default_niah_grid();

/// Parses a comma-separated list of token counts, each a positive integer
/// with an optional suffix `k` (× 1000) or `m` (× 1,000,000), case
/// insensitive, e.g. "8k,16k,1m". Fails with `error_kind::usage` naming the
/// bad item; duplicates are an error too.
expected<std::vector<uint64_t>> parse_niah_lengths(std::string_view list);

/// Parses a comma-separated list of percentages in [0, 100], e.g.
/// "0,50,100" or "12.5". Fails with `error_kind::usage` naming the bad item;
/// duplicates are an error too.
expected<std::vector<double>> parse_niah_depths(std::string_view list);

/// Returns the axis label of a length: "64K" for 64000, "1280K", "2M" for
/// 2,000,000, "8.5K" for 8500, "900" for 900.
std::string niah_length_label(uint64_t tokens);

/// Returns the axis label of a depth: "0", "50", "12.5".
std::string niah_depth_label(double percent);

/// The cells of `results` (a results.json document:
/// `{"settings": ..., "cells": [...]}`) that a run with `settings` may keep:
/// every cell without an `"error"` member whose `length_tokens` and
/// `depth_percent` lie on `grid`. Fails with `error_kind::usage` when the
/// document's settings differ from `settings`, naming the first key that
/// differs and both values, or when the document is not a results file.
expected<std::vector<nlohmann::ordered_json>>
niah_resumable_cells(const nlohmann::ordered_json& results,
                     const nlohmann::ordered_json& settings,
                     const niah_grid& grid);

/// Returns the totals of `cells` over a grid of `grid_cells` cells:
/// `cells`, `cells_run`, `cells_found`, `cells_failed` (with an error),
/// `needles`, `needles_found`, `calls`, `prompt_tokens`,
/// `completion_tokens`, `wall_ms` (summed over cells) and `all_found`.
nlohmann::ordered_json
niah_summary(const std::vector<nlohmann::ordered_json>& cells,
             size_t grid_cells);

/// Builds the heatmap of `cells` on `grid`: lengths across (as on the
/// well-known plots), depths down with 0 % at the top, the colour of each
/// cell its fraction of needles found; cells not run stay empty.
heatmap_spec niah_heatmap(const niah_grid& grid,
                          const std::vector<nlohmann::ordered_json>& cells,
                          std::string title, std::string subtitle);

} // namespace llmmr

#pragma once

#include <string>
#include <vector>

namespace llmmr {

/// What `render_svg_heatmap` draws: a grid of cells coloured from red (0)
/// through yellow to green (1), labelled axes, a title and a colour bar, in
/// the layout of the well-known needle-in-a-haystack plots.
struct heatmap_spec {
  /// The title above the grid.
  std::string title;
  /// A smaller line under the title (may be empty).
  std::string subtitle;
  /// The title of the horizontal axis, under its labels.
  std::string x_title;
  /// The title of the vertical axis, left of its labels.
  std::string y_title;
  /// One label per column, left to right.
  std::vector<std::string> x_labels;
  /// One label per row, top to bottom.
  std::vector<std::string> y_labels;
  /// `values[row][column]` in [0, 1]; NaN (or a missing entry) marks a cell
  /// without a value, drawn grey and explained under the colour bar.
  std::vector<std::vector<double>> values;
  /// Optional tooltip per cell (`<title>`), same shape as `values`.
  std::vector<std::vector<std::string>> tooltips;
  /// The colour bar's title, e.g. "fraction of needles found".
  std::string legend_title;
};

/// Returns the colour of `value` (clamped to [0, 1]) as "#rrggbb": red at 0,
/// yellow at 0.5, green at 1, interpolated linearly in between.
std::string heatmap_colour(double value);

/// Returns a standalone SVG document (UTF-8, with an XML declaration) of
/// `spec`. Every cell is a `<rect class="cell">`; text is XML-escaped.
std::string render_svg_heatmap(const heatmap_spec& spec);

} // namespace llmmr

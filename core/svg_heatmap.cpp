#include "llmmr/core/svg_heatmap.hpp"

#include "llmmr/core/xml_escape.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace llmmr {

namespace {

struct rgb {
  double r, g, b;
};

// The colour scale: red, yellow, green at 0, 0.5 and 1.
constexpr std::array<rgb, 3> stops{{
  {215, 48, 39},
  {254, 224, 139},
  {26, 152, 80},
}};

constexpr std::string_view font = "DejaVu Sans, Helvetica, Arial, sans-serif";

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", x);
  std::string s = buf;
  if (s.size() > 2 && s.ends_with(".0"))
    s.resize(s.size() - 2);
  return s;
}

/// Approximate width of `text` at `size` px in a sans-serif face.
double text_width(std::string_view text, double size) {
  return static_cast<double>(text.size()) * size * 0.6;
}

std::string text(double x, double y, std::string_view anchor, double size,
                 std::string_view content, std::string_view extra = {}) {
  std::string out = "<text x=\"" + num(x) + "\" y=\"" + num(y)
                    + "\" text-anchor=\"" + std::string{anchor}
                    + "\" font-size=\"" + num(size) + "\"";
  if (!extra.empty())
    out += " " + std::string{extra};
  out += ">" + xml_escape(content) + "</text>\n";
  return out;
}

} // namespace

std::string heatmap_colour(double value) {
  if (std::isnan(value))
    value = 0;
  value = std::clamp(value, 0.0, 1.0);
  auto seg = value < 0.5 ? 0 : 1;
  auto t = (value - 0.5 * seg) * 2;
  const auto& a = stops[seg];
  const auto& b = stops[seg + 1];
  auto lerp = [t](double x, double y) {
    return static_cast<int>(std::lround(x + (y - x) * t));
  };
  char buf[8];
  std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", lerp(a.r, b.r),
                lerp(a.g, b.g), lerp(a.b, b.b));
  return buf;
}

std::string render_svg_heatmap(const heatmap_spec& spec) {
  auto cols = std::max<size_t>(spec.x_labels.size(), 1);
  auto rows = std::max<size_t>(spec.y_labels.size(), 1);
  // Cell size: the grid aims at about 880 x 440 px, within limits that keep
  // labels readable and small grids from ballooning.
  auto cell_w = std::clamp(880.0 / static_cast<double>(cols), 24.0, 72.0);
  auto cell_h = std::clamp(440.0 / static_cast<double>(rows), 18.0, 72.0);
  constexpr double label_size = 12;
  constexpr double title_size = 18;
  constexpr double axis_title_size = 14;
  double widest_y = 0;
  for (const auto& l : spec.y_labels)
    widest_y = std::max(widest_y, text_width(l, label_size));
  double widest_x = 0;
  for (const auto& l : spec.x_labels)
    widest_x = std::max(widest_x, text_width(l, label_size));
  bool rotate_x = widest_x > cell_w - 4;
  auto x_label_h = rotate_x ? widest_x * 0.72 + 12 : label_size + 8;
  double left = 24 + axis_title_size + 12 + widest_y + 10;
  double top = spec.subtitle.empty() ? 52 : 72;
  double grid_w = cell_w * static_cast<double>(cols);
  double grid_h = cell_h * static_cast<double>(rows);
  double bar_x = left + grid_w + 28;
  constexpr double bar_w = 18;
  double legend_right = bar_x + bar_w + 8 + text_width("1.00", label_size) + 12
                        + axis_title_size + 16;
  // Titles are centred on the picture, which is wide enough for them.
  double width
    = std::max({legend_right, text_width(spec.title, title_size) * 1.1 + 48,
                text_width(spec.subtitle, label_size) + 48});
  double height = top + grid_h + x_label_h + 8 + axis_title_size + 24;
  bool any_missing = false;

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width)
         + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " "
         + num(height) + "\" font-family=\"" + std::string{font} + "\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + num(width) + "\" height=\""
         + num(height) + "\" fill=\"#ffffff\"/>\n";
  // The colour bar's gradient, green at the top.
  svg += "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" "
         "y2=\"0\">";
  for (int i = 0; i <= 4; ++i) {
    auto v = i / 4.0;
    svg += "<stop offset=\"" + num(v * 100) + "%\" stop-color=\""
           + heatmap_colour(v) + "\"/>";
  }
  svg += "</linearGradient></defs>\n";
  // Titles.
  svg += text(width / 2, 30, "middle", title_size, spec.title,
              "font-weight=\"bold\" class=\"title\"");
  if (!spec.subtitle.empty())
    svg += text(width / 2, 52, "middle", label_size, spec.subtitle,
                "fill=\"#444444\" class=\"subtitle\"");
  // The plot, centred under a title wider than itself.
  svg += "<g class=\"plot\" transform=\"translate("
         + num((width - legend_right) / 2) + " 0)\">\n";
  // Cells.
  svg += "<g class=\"cells\" stroke=\"#ffffff\" stroke-width=\"1\">\n";
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      double v = std::nan("");
      if (r < spec.values.size() && c < spec.values[r].size())
        v = spec.values[r][c];
      bool missing = std::isnan(v);
      any_missing = any_missing || missing;
      auto x = left + cell_w * static_cast<double>(c);
      auto y = top + cell_h * static_cast<double>(r);
      svg += "<rect class=\"cell\" x=\"" + num(x) + "\" y=\"" + num(y)
             + "\" width=\"" + num(cell_w) + "\" height=\"" + num(cell_h)
             + "\" fill=\"" + (missing ? "#d9d9d9" : heatmap_colour(v)) + "\"";
      std::string tip;
      if (r < spec.tooltips.size() && c < spec.tooltips[r].size())
        tip = spec.tooltips[r][c];
      if (tip.empty())
        svg += "/>\n";
      else
        svg += "><title>" + xml_escape(tip) + "</title></rect>\n";
    }
  }
  svg += "</g>\n";
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\""
         + num(grid_w) + "\" height=\"" + num(grid_h)
         + "\" fill=\"none\" stroke=\"#666666\" stroke-width=\"1\"/>\n";
  // Axis labels.
  svg += "<g class=\"y-labels\" fill=\"#222222\">\n";
  for (size_t r = 0; r < spec.y_labels.size(); ++r)
    svg += text(left - 8,
                top + cell_h * (static_cast<double>(r) + 0.5) + label_size / 3,
                "end", label_size, spec.y_labels[r]);
  svg += "</g>\n<g class=\"x-labels\" fill=\"#222222\">\n";
  for (size_t c = 0; c < spec.x_labels.size(); ++c) {
    auto x = left + cell_w * (static_cast<double>(c) + 0.5);
    auto y = top + grid_h + label_size + 4;
    if (rotate_x)
      svg += text(x + label_size / 3, y, "end", label_size, spec.x_labels[c],
                  "transform=\"rotate(-45 " + num(x + label_size / 3) + " "
                    + num(y) + ")\"");
    else
      svg += text(x, y, "middle", label_size, spec.x_labels[c]);
  }
  svg += "</g>\n";
  svg += text(left + grid_w / 2, top + grid_h + x_label_h + 8 + axis_title_size,
              "middle", axis_title_size, spec.x_title, "class=\"x-title\"");
  auto y_mid = top + grid_h / 2;
  auto y_title_x = 24 + axis_title_size;
  svg += text(y_title_x, y_mid, "middle", axis_title_size, spec.y_title,
              "class=\"y-title\" transform=\"rotate(-90 " + num(y_title_x) + " "
                + num(y_mid) + ")\"");
  // Colour bar with ticks.
  svg += "<rect x=\"" + num(bar_x) + "\" y=\"" + num(top) + "\" width=\""
         + num(bar_w) + "\" height=\"" + num(grid_h)
         + "\" fill=\"url(#scale)\" stroke=\"#666666\" stroke-width=\"1\"/>\n";
  svg += "<g class=\"legend-ticks\" fill=\"#222222\">\n";
  for (int i = 0; i <= 4; ++i) {
    auto v = i / 4.0;
    auto y = top + grid_h * (1 - v);
    svg += "<line x1=\"" + num(bar_x + bar_w) + "\" y1=\"" + num(y) + "\" x2=\""
           + num(bar_x + bar_w + 4) + "\" y2=\"" + num(y)
           + "\" stroke=\"#666666\"/>\n";
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%.2f", v);
    svg
      += text(bar_x + bar_w + 7, y + label_size / 3, "start", label_size, buf);
  }
  svg += "</g>\n";
  auto legend_x = bar_x + bar_w + 8 + text_width("1.00", label_size) + 12
                  + axis_title_size / 2;
  svg += text(legend_x, y_mid, "middle", label_size, spec.legend_title,
              "class=\"legend-title\" transform=\"rotate(90 " + num(legend_x)
                + " " + num(y_mid) + ")\"");
  if (any_missing) {
    auto y = top + grid_h + 10;
    svg += "<rect x=\"" + num(bar_x) + "\" y=\"" + num(y) + "\" width=\""
           + num(bar_w) + "\" height=\"" + num(12)
           + "\" fill=\"#d9d9d9\" stroke=\"#666666\" stroke-width=\"1\"/>\n";
    svg += text(bar_x + bar_w + 7, y + 10, "start", label_size, "not run");
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

} // namespace llmmr

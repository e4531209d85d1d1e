#include "llmmr/core/reliability_diagram.hpp"

#include "llmmr/core/xml_escape.hpp"
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

namespace llmmr {

namespace {

// The layout, in SVG user units.
constexpr double width = 560;
constexpr double height = 650;
constexpr double plot_left = 80;
constexpr double plot_top = 90;
constexpr double plot_size = 420;
constexpr double plot_bottom = plot_top + plot_size;

/// Where the bars of bucket `i` start and end on the x axis, as a
/// probability: the bucket's range of confidence / 5, with the range
/// [4, 5) ending at 0.95 so that the exact-5 bucket gets [0.95, 1].
std::pair<double, double> bar_span(size_t i) {
  if (i == 5)
    return {0.95, 1.0};
  auto lo = static_cast<double>(i) / 5;
  auto hi = i == 4 ? 0.95 : static_cast<double>(i + 1) / 5;
  return {lo, hi};
}

double x_of(double p) {
  return plot_left + p * plot_size;
}

double y_of(double p) {
  return plot_bottom - p * plot_size;
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", x);
  return buf;
}

std::string fixed(double x, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

std::string text(double x, double y, std::string_view body,
                 std::string_view attrs = {}) {
  std::string out = "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"";
  if (!attrs.empty()) {
    out += ' ';
    out += attrs;
  }
  out += '>';
  out += xml_escape(body);
  out += "</text>\n";
  return out;
}

std::string line(double x1, double y1, double x2, double y2,
                 std::string_view attrs) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2)
         + "\" y2=\"" + num(y2) + "\" " + std::string{attrs} + "/>\n";
}

std::string rect(double x, double y, double w, double h,
                 std::string_view attrs) {
  return "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w)
         + "\" height=\"" + num(h) + "\" " + std::string{attrs} + "/>\n";
}

std::string bucket_label(size_t i) {
  if (i == 5)
    return "5";
  return std::to_string(i) + "–" + std::to_string(i + 1);
}

} // namespace

std::string reliability_svg(const calibration_report& report,
                            std::string_view title) {
  std::string svg;
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width)
         + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " "
         + num(height)
         + "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  svg += rect(0, 0, width, height, "fill=\"white\"");
  // Title and the summary figures.
  svg += text(width / 2, 30, title,
              "text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\"");
  std::string figures
    = "ECE " + fixed(report.ece, 3) + "  ·  Brier " + fixed(report.brier, 3)
      + "  ·  accuracy " + fixed(report.accuracy, 3) + "  ·  "
      + std::to_string(report.samples) + " examples with a confidence";
  svg += text(width / 2, 52, figures,
              "text-anchor=\"middle\" font-size=\"12.5\" fill=\"#333\"");
  std::string missing
    = std::to_string(report.missing) + " without a confidence (not plotted)";
  if (report.missing > 0)
    missing += ", their accuracy " + fixed(report.missing_accuracy, 3);
  svg += text(width / 2, 70, missing,
              "text-anchor=\"middle\" font-size=\"12\" fill=\"#666\"");
  // Grid, frame and ticks.
  for (int k = 0; k <= 5; ++k) {
    double p = k / 5.0;
    if (k > 0 && k < 5) {
      svg += line(x_of(p), plot_top, x_of(p), plot_bottom,
                  "stroke=\"#e4e4e4\" stroke-width=\"1\"");
      svg += line(plot_left, y_of(p), plot_left + plot_size, y_of(p),
                  "stroke=\"#e4e4e4\" stroke-width=\"1\"");
    }
    svg += line(plot_left - 5, y_of(p), plot_left, y_of(p),
                "stroke=\"#333\" stroke-width=\"1\"");
    svg += text(plot_left - 9, y_of(p) + 4, fixed(p, 1),
                "text-anchor=\"end\" font-size=\"12\"");
    svg += line(x_of(p), plot_bottom, x_of(p), plot_bottom + 5,
                "stroke=\"#333\" stroke-width=\"1\"");
    svg += text(x_of(p), plot_bottom + 19, fixed(p, 1),
                "text-anchor=\"middle\" font-size=\"12\"");
  }
  // Bars: accuracy filled, mean confidence dashed.
  for (size_t i = 0; i < report.buckets.size(); ++i) {
    const auto& b = report.buckets[i];
    auto [lo, hi] = bar_span(i);
    double x = x_of(lo) + 1.5;
    double w = (hi - lo) * plot_size - 3;
    if (b.count > 0) {
      svg += rect(x, y_of(b.accuracy), w, b.accuracy * plot_size,
                  "fill=\"#3b75af\" fill-opacity=\"0.85\"");
      svg
        += rect(x, y_of(b.mean_probability), w, b.mean_probability * plot_size,
                "fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.6\" "
                "stroke-dasharray=\"5,3\"");
      auto top = std::max(b.accuracy, b.mean_probability);
      svg += text(x + w / 2, y_of(top) - 5, "n=" + std::to_string(b.count),
                  "text-anchor=\"middle\" font-size=\"11\" fill=\"#222\"");
    }
    // The bucket's name and size under the axis.
    svg += text(x + w / 2, plot_bottom + 38, bucket_label(i),
                "text-anchor=\"middle\" font-size=\"11\" fill=\"#555\"");
    svg += text(x + w / 2, plot_bottom + 53, std::to_string(b.count),
                "text-anchor=\"middle\" font-size=\"11\" fill=\""
                  + std::string{b.count > 0 ? "#222" : "#aaa"} + "\"");
  }
  svg += text(plot_left - 9, plot_bottom + 38, "score",
              "text-anchor=\"end\" font-size=\"11\" fill=\"#555\"");
  svg += text(plot_left - 9, plot_bottom + 53, "examples",
              "text-anchor=\"end\" font-size=\"11\" fill=\"#555\"");
  // Perfect calibration and the frame on top of the bars.
  svg += line(x_of(0), y_of(0), x_of(1), y_of(1),
              "stroke=\"#777\" stroke-width=\"1.3\" stroke-dasharray=\"2,3\"");
  svg += rect(plot_left, plot_top, plot_size, plot_size,
              "fill=\"none\" stroke=\"#333\" stroke-width=\"1\"");
  // Each bucket's point: its mean confidence against its accuracy; on the
  // diagonal when the bucket is calibrated.
  for (const auto& b : report.buckets)
    if (b.count > 0)
      svg += "<circle cx=\"" + num(x_of(b.mean_probability)) + "\" cy=\""
             + num(y_of(b.accuracy))
             + "\" r=\"4\" fill=\"#222\" stroke=\"white\" "
               "stroke-width=\"1\"/>\n";
  // Axis labels.
  svg += text(plot_left + plot_size / 2, plot_bottom + 76,
              "confidence / 5 (the job's final confidence as a probability)",
              "text-anchor=\"middle\" font-size=\"13\"");
  svg += "<text x=\"22\" y=\"" + num(plot_top + plot_size / 2)
         + "\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 "
           "22 "
         + num(plot_top + plot_size / 2) + ")\">accuracy (mean score)</text>\n";
  // Legend, two rows under the axis label.
  double ly = plot_bottom + 100;
  double lx = plot_left;
  double lx2 = plot_left + 245;
  svg += rect(lx, ly - 10, 16, 11, "fill=\"#3b75af\" fill-opacity=\"0.85\"");
  svg += text(lx + 24, ly, "accuracy of the bucket", "font-size=\"12\"");
  svg += rect(lx2, ly - 10, 16, 11,
              "fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.6\" "
              "stroke-dasharray=\"5,3\"");
  svg += text(lx2 + 24, ly, "its mean confidence / 5", "font-size=\"12\"");
  ly += 20;
  svg += "<circle cx=\"" + num(lx + 8) + "\" cy=\"" + num(ly - 4)
         + "\" r=\"4\" fill=\"#222\"/>\n";
  svg += text(lx + 24, ly, "(mean confidence, accuracy)", "font-size=\"12\"");
  svg += line(lx2, ly - 4, lx2 + 16, ly - 4,
              "stroke=\"#777\" stroke-width=\"1.3\" stroke-dasharray=\"2,3\"");
  svg += text(lx2 + 24, ly, "perfect calibration", "font-size=\"12\"");
  svg += "</svg>\n";
  return svg;
}

} // namespace llmmr

#pragma once

#include <string>
#include <string_view>

#include "llmmr/core/calibration_report.hpp"

namespace llmmr {

/// Draws the reliability diagram of `report` as a standalone SVG document:
/// per confidence bucket a bar as high as its accuracy and a dashed outline
/// as high as its mean confidence / 5, placed over the bucket's range of
/// confidence / 5 (the exact-5 bucket as a narrow bar at the right end), the
/// diagonal of perfect calibration, the number of examples under each
/// bucket, axes with labels, a legend and a subtitle with ECE, Brier score
/// and the examples without a confidence. `title` heads the picture.
std::string reliability_svg(const calibration_report& report,
                            std::string_view title);

} // namespace llmmr

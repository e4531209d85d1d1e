#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

namespace llmmr {

/// One line of an InfiniteBench prediction file.
struct infinitebench_prediction {
  /// The `id` field as JSON text (`17` or `"a-17"`); empty when absent.
  std::string id;
  /// The model's answer (`prediction`).
  std::string prediction;
  /// The `ground_truth` field as strings: a string as it is, a number as
  /// written in JSON, a list element by element.
  std::vector<std::string> truth;
};

/// Parses one line of a prediction file: a JSON object with a string
/// `prediction` (or `pred`), a `ground_truth` (or `label`: a string, a
/// number or a non-empty list of them) and an optional `id`, the keys the
/// benchmark's scorer accepts. The error names what is wrong, not where (see
/// `read_infinitebench_predictions`).
expected<infinitebench_prediction>
parse_infinitebench_prediction(std::string_view line);

/// Reads an InfiniteBench prediction file (JSON Lines; `-` reads standard
/// input). Blank lines are skipped, as the benchmark's reader does; any
/// other line that does not parse ends the read with an `input` error
/// naming `path:line`.
expected<std::vector<infinitebench_prediction>>
read_infinitebench_predictions(const std::string& path);

} // namespace llmmr

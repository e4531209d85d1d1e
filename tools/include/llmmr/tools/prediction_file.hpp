#pragma once

// InfiniteBench prediction files as the eval subcommands read them: the
// scorer choice, reading and checking the lines, adding up their scores and
// costs, and printing the calibration report.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"
#include <nlohmann/json.hpp>

#include "llmmr/core/calibration_report.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/tools/args.hpp"

namespace llmmr::cli {

/// Returns the scorer's name with a few words on its rules, for reports.
std::string scorer_label(infinitebench_scorer x);

/// Parses `--scorer` (default `official`); an unknown name is a usage error.
expected<infinitebench_scorer> scorer_arg(const parsed_args& args);

/// Returns the ground truth of a prediction line (a string, a number or a
/// list of them) as scorer strings; numbers as JSON writes them.
std::vector<std::string> truth_strings(const nlohmann::ordered_json& truth);

/// One line of a prediction file, parsed.
struct prediction_line {
  /// The line as read (key order kept).
  nlohmann::ordered_json doc;
  /// `id_key` of its id.
  std::string key;
  /// Line number in the file.
  size_t line = 0;
};

/// Reads a prediction file: one JSON object a line with `id`, a string
/// `prediction` and `ground_truth`; `confidence`, when present, a number or
/// null. Errors name `FILE:LINE`. A missing file reads as empty when
/// `missing_ok`. When `repair` is set, a last line cut off by an interrupted
/// run (no final line break, not valid JSON) is dropped with a note on
/// stderr and the file is truncated before it.
expected<std::vector<prediction_line>>
read_predictions(const std::string& path, bool missing_ok, bool repair);

/// Returns the unsigned integer field `name` of `doc`, 0 when absent.
uint64_t uint_field(const nlohmann::ordered_json& doc, const char* name);

/// What a set of prediction lines adds up to.
struct prediction_totals {
  /// Lines counted.
  size_t examples = 0;
  /// Lines with a score (the task has a rule).
  size_t scored = 0;
  /// Sum of the scores (each in [0, 1]).
  double score_sum = 0;
  /// Sum of the `calls` fields.
  uint64_t calls = 0;
  /// Sum of the `tokens` fields.
  uint64_t tokens = 0;
  /// Sum of the `wall_ms` fields.
  double wall_ms = 0;
  /// Examples whose job failed (an `error` field).
  size_t failures = 0;
  /// Examples answered from part of the document (`partial`).
  size_t partial = 0;
  /// Confidence and correctness per scored example.
  std::vector<calibration_sample> samples;
};

/// Scores `lines` with `scorer` and adds up their statistics.
prediction_totals total_of(const std::vector<const prediction_line*>& lines,
                           infinitebench_task task,
                           infinitebench_scorer scorer);

/// Formats `x` with a printf format for one double, e.g. "%.2f".
std::string fmt(const char* format, double x);

/// Prints `r`: the counts, ECE, Brier score and one row per bucket.
/// `heading` follows the word "calibration", e.g. " (mapreduce)".
void print_calibration(std::FILE* out, const calibration_report& r,
                       std::string_view heading);

/// Writes `text` to `path`, replacing it; fails with `error_kind::input`.
error write_text_file(const std::string& path, const std::string& text);

} // namespace llmmr::cli

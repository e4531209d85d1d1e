// `llmmr eval calibration`: how well the confidence of a prediction file
// predicts correctness, with its reliability diagram.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/calibration_report.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/reliability_diagram.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/eval_commands.hpp"
#include "llmmr/tools/prediction_file.hpp"

namespace llmmr::cli {

namespace {

namespace fs = std::filesystem;

constexpr option_spec calibration_options[] = {
  {"preds", true, "FILE  predictions with 'confidence' (JSONL)"},
  {"task", true, "NAME  the task (default: read from preds_<task>*.jsonl)"},
  {"scorer", true, "NAME  official (default) or llmxmapreduce"},
  {"svg", true, "FILE  the reliability diagram (default: beside FILE)"},
  {"json", false, "print the report as one JSON object"},
};

constexpr std::string_view calibration_name = "eval calibration";

/// The task a prediction file name `preds_<task>[_<strategy>].jsonl` names.
std::optional<infinitebench_task> task_from_file_name(const std::string& path) {
  auto stem = fs::path{path}.stem().string();
  if (stem.rfind("preds_", 0) != 0)
    return std::nullopt;
  stem.erase(0, 6);
  std::optional<infinitebench_task> best;
  size_t best_len = 0;
  for (auto t : infinitebench_tasks) {
    auto name = to_string(t);
    if (stem.rfind(name, 0) == 0 && name.size() > best_len
        && (stem.size() == name.size() || stem[name.size()] == '_')) {
      best = t;
      best_len = name.size();
    }
  }
  return best;
}

int run_calibration(arg_list raw) {
  auto args = parse_args(calibration_name, raw, calibration_options);
  if (!args)
    return fail_with(calibration_name, args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(calibration_name,
                "--preds FILE [--task TASK] [--scorer official|llmxmapreduce] "
                "[--svg FILE] [--json]",
                calibration_options);
    std::printf("\nScores each line, buckets the examples by their "
                "'confidence' (0-5; null or\nmissing counts as without) and "
                "prints accuracy per bucket, the expected\ncalibration error "
                "and the Brier score (docs/evaluation.md, "
                "\"Calibration\").\n");
    return exit_ok;
  }
  auto preds = args->get("preds");
  if (!preds || preds->empty())
    return fail_with(calibration_name, usage_error("--preds FILE is required"),
                     exit_usage);
  infinitebench_task task;
  if (args->has("task")) {
    auto t = task_arg(*args);
    if (!t)
      return fail_with(calibration_name, t.error(), exit_usage);
    task = *t;
  } else if (auto t = task_from_file_name(*preds)) {
    task = *t;
  } else {
    return fail_with(
      calibration_name,
      usage_error("--task is required: the file name does not read "
                  "preds_<task>[_<strategy>].jsonl (tasks: "
                  + infinitebench_task_names() + ")"),
      exit_usage);
  }
  auto scorer = scorer_arg(*args);
  if (!scorer)
    return fail_with(calibration_name, scorer.error(), exit_usage);
  auto lines = read_predictions(*preds, false, false);
  if (!lines)
    return fail_with(calibration_name, lines.error(), exit_input);
  bool any_confidence
    = std::any_of(lines->begin(), lines->end(), [](const prediction_line& p) {
        return p.doc.contains("confidence");
      });
  if (!any_confidence)
    return fail_with(
      calibration_name,
      make_error(error_kind::input,
                 "'" + *preds + "' has no 'confidence' field on any line"),
      exit_input);
  std::vector<const prediction_line*> all;
  for (auto& p : *lines)
    all.push_back(&p);
  auto totals = total_of(all, task, *scorer);
  if (totals.scored == 0)
    return fail_with(
      calibration_name,
      make_error(error_kind::input, "no line of '" + *preds
                                      + "' could be scored: the task '"
                                      + to_string(task) + "' has no rule here"),
      exit_input);
  auto report = make_calibration_report(totals.samples);
  std::string svg_path;
  if (auto p = args->get("svg")) {
    svg_path = *p;
  } else {
    fs::path path{*preds};
    auto stem = path.stem().string();
    auto name = stem.rfind("preds_", 0) == 0
                  ? "reliability_" + stem.substr(6) + ".svg"
                  : stem + ".reliability.svg";
    svg_path = (path.parent_path() / name).string();
  }
  auto title = "Reliability: " + fs::path{*preds}.filename().string()
               + ", scorer " + std::string{to_string(*scorer)};
  if (auto err = write_text_file(svg_path, reliability_svg(report, title)))
    return fail_with(calibration_name, err, exit_input);
  if (args->has("json")) {
    auto doc = to_json(report);
    doc["task"] = to_string(task);
    doc["scorer"] = std::string{to_string(*scorer)};
    doc["score"] = 100 * totals.score_sum / static_cast<double>(totals.scored);
    doc["examples"] = totals.examples;
    doc["reliability_svg"] = svg_path;
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    std::printf("%s: %zu examples, score %.2f (scorer %s)\n", preds->c_str(),
                totals.examples,
                100 * totals.score_sum / static_cast<double>(totals.scored),
                scorer_label(*scorer).c_str());
    print_calibration(stdout, report, "");
    std::printf("  reliability diagram: %s\n", svg_path.c_str());
  }
  return exit_ok;
}

} // namespace

int run_eval_calibration(arg_list args) {
  return run_calibration(args);
}

} // namespace llmmr::cli

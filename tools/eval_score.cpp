// `llmmr eval score`: scores an InfiniteBench prediction file with the
// official rules or LLM×MapReduce's modified ones, and says which.

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "llmmr/core/infinitebench_predictions.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec score_options[] = {
  {"task", true, "NAME   InfiniteBench task, e.g. passkey or longbook_sum_eng"},
  {"preds", true, "FILE|- JSONL lines with 'prediction' and 'ground_truth'"},
  {"scorer", true,
   "NAME   official (InfiniteBench's) or llmxmapreduce "
   "(the reference's modified rules)"},
  {"json", false, "print one JSON object instead of text"},
  {"per-line", false, "also print every line's id and score"},
};

constexpr std::string_view score_name = "eval score";

int fail(const error& err, int code) {
  print_error(score_name, err);
  return code;
}

std::string_view scorer_source(infinitebench_scorer x) {
  return x == infinitebench_scorer::official
           ? "InfiniteBench src/compute_scores.py"
           : "LLMxMapReduce_V1/eval/infinitebench/compute_scores.py";
}

void print_text(const infinitebench_file_score& s,
                const std::vector<infinitebench_prediction>& preds,
                bool per_line) {
  auto task = to_string(s.task);
  auto table = table_name(s.task);
  std::printf("%s (%.*s): %.2f over %zu lines, scorer %s (%.*s)\n",
              task.c_str(), static_cast<int>(table.size()), table.data(),
              round_percent(s.percent), s.lines, to_string(s.scorer).c_str(),
              static_cast<int>(scorer_source(s.scorer).size()),
              scorer_source(s.scorer).data());
  if (!per_line)
    return;
  for (size_t i = 0; i < preds.size(); ++i)
    std::printf("  id %s: %.4f\n",
                preds[i].id.empty() ? "-" : preds[i].id.c_str(), s.per_line[i]);
}

void print_json(const infinitebench_file_score& s,
                const std::vector<infinitebench_prediction>& preds,
                bool per_line) {
  nlohmann::ordered_json out;
  out["task"] = to_string(s.task);
  out["table_name"] = table_name(s.task);
  out["scorer"] = to_string(s.scorer);
  out["lines"] = s.lines;
  out["score"] = round_percent(s.percent);
  out["score_unrounded"] = s.percent;
  if (per_line) {
    auto rows = nlohmann::ordered_json::array();
    for (size_t i = 0; i < preds.size(); ++i) {
      nlohmann::ordered_json row;
      row["id"]
        = preds[i].id.empty()
            ? nlohmann::ordered_json(nullptr)
            : nlohmann::ordered_json::parse(preds[i].id, nullptr, false);
      row["score"] = s.per_line[i];
      rows.push_back(std::move(row));
    }
    out["per_line"] = std::move(rows);
  }
  std::printf(
    "%s\n",
    out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

} // namespace

/// Runs `llmmr eval score` with the arguments after "score".
int run_eval_score(arg_list raw_args) {
  auto args = parse_args(score_name, raw_args, score_options);
  if (!args)
    return fail(args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(score_name,
                "--task NAME --preds FILE|- --scorer official|llmxmapreduce "
                "[--json] [--per-line]",
                score_options);
    std::printf(
      "\nScores each line's 'prediction' against its 'ground_truth' with the "
      "chosen\nscorer's rule for the task and prints the mean in percent "
      "(two decimals),\nthe number of lines and the scorer. The two scorers "
      "differ on PassKey,\nNumber, En.MC, En.Dia and Code.Debug; see "
      "docs/evaluation.md.\nTasks: %s.\n",
      infinitebench_task_names().c_str());
    return exit_ok;
  }
  if (!args->positional.empty())
    return fail(make_error(error_kind::usage, "unexpected argument '"
                                                + args->positional.front()
                                                + "' (see --help)"),
                exit_usage);
  auto name = args->get("task");
  if (!name)
    return fail(make_error(error_kind::usage, "--task is required (one of: "
                                                + infinitebench_task_names()
                                                + ")"),
                exit_usage);
  infinitebench_task task;
  if (!from_string(*name, task))
    return fail(make_error(error_kind::usage,
                           "--task: unknown task '" + *name + "' (one of: "
                             + infinitebench_task_names() + ")"),
                exit_usage);
  auto scorer_name = args->get("scorer");
  if (!scorer_name)
    return fail(make_error(error_kind::usage,
                           "--scorer is required (official|llmxmapreduce): "
                           "a score means nothing without its scorer"),
                exit_usage);
  infinitebench_scorer scorer;
  if (!from_string(*scorer_name, scorer))
    return fail(make_error(error_kind::usage,
                           "--scorer: unknown scorer '" + *scorer_name
                             + "' (one of: " + infinitebench_scorer_names()
                             + ")"),
                exit_usage);
  auto path = args->get("preds");
  if (!path)
    return fail(
      make_error(error_kind::usage, "--preds is required (see --help)"),
      exit_usage);
  auto preds = read_infinitebench_predictions(*path);
  if (!preds)
    return fail(preds.error(), exit_input);
  if (preds->empty())
    return fail(
      make_error(error_kind::input, "'" + *path + "' holds no predictions"),
      exit_input);
  auto result = score_predictions(task, scorer, *preds);
  if (args->has("json"))
    print_json(result, *preds, args->has("per-line"));
  else
    print_text(result, *preds, args->has("per-line"));
  std::fflush(stdout);
  return exit_ok;
}

} // namespace llmmr::cli

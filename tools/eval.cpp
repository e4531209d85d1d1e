// `llmmr eval`: offline work on benchmark prediction files. Each subcommand
// is one row of `eval_subcommands`; `llmmr eval extract` turns the raw
// reduce outputs of an InfiniteBench prediction file into clean answers.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/read_file.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/eval_commands.hpp"

namespace llmmr::cli {

/// `llmmr eval score` (tools/eval_score.cpp).
int run_eval_score(arg_list args);
// -- shared by the subcommands ------------------------------------------------

/// Parses `--task NAME` as an InfiniteBench task.
expected<infinitebench_task> task_arg(const parsed_args& args) {
  auto name = args.get("task");
  if (!name)
    return make_error(error_kind::usage, "--task is required (one of: "
                                           + infinitebench_task_names() + ")");
  infinitebench_task task;
  if (!from_string(*name, task))
    return make_error(error_kind::usage,
                      "--task: unknown task '" + *name
                        + "' (one of: " + infinitebench_task_names() + ")");
  return task;
}

namespace {

/// A subcommand of `llmmr eval`.
struct eval_subcommand {
  /// The name after `eval`, e.g. "extract".
  std::string_view name;
  /// One line for `llmmr eval --help`.
  std::string_view summary;
  /// Runs the subcommand with the arguments after its name.
  int (*run)(arg_list args);
};

int fail(std::string_view command, const error& err, int code) {
  print_error(command, err);
  return code;
}

/// The lines of a JSONL prediction file, each parsed as an object that
/// keeps its key order; blank lines are kept as `null`.
expected<std::vector<nlohmann::ordered_json>>
read_jsonl(const std::string& path) {
  std::ifstream file;
  auto* in = open_input(path, file);
  if (!in)
    return make_error(error_kind::input, "cannot open '" + path + "'");
  std::vector<nlohmann::ordered_json> lines;
  std::string line;
  size_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      lines.emplace_back(nullptr);
      continue;
    }
    auto where = path + ":" + std::to_string(number) + ": ";
    auto doc = nlohmann::ordered_json::parse(line, nullptr, false);
    if (doc.is_discarded())
      return make_error(error_kind::input, where + "not valid JSON");
    if (!doc.is_object())
      return make_error(error_kind::input, where + "not a JSON object");
    if (!doc.contains("prediction") || !doc["prediction"].is_string())
      return make_error(error_kind::input,
                        where + "no string field 'prediction'");
    lines.push_back(std::move(doc));
  }
  return lines;
}

// -- llmmr eval extract -------------------------------------------------------

constexpr option_spec extract_options[] = {
  {"task", true, "NAME   InfiniteBench task, e.g. passkey or code_debug"},
  {"preds", true, "FILE|- JSONL predictions with a 'prediction' field"},
  {"out", true, "FILE    where to write (default: standard output)"},
};

constexpr std::string_view extract_name = "eval extract";

int run_extract(arg_list raw_args) {
  auto args = parse_args(extract_name, raw_args, extract_options);
  if (!args)
    return fail(extract_name, args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(extract_name, "--task NAME --preds FILE|- [--out FILE]",
                extract_options);
    std::printf("\nReplaces each line's 'prediction' by the answer read from "
                "it and keeps the\noriginal text as 'raw_prediction'. "
                "Tasks: %s.\n",
                infinitebench_task_names().c_str());
    return exit_ok;
  }
  auto task = task_arg(*args);
  if (!task)
    return fail(extract_name, task.error(), exit_usage);
  auto preds = args->get("preds");
  if (!preds)
    return fail(
      extract_name,
      make_error(error_kind::usage, "--preds is required (see --help)"),
      exit_usage);
  auto lines = read_jsonl(*preds);
  if (!lines)
    return fail(extract_name, lines.error(), exit_input);
  auto kind = answer_kind_of(*task);
  std::ostringstream out;
  for (auto& doc : *lines) {
    if (doc.is_null()) {
      out << '\n';
      continue;
    }
    auto raw = doc["prediction"].get<std::string>();
    doc["prediction"] = extract_answer(raw, kind).text;
    doc["raw_prediction"] = std::move(raw);
    out << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << '\n';
  }
  auto text = std::move(out).str();
  if (auto path = args->get("out")) {
    std::ofstream file{*path, std::ios::binary | std::ios::trunc};
    file << text;
    file.flush();
    if (!file)
      return fail(extract_name,
                  make_error(error_kind::input, "cannot write '" + *path + "'"),
                  exit_input);
    return exit_ok;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return exit_ok;
}

// -- llmmr eval ---------------------------------------------------------------

constexpr eval_subcommand eval_subcommands[] = {
  {"extract", "read clean answers out of raw reduce outputs (JSONL)",
   run_extract},
  {"score", "score prediction files (official or llmxmapreduce scorer)",
   run_eval_score},
  {"generate", "write synthetic InfiniteBench data (passkey, kv_retrieval...)",
   run_eval_generate},
  {"infinitebench", "run a task's examples, score them, report calibration",
   run_eval_infinitebench},
  {"calibration",
   "how well a prediction file's confidence predicts "
   "correctness",
   run_eval_calibration},
};

void print_eval_help(std::FILE* out) {
  std::fprintf(out, "usage: llmmr eval <subcommand> [options]\n\n"
                    "subcommands:\n");
  for (auto& sub : eval_subcommands)
    std::fprintf(out, "  %-14.*s %.*s\n", static_cast<int>(sub.name.size()),
                 sub.name.data(), static_cast<int>(sub.summary.size()),
                 sub.summary.data());
  std::fprintf(out, "\nRun 'llmmr eval <subcommand> --help' for its "
                    "options.\n");
}

int run_eval(arg_list args) {
  if (args.empty()) {
    print_eval_help(stderr);
    return exit_usage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_eval_help(stdout);
    return exit_ok;
  }
  for (auto& sub : eval_subcommands)
    if (sub.name == args[0])
      return sub.run(args.subspan(1));
  std::fprintf(stderr, "llmmr eval: unknown subcommand '%.*s'\n\n",
               static_cast<int>(args[0].size()), args[0].data());
  print_eval_help(stderr);
  return exit_usage;
}

const bool registered = register_command(
  {"eval", "InfiniteBench: generate data, run, score, calibration", run_eval});

} // namespace

} // namespace llmmr::cli

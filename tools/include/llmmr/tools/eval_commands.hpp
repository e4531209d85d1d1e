#pragma once

// The `llmmr eval` subcommands that live outside tools/eval.cpp; its
// subcommand table lists them.

#include <string>
#include <string_view>
#include <utility>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

/// Parses `--task NAME` as an InfiniteBench task; a missing or unknown name
/// is a usage error listing the tasks. Defined in tools/eval.cpp.
expected<infinitebench_task> task_arg(const parsed_args& args);

/// Prints `err` as `llmmr <command>: ...` and returns `code`.
inline int fail_with(std::string_view command, const error& err, int code) {
  print_error(command, err);
  return code;
}

/// Returns a usage error saying `text`.
inline error usage_error(std::string text) {
  return make_error(error_kind::usage, std::move(text));
}

/// `llmmr eval generate`: writes a synthetic InfiniteBench data file.
int run_eval_generate(arg_list args);

/// `llmmr eval infinitebench`: runs a task's examples through the pipeline,
/// writes and scores the predictions, prints the calibration report.
int run_eval_infinitebench(arg_list args);

/// `llmmr eval calibration`: the calibration report of a prediction file.
int run_eval_calibration(arg_list args);

} // namespace llmmr::cli

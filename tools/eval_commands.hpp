#pragma once

// The `llmmr eval` subcommands that live outside tools/eval.cpp; its
// subcommand table lists them.

#include <caf/expected.hpp>

#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

/// Parses `--task NAME` as an InfiniteBench task; a missing or unknown name
/// is a usage error listing the tasks. Defined in tools/eval.cpp.
caf::expected<infinitebench_task> task_arg(const parsed_args& args);

/// `llmmr eval generate`: writes a synthetic InfiniteBench data file.
int run_eval_generate(arg_list args);

/// `llmmr eval infinitebench`: runs a task's examples through the pipeline,
/// writes and scores the predictions, prints the calibration report.
int run_eval_infinitebench(arg_list args);

/// `llmmr eval calibration`: the calibration report of a prediction file.
int run_eval_calibration(arg_list args);

} // namespace llmmr::cli

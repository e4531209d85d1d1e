#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr::cli {

/// Exit codes shared by every subcommand.
enum exit_code : int {
  /// Success.
  exit_ok = 0,
  /// An unexpected internal failure.
  exit_internal = 1,
  /// The command line was wrong.
  exit_usage = 2,
  /// The input document could not be used.
  exit_input = 3,
  /// The endpoint was unreachable or unusable.
  exit_endpoint = 4,
  /// The job finished but some chunks failed (a partial result).
  exit_partial = 5,
  /// The configuration was invalid.
  exit_config = 6,
  /// The job failed (too many chunks failed, deadline, cancelled).
  exit_job_failed = 7,
  /// The endpoint answered but the model's output could not be used: the
  /// reduce output, or every failed chunk's map output, stayed cut off,
  /// empty or unparsable after its corrective re-asks.
  exit_unusable_answer = 8,
  /// `llmmr niah`: every cell ran, but not every needle was found.
  exit_needle_missed = 9,
};

/// The arguments after the subcommand's name.
using arg_list = std::span<const std::string_view>;

/// A subcommand of the `llmmr` program.
struct command {
  /// The name typed on the command line, e.g. "plan".
  std::string_view name;
  /// One line for `llmmr --help`.
  std::string_view summary;
  /// Runs the command and returns its exit code.
  int (*run)(arg_list args);
};

/// Adds `cmd` to the program. Each tools/<name>.cpp calls this from a static
/// initializer: `static const bool registered = register_command({...});`.
bool register_command(command cmd);

/// Returns every registered command, sorted by name.
std::vector<command> registered_commands();

} // namespace llmmr::cli

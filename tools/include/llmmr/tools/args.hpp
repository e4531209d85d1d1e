#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

/// Describes one option a subcommand accepts.
struct option_spec {
  /// Long name without dashes, e.g. "doc".
  std::string_view name;
  /// True when the option takes a value (`--doc FILE` or `--doc=FILE`).
  bool takes_value;
  /// Placeholder and description for `--help`.
  std::string_view help;
};

/// The options of the commands that run jobs against an endpoint, one help
/// text for each wherever it appears.
namespace job_option {

/// `--model M`.
inline constexpr option_spec model{"model", true,
                                   "M  model name to request (job.model)"};
/// `--api-key-env VAR`.
inline constexpr option_spec api_key_env{
  "api-key-env", true,
  "VAR  variable holding the API key (endpoints[0].api_key_env)"};
/// `--config F`.
inline constexpr option_spec config{"config", true,
                                    "F  JSON configuration file"};
/// `--budget N`.
inline constexpr option_spec budget{"budget", true,
                                    "N  token budget of one call (job.budget)"};
/// `--max-tokens N`.
inline constexpr option_spec max_tokens{
  "max-tokens", true, "N  reserved output tokens (job.max_tokens)"};
/// `--set KEY=VALUE`.
inline constexpr option_spec set{
  "set", true, "KEY=VALUE  any configuration key, e.g. pipeline.mappers=4"};
/// `--quiet`.
inline constexpr option_spec quiet{"quiet", false, "no progress on stderr"};

} // namespace job_option

/// The options of one subcommand invocation after parsing.
class parsed_args {
public:
  /// Returns whether the flag or option `name` was given.
  bool has(std::string_view name) const;

  /// Returns the value of `name`, if given (the last one wins).
  std::optional<std::string> get(std::string_view name) const;

  /// Returns every value given for `name`, in order.
  std::vector<std::string> all(std::string_view name) const;

  /// Returns the value of `name` parsed as an unsigned integer, or an error
  /// naming the option when it is not one.
  expected<std::optional<uint64_t>> get_uint(std::string_view name) const;

  /// Returns the value of `name` parsed as a number, or an error naming the
  /// option when it is not one.
  expected<std::optional<double>> get_double(std::string_view name) const;

  /// Positional arguments.
  std::vector<std::string> positional;

private:
  friend expected<parsed_args> parse_args(std::string_view, arg_list,
                                          std::span<const option_spec>);
  std::multimap<std::string, std::string, std::less<>> values_;
};

/// Parses `args` against `specs` with CLI11. Unknown options, missing values
/// and values given to flags are reported as `error_kind::usage` naming the
/// option. `--help` (and `-h`) is always accepted; `--` ends the options.
expected<parsed_args> parse_args(std::string_view command, arg_list args,
                                 std::span<const option_spec> specs);

/// Prints the usage of `command` with its options to stdout.
void print_usage(std::string_view command, std::string_view synopsis,
                 std::span<const option_spec> specs);

/// Prints `llmmr <command>: <description of err>` to stderr.
void print_error(std::string_view command, const error& err);

/// Prints `text` as a usage error of `command` and returns `exit_usage`.
int usage_failure(std::string_view command, std::string text);

/// What `parse_command_args` found: the arguments, or (when they are
/// empty) the exit code the command returns at once.
struct command_args {
  /// The parsed arguments; empty after a usage error or `--help`.
  std::optional<parsed_args> args;
  /// `exit_usage` after a usage error, `exit_ok` after `--help`.
  int exit_code = 0;
};

/// Parses `raw` for `command`, which takes options only: prints the usage
/// on `--help`, and prints the error on a bad option or any positional
/// argument.
command_args parse_command_args(std::string_view command, arg_list raw,
                                std::span<const option_spec> specs,
                                std::string_view synopsis);

} // namespace llmmr::cli

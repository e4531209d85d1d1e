// Entry point of the `llmmr` program: dispatches to the registered
// subcommands (see command.hpp).

#include <algorithm>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "llmmr/core/log.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

namespace {

std::vector<command>& command_table() {
  static std::vector<command> table;
  return table;
}

void print_help(FILE* out) {
  std::fprintf(out, "usage: llmmr <command> [options]\n\ncommands:\n");
  for (const auto& cmd : registered_commands())
    std::fprintf(out, "  %-8.*s %.*s\n", static_cast<int>(cmd.name.size()),
                 cmd.name.data(), static_cast<int>(cmd.summary.size()),
                 cmd.summary.data());
  std::fprintf(out,
               "\nRun 'llmmr <command> --help' for a command's options.\n");
}

} // namespace

bool register_command(command cmd) {
  command_table().push_back(cmd);
  return true;
}

std::vector<command> registered_commands() {
  auto result = command_table();
  std::sort(result.begin(), result.end(),
            [](const command& x, const command& y) { return x.name < y.name; });
  return result;
}

} // namespace llmmr::cli

int main(int argc, char** argv) {
  using namespace llmmr::cli;
  // Logs go to stderr: stdout carries answers and JSON that scripts parse.
  llmmr::set_log_sinks(
    {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()});
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_help(stderr);
    return exit_usage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(stdout);
    return exit_ok;
  }
  for (const auto& cmd : registered_commands()) {
    if (cmd.name == args[0]) {
      try {
        return cmd.run(arg_list{args}.subspan(1));
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "llmmr %s: internal error: %s\n",
                     std::string{cmd.name}.c_str(), ex.what());
        return exit_internal;
      }
    }
  }
  std::fprintf(stderr, "llmmr: unknown command '%s'\n\n",
               std::string{args[0]}.c_str());
  print_help(stderr);
  return exit_usage;
}

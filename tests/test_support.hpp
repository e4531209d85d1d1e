#pragma once

// Helpers shared by the tests: temporary directories, running the llmmr
// program as a child process and collecting its output.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json_fwd.hpp>

namespace llmmr::test {

/// A fresh directory under the system's temp dir, removed on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The directory's path.
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Writes `content` to `name` inside the directory and returns its path.
  std::filesystem::path write(const std::string& name,
                              const std::string& content) const;

private:
  std::filesystem::path path_;
};

/// What a finished command printed and returned.
struct command_result {
  /// The exit code, or 128 + signal number when killed by a signal.
  int exit_code = -1;
  /// Everything written to standard output.
  std::string out;
  /// Everything written to standard error.
  std::string err;
};

/// Runs `argv` (argv[0] is a path), feeding `input` to its standard input,
/// and waits up to `timeout` for it to finish (killing it after that).
command_result
run_command(const std::vector<std::string>& argv, const std::string& input = {},
            std::chrono::milliseconds timeout = std::chrono::seconds{120});

/// A child process running in the background, killed (SIGTERM, then SIGKILL)
/// and reaped when this object is destroyed.
class child_process {
public:
  /// Starts `argv` with standard output and error sent to `log_file`.
  child_process(const std::vector<std::string>& argv,
                const std::filesystem::path& log_file);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The child's process id.
  pid_t pid() const noexcept { return pid_; }

  /// Sends SIGTERM and waits up to `timeout`, then SIGKILL. Returns the exit
  /// code as in `command_result`.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Returns whether the child is still running.
  bool running();

private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

/// Waits until `file` exists and holds a line, then returns that line;
/// returns an empty string after `timeout`.
std::string wait_for_line(const std::filesystem::path& file,
                          std::chrono::milliseconds timeout
                          = std::chrono::seconds{20});

/// Returns a loopback port that nothing listens on (bound, read back and
/// released again).
std::string closed_port();

/// Returns `paragraphs` paragraphs of seeded filler prose with `fact`
/// appended to the middle one.
std::string document_with_fact(uint64_t seed, size_t paragraphs,
                               const std::string& fact);

/// The path of the built `llmmr` program.
std::string llmmr_binary();

/// Runs `llmmr <command> <args...>` as in `run_command`.
command_result
run_llmmr(const std::string& command, const std::vector<std::string>& args,
          const std::string& input = {},
          std::chrono::milliseconds timeout = std::chrono::seconds{300});

/// Parses what `r` printed on standard output as one JSON document; fails the
/// test (showing both outputs) when it is not one.
nlohmann::json parse_json_output(const command_result& r);

/// The fact the CLI tests plant in their documents, and the question that
/// asks for it (the simulator answers "Blue Heron").
inline const std::string relay_fact
  = "The code name of the relay station is Blue Heron.";
/// The question that asks for `relay_fact`.
inline const std::string relay_question
  = "What is the code name of the relay station?";

/// The source tree's root.
std::filesystem::path source_dir();

/// A running `llmmr sim` process on a free loopback port, with `extra`
/// arguments; `url` is its base URL.
struct sim_process {
  temp_dir dir;
  std::unique_ptr<child_process> child;
  std::string url;

  explicit sim_process(std::vector<std::string> extra = {});
};

/// The numbers of the last final progress line on a command's stderr,
/// "llmmr: done: X/Y chunks mapped, Z failed" or "llmmr: failed: ...".
struct final_counts {
  unsigned mapped = 0;
  unsigned total = 0;
  unsigned failed = 0;
  /// False when no such line was found.
  bool found = false;
};

/// Reads the last final progress line of `err`.
inline final_counts last_progress(const std::string& err) {
  final_counts out;
  auto best = std::string::npos;
  for (auto prefix : {"llmmr: done: ", "llmmr: failed: "}) {
    auto at = err.rfind(prefix);
    if (at == std::string::npos || (best != std::string::npos && at < best))
      continue;
    auto fmt = std::string{prefix} + "%u/%u chunks mapped, %u failed";
    final_counts found;
    if (std::sscanf(err.c_str() + at, fmt.c_str(), &found.mapped, &found.total,
                    &found.failed)
        == 3) {
      found.found = true;
      out = found;
      best = at;
    }
  }
  return out;
}

} // namespace llmmr::test

#pragma once

// Child processes of a command (`llmmr bench` runs simulators, workers and
// jobs in fresh processes): started with posix_spawn, always reaped.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

namespace llmmr::cli {

/// How a child process ended.
struct child_exit {
  /// The exit code, or minus the signal number that ended it.
  int status = 0;
  /// `wait4`'s `ru_maxrss` in KiB. Not the child's own peak: Linux keeps the
  /// high-water mark across `exec`, and posix_spawn's child runs in the
  /// parent's memory until its `exec`, so this is at least the parent's peak
  /// RSS. Use `child_process::peak_rss_kib` for the child's.
  long max_rss_kib = 0;
  /// User plus system CPU time of the child, in seconds.
  double cpu_seconds = 0;
};

/// What to start.
struct child_options {
  /// The program (an absolute path) and its arguments.
  std::vector<std::string> argv;
  /// Give the child a pipe as its standard input (see `stdin_fd`).
  bool pipe_stdin = false;
  /// Redirect standard output to this file; empty keeps the parent's.
  std::string stdout_file;
  /// Redirect standard error to this file; empty keeps the parent's.
  std::string stderr_file;
};

/// One child process. The destructor of a child still running sends it
/// SIGTERM, then SIGKILL after two seconds, and reaps it, so no child
/// outlives its owner even on an error path.
class child_process {
public:
  /// Starts `opts.argv`. Fails with `error_kind::internal` naming the
  /// program when it cannot be started.
  static expected<child_process> spawn(const child_options& opts);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  /// Returns the child's process id (0 once reaped).
  pid_t pid() const noexcept { return pid_; }

  /// Returns the write end of the child's standard input, -1 without one.
  int stdin_fd() const noexcept { return stdin_fd_; }

  /// Writes all of `bytes` to the child's standard input. Fails with
  /// `error_kind::internal` when the child closed it (or exited).
  error write_stdin(std::string_view bytes);

  /// Closes the child's standard input (end of file for the child).
  void close_stdin();

  /// Returns whether the child has not exited yet (reaping it when it has).
  bool running();

  /// Returns the child's peak resident set size so far in KiB (`VmHWM` of
  /// `/proc/<pid>/status`, which starts afresh at `exec`), or -1 once it
  /// exited or when the platform cannot tell.
  long peak_rss_kib() const;

  /// Waits until the child exits, at most `timeout`; after that, kills it
  /// and fails with `error_kind::timeout`.
  expected<child_exit> wait(std::chrono::milliseconds timeout);

  /// Sends SIGTERM and waits (SIGKILL after `grace`).
  expected<child_exit> terminate(std::chrono::milliseconds grace
                                 = std::chrono::seconds{2});

private:
  child_process() = default;
  /// Reaps the child without blocking; true when it was reaped.
  bool try_reap();
  void release();

  pid_t pid_ = 0;
  int stdin_fd_ = -1;
  child_exit exit_;
  bool reaped_ = false;
};

/// Returns the path of the running executable (`/proc/self/exe`), or an
/// `error_kind::internal` error when it cannot be read.
expected<std::string> self_executable();

/// Waits until `path` holds a port number written by `write_port_file`,
/// failing with `error_kind::internal` when `child` exits first or
/// `error_kind::timeout` after `timeout`.
expected<uint16_t> wait_for_port_file(const std::string& path,
                                      child_process& child,
                                      std::chrono::milliseconds timeout);

} // namespace llmmr::cli

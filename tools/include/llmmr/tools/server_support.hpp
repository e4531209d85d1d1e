#pragma once

// Helpers for the subcommands that run as servers until they are told to
// stop (`llmmr sim`, `llmmr worker`).

#include <csignal>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/error.hpp"

namespace llmmr::cli {

/// Blocks SIGINT and SIGTERM for the calling thread and every thread it
/// starts afterwards, so that only `wait_for_stop_signal` receives them.
/// Call it before starting any thread.
class stop_signals {
public:
  stop_signals();

  /// Waits until SIGINT or SIGTERM arrives and returns its number.
  int wait();

private:
  sigset_t set_;
};

/// Writes `content` to `path` through a temporary file (`path` + ".tmp")
/// and a rename, so that a reader never sees a partly written file and an
/// interrupted writer leaves the old file whole. Fails with
/// `error_kind::config` naming the file.
error write_file_atomically(const std::string& path, std::string_view content);

/// Writes `port` and a newline to `path` through a temporary file and a
/// rename, so that a reader polling the file never sees a partial line.
error write_port_file(const std::string& path, uint16_t port);

} // namespace llmmr::cli

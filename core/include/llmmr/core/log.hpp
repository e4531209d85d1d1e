#pragma once

#include <memory>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/logger.h>

namespace llmmr {

/// Returns the logger every part of the library writes to, named `"llmmr"`.
/// Until the host replaces it, it writes to stderr at level `info`; it never
/// writes to stdout, so a service whose stdout carries a protocol can embed
/// the library. Safe to call from any thread.
std::shared_ptr<spdlog::logger> logger();

/// Makes `logger` the library's logger; `nullptr` restores the default
/// (stderr, level `info`). The library never registers it with spdlog's
/// registry and never touches spdlog's default logger.
void set_logger(std::shared_ptr<spdlog::logger> replacement);

/// Replaces the library's logger by one named `"llmmr"` that writes to
/// `sinks`, keeping the current level.
void set_log_sinks(std::vector<spdlog::sink_ptr> sinks);

/// Sets the level of the library's current logger.
void set_log_level(spdlog::level::level_enum level);

} // namespace llmmr

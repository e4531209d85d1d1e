#pragma once

// The CLI's logging: level and destination from the `log` section.

#include "llmmr/messages/error.hpp"

#include "llmmr/config/settings.hpp"

namespace llmmr::cli {

/// Applies `log.level` and `log.file` to the default spdlog logger.
error configure_logging(const settings& s);

} // namespace llmmr::cli

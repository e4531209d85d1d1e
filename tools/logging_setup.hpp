#pragma once

// The CLI's logging: level and destination from the `log` section.

#include <caf/error.hpp>

#include "llmmr/config/settings.hpp"

namespace llmmr::cli {

/// Applies `log.level` and `log.file` to the default spdlog logger.
caf::error configure_logging(const settings& s);

} // namespace llmmr::cli

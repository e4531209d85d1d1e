#pragma once

// Durations and token counts written for people.

#include <cstdint>
#include <string>

namespace llmmr::cli {

/// Formats a duration in microseconds for people, e.g. "1.4 s" or "2m05s".
std::string format_duration(uint64_t us);

/// Formats a token count for people, e.g. "950", "12.3k", "1.20M".
std::string format_count(uint64_t n);

} // namespace llmmr::cli

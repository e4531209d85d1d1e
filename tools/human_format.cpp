// Durations and token counts written for people.

#include "llmmr/tools/human_format.hpp"

#include <cstdio>

namespace llmmr::cli {

std::string format_duration(uint64_t us) {
  char buf[32];
  if (us < 1'000'000)
    std::snprintf(buf, sizeof(buf), "%.0f ms", static_cast<double>(us) / 1e3);
  else if (us < 60'000'000)
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%llum%02llus",
                  static_cast<unsigned long long>(us / 60'000'000),
                  static_cast<unsigned long long>(us / 1'000'000 % 60));
  return buf;
}

std::string format_count(uint64_t n) {
  char buf[32];
  if (n < 1000)
    std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(n));
  else if (n < 1'000'000)
    std::snprintf(buf, sizeof(buf), "%.1fk", static_cast<double>(n) / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.2fM", static_cast<double>(n) / 1e6);
  return buf;
}

} // namespace llmmr::cli

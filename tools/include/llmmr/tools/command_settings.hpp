#pragma once

// The settings layers of one command: --config, the environment, flags that
// stand for keys, and --set overrides.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

#include "llmmr/config/settings.hpp"
#include "llmmr/tools/args.hpp"

namespace llmmr::cli {

/// A command-line flag that stands for a configuration key.
struct flag_key {
  /// The flag's name without dashes, e.g. "budget".
  std::string_view flag;
  /// The key it sets, e.g. "job.budget".
  std::string_view key;
};

/// Appends every `--set KEY=VALUE` of `args` to `overrides`, in order, so
/// later ones win. Fails with `error_kind::usage` for a malformed pair.
error add_set_overrides(
  const parsed_args& args,
  std::vector<std::pair<std::string, std::string>>& overrides);

/// Builds the settings layers of a command: `--config` (or none), the
/// process environment, then the flags in `flags`, then every `--set`.
expected<settings_sources>
settings_sources_from(const parsed_args& args, std::span<const flag_key> flags);

} // namespace llmmr::cli

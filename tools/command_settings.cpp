// Builds the settings sources of a command from its arguments.

#include "llmmr/tools/command_settings.hpp"

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

error add_set_overrides(
  const parsed_args& args,
  std::vector<std::pair<std::string, std::string>>& overrides) {
  for (const auto& kv : args.all("set")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(error_kind::usage,
                        "--set expects KEY=VALUE, got '" + kv + "'");
    overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return {};
}

expected<settings_sources>
settings_sources_from(const parsed_args& args,
                      std::span<const flag_key> flags) {
  settings_sources src;
  src.file = args.get("config").value_or("");
  src.environment = current_environment();
  for (const auto& [flag, key] : flags)
    if (auto value = args.get(flag))
      src.overrides.emplace_back(std::string{key}, *value);
  if (auto err = add_set_overrides(args, src.overrides))
    return err;
  return src;
}

} // namespace llmmr::cli

#pragma once

#include <span>
#include <string_view>

namespace llmmr {

/// One prompt template compiled into the library from `config/prompts`.
struct builtin_prompt {
  /// Path relative to `config/prompts`, e.g. `qa/map.txt`.
  std::string_view path;
  /// The template text.
  std::string_view text;
};

/// Returns every template that was compiled into the library.
std::span<const builtin_prompt> builtin_prompts() noexcept;

} // namespace llmmr

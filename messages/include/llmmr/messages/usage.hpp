#pragma once

#include <cstdint>

namespace llmmr {

/// Token usage of one or more LLM calls.
struct usage {
  /// Tokens sent in prompts.
  uint64_t prompt_tokens = 0;
  /// Tokens generated.
  uint64_t completion_tokens = 0;

  /// Adds `other` to this usage.
  usage& operator+=(const usage& other) noexcept {
    prompt_tokens += other.prompt_tokens;
    completion_tokens += other.completion_tokens;
    return *this;
  }

  friend bool operator==(const usage&, const usage&) = default;
};

/// Serializes `x` for CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, usage& x) {
  return f(x.prompt_tokens, x.completion_tokens);
}

} // namespace llmmr

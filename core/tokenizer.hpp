#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmmr {

/// Counts tokens the way the serving model would (or conservatively more).
class tokenizer {
public:
  virtual ~tokenizer() = default;

  /// Returns the number of tokens in `text`.
  virtual size_t count(std::string_view text) const = 0;

  /// Returns a short name for logs and `llmmr plan`, e.g. "approx".
  virtual std::string name() const = 0;
};

} // namespace llmmr

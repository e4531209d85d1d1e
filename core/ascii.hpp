#pragma once

#include <string>
#include <string_view>

namespace llmmr::ascii {

/// Returns whether `c` is ASCII white space (space, tab, CR, LF, FF, VT),
/// independent of the C locale.
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'
         || c == '\v';
}

/// Returns `c` in lower case when it is an ASCII letter, else `c`.
constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Returns `x` without leading and trailing ASCII white space.
constexpr std::string_view trim(std::string_view x) noexcept {
  while (!x.empty() && is_space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && is_space(x.back()))
    x.remove_suffix(1);
  return x;
}

/// Returns a copy of `x` with ASCII letters in lower case; other bytes
/// (including UTF-8 sequences) are unchanged.
inline std::string lower(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = to_lower(c);
  return result;
}

/// Returns whether `x` and `y` are equal ignoring ASCII case.
constexpr bool iequals(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (to_lower(x[i]) != to_lower(y[i]))
      return false;
  return true;
}

} // namespace llmmr::ascii

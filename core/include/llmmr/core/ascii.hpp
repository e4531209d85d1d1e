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
/// Returns `text` in double quotes for an error message, cut to 57 bytes
/// and "..." when longer than 60.
inline std::string quoted_excerpt(std::string_view text) {
  std::string result = "\"";
  if (text.size() > 60)
    result.append(text.substr(0, 57)).append("...");
  else
    result.append(text);
  result += '"';
  return result;
}

constexpr bool iequals(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (to_lower(x[i]) != to_lower(y[i]))
      return false;
  return true;
}

/// Returns whether `c` is an ASCII letter or digit.
constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

/// Returns whether `c` is an ASCII digit.
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// Returns whether `s` starts with `prefix`, ignoring ASCII case.
constexpr bool starts_with_icase(std::string_view s,
                                 std::string_view prefix) noexcept {
  return s.size() >= prefix.size()
         && iequals(s.substr(0, prefix.size()), prefix);
}

/// Removes `prefix` from the front of `s` when it is there.
constexpr bool consume(std::string_view& s, std::string_view prefix) noexcept {
  if (s.substr(0, prefix.size()) != prefix)
    return false;
  s.remove_prefix(prefix.size());
  return true;
}

/// Removes leading blanks (spaces and tabs) from `s`.
constexpr void skip_blanks(std::string_view& s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
}

/// Removes leading markdown emphasis (`*`, `_`) from `s`; returns whether
/// there was any.
constexpr bool skip_emphasis(std::string_view& s) noexcept {
  bool any = false;
  while (!s.empty() && (s.front() == '*' || s.front() == '_')) {
    s.remove_prefix(1);
    any = true;
  }
  return any;
}

/// Takes the next `sep`-separated item off the front of `list` (the whole of
/// it when there is no `sep`), trimmed of blanks. Empty items come back
/// empty; callers skip them.
constexpr std::string_view next_item(std::string_view& list,
                                     char sep = ',') noexcept {
  auto at = list.find(sep);
  auto item = list.substr(0, at);
  list
    = at == std::string_view::npos ? std::string_view{} : list.substr(at + 1);
  return trim(item);
}

} // namespace llmmr::ascii

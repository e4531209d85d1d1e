// Python's str semantics for the scorers; see python_text.hpp.

#include "llmmr/core/python_text.hpp"

#include <utf8proc.h>

#include "llmmr/core/utf8.hpp"

namespace llmmr::python_text {

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto d = utf8::decode(text, i);
    out += d.state == utf8::status::ok ? d.code_point : char32_t{0xFFFD};
    i += d.length == 0 ? 1 : d.length;
  }
  return out;
}

std::string encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (auto c : text)
    utf8::append(out, c);
  return out;
}

bool is_space(char32_t c) noexcept {
  if (c < 0x80)
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A)
         || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
         || c == 0x3000;
}

bool is_word_char(char32_t c) noexcept {
  if (c < 0x80)
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z') || c == '_';
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
    return true;
  default:
    return false;
  }
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  std::string word;
  for (size_t i = 0; i < s.size();) {
    auto d = utf8::decode(s, i);
    auto n = d.length == 0 ? size_t{1} : size_t{d.length};
    if (d.state == utf8::status::ok && is_space(d.code_point)) {
      if (!word.empty())
        out.push_back(std::move(word));
      word.clear();
    } else {
      word.append(s.substr(i, n));
    }
    i += n;
  }
  if (!word.empty())
    out.push_back(std::move(word));
  return out;
}

std::string_view strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    auto d = utf8::decode(s, begin);
    if (d.state != utf8::status::ok || !is_space(d.code_point))
      break;
    begin += d.length;
  }
  size_t end = begin;
  for (size_t i = begin; i < s.size();) {
    auto d = utf8::decode(s, i);
    auto n = d.length == 0 ? size_t{1} : size_t{d.length};
    i += n;
    if (d.state != utf8::status::ok || !is_space(d.code_point))
      end = i;
  }
  return s.substr(begin, end - begin);
}

std::u32string lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (auto c : s) {
    if (c < 0x80) {
      out += (c >= 'A' && c <= 'Z') ? c + 32 : c;
    } else if (c == 0x130) {
      out += U'i';
      out += char32_t{0x307};
    } else {
      out += static_cast<char32_t>(
        utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
    }
  }
  return out;
}

std::u32string upper(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (auto c : s) {
    if (c < 0x80)
      out += (c >= 'a' && c <= 'z') ? c - 32 : c;
    else
      out += static_cast<char32_t>(
        utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
  }
  return out;
}

} // namespace llmmr::python_text

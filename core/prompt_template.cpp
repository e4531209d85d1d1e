#include "llmmr/core/prompt_template.hpp"

#include <algorithm>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_name_char(char c) noexcept {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/// Returns "line L, column C" for byte offset `pos` (columns count bytes).
std::string position_of(std::string_view text, size_t pos) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column "
         + std::to_string(pos - line_start + 1);
}

} // namespace

expected<prompt_template> prompt_template::parse(std::string name,
                                                 std::string text) {
  prompt_template result;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      result.segments_.push_back({std::move(literal), false});
      literal.clear();
    }
  };
  auto fail = [&](size_t pos, std::string_view what) {
    return make_error(error_kind::config, "prompt template " + name + ", "
                                            + position_of(text, pos) + ": "
                                            + std::string{what});
  };
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        literal += '{';
        i += 2;
        continue;
      }
      size_t close = text.find('}', i + 1);
      if (close == std::string::npos)
        return fail(i, "unterminated placeholder (write {{ for a literal {)");
      std::string_view inner{text.data() + i + 1, close - i - 1};
      if (inner.empty())
        return fail(i, "empty placeholder {} (write {{ for a literal {)");
      if (!is_name_start(inner.front())
          || !std::all_of(inner.begin(), inner.end(), is_name_char))
        return fail(i, "bad placeholder name \"" + std::string{inner}
                         + "\" (use letters, digits and _, or write {{ for "
                           "a literal {)");
      flush();
      std::string var{inner};
      if (std::find(result.placeholders_.begin(), result.placeholders_.end(),
                    var)
          == result.placeholders_.end())
        result.placeholders_.push_back(var);
      result.segments_.push_back({std::move(var), true});
      i = close + 1;
      continue;
    }
    if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}';
      i += 2;
      continue;
    }
    literal += c;
    ++i;
  }
  flush();
  result.name_ = std::move(name);
  result.text_ = std::move(text);
  return result;
}

expected<std::string> prompt_template::render(
  const std::map<std::string, std::string, std::less<>>& vars) const {
  size_t size = 0;
  for (auto& seg : segments_) {
    if (!seg.placeholder) {
      size += seg.text.size();
      continue;
    }
    auto i = vars.find(seg.text);
    if (i == vars.end())
      return make_error(error_kind::usage, "prompt template " + name_
                                             + ": no value for placeholder {"
                                             + seg.text + "}");
    size += i->second.size();
  }
  std::string out;
  out.reserve(size);
  for (auto& seg : segments_)
    out += seg.placeholder ? vars.find(seg.text)->second : seg.text;
  return out;
}

size_t prompt_template::occurrences(std::string_view name) const noexcept {
  return static_cast<size_t>(
    std::count_if(segments_.begin(), segments_.end(), [&](const segment& s) {
      return s.placeholder && s.text == name;
    }));
}

} // namespace llmmr

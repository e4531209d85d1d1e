#pragma once

// Checks of the SVG that llmmr writes: a small well-formedness check (tags
// nest and close, attribute values are quoted, text holds no stray '<' or
// unknown entity; not a validating parser, enough to catch broken output)
// and a counter of elements.

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr::test {

/// Returns how often `what` occurs in `text` (overlaps included).
inline size_t count_of(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (auto pos = text.find(what); pos != std::string_view::npos;
       pos = text.find(what, pos + 1))
    ++n;
  return n;
}

/// Returns an empty string when `xml` is well-formed, else what is wrong.
inline std::string xml_problem(std::string_view xml) {
  std::vector<std::string> open;
  auto entity_ok = [&](size_t amp) {
    for (std::string_view e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
      if (xml.substr(amp, e.size()) == e)
        return true;
    return xml.substr(amp, 2) == "&#";
  };
  bool root_seen = false;
  size_t i = 0;
  while (i < xml.size()) {
    auto c = xml[i];
    if (c == '&') {
      if (!entity_ok(i))
        return "bad entity at " + std::to_string(i);
      ++i;
      continue;
    }
    if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c)))
        return "text outside the root element at " + std::to_string(i);
      ++i;
      continue;
    }
    if (xml.substr(i, 5) == "<?xml") {
      auto end = xml.find("?>", i);
      if (i != 0 || end == std::string_view::npos)
        return "misplaced XML declaration";
      i = end + 2;
      continue;
    }
    if (xml.substr(i, 4) == "<!--") {
      auto end = xml.find("-->", i);
      if (end == std::string_view::npos)
        return "unclosed comment";
      i = end + 3;
      continue;
    }
    bool closing = i + 1 < xml.size() && xml[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < xml.size()
           && (std::isalnum(static_cast<unsigned char>(xml[j])) || xml[j] == '-'
               || xml[j] == ':' || xml[j] == '_'))
      ++j;
    auto name = std::string{xml.substr(name_start, j - name_start)};
    if (name.empty())
      return "tag without a name at " + std::to_string(i);
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes "
               + (open.empty() ? std::string{"nothing"}
                               : "<" + open.back() + ">");
      open.pop_back();
      auto end = xml.find('>', j);
      if (end == std::string_view::npos)
        return "unterminated closing tag";
      i = end + 1;
      continue;
    }
    // Attributes: name="value" pairs.
    for (;;) {
      while (j < xml.size() && std::isspace(static_cast<unsigned char>(xml[j])))
        ++j;
      if (j >= xml.size())
        return "unterminated tag <" + name + ">";
      if (xml[j] == '>' || xml.substr(j, 2) == "/>")
        break;
      size_t a = j;
      while (j < xml.size() && xml[j] != '=' && xml[j] != '>'
             && !std::isspace(static_cast<unsigned char>(xml[j])))
        ++j;
      if (j == a || j >= xml.size() || xml[j] != '=')
        return "attribute without a value in <" + name + ">";
      ++j;
      if (j >= xml.size() || (xml[j] != '"' && xml[j] != '\''))
        return "unquoted attribute in <" + name + ">";
      auto quote = xml[j];
      auto end = xml.find(quote, j + 1);
      if (end == std::string_view::npos)
        return "unterminated attribute in <" + name + ">";
      auto value = xml.substr(j + 1, end - j - 1);
      if (value.find('<') != std::string_view::npos)
        return "'<' in an attribute of <" + name + ">";
      j = end + 1;
    }
    bool self_closing = xml[j] == '/';
    if (open.empty()) {
      if (root_seen)
        return "a second root element <" + name + ">";
      root_seen = true;
    }
    if (!self_closing)
      open.push_back(name);
    i = j + (self_closing ? 2 : 1);
  }
  if (!open.empty())
    return "<" + open.back() + "> is never closed";
  if (!root_seen)
    return "no root element";
  return {};
}

} // namespace llmmr::test

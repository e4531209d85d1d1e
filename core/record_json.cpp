// Record fields in JSON objects: in a code fence, after prose, or cut off
// and read leniently up to where the output stopped.

#include "detail/record_fields.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/utf8.hpp"

namespace llmmr::detail {

namespace {

// -- JSON -----------------------------------------------------------------

std::optional<field> field_of_key(std::string_view key) {
  std::string k;
  for (char c : key)
    k += (c == ' ' || c == '-') ? '_' : to_lower(c);
  static constexpr std::array<std::pair<std::string_view, field>, 23> keys{{
    {"extracted_information", field::extracted},
    {"extracted_info", field::extracted},
    {"extracted", field::extracted},
    {"information", field::extracted},
    {"relevant_information", field::extracted},
    {"extracted_code", field::extracted},
    {"evidence", field::extracted},
    {"提取的信息", field::extracted},
    {"rationale", field::rationale},
    {"reasoning", field::rationale},
    {"reason", field::rationale},
    {"explanation", field::rationale},
    {"推理过程", field::rationale},
    {"answer", field::answer},
    {"final_answer", field::answer},
    {"答案", field::answer},
    {"confidence", field::confidence},
    {"confidence_score", field::confidence},
    {"score", field::confidence},
    {"confidence_level", field::confidence},
    {"置信度", field::confidence},
    {"置信度分数", field::confidence},
    {"summary", field::answer},
  }};
  for (auto& [name, f] : keys)
    if (name == k)
      return f;
  return std::nullopt;
}

std::string json_value_text(const nlohmann::json& v) {
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_null())
    return {};
  if (v.is_array()) {
    std::string out;
    for (auto& x : v) {
      if (!out.empty())
        out += '\n';
      out += json_value_text(x);
    }
    return out;
  }
  return v.dump();
}

/// Returns the end (one past the closing brace) of the object starting at
/// `text[0] == '{'`, or npos when it is cut off.
size_t balanced_object_end(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{')
      ++depth;
    else if (c == '}' && --depth == 0)
      return i + 1;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8::append(out, cp);
}

/// Reads a JSON string body starting after its opening quote, tolerating a
/// missing closing quote (cut-off output). Advances `s` past the string.
std::string read_json_string(std::string_view& s) {
  std::string out;
  size_t i = 0;
  auto hex4 = [&](size_t at, uint32_t& cp) {
    if (at + 4 > s.size())
      return false;
    cp = 0;
    for (size_t k = at; k < at + 4; ++k) {
      char c = s[k];
      cp <<= 4;
      if (is_digit(c))
        cp |= static_cast<uint32_t>(c - '0');
      else if (to_lower(c) >= 'a' && to_lower(c) <= 'f')
        cp |= static_cast<uint32_t>(to_lower(c) - 'a' + 10);
      else
        return false;
    }
    return true;
  };
  while (i < s.size() && s[i] != '"') {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i++];
      continue;
    }
    char e = s[i + 1];
    i += 2;
    switch (e) {
    case 'n':
      out += '\n';
      break;
    case 't':
      out += '\t';
      break;
    case 'r':
      out += '\r';
      break;
    case 'b':
    case 'f':
      break;
    case 'u': {
      uint32_t cp = 0;
      if (!hex4(i, cp))
        break;
      i += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\'
          && s[i + 1] == 'u') {
        uint32_t lo = 0;
        if (hex4(i + 2, lo) && lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
      }
      append_utf8(out, cp);
      break;
    }
    default:
      out += e;
    }
  }
  s.remove_prefix(std::min(s.size(), i + 1));
  return out;
}

/// Reads `"key": value` pairs from possibly broken JSON (single fields, cut
/// off, trailing commas, unquoted numbers).
field_values parse_lenient_json(std::string_view text) {
  field_values out;
  auto s = text;
  while (!s.empty()) {
    auto q = s.find('"');
    if (q == std::string_view::npos)
      break;
    s.remove_prefix(q + 1);
    auto key = read_json_string(s);
    skip_blanks(s);
    while (!s.empty() && is_space(s.front()))
      s.remove_prefix(1);
    if (!consume(s, ":"))
      continue;
    while (!s.empty() && is_space(s.front()))
      s.remove_prefix(1);
    auto f = field_of_key(key);
    std::string value;
    if (consume(s, "\"")) {
      value = read_json_string(s);
    } else {
      auto end = s.find_first_of(",}\n");
      value = std::string{trim(s.substr(0, end))};
      s.remove_prefix(end == std::string_view::npos ? s.size() : end);
    }
    if (f)
      out.set(*f, std::move(value));
  }
  return out;
}

field_values parse_json_at(std::string_view text) {
  field_values out;
  auto end = balanced_object_end(text);
  if (end != std::string_view::npos) {
    auto doc = nlohmann::json::parse(text.substr(0, end), nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
      for (auto& [key, value] : doc.items())
        if (auto f = field_of_key(key))
          out.set(*f, json_value_text(value));
      return out;
    }
  }
  return parse_lenient_json(
    end == std::string_view::npos ? text : text.substr(0, end));
}

/// Tries the first few '{' in `text` until one starts an object with known
/// keys (bounded so that an output full of braces stays linear).
} // namespace

field_values parse_json_anywhere(std::string_view text) {
  size_t attempts = 0;
  for (auto pos = text.find('{'); pos != std::string_view::npos && attempts < 8;
       pos = text.find('{', pos + 1), ++attempts) {
    auto result = parse_json_at(text.substr(pos));
    if (result.count() > 0)
      return result;
  }
  return {};
}

bool looks_like_json(std::string_view body) {
  if (body.substr(0, 3) == "```") {
    auto nl = body.find('\n');
    if (nl == std::string_view::npos)
      return false;
    body = trim(body.substr(nl + 1));
  }
  return !body.empty() && body.front() == '{';
}

} // namespace llmmr::detail

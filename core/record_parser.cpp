#include "llmmr/core/record_parser.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/calibration.hpp"

namespace llmmr {

namespace {

// -- small string helpers -----------------------------------------------------

constexpr std::string_view fullwidth_colon = "\xEF\xBC\x9A";  // ：
constexpr std::string_view open_lenticular = "\xE3\x80\x90";  // 【
constexpr std::string_view close_lenticular = "\xE3\x80\x91"; // 】
constexpr std::string_view fullwidth_lparen = "\xEF\xBC\x88"; // （
constexpr std::string_view fullwidth_rparen = "\xEF\xBC\x89"; // ）

using ascii::is_space;

bool is_ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

using ascii::to_lower;
using ascii::trim;

std::string lower_ascii(std::string_view s) {
  return ascii::lower(s);
}

/// Case-insensitive (ASCII) prefix test.
bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (to_lower(s[i]) != to_lower(prefix[i]))
      return false;
  return true;
}

bool consume(std::string_view& s, std::string_view prefix) noexcept {
  if (s.substr(0, prefix.size()) != prefix)
    return false;
  s.remove_prefix(prefix.size());
  return true;
}

void skip_blanks(std::string_view& s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
}

/// Skips markdown emphasis characters.
bool skip_emphasis(std::string_view& s) noexcept {
  bool any = false;
  while (!s.empty() && (s.front() == '*' || s.front() == '_')) {
    s.remove_prefix(1);
    any = true;
  }
  return any;
}

// -- fields and labels --------------------------------------------------------

enum class field : uint8_t { extracted, rationale, answer, confidence };

constexpr size_t field_count = 4;

struct label {
  /// The label in lower case (ASCII) or Chinese.
  std::string_view text;
  /// The field it introduces.
  field target;
  /// Strong labels may stand alone on a line (heading form) and may start a
  /// field in the middle of a line.
  bool strong;
};

// Longest first within the same prefix so "confidence score" wins over
// "confidence"; the table is sorted by length at first use.
constexpr std::array<label, 52> label_table{{
  {"extracted information", field::extracted, true},
  {"extracted info", field::extracted, true},
  {"information extracted", field::extracted, true},
  {"extracted code", field::extracted, true},
  {"extracted facts", field::extracted, true},
  {"extracted numbers", field::extracted, true},
  {"relevant information", field::extracted, true},
  {"relevant code", field::extracted, true},
  {"key information", field::extracted, false},
  {"extracted", field::extracted, true},
  {"information", field::extracted, false},
  {"evidence", field::extracted, false},
  {"rationale", field::rationale, true},
  {"reasoning", field::rationale, true},
  {"reason", field::rationale, false},
  {"explanation", field::rationale, false},
  {"justification", field::rationale, false},
  {"analysis", field::rationale, false},
  {"calculation", field::rationale, false},
  {"final answer", field::answer, true},
  {"short answer", field::answer, true},
  {"answer", field::answer, true},
  {"confidence score", field::confidence, true},
  {"confidence level", field::confidence, true},
  {"confidence rating", field::confidence, true},
  {"confidence", field::confidence, true},
  {"score", field::confidence, true},
  // Chinese.
  {"提取的信息", field::extracted, true},
  {"提取信息", field::extracted, true},
  {"抽取的信息", field::extracted, true},
  {"提取的内容", field::extracted, true},
  {"相关信息", field::extracted, false},
  {"关键信息", field::extracted, false},
  {"推理过程", field::rationale, true},
  {"推理", field::rationale, false},
  {"理由", field::rationale, true},
  {"分析", field::rationale, false},
  {"解释", field::rationale, false},
  {"原因", field::rationale, false},
  {"依据", field::rationale, false},
  {"最终答案", field::answer, true},
  {"答案", field::answer, true},
  {"回答", field::answer, false},
  {"置信度分数", field::confidence, true},
  {"置信度评分", field::confidence, true},
  {"置信度", field::confidence, true},
  {"置信分数", field::confidence, true},
  {"可信度", field::confidence, true},
  {"信心分数", field::confidence, true},
  {"信心", field::confidence, false},
  {"分数", field::confidence, false},
  {"评分", field::confidence, false},
}};

const std::vector<label>& labels_by_length() {
  static const auto sorted = [] {
    std::vector<label> v{label_table.begin(), label_table.end()};
    std::stable_sort(v.begin(), v.end(), [](const label& a, const label& b) {
      return a.text.size() > b.text.size();
    });
    return v;
  }();
  return sorted;
}

/// Matches a label at the start of `s` (case-insensitively) on a word
/// boundary; returns the label and shortens `s`.
const label* match_label_text(std::string_view& s) {
  for (auto& l : labels_by_length()) {
    if (!starts_with_icase(s, l.text))
      continue;
    auto rest = s.substr(l.text.size());
    if (!rest.empty() && is_ascii_alnum(rest.front())
        && is_ascii_alnum(l.text.back()))
      continue;
    s = rest;
    return &l;
  }
  return nullptr;
}

/// Consumes what may follow a label before its colon: emphasis, closing
/// brackets and a parenthetical such as "(0-5)".
void skip_label_tail(std::string_view& s) {
  for (;;) {
    skip_blanks(s);
    if (skip_emphasis(s) || consume(s, close_lenticular) || consume(s, "]"))
      continue;
    if (!s.empty() && s.front() == '(') {
      auto close = s.find(')');
      if (close != std::string_view::npos) {
        s.remove_prefix(close + 1);
        continue;
      }
    }
    if (s.substr(0, fullwidth_lparen.size()) == fullwidth_lparen) {
      auto close = s.find(fullwidth_rparen);
      if (close != std::string_view::npos) {
        s.remove_prefix(close + fullwidth_rparen.size());
        continue;
      }
    }
    return;
  }
}

bool consume_colon(std::string_view& s) noexcept {
  return consume(s, ":") || consume(s, fullwidth_colon);
}

struct label_hit {
  field target;
  /// Offset of the value in the line, or npos when the value starts on the
  /// next line (heading form).
  size_t value_offset;
};

/// Recognises a line that starts a field: `Answer: x`, `**Answer:** x`,
/// `### Answer`, `- **Answer**: x`, `【答案】：x`, `Confidence score (0-5): 4`.
std::optional<label_hit> match_line_label(std::string_view line) {
  auto s = line;
  skip_blanks(s);
  bool decorated = false;
  if (!s.empty() && s.front() == '#') {
    while (!s.empty() && s.front() == '#')
      s.remove_prefix(1);
    decorated = true;
  }
  skip_blanks(s);
  if (consume(s, ">"))
    skip_blanks(s);
  if (s.size() >= 2 && (s[0] == '-' || s[0] == '+' || s[0] == '*')
      && s[1] == ' ') {
    s.remove_prefix(2);
    skip_blanks(s);
  } else if (!s.empty() && is_digit(s.front())) {
    auto t = s;
    while (!t.empty() && is_digit(t.front()))
      t.remove_prefix(1);
    if (t.size() >= 2 && (t[0] == '.' || t[0] == ')') && t[1] == ' ') {
      t.remove_prefix(2);
      s = t;
      skip_blanks(s);
    }
  }
  for (;;) {
    if (skip_emphasis(s) || consume(s, open_lenticular) || consume(s, "[")) {
      decorated = true;
      continue;
    }
    break;
  }
  auto* l = match_label_text(s);
  if (l == nullptr)
    return std::nullopt;
  skip_label_tail(s);
  if (consume_colon(s)) {
    skip_emphasis(s); // closing emphasis right after the colon: "**Answer:**"
    skip_blanks(s);
    return label_hit{l->target, line.size() - s.size()};
  }
  // Heading form: nothing but decoration after the label.
  auto rest = s;
  while (!rest.empty()
         && (is_space(rest.front()) || rest.front() == '*'
             || rest.front() == '#' || rest.front() == '_'))
    rest.remove_prefix(1);
  if (rest.empty() && (l->strong || decorated))
    return label_hit{l->target, std::string_view::npos};
  return std::nullopt;
}

/// One occurrence of a field in the text.
struct occurrence {
  field target;
  std::string value;
};

/// Finds a label starting a field in the middle of `text`, e.g. the
/// "Confidence score:" in "Answer: 42 Confidence score: 5". Only strong
/// labels written capitalised (or Chinese ones) after a blank or an opening
/// bracket count, and only for fields not seen yet. Returns the position of
/// the label, the field and the position of the value.
struct inline_hit {
  size_t label_pos;
  field target;
  size_t value_pos;
};

std::optional<inline_hit> find_inline_label(std::string_view text,
                                            const std::array<bool, 4>& seen) {
  for (size_t i = 1; i < text.size(); ++i) {
    char prev = text[i - 1];
    if (!(prev == ' ' || prev == '\t' || prev == '(' || prev == '|'
          || prev == '*' || prev == ';' || prev == ','))
      continue;
    char c = text[i];
    bool ascii_upper = c >= 'A' && c <= 'Z';
    bool non_ascii = static_cast<unsigned char>(c) >= 0x80;
    if (!ascii_upper && !non_ascii)
      continue;
    auto s = text.substr(i);
    auto* l = match_label_text(s);
    if (l == nullptr || !l->strong || seen[static_cast<size_t>(l->target)])
      continue;
    skip_emphasis(s);
    if (!consume_colon(s))
      continue;
    skip_emphasis(s);
    skip_blanks(s);
    // Include emphasis or an opening bracket right before the label in the
    // cut, so "42 (Confidence: 5)" leaves "42 " as the answer.
    size_t label_pos = i;
    while (label_pos > 0
           && (text[label_pos - 1] == '*' || text[label_pos - 1] == '('
               || text[label_pos - 1] == '['))
      --label_pos;
    return inline_hit{label_pos, l->target, text.size() - s.size()};
  }
  return std::nullopt;
}

struct scan_result {
  std::vector<occurrence> hits;
  bool unclosed_fence = false;
};

bool is_fence(std::string_view line) {
  auto t = trim(line);
  return t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~";
}

/// Splits `text` into labelled fields. Lines inside fenced code blocks never
/// start a field when `respect_fences` is set.
scan_result scan_fields(std::string_view text, bool respect_fences) {
  scan_result result;
  std::array<bool, 4> seen{};
  bool in_fence = false;
  // Appends `piece` to the current field, starting new fields at inline
  // labels.
  auto append = [&](std::string_view piece, bool new_line) {
    for (;;) {
      auto hit = find_inline_label(piece, seen);
      auto head = hit ? piece.substr(0, hit->label_pos) : piece;
      if (!result.hits.empty()) {
        auto& value = result.hits.back().value;
        if (new_line && !value.empty())
          value += '\n';
        value += head;
      }
      if (!hit)
        return;
      seen[static_cast<size_t>(hit->target)] = true;
      result.hits.push_back({hit->target, {}});
      piece = piece.substr(hit->value_pos);
      new_line = false;
    }
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    pos = end + 1;
    if (respect_fences && in_fence) {
      if (is_fence(line))
        in_fence = false;
      if (!result.hits.empty())
        result.hits.back().value.append("\n").append(line);
      continue;
    }
    if (auto hit = match_line_label(line)) {
      seen[static_cast<size_t>(hit->target)] = true;
      result.hits.push_back({hit->target, {}});
      if (hit->value_offset != std::string_view::npos) {
        auto value = line.substr(hit->value_offset);
        // "Extracted information: ```python" opens a fence on the label line.
        if (respect_fences && value.starts_with("```")
            && value.find("```", 3) == std::string_view::npos) {
          result.hits.back().value.append(value);
          in_fence = true;
        } else {
          append(value, false);
        }
      }
      continue;
    }
    if (respect_fences && is_fence(line))
      in_fence = true;
    if (in_fence) {
      if (!result.hits.empty())
        result.hits.back().value.append("\n").append(line);
      continue;
    }
    append(line, true);
  }
  result.unclosed_fence = in_fence;
  return result;
}

/// The value chosen for each field: the first non-empty occurrence wins.
struct field_values {
  std::array<bool, field_count> present{};
  std::array<std::string, field_count> value;

  size_t count() const {
    return static_cast<size_t>(
      std::count(present.begin(), present.end(), true));
  }

  bool has(field f) const { return present[static_cast<size_t>(f)]; }

  const std::string& get(field f) const {
    return value[static_cast<size_t>(f)];
  }

  void set(field f, std::string v) {
    auto i = static_cast<size_t>(f);
    if (present[i] && !value[i].empty())
      return;
    present[i] = true;
    value[i] = std::move(v);
  }
};

field_values collect(const scan_result& scan) {
  field_values out;
  for (auto& h : scan.hits)
    out.set(h.target, std::string{trim(h.value)});
  return out;
}

field_values parse_labels(std::string_view text) {
  auto with_fences = scan_fields(text, true);
  auto result = collect(with_fences);
  if (with_fences.unclosed_fence && result.count() < field_count) {
    // A fence opened and never closed may have swallowed later labels.
    auto without = collect(scan_fields(text, false));
    if (without.count() > result.count())
      return without;
  }
  return result;
}

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

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
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

/// Whether the output is a JSON object, optionally in a code fence.
bool looks_like_json(std::string_view body) {
  if (body.substr(0, 3) == "```") {
    auto nl = body.find('\n');
    if (nl == std::string_view::npos)
      return false;
    body = trim(body.substr(nl + 1));
  }
  return !body.empty() && body.front() == '{';
}

// -- the body of an output --------------------------------------------------

/// Drops reasoning blocks some models emit before their answer
/// (`<think>...</think>`).
std::string_view strip_thinking(std::string_view text) {
  auto close = text.rfind("</think>");
  if (close != std::string_view::npos)
    return trim(text.substr(close + 8));
  auto t = trim(text);
  if (t.substr(0, 7) == "<think>")
    return {};
  return t;
}

field_values parse_fields(std::string_view body) {
  if (looks_like_json(body)) {
    auto result = parse_json_anywhere(body);
    if (result.count() > 0)
      return result;
  }
  auto result = parse_labels(body);
  if (result.count() > 0)
    return result;
  return parse_json_anywhere(body);
}

/// Strips a leading "Summary:" label from a summary.
std::string_view strip_summary_label(std::string_view body) {
  auto s = body;
  skip_emphasis(s);
  while (!s.empty() && s.front() == '#')
    s.remove_prefix(1);
  skip_blanks(s);
  skip_emphasis(s);
  for (std::string_view l : {"summary", "摘要", "总结"}) {
    if (!starts_with_icase(s, l))
      continue;
    auto rest = s.substr(l.size());
    skip_emphasis(rest);
    if (consume_colon(rest)) {
      skip_emphasis(rest);
      return trim(rest);
    }
    skip_emphasis(rest);
    if (!rest.empty() && rest.front() == '\n')
      return trim(rest);
  }
  return body;
}

std::string summary_text(std::string_view body) {
  if (looks_like_json(body)) {
    auto fields = parse_json_anywhere(body);
    if (fields.has(field::answer))
      return std::string{trim(fields.get(field::answer))};
  }
  return std::string{strip_summary_label(body)};
}

double score_of(const field_values& fields, bool& found) {
  found = false;
  if (!fields.has(field::confidence))
    return 0;
  auto text = fields.get(field::confidence);
  auto score = parse_score(text);
  if (!score)
    score = parse_confidence_word(text);
  if (!score)
    return 0;
  found = true;
  return normalise_confidence(*score);
}

/// Removes a trailing "(confidence ...)" or "(score ...)" remark.
std::string_view strip_score_remark(std::string_view s) {
  auto open = s.rfind('(');
  if (open == std::string_view::npos)
    return s;
  auto remark = lower_ascii(s.substr(open));
  if (remark.find("confidence") != std::string::npos
      || remark.find("score") != std::string::npos
      || remark.find("置信") != std::string::npos)
    return trim(s.substr(0, open));
  return s;
}

/// Cuts an answer value to its first paragraph.
std::string_view first_paragraph(std::string_view s) {
  s = trim(s);
  for (size_t pos = s.find('\n'); pos != std::string_view::npos;
       pos = s.find('\n', pos + 1)) {
    auto rest = s.substr(pos + 1);
    auto next = rest.find('\n');
    if (trim(rest.substr(0, next)).empty())
      return trim(s.substr(0, pos));
  }
  return s;
}

std::string_view last_paragraph(std::string_view s) {
  s = trim(s);
  for (;;) {
    auto pos = s.rfind("\n\n");
    if (pos == std::string_view::npos)
      return s;
    auto tail = trim(s.substr(pos));
    if (!tail.empty())
      return tail;
    s = trim(s.substr(0, pos));
  }
}

/// Removes lines that only carry a score, e.g. "Confidence: 5".
std::string without_score_lines(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos <= s.size()) {
    auto end = s.find('\n', pos);
    if (end == std::string_view::npos)
      end = s.size();
    auto line = s.substr(pos, end - pos);
    pos = end + 1;
    auto hit = match_line_label(line);
    if (hit && hit->target == field::confidence)
      continue;
    out.append(line).append("\n");
  }
  return std::string{trim(out)};
}

std::string clean_final(std::string_view value) {
  auto s = first_paragraph(value);
  s = strip_score_remark(s);
  auto out = clean_answer(s);
  // A single token loses its trailing full stop ("71432." -> "71432").
  if (out.find_first_of(" \t\n") == std::string::npos) {
    if (!out.empty() && out.back() == '.')
      out.pop_back();
    else if (out.size() > 3 && out.ends_with("。"))
      out.resize(out.size() - 3);
  }
  return out;
}

} // namespace

std::optional<double> parse_score(std::string_view text) {
  auto s = text;
  size_t i = 0;
  while (i < s.size() && !is_digit(s[i]))
    ++i;
  if (i == s.size())
    return std::nullopt;
  bool negative = i > 0 && s[i - 1] == '-';
  size_t start = i;
  while (i < s.size() && is_digit(s[i]))
    ++i;
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
  }
  auto value
    = std::strtod(std::string{s.substr(start, i - start)}.c_str(), nullptr);
  if (negative)
    value = -value;
  auto rest = s.substr(i);
  skip_blanks(rest);
  skip_emphasis(rest);
  skip_blanks(rest);
  if (consume(rest, "%"))
    return value * 5.0 / 100.0;
  bool scaled = consume(rest, "/");
  if (!scaled && starts_with_icase(rest, "out of")) {
    rest.remove_prefix(6);
    scaled = true;
  }
  if (scaled) {
    skip_blanks(rest);
    skip_emphasis(rest);
    if (auto denom = parse_score(rest.substr(0, rest.find_first_of(" \n")));
        denom && *denom > 0 && rest.size() > 0 && is_digit(rest.front()))
      return value * 5.0 / *denom;
  }
  return value;
}

std::string clean_answer(std::string_view answer) {
  auto s = trim(answer);
  static constexpr std::pair<std::string_view, std::string_view> quotes[] = {
    {"\"", "\""}, {"'", "'"},   {"`", "`"},   {"“", "”"},
    {"‘", "’"},   {"「", "」"}, {"『", "』"},
  };
  for (bool changed = true; changed && !s.empty();) {
    changed = false;
    while (!s.empty() && s.front() == '*') {
      s.remove_prefix(1);
      changed = true;
    }
    while (!s.empty() && s.back() == '*') {
      s.remove_suffix(1);
      changed = true;
    }
    auto t = trim(s);
    changed = changed || t.size() != s.size();
    s = t;
    for (auto [open, close] : quotes) {
      if (s.size() >= open.size() + close.size() && s.starts_with(open)
          && s.ends_with(close)) {
        s = trim(s.substr(open.size(), s.size() - open.size() - close.size()));
        changed = true;
        break;
      }
    }
  }
  return std::string{s};
}

record parse_record(std::string_view raw, task_profile profile) {
  record r;
  r.raw = std::string{raw};
  auto body = strip_thinking(raw);
  if (!uses_scores(profile)) {
    r.answer = summary_text(body);
    r.status = r.answer.empty() ? record_status::unparsable : record_status::ok;
    r.kind = classify_record(r, profile);
    return r;
  }
  auto fields = parse_fields(body);
  bool has_score = false;
  auto score = score_of(fields, has_score);
  size_t found = 0;
  for (auto f : {field::extracted, field::rationale, field::answer})
    found += fields.has(f) ? 1 : 0;
  found += has_score ? 1 : 0;
  if (found == 0) {
    r.status = record_status::unparsable;
    return r;
  }
  r.extracted = std::string{trim(fields.get(field::extracted))};
  r.rationale = std::string{trim(fields.get(field::rationale))};
  auto answer = clean_answer(fields.get(field::answer));
  if (is_no_information(answer)) {
    r.no_information = true;
  } else {
    r.answer = std::move(answer);
  }
  r.confidence = score;
  r.has_confidence = has_score;
  r.status = found == field_count ? record_status::ok : record_status::partial;
  r.kind = classify_record(r, profile);
  return r;
}

record_kind classify_record(const record& r, task_profile profile) {
  if (r.status == record_status::unparsable)
    return record_kind::empty;
  if (!uses_scores(profile))
    return ascii::trim(r.answer).empty() ? record_kind::empty
                                         : record_kind::answer;
  if (!r.no_information && !ascii::trim(r.answer).empty())
    return record_kind::answer;
  auto facts = ascii::trim(r.extracted);
  if (is_empty_extraction(facts))
    return record_kind::empty;
  return record_kind::evidence;
}

final_answer parse_final_answer(std::string_view raw, task_profile profile) {
  final_answer result;
  result.raw = std::string{raw};
  auto body = strip_thinking(raw);
  if (!uses_scores(profile)) {
    result.answer = summary_text(body);
    result.status
      = result.answer.empty() ? record_status::unparsable : record_status::ok;
    return result;
  }
  auto fields = parse_fields(body);
  bool has_score = false;
  result.confidence = score_of(fields, has_score);
  result.has_confidence = has_score;
  if (!fields.has(field::answer) && !fields.has(field::rationale)) {
    // No usable labels: the last paragraph (without score lines) is the
    // answer.
    auto text = without_score_lines(body);
    result.answer = clean_final(last_paragraph(text));
    result.status = result.answer.empty() ? record_status::unparsable
                                          : record_status::partial;
    return result;
  }
  result.rationale = std::string{trim(fields.get(field::rationale))};
  result.answer = clean_final(fields.get(field::answer));
  result.status = fields.has(field::answer) && fields.has(field::rationale)
                      && !result.answer.empty()
                    ? record_status::ok
                    : record_status::partial;
  return result;
}

} // namespace llmmr

#include "llmmr/core/record_parser.hpp"
#include "llmmr/core/utf8.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/ascii.hpp"
#include "llmmr/core/calibration.hpp"
#include "llmmr/core/field_labels.hpp"

namespace llmmr {

namespace {

// -- small string helpers -----------------------------------------------------

constexpr std::string_view fullwidth_colon = "\xEF\xBC\x9A"; // ：

using ascii::is_alnum;
inline bool is_ascii_alnum(char c) noexcept {
  return is_alnum(c);
}
using ascii::consume;
using ascii::is_digit;
using ascii::is_space;
using ascii::skip_blanks;
using ascii::skip_emphasis;
using ascii::starts_with_icase;

using ascii::to_lower;
using ascii::trim;

// -- fields and labels (core/field_labels) ----------------------------------

using field = record_field;

constexpr size_t field_count = record_field_count;

bool consume_colon(std::string_view& s) noexcept {
  return consume(s, ":") || consume(s, fullwidth_colon);
}

/// One occurrence of a field in the text.
struct occurrence {
  field target;
  std::string value;
};

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
  return strip_answer_wrapping(answer);
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
  // The answer itself comes from the answer extractor, which prefers the
  // last answer label and narrows its value to the profile's answer kind.
  auto kind = default_answer_kind(profile);
  auto extracted
    = looks_like_json(body) ? extracted_answer{} : extract_answer(body, kind);
  if (!fields.has(field::answer) && !fields.has(field::rationale)) {
    // No usable labels: a phrase such as "the answer is" or the output as a
    // whole (its last paragraph, without score lines, for free text).
    result.answer = std::move(extracted.text);
    result.status = result.answer.empty() ? record_status::unparsable
                                          : record_status::partial;
    return result;
  }
  result.rationale = std::string{trim(fields.get(field::rationale))};
  if (extracted.source == answer_source::label
      || extracted.source == answer_source::phrase
      || (extracted.source == answer_source::text && kind != answer_kind::text
          && !fields.has(field::answer)))
    result.answer = std::move(extracted.text);
  else
    result.answer = narrow_answer(fields.get(field::answer), kind);
  result.status = fields.has(field::answer) && fields.has(field::rationale)
                      && !result.answer.empty()
                    ? record_status::ok
                    : record_status::partial;
  return result;
}

} // namespace llmmr

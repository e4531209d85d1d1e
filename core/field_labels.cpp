// Recognising the labels that start the fields of a record or of a final
// answer (moved out of record_parser.cpp so the answer extractor shares them).

#include "llmmr/core/field_labels.hpp"

#include <algorithm>
#include <vector>

#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

// -- small string helpers -----------------------------------------------------

constexpr std::string_view fullwidth_colon = "\xEF\xBC\x9A";  // ：
constexpr std::string_view open_lenticular = "\xE3\x80\x90";  // 【
constexpr std::string_view close_lenticular = "\xE3\x80\x91"; // 】
constexpr std::string_view fullwidth_lparen = "\xEF\xBC\x88"; // （
constexpr std::string_view fullwidth_rparen = "\xEF\xBC\x89"; // ）

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

// -- fields and labels --------------------------------------------------------

using field = record_field;

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

} // namespace

std::optional<line_label> match_line_label(std::string_view line) {
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
    return line_label{l->target, line.size() - s.size()};
  }
  // Heading form: nothing but decoration after the label.
  auto rest = s;
  while (!rest.empty()
         && (is_space(rest.front()) || rest.front() == '*'
             || rest.front() == '#' || rest.front() == '_'))
    rest.remove_prefix(1);
  if (rest.empty() && (l->strong || decorated))
    return line_label{l->target, std::string_view::npos};
  return std::nullopt;
}

std::optional<inline_label>
find_inline_label(std::string_view text,
                  const std::array<bool, record_field_count>& seen) {
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
    return inline_label{label_pos, l->target, text.size() - s.size()};
  }
  return std::nullopt;
}

} // namespace llmmr

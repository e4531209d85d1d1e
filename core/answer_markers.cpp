#include "llmmr/core/answer_markers.hpp"

#include <array>
#include <string>
#include <utility>

#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

using ascii::is_alnum;
inline bool is_ascii_alnum(char c) noexcept {
  return is_alnum(c);
}
using ascii::is_space;
using ascii::to_lower;

/// Pairs of brackets and quotes that may wrap a marker.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14>
  wrappers{{
    {"\"", "\""},
    {"'", "'"},
    {"`", "`"},
    {"*", "*"},
    {"_", "_"},
    {"[", "]"},
    {"(", ")"},
    {"<", ">"},
    {"\xE2\x80\x9C", "\xE2\x80\x9D"}, // “ ”
    {"\xE2\x80\x98", "\xE2\x80\x99"}, // ‘ ’
    {"\xE3\x80\x8C", "\xE3\x80\x8D"}, // 「 」
    {"\xE3\x80\x8E", "\xE3\x80\x8F"}, // 『 』
    {"\xE3\x80\x90", "\xE3\x80\x91"}, // 【 】
    {"\xEF\xBC\x88", "\xEF\xBC\x89"}, // （ ）
  }};

/// Trailing punctuation dropped before comparing (ASCII and CJK).
constexpr std::array<std::string_view, 9> trailing_marks{
  ".",
  "!",
  ",",
  ";",
  ":",
  "\xE3\x80\x82",
  "\xEF\xBC\x81",
  "\xEF\xBC\x8C",
  "\xEF\xBC\x9B",
};

/// Lower case, single spaces, without wrapping brackets, quotes, emphasis or
/// trailing punctuation, as often as they nest (`**[No information.]**`).
std::string normalise(std::string_view answer) {
  auto s = ascii::trim(answer);
  for (bool changed = true; changed && !s.empty();) {
    changed = false;
    for (auto mark : trailing_marks) {
      if (s.size() > mark.size() && s.ends_with(mark)) {
        s = ascii::trim(s.substr(0, s.size() - mark.size()));
        changed = true;
      }
    }
    for (auto [open, close] : wrappers) {
      if (s.size() >= open.size() + close.size() && s.starts_with(open)
          && s.ends_with(close)) {
        s = ascii::trim(
          s.substr(open.size(), s.size() - open.size() - close.size()));
        changed = true;
      }
    }
  }
  std::string out;
  bool space = false;
  for (char c : s) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space)
      out += ' ';
    space = false;
    out += to_lower(c);
  }
  return out;
}

/// Whole answers that mean "nothing relevant here".
constexpr std::string_view exact_markers[] = {
  "none",
  "n/a",
  "na",
  "nil",
  "null",
  "unknown",
  "no info",
  "no answer",
  "no data",
  "not found",
  "none found",
  "not stated",
  "not given",
  "not specified",
  "not provided",
  "not available",
  "not mentioned",
  "not applicable",
  "not relevant",
  "irrelevant",
  "not enough information",
  "insufficient information",
  "cannot be determined",
  "can't be determined",
  "cannot determine",
  "undetermined",
  "unknown from this part",
  "无",
  "无信息",
  "未提及",
  "未找到",
  "未说明",
  "不详",
  "未知",
  "无法确定",
  "信息不足",
  "无相关内容",
  "没有提及",
  "暂无信息",
};

/// Phrases that open a no-information answer, possibly followed by a remark
/// ("No information (this part is about the weather)", "The text does not
/// mention a date").
constexpr std::string_view marker_prefixes[] = {
  "no information",
  "no relevant information",
  "no relevant info",
  "no pertinent information",
  "no related information",
  "no useful information",
  "no specific information",
  "no such information",
  "no mention",
  "no relevant content",
  "no relevant details",
  "there is no information",
  "there is no relevant information",
  "there is no mention",
  "there's no information",
  "there's no mention",
  "nothing in",
  "nothing relevant",
  "not mentioned",
  "not stated",
  "not found",
  "not specified",
  "the text does not",
  "the text doesn't",
  "the text provides no",
  "the text contains no",
  "the text is silent",
  "this part does not",
  "this part doesn't",
  "this part contains no",
  "the part does not",
  "the passage does not",
  "the passage doesn't",
  "the document does not",
  "the provided text does not",
  "the given text does not",
  "this section does not",
  "无相关信息",
  "没有相关信息",
  "没有信息",
  "没有相关内容",
  "没有提及",
  "文中没有",
  "文中未",
  "原文没有",
  "原文未",
  "本段没有",
  "本段未",
  "该段没有",
  "该段未",
  "未提及",
  "未找到",
};

/// Words that introduce a claim after a no-information phrase ("..., but it
/// says ..."): with one of them the answer says something.
constexpr std::string_view contrast_words[] = {
  "but",       "however", "although", "though", "yet",
  "except",    "instead", "whereas",  "while",  "nevertheless",
  "only that", "但",      "但是",     "不过",   "然而",
  "只是",      "却",      "而是",     "除了",
};

bool has_word(std::string_view text, std::string_view word) {
  bool ascii_word = is_ascii_alnum(word.front());
  for (size_t pos = text.find(word); pos != std::string_view::npos;
       pos = text.find(word, pos + 1)) {
    if (!ascii_word)
      return true;
    bool left = pos == 0 || !is_ascii_alnum(text[pos - 1]);
    auto end = pos + word.size();
    bool right = end == text.size() || !is_ascii_alnum(text[end]);
    if (left && right)
      return true;
  }
  return false;
}

bool adds_a_claim(std::string_view rest) {
  for (auto w : contrast_words)
    if (has_word(rest, w))
      return true;
  return false;
}

} // namespace

bool is_no_information(std::string_view answer) {
  auto m = normalise(answer);
  if (m.empty())
    return false;
  for (auto e : exact_markers)
    if (m == e)
      return true;
  for (auto p : marker_prefixes) {
    if (m.size() < p.size() || m.compare(0, p.size(), p) != 0)
      continue;
    if (m.size() == p.size())
      return true;
    // An ASCII phrase must end at a word boundary ("no informational ..."
    // is not a marker).
    if (is_ascii_alnum(p.back()) && is_ascii_alnum(m[p.size()]))
      continue;
    return !adds_a_claim(std::string_view{m}.substr(p.size()));
  }
  return false;
}

bool is_empty_extraction(std::string_view text) {
  auto m = normalise(text);
  if (m.empty() || m == "-" || m == "--" || m == "nothing" || m == "n.a")
    return true;
  static constexpr std::string_view prefixes[] = {
    "no relevant facts",   "no facts",
    "no relevant text",    "no relevant code",
    "no relevant numbers", "nothing relevant",
    "nothing that bears",  "nothing about",
    "nothing on",
  };
  for (auto p : prefixes)
    if (m.size() >= p.size() && m.compare(0, p.size(), p) == 0
        && (m.size() == p.size() || !is_ascii_alnum(m[p.size()]))
        && !adds_a_claim(std::string_view{m}.substr(p.size())))
      return true;
  return is_no_information(text);
}

std::optional<double> parse_confidence_word(std::string_view text) {
  auto s = ascii::trim(text);
  while (!s.empty() && (s.front() == '*' || s.front() == '_'))
    s = ascii::trim(s.substr(1));
  auto lower = ascii::lower(s.substr(0, 32));
  // Longest words first, so that "very high" is not read as "very" + "high".
  static constexpr std::pair<std::string_view, double> words[] = {
    {"extremely high", 5},
    {"very high", 5},
    {"very low", 1},
    {"extremely low", 1},
    {"moderate", 3},
    {"medium", 3},
    {"high", 4},
    {"low", 2},
    {"none", 0},
    {"zero", 0},
    {"非常高", 5},
    {"极高", 5},
    {"很高", 5},
    {"非常低", 1},
    {"极低", 1},
    {"很低", 1},
    {"较高", 4},
    {"较低", 2},
    {"中等", 3},
    {"一般", 3},
    {"高", 4},
    {"中", 3},
    {"低", 2},
  };
  for (auto [word, value] : words) {
    if (!std::string_view{lower}.starts_with(word))
      continue;
    auto end = word.size();
    if (is_ascii_alnum(word.back()) && end < lower.size()
        && is_ascii_alnum(lower[end]))
      continue;
    return value;
  }
  return std::nullopt;
}

} // namespace llmmr

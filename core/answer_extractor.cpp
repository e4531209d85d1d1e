// Reading the answer out of a reducer's free-text output. The rules are
// general (see docs/protocol.md, "Reading the final answer"): find where the
// answer is written, then narrow it to the shape the task expects.

#include "llmmr/core/answer_extractor.hpp"

#include <array>
#include <optional>
#include <vector>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/field_labels.hpp"

namespace llmmr {

namespace {

using ascii::is_digit;
using ascii::is_space;
using ascii::starts_with_icase;
using ascii::to_lower;
using ascii::trim;

constexpr size_t npos = std::string_view::npos;

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_alnum(char c) noexcept {
  return is_alpha(c) || is_digit(c);
}

/// Position of `needle` in `s`, case-insensitively (ASCII), from `from`.
size_t find_icase(std::string_view s, std::string_view needle,
                  size_t from = 0) noexcept {
  if (needle.empty() || s.size() < needle.size())
    return npos;
  for (size_t i = from; i + needle.size() <= s.size(); ++i)
    if (starts_with_icase(s.substr(i), needle))
      return i;
  return npos;
}

/// Drops reasoning blocks some models emit before their answer.
std::string_view strip_thinking(std::string_view text) {
  auto close = text.rfind("</think>");
  if (close != npos)
    return trim(text.substr(close + 8));
  auto t = trim(text);
  if (t.substr(0, 7) == "<think>")
    return {};
  return t;
}

bool is_fence(std::string_view line) {
  auto t = trim(line);
  return t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~";
}

/// Calls `fn(line)` for each line of `text` (without the line break).
template <class F>
void for_each_line(std::string_view text, F&& fn) {
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    pos = end + 1;
    fn(line);
  }
}

// -- where the answer is written ----------------------------------------------

/// The values of every answer label in `text`, in order. A value runs from
/// its label to the next label of any field (at the start of a line or
/// inline, e.g. "Answer: 42 (Confidence: 5)"). Lines inside code fences never
/// start a field.
std::vector<std::string> answer_fields(std::string_view text) {
  std::vector<std::string> values;
  bool in_answer = false;
  bool in_fence = false;
  // Appends `piece` to the current field, switching fields at inline labels.
  auto append = [&](std::string_view piece, bool new_line) {
    for (;;) {
      std::array<bool, record_field_count> seen{};
      if (in_answer)
        seen[static_cast<size_t>(record_field::answer)] = true;
      auto hit = find_inline_label(piece, seen);
      auto head = hit ? piece.substr(0, hit->label_pos) : piece;
      if (in_answer) {
        auto& value = values.back();
        if (new_line && !value.empty())
          value += '\n';
        value += head;
      }
      if (!hit)
        return;
      in_answer = hit->target == record_field::answer;
      if (in_answer)
        values.emplace_back();
      piece = piece.substr(hit->value_pos);
      new_line = false;
    }
  };
  for_each_line(text, [&](std::string_view line) {
    if (in_fence) {
      if (is_fence(line))
        in_fence = false;
      if (in_answer)
        values.back().append("\n").append(line);
      return;
    }
    if (auto hit = match_line_label(line)) {
      in_answer = hit->target == record_field::answer;
      if (in_answer)
        values.emplace_back();
      if (hit->value_offset != npos)
        append(line.substr(hit->value_offset), false);
      return;
    }
    if (is_fence(line)) {
      in_fence = true;
      if (in_answer)
        values.back().append("\n").append(line);
      return;
    }
    append(line, true);
  });
  return values;
}

/// Cuts `s` to its first paragraph; a fenced block counts as one paragraph
/// (code answers).
std::string_view first_paragraph(std::string_view s) {
  s = trim(s);
  if (s.starts_with("```") || s.starts_with("~~~")) {
    auto close = s.find(s.substr(0, 3), 3);
    if (close != npos)
      return trim(s.substr(0, close + 3));
    return s;
  }
  for (size_t pos = s.find('\n'); pos != npos; pos = s.find('\n', pos + 1)) {
    auto rest = s.substr(pos + 1);
    auto next = rest.find('\n');
    if (trim(rest.substr(0, next)).empty())
      return trim(s.substr(0, pos));
  }
  return s;
}

/// The first paragraph of `s` that is not a lead-in: a paragraph ending
/// with a colon ("The answer is:") or a short exclamation ("Easy one!") only
/// introduces what follows. Falls back to the last paragraph.
std::string_view first_answer_paragraph(std::string_view s) {
  s = trim(s);
  std::string_view last;
  while (!s.empty()) {
    auto para = first_paragraph(s);
    if (para.empty())
      break;
    last = para;
    auto rest = s.substr(para.data() + para.size() - s.data());
    size_t words = 1;
    for (char c : para)
      words += c == ' ' ? 1 : 0;
    bool lead_in = para.ends_with(":") || para.ends_with("\xEF\xBC\x9A")
                   || (para.ends_with("!") && words <= 8);
    if (!lead_in)
      return para;
    s = trim(rest);
  }
  return last;
}

std::string_view last_paragraph(std::string_view s) {
  s = trim(s);
  for (;;) {
    auto pos = s.rfind("\n\n");
    if (pos == npos)
      return s;
    auto tail = trim(s.substr(pos));
    if (!tail.empty())
      return tail;
    s = trim(s.substr(0, pos));
  }
}

/// Removes lines that carry a label of a field other than the answer (a
/// score, a rationale), e.g. "Confidence: 5".
std::string without_field_lines(std::string_view s) {
  std::string out;
  for_each_line(s, [&](std::string_view line) {
    auto hit = match_line_label(line);
    if (hit && hit->target != record_field::answer)
      return;
    out.append(line).append("\n");
  });
  return std::string{trim(out)};
}

/// Phrases that introduce an answer in prose. `strong` phrases are trusted
/// for free-text answers; the others only when the text after them holds a
/// value, a number or an option.
struct answer_phrase {
  std::string_view text;
  bool strong;
};

constexpr answer_phrase answer_phrases[] = {
  {"final answer is", true},  {"final answer would be", true},
  {"answer is:", true},       {"答案是", true},
  {"答案为", true},           {"the answer is", false},
  {"answer would be", false}, {"answer is", false},
};

/// Returns the text after the phrase that starts at `pos` (of length `len`):
/// the rest of its line, or the next paragraph when the line ends there.
std::string_view phrase_tail(std::string_view text, size_t pos, size_t len) {
  auto s = text.substr(pos + len);
  while (!s.empty()
         && (s.front() == ' ' || s.front() == '\t' || s.front() == ':'
             || s.front() == '*' || s.front() == '_'))
    s.remove_prefix(1);
  if (s.starts_with("\xEF\xBC\x9A")) // full-width colon
    s.remove_prefix(3);
  return trim(s);
}

// -- narrowing ----------------------------------------------------------------

/// A run of letters, digits, '-' and '_' with at least one digit (and '.'
/// between digits), e.g. "71432", "5.0", "5e6b7b90-710d-4953".
struct value_token {
  size_t begin;
  size_t end;
};

bool is_value_char(char c) noexcept {
  return is_alnum(c) || c == '-' || c == '_';
}

std::vector<value_token> value_tokens(std::string_view s) {
  std::vector<value_token> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_value_char(s[i])) {
      ++i;
      continue;
    }
    size_t b = i;
    bool digit = false;
    while (i < s.size()
           && (is_value_char(s[i])
               || (s[i] == '.' && i > b && is_digit(s[i - 1])
                   && i + 1 < s.size() && is_digit(s[i + 1])))) {
      digit = digit || is_digit(s[i]);
      ++i;
    }
    size_t e = i;
    while (e > b && (s[e - 1] == '-' || s[e - 1] == '_'))
      --e;
    while (b < e && (s[b] == '-' || s[b] == '_'))
      ++b;
    if (digit && b < e)
      out.push_back({b, e});
  }
  return out;
}

/// The last `n` words (letters only, lower case) before `pos`, nearest
/// first, not looking past the start of the sentence or 256 bytes back.
std::vector<std::string> words_before(std::string_view s, size_t pos,
                                      size_t n) {
  std::vector<std::string> out;
  size_t i = pos;
  // Looks back a bounded distance, so scanning every token stays linear.
  size_t limit = pos > 256 ? pos - 256 : 0;
  while (out.size() < n && i > limit) {
    while (i > limit && !is_alpha(s[i - 1])) {
      char c = s[i - 1];
      if (c == '.' || c == '!' || c == '?' || c == '\n')
        return out;
      --i;
    }
    size_t e = i;
    while (i > limit && is_alpha(s[i - 1]))
      --i;
    if (e == i)
      break;
    out.push_back(ascii::lower(s.substr(i, e - i)));
  }
  return out;
}

/// The first word (letters only, lower case) after `pos`, skipping blanks
/// and emphasis.
std::string word_after(std::string_view s, size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '*' || s[pos] == '_'))
    ++pos;
  size_t e = pos;
  while (e < s.size() && is_alpha(s[e]))
    ++e;
  return ascii::lower(s.substr(pos, e - pos));
}

bool is_score_word(std::string_view w) {
  static constexpr std::string_view words[] = {
    "score",     "scores", "scored", "scoring", "confidence",
    "confident", "rated",  "rating", "level",   "certainty",
  };
  for (auto x : words)
    if (w == x)
      return true;
  return false;
}

bool is_position_word(std::string_view w) {
  static constexpr std::string_view words[] = {
    "chunk",   "chunks",   "part",    "parts", "section",   "sections",
    "passage", "passages", "page",    "pages", "paragraph", "paragraphs",
    "step",    "steps",    "round",   "line",  "lines",     "note",
    "notes",   "record",   "records",
  };
  for (auto x : words)
    if (w == x)
      return true;
  return false;
}

/// Whether the number at `tok` is a score, a percentage or a position (a
/// chunk or part number) rather than a value: "confidence score of 5.0",
/// "the confidence score for this answer is 5", "scores 5 confidence
/// points", "Chunk 0", "chunks 2, 3 and 4", "100% confident", "4/5",
/// "3 out of 5".
bool is_score_or_position(std::string_view s, value_token tok) {
  // A score word among the five words before, in the same sentence.
  for (auto& w : words_before(s, tok.begin, 5))
    if (is_score_word(w))
      return true;
  // A position word right before, or a list of positions: "chunks 2, 3".
  size_t i = tok.begin;
  // Bounded, so a long list of numbers stays linear.
  for (int steps = 0; steps < 16; ++steps) {
    while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '#' || s[i - 1] == '*'))
      --i;
    auto w = words_before(s, i, 1);
    if (!w.empty() && i >= w[0].size()
        && ascii::lower(s.substr(i - w[0].size(), w[0].size())) == w[0]) {
      if (is_position_word(w[0]))
        return true;
      if (w[0] != "and" && w[0] != "or")
        break;
      i -= w[0].size();
      continue;
    }
    if (i > 0 && s[i - 1] == ',') {
      --i;
      continue;
    }
    // Another number of the list.
    if (i > 0 && is_digit(s[i - 1])) {
      while (i > 0 && is_digit(s[i - 1]))
        --i;
      continue;
    }
    break;
  }
  auto rest = s.substr(tok.end);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '*'))
    rest.remove_prefix(1);
  if (rest.starts_with("%") || starts_with_icase(rest, "percent")
      || starts_with_icase(rest, "out of"))
    return true;
  if (rest.size() >= 2 && rest[0] == '/' && is_digit(rest[1]))
    return true;
  auto next = word_after(s, tok.end);
  return is_score_word(next) || next == "points" || next == "point"
         || next == "stars";
}

/// Whether the token at `tok` is stated as the value: it follows "is", "are",
/// "was", ":" or "=" (possibly with emphasis or quotes in between).
/// The word (lower case) that ends at `i`, after skipping blanks, emphasis
/// and quotes backwards; moves `i` to its start. Empty when a colon or an
/// equals sign comes first (returned as ":").
std::string word_right_before(std::string_view s, size_t& i) {
  while (i > 0
         && (s[i - 1] == ' ' || s[i - 1] == '*' || s[i - 1] == '"'
             || s[i - 1] == '\'' || s[i - 1] == '`' || s[i - 1] == '\n'))
    --i;
  if (i > 0 && (s[i - 1] == ':' || s[i - 1] == '='))
    return ":";
  size_t e = i;
  while (i > 0 && is_alpha(s[i - 1]))
    --i;
  return ascii::lower(s.substr(i, e - i));
}

bool is_copula(std::string_view w) {
  return w == "is" || w == "are" || w == "was" || w == "be";
}

/// Whether the token at `tok` is stated as the value: it follows "is",
/// "are", "was", "be", "is indeed", ":" or "=" (possibly with emphasis or
/// quotes in between).
bool follows_statement(std::string_view s, value_token tok) {
  size_t i = tok.begin;
  auto w = word_right_before(s, i);
  if (w == ":" || is_copula(w))
    return true;
  for (std::string_view adverb :
       {"indeed", "also", "actually", "clearly", "exactly", "simply"})
    if (w == adverb)
      return is_copula(word_right_before(s, i));
  return false;
}

/// Whether the token at `tok` names a key ("the key "K" has the value V"):
/// such tokens are the question's, not the answer.
bool named_as_key(std::string_view s, value_token tok) {
  size_t i = tok.begin;
  auto w = word_right_before(s, i);
  return w == "key" || w == "keys";
}

/// For each byte of `s`, whether it lies inside a `**bold**` span of its
/// line.
std::vector<bool> bold_map(std::string_view s) {
  std::vector<bool> out(s.size(), false);
  bool bold = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      bold = false;
    } else if (s[i] == '*' && i + 1 < s.size() && s[i + 1] == '*') {
      bold = !bold;
      ++i;
      continue;
    }
    out[i] = bold;
  }
  return out;
}

bool is_number_token(std::string_view t) {
  if (t.empty())
    return false;
  bool dot = false;
  for (char c : t) {
    if (c == '.' && !dot) {
      dot = true;
      continue;
    }
    if (!is_digit(c))
      return false;
  }
  return is_digit(t.front()) && is_digit(t.back());
}

/// Picks the value stated in `s`: among the tokens that are not scores or
/// positions, the one stated as the value ("is 71432", ": 71432") wins over
/// one in bold, which wins over any other, and one named as a key ("key
/// 'K'") comes last; ties go to the first.
/// `numbers_only` keeps plain numbers only.
std::optional<std::string> pick_value(std::string_view s, bool numbers_only) {
  std::optional<std::string> best;
  int best_rank = -2;
  auto bold = bold_map(s);
  for (auto tok : value_tokens(s)) {
    auto text = s.substr(tok.begin, tok.end - tok.begin);
    if (numbers_only && !is_number_token(text))
      continue;
    if (is_score_or_position(s, tok))
      continue;
    int rank = named_as_key(s, tok) ? -1
                                    : (follows_statement(s, tok) ? 2 : 0)
                                        + (bold[tok.begin] ? 1 : 0);
    if (rank > best_rank) {
      best_rank = rank;
      std::string value{text};
      // A negative number keeps its sign.
      if (numbers_only && tok.begin > 0 && s[tok.begin - 1] == '-')
        value.insert(value.begin(), '-');
      best = std::move(value);
    }
  }
  return best;
}

/// Removes a trailing remark in brackets about the score or a note:
/// "42 (Confidence: 5)", "Paris (note: the text also mentions Lyon)".
std::string_view strip_trailing_remark(std::string_view s) {
  for (;;) {
    s = trim(s);
    if (s.empty() || (s.back() != ')' && !s.ends_with("\xEF\xBC\x89")))
      return s;
    auto open = s.rfind('(');
    auto open_wide = s.rfind("\xEF\xBC\x88");
    if (open_wide != npos && (open == npos || open_wide > open))
      open = open_wide;
    if (open == npos || open == 0)
      return s;
    auto remark = ascii::lower(s.substr(open));
    bool drop = false;
    for (std::string_view w :
         {"confidence", "score", "note", "置信", "注", "based on", "according",
          "as stated", "from chunk", "in chunk", "see "})
      drop = drop || remark.find(w) != std::string::npos;
    if (!drop)
      return s;
    s = s.substr(0, open);
  }
}

/// Cuts the text at a line or sentence starting a note or remark: "Note:",
/// "Notes:", "注：", "(Note".
std::string_view strip_notes(std::string_view s) {
  size_t cut = npos;
  for (std::string_view marker : {"\nnote:", "\nnotes:", "\n(note", " (note:",
                                  "\nplease note", "\n注：", "\n注:"}) {
    auto pos = find_icase(s, marker);
    if (pos != npos && pos > 0 && pos < cut)
      cut = pos;
  }
  return cut == npos ? s : trim(s.substr(0, cut));
}

/// Collapses an answer written several times ("71432\n71432",
/// "Paris. Paris.") to one.
std::string collapse_repeats(std::string s) {
  // Line-wise: every non-empty line the same.
  std::vector<std::string> lines;
  for_each_line(s, [&](std::string_view line) {
    auto t = strip_answer_wrapping(line);
    if (!t.empty())
      lines.push_back(std::move(t));
  });
  if (lines.size() > 1) {
    bool same = true;
    for (auto& l : lines)
      same = same && l == lines.front();
    if (same)
      return lines.front();
  }
  // Two equal halves separated by blanks or punctuation.
  auto t = std::string_view{s};
  for (size_t cut = t.size() / 2; cut > 0 && cut + 1 < t.size(); --cut) {
    auto head = trim(t.substr(0, cut));
    while (!head.empty()
           && (head.back() == '.' || head.back() == ',' || head.back() == ';'))
      head.remove_suffix(1);
    auto tail = trim(t.substr(cut));
    while (!tail.empty()
           && (tail.back() == '.' || tail.back() == ',' || tail.back() == ';'))
      tail.remove_suffix(1);
    if (head.empty() || head.size() < tail.size())
      break;
    if (head == tail && !is_alnum(t[cut]) && head.size() * 2 + 4 >= t.size())
      return std::string{head};
  }
  return s;
}

/// The free-text form: first paragraph, no trailing remark or note, no
/// wrapping, one copy.
std::string narrow_text(std::string_view value) {
  auto s = first_paragraph(value);
  if (!s.starts_with("```"))
    s = strip_notes(s);
  s = strip_trailing_remark(s);
  auto out = collapse_repeats(strip_answer_wrapping(s));
  // A single token loses its trailing full stop ("71432." -> "71432").
  if (out.find_first_of(" \t\n") == std::string::npos) {
    if (!out.empty() && out.back() == '.')
      out.pop_back();
    else if (out.size() > 3 && out.ends_with("。"))
      out.resize(out.size() - 3);
  }
  return strip_answer_wrapping(out);
}

/// "The pass key is apple." -> "apple": the part after the last " is " of a
/// one-sentence answer, when it is short.
std::string strip_lead_in(std::string text) {
  std::string_view s = text;
  for (std::string_view verb : {" is: ", " is ", " are ", ": "}) {
    auto pos = s.rfind(verb);
    if (pos == npos)
      continue;
    auto tail = trim(s.substr(pos + verb.size()));
    size_t words = 1;
    for (char c : tail)
      words += c == ' ' ? 1 : 0;
    if (tail.empty() || words > 6)
      return text;
    auto cleaned = strip_answer_wrapping(tail);
    while (!cleaned.empty() && cleaned.back() == '.')
      cleaned.pop_back();
    return strip_answer_wrapping(cleaned);
  }
  return text;
}

std::string narrow_value(std::string_view value, bool numbers_only) {
  auto para = first_paragraph(value);
  auto text = narrow_text(para);
  // A single word is the value itself.
  if (!text.empty() && text.find_first_of(" \t\n") == std::string::npos)
    return text;
  if (auto v = pick_value(strip_trailing_remark(para), numbers_only))
    return *v;
  return strip_lead_in(std::move(text));
}

// -- options ------------------------------------------------------------------

struct option_hit {
  char letter;
  /// The option text written right after the letter (leading form only).
  std::string text;
};

bool is_option_letter(char c) noexcept {
  return c >= 'A' && c <= 'D';
}

/// The leading form: the value starts with the option, "B", "B.", "B) x",
/// "(B) x", "**B. France**", "Option B: x", "选项B".
std::optional<option_hit> leading_option(std::string_view value) {
  auto s = trim(value);
  auto skip = [&s] {
    for (bool again = true; again;) {
      again = false;
      while (!s.empty()
             && (s.front() == '*' || s.front() == '_' || s.front() == '"'
                 || s.front() == '\'' || s.front() == '`' || s.front() == '['
                 || s.front() == ' ')) {
        s.remove_prefix(1);
        again = true;
      }
      for (std::string_view p : {"option ", "choice ", "选项", "\xE2\x80\x9C"})
        if (starts_with_icase(s, p)) {
          s.remove_prefix(p.size());
          again = true;
        }
    }
  };
  skip();
  bool bracket = false;
  if (!s.empty() && s.front() == '(') {
    s.remove_prefix(1);
    bracket = true;
  }
  if (s.empty() || !is_option_letter(s.front()))
    return std::nullopt;
  char letter = s.front();
  auto rest = s.substr(1);
  if (!rest.empty()) {
    char c = rest.front();
    if (bracket && c != ')')
      return std::nullopt;
    // "A lens" or "Amy" is a word, not an option.
    if (is_alnum(c) || c == '\'' || c == '-')
      return std::nullopt;
    if (c == ' ') {
      auto t = trim(rest);
      if (!t.empty() && (t.front() >= 'a' && t.front() <= 'z'))
        return std::nullopt;
    }
  }
  while (!rest.empty()
         && (rest.front() == '.' || rest.front() == ')' || rest.front() == ':'
             || rest.front() == ']' || rest.front() == '*'
             || rest.front() == '"' || rest.front() == ' '
             || rest.front() == '`'))
    rest.remove_prefix(1);
  auto line = rest.substr(0, rest.find('\n'));
  auto text = strip_answer_wrapping(strip_trailing_remark(line));
  return option_hit{letter, std::move(text)};
}

/// Option markers anywhere in `s`: "(B)", "Option B", "**B**", "B." or "B)"
/// after a blank. Letters in a list ("A, B, C, or D") do not count.
std::vector<char> option_markers(std::string_view s) {
  std::vector<char> out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!is_option_letter(c))
      continue;
    char prev = i > 0 ? s[i - 1] : ' ';
    char next = i + 1 < s.size() ? s[i + 1] : ' ';
    if (is_alnum(prev) || is_alnum(next))
      continue;
    if (next == ',' || next == '/' || next == '-' || next == '\'')
      continue;
    auto before = words_before(s, i, 1);
    bool after_list
      = prev == ',' || (i >= 2 && s[i - 2] == ',')
        || (!before.empty()
            && (before[0] == "or" || before[0] == "and" || before[0] == "nor")
            && i >= 1 + before[0].size() + 1);
    if (after_list)
      continue;
    bool bracketed = prev == '(' && next == ')';
    bool bold
      = i >= 2 && s.substr(i - 2, 2) == "**" && s.substr(i + 1, 2) == "**";
    bool named = !before.empty()
                 && (before[0] == "option" || before[0] == "choice"
                     || before[0] == "choose" || before[0] == "answer");
    bool dotted = (prev == ' ' || prev == '\n' || prev == '*' || prev == '"')
                  && (next == '.' || next == ')' || next == ':')
                  && (i + 2 >= s.size() || s[i + 2] == ' ' || s[i + 2] == '\n'
                      || s[i + 2] == '*');
    if (bracketed || bold || named || dotted)
      out.push_back(c);
  }
  return out;
}

std::string format_option(const option_hit& hit) {
  std::string out{hit.letter};
  out += '.';
  if (!hit.text.empty())
    out.append(" ").append(hit.text);
  return out;
}

/// The option in an answer field or phrase tail: the leading form, else the
/// only option marked in its first paragraph.
std::optional<std::string> field_option(std::string_view value) {
  auto para = first_paragraph(value);
  if (auto hit = leading_option(para))
    return format_option(*hit);
  auto marks = option_markers(para);
  if (marks.empty())
    return std::nullopt;
  for (auto m : marks)
    if (m != marks.front())
      return std::nullopt;
  return format_option({marks.front(), {}});
}

std::string narrow_choice(std::string_view value) {
  if (auto opt = field_option(value))
    return *opt;
  return narrow_text(value);
}

std::string_view strip_summary_label(std::string_view body) {
  auto s = body;
  while (!s.empty()
         && (s.front() == '#' || s.front() == '*' || s.front() == ' '))
    s.remove_prefix(1);
  for (std::string_view l : {"summary", "摘要", "总结"}) {
    if (!starts_with_icase(s, l))
      continue;
    auto rest = s.substr(l.size());
    while (!rest.empty() && (rest.front() == '*' || rest.front() == ' '))
      rest.remove_prefix(1);
    if (rest.starts_with(":"))
      rest.remove_prefix(1);
    else if (rest.starts_with("\xEF\xBC\x9A"))
      rest.remove_prefix(3);
    else if (!rest.starts_with("\n"))
      continue;
    while (!rest.empty() && (rest.front() == '*' || rest.front() == ' '))
      rest.remove_prefix(1);
    return trim(rest);
  }
  return body;
}

/// Whether the text after a phrase is usable for `kind`.
bool usable_tail(std::string_view tail, answer_kind kind, bool strong) {
  auto para = first_paragraph(tail);
  if (para.empty())
    return false;
  switch (kind) {
  case answer_kind::value:
    return pick_value(para, false).has_value() || strong;
  case answer_kind::number:
    return pick_value(para, true).has_value();
  case answer_kind::choice:
    return field_option(para).has_value();
  default:
    return strong;
  }
}

} // namespace

std::string to_string(answer_kind x) {
  switch (x) {
  case answer_kind::text:
    return "text";
  case answer_kind::value:
    return "value";
  case answer_kind::number:
    return "number";
  case answer_kind::choice:
    return "choice";
  case answer_kind::summary:
    return "summary";
  }
  return "text";
}

bool from_string(std::string_view name, answer_kind& x) {
  for (auto k : {answer_kind::text, answer_kind::value, answer_kind::number,
                 answer_kind::choice, answer_kind::summary})
    if (to_string(k) == name) {
      x = k;
      return true;
    }
  return false;
}

std::string to_string(answer_source x) {
  switch (x) {
  case answer_source::none:
    return "none";
  case answer_source::label:
    return "label";
  case answer_source::phrase:
    return "phrase";
  case answer_source::text:
    return "text";
  }
  return "none";
}

answer_kind default_answer_kind(task_profile profile) noexcept {
  switch (profile) {
  case task_profile::retrieval:
    return answer_kind::value;
  case task_profile::math:
    return answer_kind::number;
  case task_profile::summary:
    return answer_kind::summary;
  default:
    return answer_kind::text;
  }
}

std::string strip_answer_wrapping(std::string_view answer) {
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

std::string narrow_answer(std::string_view value, answer_kind kind) {
  switch (kind) {
  case answer_kind::value:
    return narrow_value(value, false);
  case answer_kind::number: {
    auto para = first_paragraph(value);
    if (auto v = pick_value(strip_trailing_remark(para), true))
      return *v;
    return narrow_text(para);
  }
  case answer_kind::choice:
    return narrow_choice(value);
  case answer_kind::summary:
    return std::string{strip_summary_label(trim(value))};
  default:
    return narrow_text(value);
  }
}

extracted_answer extract_answer(std::string_view raw, answer_kind kind) {
  extracted_answer result;
  auto body = strip_thinking(raw);
  if (body.empty())
    return result;
  if (kind == answer_kind::summary) {
    result.text = std::string{strip_summary_label(body)};
    result.source = answer_source::text;
    return result;
  }
  // 1. The last answer label with a usable value.
  auto fields = answer_fields(body);
  for (auto i = fields.size(); i > 0; --i) {
    auto text = narrow_answer(fields[i - 1], kind);
    if (!text.empty()) {
      result.text = std::move(text);
      result.source = answer_source::label;
      return result;
    }
  }
  // 2. The last answer phrase with a usable tail.
  size_t best_pos = npos;
  std::string_view best_tail;
  for (auto& p : answer_phrases) {
    for (auto pos = find_icase(body, p.text); pos != npos;
         pos = find_icase(body, p.text, pos + 1)) {
      // "The confidence score for this answer is 5" is about the score.
      bool about_score = false;
      for (auto& w : words_before(body, pos, 8))
        about_score = about_score || is_score_word(w);
      if (about_score)
        continue;
      auto tail = phrase_tail(body, pos, p.text.size());
      if ((best_pos == npos || pos > best_pos)
          && usable_tail(tail, kind, p.strong)) {
        best_pos = pos;
        best_tail = tail;
      }
    }
  }
  if (best_pos != npos) {
    auto text = narrow_answer(best_tail, kind);
    if (!text.empty()) {
      result.text = std::move(text);
      result.source = answer_source::phrase;
      return result;
    }
  }
  // 3. The whole output.
  auto text = without_field_lines(body);
  switch (kind) {
  case answer_kind::value:
  case answer_kind::number:
    if (auto v = pick_value(text, kind == answer_kind::number))
      result.text = *v;
    else
      result.text = narrow_text(last_paragraph(text));
    break;
  case answer_kind::choice: {
    if (auto hit = leading_option(text)) {
      result.text = format_option(*hit);
      break;
    }
    auto marks = option_markers(text);
    result.text = marks.empty() ? narrow_text(last_paragraph(text))
                                : format_option({marks.back(), {}});
    break;
  }
  default:
    result.text = narrow_text(first_answer_paragraph(text));
  }
  if (!result.text.empty())
    result.source = answer_source::text;
  return result;
}

} // namespace llmmr

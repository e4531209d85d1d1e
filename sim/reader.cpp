#include "llmmr/sim/reader.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/builtin_prompts.hpp"
#include "llmmr/sim/structured_reading.hpp"

namespace llmmr::sim {

namespace {

// -- small string helpers ----------------------------------------------------

using ascii::is_space;
using ascii::lower;
using ascii::trim;

bool starts_with_ci(std::string_view x, std::string_view prefix) {
  if (x.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(x[i]))
        != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

bool contains(std::string_view x, std::string_view what) noexcept {
  return x.find(what) != std::string_view::npos;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> result;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      result.push_back(text.substr(pos));
      break;
    }
    result.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return result;
}

// Length of the UTF-8 character starting with `c`.
size_t char_len(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x80)
    return 1;
  if ((u >> 5) == 0x6)
    return 2;
  if ((u >> 4) == 0xE)
    return 3;
  if ((u >> 3) == 0x1E)
    return 4;
  return 1;
}

std::string format_score(double x) {
  char buf[16];
  if (x == static_cast<int>(x))
    std::snprintf(buf, sizeof(buf), "%d", static_cast<int>(x));
  else
    std::snprintf(buf, sizeof(buf), "%.1f", x);
  return buf;
}

// -- templates ---------------------------------------------------------------

struct segment {
  std::string text;
  bool placeholder = false;
};

std::vector<segment> segment_template(std::string_view text) {
  std::vector<segment> result;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty())
      result.push_back({std::move(literal), false});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}';
      ++i;
    } else if (c == '{') {
      auto end = text.find('}', i);
      auto name = end == std::string_view::npos
                    ? std::string_view{}
                    : text.substr(i + 1, end - i - 1);
      auto valid
        = !name.empty()
          && (std::isalpha(static_cast<unsigned char>(name[0]))
              || name[0] == '_')
          && std::all_of(name.begin(), name.end(), [](char ch) {
               return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
             });
      if (valid) {
        flush();
        result.push_back({std::string{name}, true});
        i = end;
      } else {
        literal += c;
      }
    } else {
      literal += c;
    }
  }
  flush();
  // Leading and trailing whitespace of a template is not significant.
  if (!result.empty() && !result.front().placeholder)
    result.front().text = std::string{trim(result.front().text)};
  if (!result.empty() && !result.back().placeholder)
    result.back().text = std::string{trim(result.back().text)};
  return result;
}

bool match_template(const std::vector<segment>& segs, std::string_view prompt,
                    std::map<std::string, std::string>& out) {
  prompt = trim(prompt);
  size_t pos = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const auto& seg = segs[i];
    if (!seg.placeholder) {
      if (prompt.compare(pos, seg.text.size(), seg.text) != 0)
        return false;
      pos += seg.text.size();
      continue;
    }
    size_t end = 0;
    if (i + 1 == segs.size()) {
      end = prompt.size();
    } else if (i + 2 == segs.size()) {
      // The last literal must end the prompt.
      const auto& tail = segs[i + 1].text;
      if (tail.size() > prompt.size() - pos
          || prompt.substr(prompt.size() - tail.size()) != tail)
        return false;
      end = prompt.size() - tail.size();
    } else {
      if (segs[i + 1].placeholder)
        return false;
      end = prompt.find(segs[i + 1].text, pos);
      if (end == std::string_view::npos)
        return false;
    }
    out.emplace(seg.text, std::string{prompt.substr(pos, end - pos)});
    pos = end;
  }
  return pos == prompt.size();
}

struct known_template {
  std::string profile;
  prompt_kind kind;
  std::vector<segment> segs;
};

const std::vector<known_template>& known_templates() {
  static const std::vector<known_template> result = [] {
    std::vector<known_template> xs;
    for (const auto& entry : builtin_prompts()) {
      auto slash = entry.path.find('/');
      if (slash == std::string_view::npos)
        continue;
      auto file = entry.path.substr(slash + 1);
      prompt_kind kind = prompt_kind::unknown;
      if (file == "map.txt")
        kind = prompt_kind::map;
      else if (file == "collapse.txt")
        kind = prompt_kind::collapse;
      else if (file == "reduce.txt")
        kind = prompt_kind::reduce;
      else if (file == "chain_step.txt")
        kind = prompt_kind::chain_step;
      else if (file == "chain_answer.txt")
        kind = prompt_kind::chain_answer;
      else if (file == "direct.txt")
        kind = prompt_kind::direct;
      else
        continue;
      xs.push_back({std::string{entry.path.substr(0, slash)}, kind,
                    segment_template(entry.text)});
    }
    return xs;
  }();
  return result;
}

// The built-in rubric of `profile`, trimmed, or empty.
std::string builtin_rubric(std::string_view profile) {
  for (const auto& entry : builtin_prompts())
    if (entry.path == std::string{profile} + "/rubric.txt")
      return std::string{trim(entry.text)};
  return {};
}

// -- heuristics for prompts that match no built-in template ------------------

std::string between(std::string_view text, std::string_view open,
                    std::string_view close) {
  auto first = text.find(open);
  if (first == std::string_view::npos)
    return {};
  first += open.size();
  auto last = text.find(close, first);
  if (last == std::string_view::npos)
    return {};
  return std::string{trim(text.substr(first, last - first))};
}

std::string line_after(std::string_view text, std::string_view label) {
  for (auto line : split_lines(text)) {
    auto t = trim(line);
    if (starts_with_ci(t, label))
      return std::string{trim(t.substr(label.size()))};
  }
  return {};
}

bool is_header(std::string_view line) {
  auto t = trim(line);
  return t.starts_with("[Part") || t.starts_with("【第");
}

prompt_parts classify_by_markers(std::string_view prompt) {
  prompt_parts parts;
  parts.chinese = contains(prompt, "问题：");
  parts.question = parts.chinese ? line_after(prompt, "问题：")
                                 : line_after(prompt, "Question:");
  if (parts.question.empty())
    parts.question = line_after(prompt, "Task:");
  parts.summary
    = contains(prompt, "summary only") || contains(prompt, "Summarise");
  // The baselines' prompts (also after a corrective note was appended).
  auto notes = parts.chinese ? between(prompt, "<笔记>", "</笔记>")
                             : between(prompt, "<notes>", "</notes>");
  auto document = parts.chinese ? between(prompt, "<文档>", "</文档>")
                                : between(prompt, "<document>", "</document>");
  if (!parts.question.empty() && (!notes.empty() || !document.empty())) {
    auto part = parts.chinese ? between(prompt, "<段落>", "</段落>")
                              : between(prompt, "<part>", "</part>");
    parts.kind = !document.empty() ? prompt_kind::direct
                 : !part.empty()   ? prompt_kind::chain_step
                                   : prompt_kind::chain_answer;
    parts.notes = std::move(notes);
    parts.chunk = !document.empty() ? std::move(document) : std::move(part);
    return parts;
  }
  auto chunk = parts.chinese ? between(prompt, "<段落>", "</段落>")
                             : between(prompt, "<part>", "</part>");
  if (!chunk.empty() && !parts.question.empty()) {
    parts.kind = prompt_kind::map;
    parts.chunk = std::move(chunk);
    return parts;
  }
  // Records: from the first header line on.
  auto lines = split_lines(prompt);
  size_t offset = 0;
  for (auto line : lines) {
    if (is_header(line)) {
      parts.records = std::string{prompt.substr(offset)};
      break;
    }
    offset += line.size() + 1;
  }
  if (parts.records.empty() || parts.question.empty())
    return parts;
  auto reduce = contains(prompt, "three fields") || contains(prompt, "三项")
                || contains(prompt, "covering all parts")
                || contains(prompt, "全部段落");
  parts.kind = reduce ? prompt_kind::reduce : prompt_kind::collapse;
  return parts;
}

// -- labels ------------------------------------------------------------------

struct labels {
  std::string_view extracted;
  std::string_view rationale;
  std::string_view answer;
  std::string_view confidence;
  std::string_view no_info;
  std::string_view colon;
};

constexpr labels english{"Extracted information", "Rationale",      "Answer",
                         "Confidence score",      "No information", ": "};

constexpr labels chinese{"提取的信息", "推理过程",   "答案",
                         "置信度",     "无相关信息", "："};

const labels& labels_of(bool zh) {
  return zh ? chinese : english;
}

bool is_no_info(std::string_view answer) {
  auto t = lower(trim(answer));
  while (!t.empty() && (t.back() == '.' || t.back() == '!'))
    t.pop_back();
  while (!t.empty() && (t.front() == '"' || t.front() == '*'))
    t.erase(t.begin());
  return t.empty() || t.starts_with("no information")
         || t.starts_with("no relevant information") || t == "n/a"
         || t.starts_with("无相关信息") || t.starts_with("没有信息")
         || t.starts_with("\"no information");
}

double parse_score(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i]))) {
      std::string digits;
      while (i < text.size()
             && (std::isdigit(static_cast<unsigned char>(text[i]))
                 || text[i] == '.'))
        digits += text[i++];
      auto value = std::strtod(digits.c_str(), nullptr);
      return std::clamp(value, 0.0, 5.0);
    }
  }
  return 0;
}

// Returns which field `line` starts (0 extracted, 1 rationale, 2 answer,
// 3 confidence) and the rest of the line, or -1.
int field_of(std::string_view line, std::string_view& rest) {
  auto t = trim(line);
  while (!t.empty()
         && (t.front() == '*' || t.front() == '#' || t.front() == '-'))
    t.remove_prefix(1);
  t = trim(t);
  for (const auto* ls : {&english, &chinese}) {
    std::string_view names[]
      = {ls->extracted, ls->rationale, ls->answer, ls->confidence};
    for (int i = 0; i < 4; ++i) {
      if (!starts_with_ci(t, names[i]))
        continue;
      auto after = t.substr(names[i].size());
      while (!after.empty() && after.front() == '*')
        after.remove_prefix(1);
      if (after.starts_with(":")) {
        after.remove_prefix(1);
      } else if (after.starts_with("：")) {
        after.remove_prefix(std::string_view{"："}.size());
      } else {
        continue;
      }
      while (!after.empty() && after.front() == '*')
        after.remove_prefix(1);
      rest = trim(after);
      return i;
    }
  }
  return -1;
}

// -- sentences and words -----------------------------------------------------

std::vector<std::string_view> split_sentences(std::string_view text) {
  std::vector<std::string_view> result;
  size_t start = 0;
  auto push = [&](size_t end) {
    auto s = trim(text.substr(start, end - start));
    if (!s.empty())
      result.push_back(s);
    start = end;
  };
  for (size_t i = 0; i < text.size();) {
    auto c = text[i];
    auto len = char_len(c);
    if (c == '\n') {
      push(i + 1);
    } else if (c == '.' || c == '?' || c == '!' || c == ';') {
      if (i + 1 == text.size() || is_space(text[i + 1]))
        push(i + 1);
    } else if (len == 3) {
      auto ch = text.substr(i, 3);
      if (ch == "。" || ch == "！" || ch == "？" || ch == "；")
        push(i + 3);
    }
    i += len;
  }
  if (start < text.size())
    push(text.size());
  return result;
}

const std::set<std::string, std::less<>>& stopwords() {
  static const std::set<std::string, std::less<>> words{
    "a",     "an",    "the",   "is",    "are",      "was",       "were",
    "be",    "been",  "of",    "in",    "on",       "at",        "to",
    "for",   "from",  "by",    "with",  "and",      "or",        "what",
    "which", "who",   "whom",  "whose", "when",     "where",     "why",
    "how",   "does",  "do",    "did",   "it",       "its",       "this",
    "that",  "these", "those", "as",    "about",    "there",     "their",
    "they",  "he",    "she",   "his",   "her",      "i",         "you",
    "we",    "can",   "could", "would", "should",   "will",      "has",
    "have",  "had",   "not",   "no",    "any",      "all",       "into",
    "than",  "then",  "so",    "if",    "but",      "me",        "my",
    "tell",  "give",  "name",  "text",  "document", "according", "mentioned",
    "value"};
  return words;
}

bool is_word_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

std::vector<std::string> latin_words(std::string_view text) {
  std::vector<std::string> result;
  std::string word;
  for (char c : text) {
    if (is_word_char(c)) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      result.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty())
    result.push_back(std::move(word));
  for (auto& w : result) {
    while (!w.empty() && w.back() == '-')
      w.pop_back();
  }
  return result;
}

// CJK bigrams of the question, skipping function characters.
std::vector<std::string> cjk_terms(std::string_view text) {
  static constexpr std::string_view skip[]
    = {"的", "是", "了", "吗", "呢", "什", "么", "哪", "谁", "怎",
       "样", "多", "少", "？", "，", "。", "：", "！", "“",  "”"};
  std::vector<std::string> chars;
  auto flush_run
    = [](std::vector<std::string>& run, std::vector<std::string>& out) {
        for (size_t i = 0; i + 1 < run.size(); ++i)
          out.push_back(run[i] + run[i + 1]);
        if (run.size() == 1)
          out.push_back(run[0]);
        run.clear();
      };
  std::vector<std::string> result;
  for (size_t i = 0; i < text.size();) {
    auto len = char_len(text[i]);
    auto ch = text.substr(i, len);
    i += len;
    auto skipped
      = len == 1
        || std::find(std::begin(skip), std::end(skip), ch) != std::end(skip);
    if (skipped)
      flush_run(chars, result);
    else
      chars.emplace_back(ch);
  }
  flush_run(chars, result);
  return result;
}

struct key_terms {
  std::vector<std::string> latin;
  std::vector<std::string> cjk;
  size_t size() const noexcept { return latin.size() + cjk.size(); }
};

key_terms terms_of(std::string_view question) {
  key_terms result;
  std::set<std::string> seen;
  for (auto& w : latin_words(question))
    if (!stopwords().contains(w) && seen.insert(w).second)
      result.latin.push_back(w);
  for (auto& t : cjk_terms(question))
    if (seen.insert(t).second)
      result.cjk.push_back(t);
  return result;
}

bool word_matches(std::string_view key, std::string_view word) {
  if (key == word)
    return true;
  // Crude stemming: words of five or more letters sharing five.
  return key.size() >= 5 && word.size() >= 5
         && key.substr(0, 5) == word.substr(0, 5);
}

struct sentence_score {
  size_t matched = 0;
  bool has_value = false;
  std::string value;
};

std::string clean_value(std::string_view x) {
  x = trim(x);
  auto strip_tail = [&] {
    for (std::string_view p : {".", "!", "?", ";", ",", "。", "！", "？", "；",
                               "\"", "'", "”", "」"}) {
      if (x.ends_with(p)) {
        x.remove_suffix(p.size());
        return true;
      }
    }
    return false;
  };
  while (strip_tail())
    x = trim(x);
  for (std::string_view p : {"\"", "'", "“", "「"})
    if (x.starts_with(p))
      x.remove_prefix(p.size());
  return std::string{trim(x)};
}

sentence_score score_sentence(std::string_view sentence,
                              const key_terms& keys) {
  sentence_score result;
  auto low = lower(sentence);
  auto words = latin_words(sentence);
  size_t last_end = 0;
  for (const auto& key : keys.latin) {
    auto hit = std::any_of(words.begin(), words.end(),
                           [&](const auto& w) { return word_matches(key, w); });
    if (hit) {
      ++result.matched;
      auto pos = low.find(key.substr(0, std::min<size_t>(key.size(), 5)));
      if (pos != std::string::npos)
        last_end = std::max(last_end, pos + std::min<size_t>(key.size(), 5));
    }
  }
  for (const auto& key : keys.cjk) {
    auto pos = sentence.find(key);
    if (pos != std::string_view::npos) {
      ++result.matched;
      last_end = std::max(last_end, pos + key.size());
    }
  }
  if (result.matched == 0)
    return result;
  // The value: what follows a copula after the last key term.
  static constexpr std::string_view copulas[]
    = {" is ", " are ", " was ", " were ", " equals ", " = ",
       ": ",   "是",    "为",    "：",     " reads "};
  size_t best = std::string::npos;
  size_t best_len = 0;
  for (auto cop : copulas) {
    auto pos = low.find(cop, last_end == 0 ? 0 : last_end - 1);
    if (pos != std::string::npos && pos < best) {
      best = pos;
      best_len = cop.size();
    }
  }
  if (best != std::string::npos)
    result.value = clean_value(sentence.substr(best + best_len));
  auto has_digit = std::any_of(sentence.begin(), sentence.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  auto quoted = contains(sentence, "\"") || contains(sentence, "“")
                || contains(sentence, "「");
  result.has_value = !result.value.empty() || has_digit || quoted;
  return result;
}

// -- replies -----------------------------------------------------------------

std::string
render_fields(const std::vector<std::pair<std::string, std::string>>& fields,
              bool zh) {
  std::string text;
  for (const auto& [label, value] : fields) {
    if (!text.empty())
      text += '\n';
    text += label;
    text += labels_of(zh).colon;
    text += value;
  }
  return text;
}

std::string quote(std::string_view x, bool zh) {
  return zh ? "“" + std::string{x} + "”" : "\"" + std::string{x} + "\"";
}

std::string join_terms(const key_terms& keys) {
  std::string result;
  for (const auto& group : {keys.latin, keys.cjk})
    for (const auto& k : group) {
      if (!result.empty())
        result += ", ";
      result += k;
    }
  return result;
}

// A short prose digest: the first sentence of each paragraph, capped.
std::string digest(std::string_view text, size_t cap) {
  std::string result;
  for (auto para : split_lines(text)) {
    auto sentences = split_sentences(para);
    if (sentences.empty() || is_header(para))
      continue;
    if (!result.empty())
      result += ' ';
    result += sentences.front();
    if (result.size() >= cap)
      break;
  }
  return result.empty() ? std::string{trim(text.substr(0, cap))} : result;
}

// -- structured text: key lookups and lists of numbers ------------------------

std::string quoted_key(std::string_view key) {
  return "\"" + std::string{key} + "\"";
}

// Fills the four map fields (or the reduce's three without `extracted`).
void set_fields(reader_reply& reply, const labels& ls, bool with_extracted,
                std::string extracted, std::string rationale,
                std::string answer, double confidence) {
  reply.fields.clear();
  reply.confidence = confidence;
  reply.answer = answer;
  if (with_extracted)
    reply.fields.emplace_back(std::string{ls.extracted}, std::move(extracted));
  reply.fields.emplace_back(std::string{ls.rationale}, std::move(rationale));
  reply.fields.emplace_back(std::string{ls.answer}, std::move(answer));
  reply.fields.emplace_back(std::string{ls.confidence},
                            format_score(confidence));
}

constexpr std::string_view nothing_here
  = "Nothing in this part bears on the question.";

std::string statistic_name(list_statistic stat) {
  switch (stat) {
  case list_statistic::largest:
    return "largest";
  case list_statistic::smallest:
    return "smallest";
  default:
    return "median";
  }
}

// Reads `text` (a map's part) for a key lookup or a statistic of a list of
// numbers. Returns false when neither applies, leaving `reply` untouched.
bool answer_structured(const prompt_parts& parts, std::string_view text,
                       reader_reply& reply) {
  const auto& ls = labels_of(parts.chinese);
  if (auto key = asked_key(parts.question); !key.empty()) {
    auto hit = look_up_key(text, key);
    if (hit.found) {
      set_fields(reply, ls, true, hit.pair,
                 "The part pairs the key " + quoted_key(key)
                   + " with this value.",
                 hit.value, 5);
      return true;
    }
    if (hit.key_seen || looks_like_pairs(text)) {
      set_fields(reply, ls, true,
                 hit.key_seen ? "The part ends right after the key, so its "
                                "value is not in this part."
                              : std::string{nothing_here},
                 "The key " + quoted_key(key)
                   + (hit.key_seen ? " has no value in this part."
                                   : " does not occur in this part."),
                 std::string{ls.no_info}, 0);
      return true;
    }
    return false;
  }
  auto stat = asked_statistic(parts.question);
  if (stat == list_statistic::none)
    return false;
  auto summary = summarise_numbers(text);
  if (!summary)
    return false;
  auto count = std::to_string(summary->count);
  if (stat == list_statistic::median && !summary->whole) {
    set_fields(reply, ls, true, describe(*summary),
               "The median needs the whole list, and this part holds only "
                 + count
                 + " of its numbers: their count and median are partial "
                   "evidence.",
               std::string{ls.no_info}, 0);
    return true;
  }
  auto value = statistic_of(*summary, stat);
  set_fields(reply, ls, true, describe(*summary),
             "The " + statistic_name(stat) + " of this part's " + count
               + " numbers is " + value
               + (summary->whole ? "; the part holds the whole list."
                                 : "; other parts of the list may change it."),
             value, summary->whole ? 5 : 4);
  return true;
}

// Answers from a summary of the whole input (`covers_all`: every part of
// the list was read, as for a reduce or a chain manager).
void answer_from_summary(const prompt_parts& parts, const number_summary& s,
                         list_statistic stat, bool covers_all,
                         bool with_extracted, reader_reply& reply) {
  const auto& ls = labels_of(parts.chinese);
  auto value = statistic_of(s, stat);
  auto name = statistic_name(stat);
  if (value.empty()) {
    set_fields(reply, ls, with_extracted, describe(s),
               "The notes give no " + name + " of the list.",
               std::string{ls.no_info}, 0);
    return;
  }
  if (s.whole) {
    set_fields(reply, ls, with_extracted, describe(s),
               "One part held the whole list; its " + name + " is " + value
                 + ".",
               value, 5);
    return;
  }
  if (stat == list_statistic::median) {
    if (with_extracted) {
      // A collapse passes the combined counts on as evidence.
      set_fields(reply, ls, true, describe(s),
                 "No part held the whole list; the combined counts and "
                 "medians are partial evidence.",
                 std::string{ls.no_info}, 0);
      return;
    }
    set_fields(reply, ls, false, describe(s),
               "No part held the whole list, so the median is estimated "
               "from the parts' medians weighted by their counts: about "
                 + value + ".",
               value, 1.5);
    return;
  }
  set_fields(reply, ls, with_extracted, describe(s),
             "The " + name + " of the parts' " + name + " numbers is " + value
               + (covers_all ? ", over all parts." : ", over the parts read."),
             value, covers_all ? 5 : 4);
}

// Combines the records of a collapse or reduce for a statistic of a list.
// Returns false when no record holds a number.
bool combine_numbers(const prompt_parts& parts,
                     const std::vector<reader_record>& records,
                     reader_reply& reply) {
  auto stat = asked_statistic(parts.question);
  if (stat == list_statistic::none)
    return false;
  std::vector<number_summary> xs;
  for (const auto& r : records) {
    auto s = parse_number_summary(r.extracted);
    if (!s && !r.no_information) {
      // A record in other words: its answer's number.
      auto n = first_number(r.answer);
      if (n.empty())
        continue;
      s = number_summary{};
      s->smallest = s->largest = s->median = n;
    }
    if (s)
      xs.push_back(std::move(*s));
  }
  if (xs.empty())
    return false;
  auto reduce = parts.kind == prompt_kind::reduce;
  answer_from_summary(parts, combine(xs), stat, reduce, !reduce, reply);
  return true;
}

void answer_map(const prompt_parts& parts, reader_reply& reply) {
  const auto& ls = labels_of(parts.chinese);
  if (parts.summary) {
    reply.text = digest(parts.chunk, 600);
    reply.answer = reply.text;
    return;
  }
  if (answer_structured(parts, parts.chunk, reply))
    return;
  auto keys = terms_of(parts.question);
  auto sentences = split_sentences(parts.chunk);
  size_t best = sentences.size();
  sentence_score best_score;
  for (size_t i = 0; i < sentences.size(); ++i) {
    auto s = score_sentence(sentences[i], keys);
    auto better = s.matched > best_score.matched
                  || (s.matched == best_score.matched && s.matched > 0
                      && !s.value.empty() && best_score.value.empty());
    if (better) {
      best = i;
      best_score = std::move(s);
    }
  }
  if (best == sentences.size() || keys.size() == 0) {
    reply.confidence = 0;
    reply.answer = std::string{ls.no_info};
    reply.fields
      = {{std::string{ls.extracted},
          parts.chinese ? "本段没有与问题相关的内容。"
                        : "Nothing in this part bears on the question."},
         {std::string{ls.rationale},
          parts.chinese ? "本段未提及问题中的任何关键词。"
                        : "No sentence of this part mentions the question's "
                          "key terms ("
                            + join_terms(keys) + ")."},
         {std::string{ls.answer}, std::string{ls.no_info}},
         {std::string{ls.confidence}, "0"}};
    return;
  }
  auto frac = static_cast<double>(best_score.matched)
              / static_cast<double>(keys.size());
  auto sentence = sentences[best];
  std::string extracted = quote(sentence, parts.chinese);
  // A second sentence that covers at least half the terms adds context.
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i == best)
      continue;
    auto s = score_sentence(sentences[i], keys);
    if (s.matched * 2 >= keys.size() && s.matched > 0) {
      extracted += ' ';
      extracted += quote(sentences[i], parts.chinese);
      break;
    }
  }
  double confidence = 2.5;
  if (frac >= 0.999 && best_score.has_value)
    confidence = 5;
  else if (frac >= 0.5)
    confidence = best_score.has_value ? 3.5 : 3.0;
  std::string answer
    = best_score.value.empty() ? clean_value(sentence) : best_score.value;
  std::string rationale;
  if (parts.chinese)
    rationale = confidence >= 5
                  ? "本段直接写明了问题所问的内容：" + quote(sentence, true)
                  : "本段提到了问题中的部分关键词，但没有直接给出答案。";
  else
    rationale
      = confidence >= 5
          ? "The part states it outright: " + quote(sentence, false) + "."
          : "The part mentions " + std::to_string(best_score.matched)
              + " of the question's " + std::to_string(keys.size())
              + " key terms but does not state the answer outright.";
  reply.confidence = confidence;
  reply.answer = answer;
  reply.fields = {{std::string{ls.extracted}, extracted},
                  {std::string{ls.rationale}, rationale},
                  {std::string{ls.answer}, answer},
                  {std::string{ls.confidence}, format_score(confidence)}};
}

void answer_combine(const prompt_parts& parts, reader_reply& reply) {
  const auto& ls = labels_of(parts.chinese);
  auto reduce = parts.kind == prompt_kind::reduce;
  if (parts.summary) {
    // Each summary record shrinks to its first sentences (collapse) or is
    // kept whole (reduce).
    std::string text;
    std::string block;
    auto flush = [&] {
      auto body = trim(block);
      if (!body.empty()) {
        if (!text.empty())
          text += reduce ? "\n\n" : " ";
        text += reduce ? std::string{body} : digest(body, 400);
      }
      block.clear();
    };
    for (auto line : split_lines(parts.records)) {
      if (is_header(line)) {
        flush();
        continue;
      }
      block += line;
      block += '\n';
    }
    flush();
    reply.text = text;
    reply.answer = text;
    return;
  }
  auto records = parse_records(parts.records, parts.chinese);
  if (combine_numbers(parts, records, reply))
    return;
  // A key lookup's records hold the value or nothing: a record without it
  // is no evidence.
  auto lookup = !asked_key(parts.question).empty();
  // Evidence records (no answer, but extracted facts) are read again as a
  // part of their own: the facts may answer the question once combined.
  for (auto& r : records) {
    if (lookup || !r.no_information || trim(r.extracted).empty())
      continue;
    prompt_parts again;
    again.kind = prompt_kind::map;
    again.question = parts.question;
    again.chunk = r.extracted;
    again.chinese = parts.chinese;
    reader_reply tmp;
    answer_map(again, tmp);
    if (tmp.answer == ls.no_info)
      continue;
    r.no_information = false;
    r.answer = tmp.answer;
    r.confidence = std::max(r.confidence, tmp.confidence);
  }
  std::vector<const reader_record*> informative;
  for (const auto& r : records)
    if (!r.no_information)
      informative.push_back(&r);
  std::stable_sort(informative.begin(), informative.end(),
                   [](const reader_record* x, const reader_record* y) {
                     return x->confidence > y->confidence;
                   });
  if (informative.empty()) {
    reply.confidence = 0;
    reply.answer = std::string{ls.no_info};
    if (!reduce)
      reply.fields.emplace_back(std::string{ls.extracted},
                                parts.chinese
                                  ? "这些笔记没有相关事实。"
                                  : "No note holds relevant facts.");
    reply.fields.emplace_back(std::string{ls.rationale},
                              parts.chinese
                                ? "所有笔记都表示没有相关信息。"
                                : "All " + std::to_string(records.size())
                                    + " notes report no information.");
    reply.fields.emplace_back(std::string{ls.answer}, std::string{ls.no_info});
    reply.fields.emplace_back(std::string{ls.confidence}, "0");
    return;
  }
  const auto& top = *informative.front();
  std::string extracted;
  size_t agree = 0;
  size_t kept = 0;
  for (const auto* r : informative) {
    if (r->confidence + 1.0 < top.confidence || kept == 3)
      break;
    ++kept;
    if (r != &top && clean_value(r->answer) == clean_value(top.answer))
      ++agree;
    if (!r->extracted.empty() && !contains(extracted, r->extracted)) {
      if (!extracted.empty())
        extracted += ' ';
      extracted += r->extracted;
    }
  }
  std::string rationale;
  if (parts.chinese)
    rationale = "综合" + std::to_string(records.size())
                + "条笔记，采信置信度最高（" + format_score(top.confidence)
                + "分）的一条：" + top.rationale;
  else
    rationale
      = "Of " + std::to_string(records.size())
        + " notes, the highest-scored one (score "
        + format_score(top.confidence) + ") gives the answer"
        + (agree > 0 ? " and " + std::to_string(agree) + " other note(s) agree"
                     : std::string{})
        + ". " + top.rationale;
  reply.confidence = top.confidence;
  reply.answer = top.answer;
  if (!reduce)
    reply.fields.emplace_back(std::string{ls.extracted}, extracted);
  reply.fields.emplace_back(std::string{ls.rationale}, rationale);
  reply.fields.emplace_back(std::string{ls.answer}, top.answer);
  reply.fields.emplace_back(std::string{ls.confidence},
                            format_score(top.confidence));
}

// -- the baselines
// -------------------------------------------------------------

// A chain worker: the sentences of the old notes and the new part that bear
// most on the question become the new notes, one per line (no quotes, so the
// next worker reads them as sentences again).
void answer_chain_step(const prompt_parts& parts, reader_reply& reply) {
  // The notes before the first part say nothing yet.
  auto first
    = parts.notes == "Nothing read yet." || parts.notes == "尚未阅读任何内容。";
  auto combined = first ? parts.chunk : parts.notes + "\n" + parts.chunk;
  if (parts.summary) {
    reply.text = digest(combined, 600);
    reply.answer = reply.text;
    return;
  }
  // A key lookup: the pair, once found, is the whole of the notes.
  if (auto key = asked_key(parts.question); !key.empty()) {
    auto hit = look_up_key(combined, key);
    if (hit.found || hit.key_seen || looks_like_pairs(parts.chunk)) {
      reply.text = hit.found ? hit.pair : "Nothing relevant so far.";
      reply.answer = reply.text;
      return;
    }
  }
  // A statistic of a list: a running summary of the numbers read so far.
  if (asked_statistic(parts.question) != list_statistic::none) {
    std::vector<number_summary> xs;
    if (!first)
      if (auto s = parse_number_summary(parts.notes))
        xs.push_back(std::move(*s));
    if (auto s = summarise_numbers(parts.chunk))
      xs.push_back(std::move(*s));
    if (!xs.empty()) {
      reply.text = describe(combine(xs));
      reply.answer = reply.text;
      return;
    }
  }
  auto keys = terms_of(parts.question);
  auto sentences = split_sentences(combined);
  size_t best = sentences.size();
  sentence_score best_score;
  for (size_t i = 0; i < sentences.size(); ++i) {
    auto sc = score_sentence(sentences[i], keys);
    auto better = sc.matched > best_score.matched
                  || (sc.matched == best_score.matched && sc.matched > 0
                      && !sc.value.empty() && best_score.value.empty());
    if (better) {
      best = i;
      best_score = std::move(sc);
    }
  }
  if (best == sentences.size() || keys.size() == 0) {
    reply.text
      = parts.chinese ? "至今无相关信息。" : "Nothing relevant so far.";
    reply.answer = reply.text;
    return;
  }
  std::string notes{sentences[best]};
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i == best)
      continue;
    auto sc = score_sentence(sentences[i], keys);
    if (sc.matched * 2 >= keys.size() && sc.matched > 0) {
      notes += '\n';
      notes += sentences[i];
      break;
    }
  }
  reply.text = notes;
  reply.answer = notes;
}

// The chain manager and the direct call: read the notes (or the document)
// as the map policy reads a part, and answer in the reduce's three fields.
void answer_final(const prompt_parts& parts, reader_reply& reply) {
  auto text = parts.kind == prompt_kind::direct ? parts.chunk : parts.notes;
  if (parts.summary) {
    reply.text = parts.kind == prompt_kind::direct ? digest(text, 600) : text;
    reply.answer = reply.text;
    return;
  }
  // A statistic of a list: the chain's notes are a running summary, the
  // direct document a list (cut in the middle when it was too long).
  if (auto stat = asked_statistic(parts.question);
      stat != list_statistic::none) {
    auto chain = parts.kind == prompt_kind::chain_answer;
    auto s = chain ? parse_number_summary(text) : summarise_numbers(text);
    if (s) {
      answer_from_summary(parts, *s, stat, chain, false, reply);
      return;
    }
  }
  prompt_parts again;
  again.kind = prompt_kind::map;
  again.question = parts.question;
  again.chunk = std::move(text);
  again.chinese = parts.chinese;
  reader_reply tmp;
  answer_map(again, tmp);
  reply.confidence = tmp.confidence;
  reply.answer = tmp.answer;
  // The reduce's fields: Rationale, Answer, Confidence score.
  for (auto& field : tmp.fields)
    if (field.first != labels_of(parts.chinese).extracted)
      reply.fields.push_back(std::move(field));
}

void answer_unknown(const std::vector<std::string>& messages,
                    reader_reply& reply) {
  std::string_view last
    = messages.empty() ? std::string_view{} : std::string_view{messages.back()};
  last = trim(last);
  // Echo the first words of the last message, deterministic and short.
  std::string echo;
  size_t words = 0;
  for (size_t i = 0; i < last.size() && words < 24; ++i) {
    auto c = last[i];
    if (is_space(c)) {
      if (!echo.empty() && echo.back() != ' ') {
        echo += ' ';
        ++words;
      }
    } else {
      echo += c;
    }
  }
  // Never cut a UTF-8 character: `last` is only cut at spaces above.
  echo = std::string{trim(echo)};
  reply.text = echo.empty() ? "Hello from llmmr-sim." : "Echo: " + echo;
  reply.answer = reply.text;
}

} // namespace

std::string_view to_string(prompt_kind x) noexcept {
  switch (x) {
  case prompt_kind::map:
    return "map";
  case prompt_kind::collapse:
    return "collapse";
  case prompt_kind::reduce:
    return "reduce";
  case prompt_kind::chain_step:
    return "chain_step";
  case prompt_kind::chain_answer:
    return "chain_answer";
  case prompt_kind::direct:
    return "direct";
  case prompt_kind::unknown:
    return "unknown";
  }
  return "unknown";
}

prompt_parts classify_prompt(std::string_view prompt) {
  for (const auto& tpl : known_templates()) {
    std::map<std::string, std::string> vars;
    if (!match_template(tpl.segs, prompt, vars))
      continue;
    prompt_parts parts;
    parts.kind = tpl.kind;
    parts.profile = tpl.profile;
    parts.question = std::string{trim(vars["question"])};
    // A question with a blank line in it ends at that line when the
    // template puts a blank line between `{question}` and `{rubric}`: give
    // the question back what precedes the built-in rubric.
    if (auto rubric = vars.find("rubric"); rubric != vars.end()) {
      auto builtin = builtin_rubric(tpl.profile);
      auto at
        = builtin.empty() ? std::string::npos : rubric->second.find(builtin);
      if (at != std::string::npos && at > 0)
        parts.question
          += "\n\n" + std::string{trim(rubric->second.substr(0, at))};
    }
    parts.chunk
      = tpl.kind == prompt_kind::direct ? vars["document"] : vars["chunk"];
    parts.notes = std::string{trim(vars["notes"])};
    parts.records = vars["records"];
    parts.chinese = tpl.profile == "qa_zh";
    parts.summary = tpl.profile == "summary";
    return parts;
  }
  return classify_by_markers(prompt);
}

std::vector<reader_record> parse_records(std::string_view text, bool) {
  std::vector<reader_record> result;
  reader_record current;
  bool open = false; // a record is being filled
  int field = -1;    // the field that continuation lines extend
  auto close = [&] {
    if (open) {
      current.no_information = is_no_info(current.answer);
      result.push_back(std::move(current));
    }
    current = reader_record{};
    open = false;
    field = -1;
  };
  for (auto line : split_lines(text)) {
    if (is_header(line)) {
      close();
      open = true;
      continue;
    }
    std::string_view rest;
    auto f = field_of(line, rest);
    if (f >= 0) {
      open = true;
      std::string* target[]
        = {&current.extracted, &current.rationale, &current.answer, nullptr};
      if (f == 3) {
        current.confidence = parse_score(rest);
        field = -1; // nothing continues a score
      } else {
        *target[f] = std::string{rest};
        field = f;
      }
      continue;
    }
    if (field >= 0 && !trim(line).empty()) {
      std::string* target[]
        = {&current.extracted, &current.rationale, &current.answer};
      auto& value = *target[field];
      if (!value.empty())
        value += '\n';
      value += trim(line);
    }
  }
  close();
  return result;
}

reader_reply answer_prompt(const std::vector<std::string>& messages) {
  reader_reply reply;
  // The rendered prompt is usually one message; try each (last first), then
  // all of them together.
  for (auto i = messages.rbegin(); i != messages.rend(); ++i) {
    reply.parts = classify_prompt(*i);
    if (reply.parts.kind != prompt_kind::unknown)
      break;
  }
  if (reply.parts.kind == prompt_kind::unknown && messages.size() > 1) {
    std::string all;
    for (const auto& m : messages) {
      if (!all.empty())
        all += "\n\n";
      all += m;
    }
    reply.parts = classify_prompt(all);
  }
  switch (reply.parts.kind) {
  case prompt_kind::map:
    answer_map(reply.parts, reply);
    break;
  case prompt_kind::collapse:
  case prompt_kind::reduce:
    answer_combine(reply.parts, reply);
    break;
  case prompt_kind::chain_step:
    answer_chain_step(reply.parts, reply);
    break;
  case prompt_kind::chain_answer:
  case prompt_kind::direct:
    answer_final(reply.parts, reply);
    break;
  case prompt_kind::unknown:
    answer_unknown(messages, reply);
    break;
  }
  if (!reply.fields.empty())
    reply.text = render_fields(reply.fields, reply.parts.chinese);
  return reply;
}

reader_reply answer_prompt(std::string_view prompt) {
  return answer_prompt(std::vector<std::string>{std::string{prompt}});
}

} // namespace llmmr::sim

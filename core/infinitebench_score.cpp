// The InfiniteBench scoring rules, written from their description in the
// benchmark's scorer; see infinitebench_score.hpp for the rules.

#include "llmmr/core/infinitebench_score.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/python_text.hpp"
#include "llmmr/core/rouge.hpp"

namespace llmmr {

namespace {

namespace py = python_text;

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// Python's `string.punctuation`: the ASCII punctuation and symbols.
bool is_ascii_punct(char32_t c) noexcept {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@')
         || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

std::vector<std::string> split_words(std::string_view s) {
  return py::split(s);
}

std::string_view strip(std::string_view s) {
  return py::strip(s);
}

std::string replace_chars(std::string_view s, std::string_view chars) {
  std::string out{s};
  for (auto& c : out)
    if (chars.find(c) != std::string_view::npos)
      c = ' ';
  return out;
}

/// Replaces every `from` in `s` by a blank.
void blank_out(std::string& s, std::string_view from) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (std::string_view{s}.substr(i, from.size()) == from) {
      out += ' ';
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  s = std::move(out);
}

void squeeze_blanks(std::string& s) {
  for (size_t pos = s.find("  "); pos != std::string::npos;
       pos = s.find("  ", pos))
    s.erase(pos, 1);
}

/// The runs of ASCII digits of `s` (Python's `re.split("[^0-9]", s)`
/// without the empty pieces).
std::vector<std::string> digit_runs(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_digit(s[i])) {
      ++i;
      continue;
    }
    size_t b = i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
    out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

const std::string& first_truth(const std::vector<std::string>& truth) {
  static const std::string none;
  return truth.empty() ? none : truth.front();
}

bool contains(const std::vector<std::string>& xs, std::string_view x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

// -- official rules -----------------------------------------------------------

double passkey_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto runs = digit_runs(pred);
  auto first = runs.empty() ? std::string{} : runs.front();
  return first == first_truth(t) ? 1 : 0;
}

constexpr std::string_view retrieval_blanks = "\n:\"'.,?!{}";

double kv_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto words = split_words(replace_chars(pred, retrieval_blanks));
  return contains(words, first_truth(t)) ? 1 : 0;
}

double dialogue_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto words = split_words(replace_chars(strip(pred), retrieval_blanks));
  for (auto& w : words)
    w = py::encode(py::upper(py::decode(w)));
  return contains(words, first_truth(t)) ? 1 : 0;
}

/// The first `\d+\.\d+|\d+` of `s`.
std::optional<std::string> first_number(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_digit(s[i]))
      continue;
    size_t e = i;
    while (e < s.size() && is_digit(s[e]))
      ++e;
    if (e + 1 < s.size() && s[e] == '.' && is_digit(s[e + 1])) {
      ++e;
      while (e < s.size() && is_digit(s[e]))
        ++e;
    }
    return std::string{s.substr(i, e - i)};
  }
  return std::nullopt;
}

double math_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto label = first_truth(t);
  auto num = first_number(pred);
  if (!num || label.empty())
    return 0;
  bool integral_label = label.find_first_of(".eE") == std::string::npos;
  if (integral_label) {
    // The reference converts the match with int(), which rejects "3.5".
    if (num->find('.') != std::string::npos)
      return 0;
    return std::strtoll(num->c_str(), nullptr, 10)
               == std::strtoll(label.c_str(), nullptr, 10)
             ? 1
             : 0;
  }
  return std::strtod(num->c_str(), nullptr)
             == std::strtod(label.c_str(), nullptr)
           ? 1
           : 0;
}

/// What an answer prefix decided: no prefix found, or found and the text
/// after it does not or does start with an accepted answer.
enum class prefix_outcome { none, miss, hit };

/// Looks for the first of `prefixes` in `pred`; when found, whether the
/// text after it (minus one character) starts with one of `starts`.
prefix_outcome prefix_rule(std::string_view pred,
                           std::initializer_list<std::string_view> prefixes,
                           const std::vector<std::string>& starts) {
  for (auto prefix : prefixes) {
    auto idx = pred.find(prefix);
    if (idx == std::string_view::npos)
      continue;
    if (pred.size() < idx + prefix.size() + 1)
      return prefix_outcome::miss;
    auto after = pred.substr(idx + prefix.size() + 1);
    for (auto& s : starts)
      if (after.starts_with(s))
        return prefix_outcome::hit;
    return prefix_outcome::miss;
  }
  return prefix_outcome::none;
}

double choice_rule(std::string_view raw, const std::vector<std::string>& t,
                   std::initializer_list<std::string_view> prefixes) {
  auto pred = std::string{strip(raw)};
  if (pred.empty())
    return 0;
  if (std::string_view{"ABCD"}.find(pred[0]) != std::string_view::npos)
    return contains(t, std::string(1, pred[0])) ? 1 : 0;
  if (contains(t, pred))
    return 1;
  pred = replace_chars(pred, "\n\"'.,?!{}");
  squeeze_blanks(pred);
  switch (prefix_rule(pred, prefixes, t)) {
  case prefix_outcome::hit:
    return 1;
  case prefix_outcome::miss:
    return 0;
  case prefix_outcome::none:
    break;
  }
  // `word in "ABCD"` in the reference: a piece of the string "ABCD".
  for (auto& word : split_words(pred))
    if (std::string_view{"ABCD"}.find(word) != std::string_view::npos)
      return contains(t, word) ? 1 : 0;
  return 0;
}

/// Code.Debug's blanking: quotes, dashes, stars, new lines and the word
/// "option" become blanks, runs of blanks one.
std::string code_debug_blanked(std::string_view pred) {
  auto out = replace_chars(pred, "\n`'\"-*");
  blank_out(out, "Option");
  blank_out(out, "option");
  squeeze_blanks(out);
  return out;
}

double code_debug_rule(std::string_view raw,
                       const std::vector<std::string>& t) {
  if (t.size() < 2)
    return 0;
  auto pred = std::string{strip(raw)};
  const auto& letter = t[1];
  auto head = pred.substr(0, 2);
  if (head == letter + "." || head == letter + ":")
    return 1;
  pred = code_debug_blanked(pred);
  return prefix_rule(pred,
                     {"answer is:", "is:", "answer:", "correct option is:"},
                     {letter, t[0]})
             == prefix_outcome::hit
           ? 1
           : 0;
}

/// SQuAD's answer normalisation as the benchmark writes it: lower case, no
/// ASCII punctuation, the words "a", "an", "the" (bounded as by `\b`) gone,
/// split at white space.
std::vector<std::string> normalised_tokens(std::string_view s) {
  std::u32string text;
  for (auto c : py::lower(py::decode(s)))
    if (!is_ascii_punct(c))
      text += c;
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    if (!py::is_word_char(text[i])) {
      out += text[i++];
      continue;
    }
    size_t b = i;
    while (i < text.size() && py::is_word_char(text[i]))
      ++i;
    auto word = std::u32string_view{text}.substr(b, i - b);
    if (word == U"a" || word == U"an" || word == U"the")
      out += U' ';
    else
      out += word;
  }
  return split_words(py::encode(out));
}

template <class T>
double f1_of(const std::vector<T>& pred, const std::vector<T>& truth) {
  std::map<T, int> counts;
  for (auto& w : truth)
    ++counts[w];
  int common = 0;
  for (auto& w : pred) {
    auto i = counts.find(w);
    if (i != counts.end() && i->second > 0) {
      --i->second;
      ++common;
    }
  }
  if (common == 0)
    return 0;
  double precision = static_cast<double>(common) / pred.size();
  double recall = static_cast<double>(common) / truth.size();
  return 2 * precision * recall / (precision + recall);
}

double qa_f1_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto p = normalised_tokens(pred);
  double best = 0;
  for (auto& truth : t)
    best = std::max(best, f1_of(p, normalised_tokens(truth)));
  return best;
}

/// The Chinese punctuation the benchmark removes besides ASCII's (its
/// list, which has "》" but not "《").
constexpr std::u32string_view zh_punctuation
  = U"！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､"
    U"、〃》"
    U"「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.";

bool is_punctuation_zh(char32_t c) noexcept {
  return is_ascii_punct(c)
         || zh_punctuation.find(c) != std::u32string_view::npos;
}

std::vector<char32_t> zh_characters(std::string_view s) {
  std::vector<char32_t> out;
  for (auto c : py::lower(py::decode(s)))
    if (!is_punctuation_zh(c) && !py::is_space(c))
      out.push_back(c);
  return out;
}

double qa_f1_zh_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto p = zh_characters(pred);
  double best = 0;
  for (auto& truth : t)
    best = std::max(best, f1_of(p, zh_characters(truth)));
  return best;
}

double summary_rule(std::string_view pred, const std::vector<std::string>& t) {
  double best = 0;
  for (auto& truth : t)
    best = std::max(best, rouge_lsum(truth, pred).fmeasure);
  return best;
}

// -- LLM×MapReduce's changes --------------------------------------------------

/// Python's `re.search(r"\b[first-last]\b(?!.*\b[first-last]\b)", s)`: as
/// `.` stops at a new line, the last standalone letter of the first line
/// that has one.
std::optional<char> last_letter_of_first_line(std::string_view s, char first,
                                              char last) {
  auto text = py::decode(s);
  std::optional<char> found;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == U'\n') {
      if (found)
        return found;
      continue;
    }
    if (text[i] < static_cast<char32_t>(first)
        || text[i] > static_cast<char32_t>(last))
      continue;
    bool left = i == 0 || !py::is_word_char(text[i - 1]);
    bool right = i + 1 == text.size() || !py::is_word_char(text[i + 1]);
    if (left && right)
      found = static_cast<char>(text[i]);
  }
  return found;
}

double modified_code_debug_rule(std::string_view raw,
                                const std::vector<std::string>& t) {
  if (t.size() < 2)
    return 0;
  auto pred = std::string{strip(raw)};
  const auto& letter = t[1];
  if (auto x = last_letter_of_first_line(pred, 'A', 'J');
      x && std::string(1, *x) == letter)
    return 1;
  pred = code_debug_blanked(pred);
  if (pred.starts_with(letter) || pred.starts_with(t[0]))
    return 1;
  return prefix_rule(pred, {"answer is:", "Answer:", "is:", "answer:"},
                     {letter, t[0]})
             == prefix_outcome::hit
           ? 1
           : 0;
}

double modified_choice_rule(std::string_view raw,
                            const std::vector<std::string>& t) {
  if (auto x = last_letter_of_first_line(strip(raw), 'A', 'D');
      x && contains(t, std::string(1, *x)))
    return 1;
  return choice_rule(
    raw, t, {"Answer:", "answer is:", "answer:", "answer is", "option is"});
}

double modified_dialogue_rule(std::string_view raw,
                              const std::vector<std::string>& t) {
  auto pred = py::encode(py::upper(py::decode(strip(raw))));
  for (auto& name : t)
    if (pred.find(py::encode(py::upper(py::decode(name)))) != std::string::npos)
      return 1;
  return 0;
}

} // namespace

std::string to_string(infinitebench_task x) {
  switch (x) {
  case infinitebench_task::passkey:
    return "passkey";
  case infinitebench_task::number_string:
    return "number_string";
  case infinitebench_task::kv_retrieval:
    return "kv_retrieval";
  case infinitebench_task::longbook_choice_eng:
    return "longbook_choice_eng";
  case infinitebench_task::code_debug:
    return "code_debug";
  case infinitebench_task::math_find:
    return "math_find";
  case infinitebench_task::longbook_qa_eng:
    return "longbook_qa_eng";
  case infinitebench_task::longbook_qa_chn:
    return "longbook_qa_chn";
  case infinitebench_task::longdialogue_qa_eng:
    return "longdialogue_qa_eng";
  case infinitebench_task::longbook_sum_eng:
    return "longbook_sum_eng";
  }
  return "passkey";
}

bool from_string(std::string_view name, infinitebench_task& x) {
  for (auto t : infinitebench_tasks)
    if (to_string(t) == name) {
      x = t;
      return true;
    }
  return false;
}

std::string infinitebench_task_names() {
  std::string out;
  for (auto t : infinitebench_tasks) {
    if (!out.empty())
      out += ", ";
    out += to_string(t);
  }
  return out;
}

std::string_view table_name(infinitebench_task x) noexcept {
  switch (x) {
  case infinitebench_task::passkey:
    return "PassKey";
  case infinitebench_task::number_string:
    return "Number";
  case infinitebench_task::kv_retrieval:
    return "KV";
  case infinitebench_task::longbook_choice_eng:
    return "En.MC";
  case infinitebench_task::code_debug:
    return "Code.Debug";
  case infinitebench_task::math_find:
    return "Math.Find";
  case infinitebench_task::longbook_qa_eng:
    return "En.QA";
  case infinitebench_task::longbook_qa_chn:
    return "Zh.QA";
  case infinitebench_task::longdialogue_qa_eng:
    return "En.Dia";
  case infinitebench_task::longbook_sum_eng:
    return "En.Sum";
  }
  return "?";
}

task_profile profile_of(infinitebench_task x) noexcept {
  switch (x) {
  case infinitebench_task::passkey:
  case infinitebench_task::number_string:
  case infinitebench_task::kv_retrieval:
    return task_profile::retrieval;
  case infinitebench_task::code_debug:
    return task_profile::code;
  case infinitebench_task::math_find:
    return task_profile::math;
  case infinitebench_task::longbook_qa_chn:
    return task_profile::qa_zh;
  case infinitebench_task::longbook_sum_eng:
    return task_profile::summary;
  default:
    return task_profile::qa;
  }
}

answer_kind answer_kind_of(infinitebench_task x) noexcept {
  switch (x) {
  case infinitebench_task::longbook_choice_eng:
  case infinitebench_task::code_debug:
    return answer_kind::choice;
  default:
    return default_answer_kind(profile_of(x));
  }
}

std::string to_string(infinitebench_scorer x) {
  switch (x) {
  case infinitebench_scorer::official:
    return "official";
  case infinitebench_scorer::llmxmapreduce:
    return "llmxmapreduce";
  }
  return "official";
}

bool from_string(std::string_view name, infinitebench_scorer& x) {
  for (auto s :
       {infinitebench_scorer::official, infinitebench_scorer::llmxmapreduce})
    if (to_string(s) == name) {
      x = s;
      return true;
    }
  return false;
}

std::string infinitebench_scorer_names() {
  return "official|llmxmapreduce";
}

std::optional<double> official_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth) {
  switch (task) {
  case infinitebench_task::passkey:
  case infinitebench_task::number_string:
    return passkey_rule(prediction, truth);
  case infinitebench_task::kv_retrieval:
    return kv_rule(prediction, truth);
  case infinitebench_task::longdialogue_qa_eng:
    return dialogue_rule(prediction, truth);
  case infinitebench_task::math_find:
    return math_rule(prediction, truth);
  case infinitebench_task::longbook_choice_eng:
    return choice_rule(prediction, truth,
                       {"answer is:", "answer:", "answer is", "option is"});
  case infinitebench_task::code_debug:
    return code_debug_rule(prediction, truth);
  case infinitebench_task::longbook_qa_eng:
    return qa_f1_rule(prediction, truth);
  case infinitebench_task::longbook_qa_chn:
    return qa_f1_zh_rule(prediction, truth);
  case infinitebench_task::longbook_sum_eng:
    return summary_rule(prediction, truth);
  }
  return std::nullopt;
}

std::optional<double> modified_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth) {
  switch (task) {
  case infinitebench_task::passkey:
  case infinitebench_task::number_string:
    return contains(digit_runs(prediction), first_truth(truth)) ? 1 : 0;
  case infinitebench_task::code_debug:
    return modified_code_debug_rule(prediction, truth);
  case infinitebench_task::longbook_choice_eng:
    return modified_choice_rule(prediction, truth);
  case infinitebench_task::longdialogue_qa_eng:
    return modified_dialogue_rule(prediction, truth);
  default:
    return official_score(task, prediction, truth);
  }
}

std::optional<double> score_prediction(infinitebench_task task,
                                       infinitebench_scorer scorer,
                                       std::string_view prediction,
                                       const std::vector<std::string>& truth) {
  return scorer == infinitebench_scorer::official
           ? official_score(task, prediction, truth)
           : modified_score(task, prediction, truth);
}

infinitebench_file_score
score_predictions(infinitebench_task task, infinitebench_scorer scorer,
                  const std::vector<infinitebench_prediction>& preds) {
  infinitebench_file_score out;
  out.task = task;
  out.scorer = scorer;
  out.lines = preds.size();
  out.per_line.reserve(preds.size());
  double sum = 0;
  for (auto& p : preds) {
    auto x = score_prediction(task, scorer, p.prediction, p.truth).value_or(0);
    out.per_line.push_back(x);
    sum += x;
  }
  if (!preds.empty())
    out.percent = 100 * sum / static_cast<double>(preds.size());
  return out;
}

double round_percent(double percent) noexcept {
  return std::round(percent * 100) / 100;
}

} // namespace llmmr

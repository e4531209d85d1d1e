// The InfiniteBench scoring rules, written from their description in the
// benchmark's scorer; see infinitebench_score.hpp for the rules.

#include "llmmr/core/infinitebench_score.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// Python's `str.split()` for ASCII white space.
std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && ascii::is_space(s[i]))
      ++i;
    size_t b = i;
    while (i < s.size() && !ascii::is_space(s[i]))
      ++i;
    if (i > b)
      out.emplace_back(s.substr(b, i - b));
  }
  return out;
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

std::string_view strip(std::string_view s) {
  return ascii::trim(s);
}

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

double passkey_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto runs = digit_runs(pred);
  auto first = runs.empty() ? std::string{} : runs.front();
  return first == first_truth(t) ? 1 : 0;
}

double kv_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto words = split_words(replace_chars(pred, "\n:\"'.,?!{}"));
  return contains(words, first_truth(t)) ? 1 : 0;
}

double dialogue_rule(std::string_view pred, const std::vector<std::string>& t) {
  auto text = replace_chars(strip(pred), "\n:\"'.,?!{}");
  for (auto& c : text)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return contains(split_words(text), first_truth(t)) ? 1 : 0;
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

double choice_rule(std::string_view raw, const std::vector<std::string>& t) {
  auto pred = std::string{strip(raw)};
  if (pred.empty())
    return 0;
  if (std::string_view{"ABCD"}.find(pred[0]) != std::string_view::npos)
    return contains(t, std::string(1, pred[0])) ? 1 : 0;
  if (contains(t, pred))
    return 1;
  pred = replace_chars(pred, "\n\"'.,?!{}");
  squeeze_blanks(pred);
  for (std::string_view prefix :
       {"answer is:", "answer:", "answer is", "option is"}) {
    auto idx = pred.find(prefix);
    if (idx == std::string::npos)
      continue;
    if (pred.size() < idx + prefix.size() + 1)
      return 0;
    auto after = std::string_view{pred}.substr(idx + prefix.size() + 1);
    for (auto& s : t)
      if (after.starts_with(s))
        return 1;
    return 0;
  }
  for (auto& word : split_words(pred))
    if (std::string_view{"ABCD"}.find(word) != std::string_view::npos)
      return contains(t, word) ? 1 : 0;
  return 0;
}

double code_debug_rule(std::string_view raw,
                       const std::vector<std::string>& t) {
  if (t.size() < 2)
    return 0;
  auto pred = std::string{strip(raw)};
  const auto& fn_name = t[0];
  const auto& letter = t[1];
  auto head = pred.substr(0, 2);
  if (head == letter + "." || head == letter + ":")
    return 1;
  pred = replace_chars(pred, "\n`'\"-*");
  blank_out(pred, "Option");
  blank_out(pred, "option");
  squeeze_blanks(pred);
  for (std::string_view prefix :
       {"answer is:", "is:", "answer:", "correct option is:"}) {
    auto idx = pred.find(prefix);
    if (idx == std::string::npos)
      continue;
    if (pred.size() < idx + prefix.size() + 1)
      return 0;
    auto after = std::string_view{pred}.substr(idx + prefix.size() + 1);
    return after.starts_with(letter) || after.starts_with(fn_name) ? 1 : 0;
  }
  return 0;
}

/// SQuAD's answer normalisation: lower case, no ASCII punctuation, no
/// articles, single blanks; returns the tokens.
std::vector<std::string> normalised_tokens(std::string_view s) {
  std::string text;
  for (char c : s) {
    if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@')
        || (c >= '[' && c <= '`') || (c >= '{' && c <= '~'))
      continue;
    text += ascii::to_lower(c);
  }
  std::vector<std::string> out;
  for (auto& w : split_words(text))
    if (w != "a" && w != "an" && w != "the")
      out.push_back(w);
  return out;
}

double token_f1(const std::vector<std::string>& pred,
                const std::vector<std::string>& truth) {
  std::map<std::string, int> counts;
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
    best = std::max(best, token_f1(p, normalised_tokens(truth)));
  return best;
}

bool is_word_char(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

/// The last A-D standing alone as a word.
std::optional<char> last_option_letter(std::string_view s) {
  std::optional<char> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < 'A' || s[i] > 'D')
      continue;
    bool left = i == 0 || !is_word_char(s[i - 1]);
    bool right = i + 1 == s.size() || !is_word_char(s[i + 1]);
    if (left && right)
      out = s[i];
  }
  return out;
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
    return choice_rule(prediction, truth);
  case infinitebench_task::code_debug:
    return code_debug_rule(prediction, truth);
  case infinitebench_task::longbook_qa_eng:
    return qa_f1_rule(prediction, truth);
  default:
    return std::nullopt;
  }
}

std::optional<double> modified_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth) {
  switch (task) {
  case infinitebench_task::passkey:
  case infinitebench_task::number_string:
    return contains(digit_runs(prediction), first_truth(truth)) ? 1 : 0;
  case infinitebench_task::code_debug: {
    auto letter = last_option_letter(prediction);
    return truth.size() >= 2 && letter && truth[1] == std::string(1, *letter)
             ? 1
             : 0;
  }
  default:
    return official_score(task, prediction, truth);
  }
}

} // namespace llmmr

// Reading InfiniteBench data lines and turning an example into the question
// a job asks. The instructions are written for llmmr; they follow what the
// LLM×MapReduce reference asked per task (docs/evaluation.md).

#include "llmmr/core/infinitebench_example.hpp"

#include <algorithm>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

bool is_choice_task(infinitebench_task task) noexcept {
  return task == infinitebench_task::longbook_choice_eng
         || task == infinitebench_task::code_debug;
}

std::string answer_text(const nlohmann::json& x) {
  return x.is_string() ? x.get<std::string>() : x.dump();
}

/// The options under their letters, one a line.
std::string lettered_options(const std::vector<std::string>& options) {
  std::string out;
  for (size_t i = 0; i < options.size(); ++i) {
    out += static_cast<char>('A' + i);
    out += ". ";
    out += options[i];
    out += '\n';
  }
  return out;
}

/// The letters of `n` options in words, e.g. "A, B, C or D".
std::string letter_list(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0)
      out += i + 1 == n ? " or " : ", ";
    out += static_cast<char>('A' + i);
  }
  return out;
}

/// Math.Find's input ends in a sentence such as "The largest number of the
/// list is:". Returns what is sought ("largest number"), or empty.
std::string math_target(std::string_view input) {
  auto lower = std::string{input};
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  for (size_t pos = lower.find("the "); pos != std::string::npos;
       pos = lower.find("the ", pos + 1)) {
    if (pos > 0 && lower[pos - 1] != ' ' && lower[pos - 1] != '.'
        && lower[pos - 1] != '\n')
      continue;
    auto end = lower.find(" of ", pos + 4);
    auto stop = lower.find_first_of(".\n", pos + 4);
    if (end != std::string::npos && (stop == std::string::npos || end < stop))
      return lower.substr(pos + 4, end - pos - 4);
  }
  return {};
}

} // namespace

std::string to_jsonl_line(const infinitebench_example& x) {
  nlohmann::ordered_json doc;
  doc["id"] = x.id;
  doc["context"] = x.context;
  doc["input"] = x.input;
  doc["answer"] = x.answer;
  doc["options"] = x.options;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

expected<infinitebench_example>
parse_infinitebench_example(std::string_view line, std::string_view where) {
  auto fail = [&](std::string what) {
    return make_error(error_kind::input, std::string{where} + ": " + what);
  };
  auto doc = nlohmann::json::parse(line, nullptr, false);
  if (doc.is_discarded())
    return fail("not valid JSON");
  if (!doc.is_object())
    return fail("not a JSON object");
  infinitebench_example x;
  auto id = doc.find("id");
  if (id == doc.end() || !(id->is_number_integer() || id->is_string()))
    return fail("no field 'id' (a number or a string)");
  x.id = *id;
  for (auto [name, out] :
       {std::pair{"context", &x.context}, std::pair{"input", &x.input}}) {
    auto field = doc.find(name);
    if (field == doc.end() || !field->is_string())
      return fail(std::string{"no string field '"} + name + "'");
    *out = field->get<std::string>();
  }
  auto answer = doc.find("answer");
  if (answer == doc.end())
    return fail("no field 'answer'");
  auto usable
    = [](const nlohmann::json& a) { return a.is_string() || a.is_number(); };
  if (answer->is_array()) {
    for (auto& a : *answer) {
      if (!usable(a))
        return fail("'answer' holds something that is neither a string nor "
                    "a number");
      x.answer.push_back(a);
    }
  } else if (usable(*answer)) {
    x.answer.push_back(*answer);
  } else {
    return fail("'answer' is neither a list, a string nor a number");
  }
  if (x.answer.empty())
    return fail("'answer' is an empty list");
  if (auto options = doc.find("options"); options != doc.end()) {
    if (!options->is_array())
      return fail("'options' is not a list");
    for (auto& o : *options) {
      if (!o.is_string())
        return fail("'options' holds something that is not a string");
      x.options.push_back(o.get<std::string>());
    }
  }
  if (x.options.size() > 26)
    return fail("more than 26 options");
  return x;
}

std::vector<std::string> ground_truth_of(infinitebench_task task,
                                         const infinitebench_example& x) {
  std::vector<std::string> out;
  for (auto& a : x.answer)
    out.push_back(answer_text(a));
  if (is_choice_task(task) && !out.empty()) {
    auto it = std::find(x.options.begin(), x.options.end(), out.front());
    if (it != x.options.end()) {
      auto letter = static_cast<char>('A' + (it - x.options.begin()));
      return {out.front(), std::string(1, letter)};
    }
  }
  return out;
}

nlohmann::json ground_truth_json(infinitebench_task task,
                                 const infinitebench_example& x) {
  if (is_choice_task(task))
    return ground_truth_of(task, x);
  return x.answer;
}

std::string build_question(infinitebench_task task,
                           const infinitebench_example& x) {
  using t = infinitebench_task;
  const auto& in = x.input;
  switch (task) {
  case t::passkey:
  case t::number_string:
    return in;
  case t::kv_retrieval:
    return "Find the value that belongs to the given key in the JSON "
           "object.\n\n"
           + in;
  case t::longbook_choice_eng:
    return "Answer the question about the book.\n\nQuestion: " + in
           + "\n\nExactly one of these options is right; answer with its "
             "letter ("
           + letter_list(x.options.size()) + ") alone.\n"
           + lettered_options(x.options);
  case t::code_debug:
    return "Exactly one function in this code base was changed to contain "
           "an obvious, deliberate mistake. Which of the options below is "
           "it?\n"
           + lettered_options(x.options)
           + "\nFind each option's function in the code, read it, and "
             "answer with the letter ("
           + letter_list(x.options.size()) + ") of the faulty one.";
  case t::math_find: {
    auto target = math_target(in);
    if (target.empty())
      return in;
    return "What is the " + target + " in the list below?\n\n" + in;
  }
  case t::longbook_qa_eng:
    return "Answer the question about the book as briefly as you "
           "can.\n\nQuestion: "
           + in;
  case t::longbook_qa_chn:
    return "请尽量简短地回答下面关于这本书的问题。\n\n问题：" + in;
  case t::longdialogue_qa_eng: {
    std::string q = "In the script, one occurrence of a character's name "
                    "was replaced by \"$$MASK$$\". Which character is "
                    "\"$$MASK$$\"? Answer with that character's name "
                    "exactly as the script writes it before the colon, and "
                    "nothing else.";
    if (!in.empty())
      q += "\n\n" + in;
    return q;
  }
  case t::longbook_sum_eng:
    return in.empty() ? std::string{"Summarise the book."} : in;
  }
  return in;
}

std::string id_key(const nlohmann::json& x) {
  return x.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace llmmr

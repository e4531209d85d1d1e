#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// The tasks of the InfiniteBench benchmark (method.md section 8), named as
/// in its data and prediction files (`preds_<name>.jsonl`).
enum class infinitebench_task : uint8_t {
  /// PassKey: a five-digit key hidden in filler text.
  passkey,
  /// Number: a ten-digit sequence hidden in filler text.
  number_string,
  /// KV: the value of one key in a large JSON object.
  kv_retrieval,
  /// En.MC: multiple choice over an English novel.
  longbook_choice_eng,
  /// Code.Debug: which of four functions has the deliberate error.
  code_debug,
  /// Math.Find: the largest, smallest or median number of a list.
  math_find,
  /// En.QA: free-form questions over an English novel.
  longbook_qa_eng,
  /// Zh.QA: free-form questions over a Chinese novel.
  longbook_qa_chn,
  /// En.Dia: which character a masked name in a script stands for.
  longdialogue_qa_eng,
  /// En.Sum: a summary of an English novel.
  longbook_sum_eng,
};

/// Every InfiniteBench task, in the order of the benchmark's tables.
inline constexpr std::array<infinitebench_task, 10> infinitebench_tasks{
  infinitebench_task::passkey,
  infinitebench_task::number_string,
  infinitebench_task::kv_retrieval,
  infinitebench_task::longbook_sum_eng,
  infinitebench_task::longbook_qa_eng,
  infinitebench_task::longbook_choice_eng,
  infinitebench_task::longdialogue_qa_eng,
  infinitebench_task::longbook_qa_chn,
  infinitebench_task::code_debug,
  infinitebench_task::math_find,
};

/// Returns the file name of `x`, e.g. `"kv_retrieval"`.
std::string to_string(infinitebench_task x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, infinitebench_task& x);

/// Returns every task name separated by ", " (for usage messages).
std::string infinitebench_task_names();

/// Returns the name the benchmark's tables use, e.g. `"En.MC"`.
std::string_view table_name(infinitebench_task x) noexcept;

/// Returns the prompt profile that serves `x` (method.md section 7).
task_profile profile_of(infinitebench_task x) noexcept;

/// Returns the kind of answer `x` expects: `value` for the retrieval tasks,
/// `choice` for En.MC and Code.Debug, `number` for Math.Find, `summary` for
/// En.Sum and `text` for the rest.
answer_kind answer_kind_of(infinitebench_task x) noexcept;

/// Scores one prediction with the rule of the official InfiniteBench scorer
/// (`src/compute_scores.py`), rewritten here:
/// - PassKey, Number: the first run of digits equals the ground truth.
/// - KV: the ground truth is one of the words of the prediction after
///   `\n : " ' . , ? ! { }` are replaced by blanks.
/// - En.Dia: as KV, with the words in upper case.
/// - Math.Find: the first number (`\d+\.\d+|\d+`) equals the ground truth.
/// - En.MC: a first character A-D decides; else the whole prediction equal
///   to an option; else the text after "answer is:", "answer:", "answer is"
///   or "option is" starting with the option text or letter; else the first
///   word made of the letters A-D.
/// - Code.Debug: "B." or "B:" at the start; else the text after "answer
///   is:", "is:", "answer:" or "correct option is:" (the first of these
///   found) starting with the letter or the function name.
/// - En.QA: the token F1 with SQuAD normalisation, best over the truths.
/// `truth` holds the ground truth strings (for choices the option text and
/// the letter; numbers as written in JSON). Returns 0 or 1, a F1 in [0, 1],
/// or `std::nullopt` for tasks without a rule here (Zh.QA needs a Chinese
/// word segmenter, En.Sum ROUGE).
std::optional<double> official_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth);

/// Scores one prediction with LLM×MapReduce's modified scorer: PassKey and
/// Number accept the ground truth among any run of digits, Code.Debug takes
/// the last standalone option letter; every other task as `official_score`.
std::optional<double> modified_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth);

} // namespace llmmr

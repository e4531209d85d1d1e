#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/infinitebench_predictions.hpp"
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

/// The two sets of scoring rules a prediction can be scored with. A reported
/// number must always say which one produced it: on the same predictions
/// they differ by as much as 52 points (PassKey of LLM×MapReduce's
/// Llama-3-70B run: 47.97 official, 100.00 modified).
enum class infinitebench_scorer : uint8_t {
  /// InfiniteBench's own scorer, `src/compute_scores.py` of OpenBMB/
  /// InfiniteBench at commit 88b3daa (the numbers of its README).
  official,
  /// The modified scorer of the LLM×MapReduce reference implementation,
  /// `LLMxMapReduce_V1/eval/infinitebench/compute_scores.py` of
  /// thunlp/LLMxMapReduce (the numbers of the paper's Table 1).
  llmxmapreduce,
};

/// Returns `"official"` or `"llmxmapreduce"`.
std::string to_string(infinitebench_scorer x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, infinitebench_scorer& x);

/// Returns every scorer name separated by "|" (for usage messages).
std::string infinitebench_scorer_names();

/// Scores one prediction of `task` with `scorer`'s rule for that task.
///
/// Official rules (`src/compute_scores.py`), rewritten here; splitting,
/// stripping, case and `\b` keep Python's Unicode meaning (python_text.hpp):
/// - PassKey, Number: the first run of digits equals the ground truth.
/// - KV: the ground truth is one of the words of the prediction after
///   `\n : " ' . , ? ! { }` are replaced by blanks.
/// - En.Dia: as KV, with the words in upper case, against the first truth.
/// - Math.Find: the first number (`\d+\.\d+|\d+`) equals the ground truth
///   (compared as an integer when the truth is one, else as a real).
/// - En.MC: a first character A-D decides; else the whole prediction equal
///   to an option; else the text after "answer is:", "answer:", "answer is"
///   or "option is" starting with the option text or letter; else the first
///   word that is a piece of "ABCD" (Python's `word in "ABCD"`).
/// - Code.Debug: "B." or "B:" at the start; else the text after "answer
///   is:", "is:", "answer:" or "correct option is:" (the first of these
///   found) starting with the letter or the function name.
/// - En.QA: the token F1 with SQuAD normalisation, best over the truths.
/// - Zh.QA: the character F1 after the benchmark's Chinese normalisation
///   (lower case; ASCII and its list of Chinese punctuation removed; every
///   white space removed), best over the truths.
/// - En.Sum: ROUGE-Lsum F-measure as Google's rouge_score computes it with
///   its default tokenizer and no stemming (lower case, runs of [a-z0-9]
///   as tokens, sentences split at newlines), best over the truths.
///
/// The LLM×MapReduce rules differ on these tasks only:
/// - PassKey, Number: the ground truth is any of the runs of digits.
/// - Code.Debug: the last standalone letter A-J of the first line holding
///   one (Python's `\b[A-J]\b(?!.*\b[A-J]\b)`, whose `.` stops at a new
///   line) equals the truth; else the prediction (after the official
///   blanking) starts with the letter or the function name; else the prefix
///   rule over "answer is:", "Answer:", "is:", "answer:" (the official list
///   with "Answer:" added and "correct option is:" dropped). The official
///   "B."/"B:" test is gone, the start test covers it.
/// - En.MC: the last standalone letter A-D of the first line holding one is
///   among the truths; else the official rule with "Answer:" put first
///   among the prefixes.
/// - En.Dia: any truth in upper case is a substring of the prediction in
///   upper case.
///
/// `truth` holds the ground truth strings (for choices the option text and
/// the letter; numbers as written in JSON). Returns a score in [0, 1]: 0 or
/// 1 for the exact tasks, an F-measure for En.QA, Zh.QA and En.Sum. Returns
/// `std::nullopt` only for a task without a rule (none today).
std::optional<double> score_prediction(infinitebench_task task,
                                       infinitebench_scorer scorer,
                                       std::string_view prediction,
                                       const std::vector<std::string>& truth);

/// Scores one prediction with the official rule; same as
/// `score_prediction(task, infinitebench_scorer::official, ...)`.
std::optional<double> official_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth);

/// Scores one prediction with LLM×MapReduce's modified rule; same as
/// `score_prediction(task, infinitebench_scorer::llmxmapreduce, ...)`.
std::optional<double> modified_score(infinitebench_task task,
                                     std::string_view prediction,
                                     const std::vector<std::string>& truth);

/// The score of a whole prediction file.
struct infinitebench_file_score {
  /// The task the lines were scored as.
  infinitebench_task task = infinitebench_task::passkey;
  /// The rules that scored them.
  infinitebench_scorer scorer = infinitebench_scorer::official;
  /// How many predictions were scored.
  size_t lines = 0;
  /// The mean score in percent (0 to 100), not rounded; 0 for no lines.
  double percent = 0;
  /// The score of each line in [0, 1], in file order.
  std::vector<double> per_line;
};

/// Scores every prediction of `preds` and averages the scores, as the
/// benchmark's scorer does (every line counts once).
infinitebench_file_score
score_predictions(infinitebench_task task, infinitebench_scorer scorer,
                  const std::vector<infinitebench_prediction>& preds);

/// Rounds a percentage to two decimals, as the benchmark's tables print it.
double round_percent(double percent) noexcept;

} // namespace llmmr

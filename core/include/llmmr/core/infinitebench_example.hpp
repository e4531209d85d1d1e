#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"
#include <nlohmann/json.hpp>

#include "llmmr/core/infinitebench_score.hpp"

namespace llmmr {

/// One example of an InfiniteBench data file (`<task>.jsonl`, method.md
/// section 8): a long context, the question text, the answers and, for the
/// multiple-choice tasks, the options.
struct infinitebench_example {
  /// The example's id as written in the file (a number or a string).
  nlohmann::json id;
  /// The long document.
  std::string context;
  /// The question text (for some tasks an instruction or a sentence to
  /// complete).
  std::string input;
  /// The accepted answers as written in the file (strings or numbers).
  std::vector<nlohmann::json> answer;
  /// The options of En.MC and Code.Debug, in the order of the letters A-D;
  /// empty for the other tasks.
  std::vector<std::string> options;
};

/// Returns `x` as one line of an InfiniteBench data file: `id`, `context`,
/// `input`, `answer` and `options`, in that order.
std::string to_jsonl_line(const infinitebench_example& x);

/// Parses one line of a data file. `where` ("FILE:LINE") starts every error
/// message. Fails with `error_kind::input` for text that is not a JSON
/// object, a missing or mistyped field or an empty answer list. `answer` may
/// also be a single string or number; `options` may be missing.
expected<infinitebench_example>
parse_infinitebench_example(std::string_view line, std::string_view where);

/// Returns the ground truth strings the scorers take (`official_score`):
/// the answers as text (numbers as JSON writes them) and, for En.MC and
/// Code.Debug, the text of the right option followed by its letter.
std::vector<std::string> ground_truth_of(infinitebench_task task,
                                         const infinitebench_example& x);

/// Returns the ground truth as written to a prediction file: the answers as
/// in the data file, or for the choice tasks `[option text, letter]`.
nlohmann::json ground_truth_json(infinitebench_task task,
                                 const infinitebench_example& x);

/// Returns the question a job asks for `x`, built the way the LLM×MapReduce
/// reference built it (docs/evaluation.md, "InfiniteBench runs"): the
/// question text, with the options under their letters for the choice
/// tasks, and the task's own instruction for Code.Debug, En.Dia, Math.Find,
/// KV and the summary. The context is not part of the question.
std::string build_question(infinitebench_task task,
                           const infinitebench_example& x);

/// Returns the JSON text of `x` without blanks, e.g. `7` or `"q-7"`: the key
/// under which a prediction file remembers an example.
std::string id_key(const nlohmann::json& x);

} // namespace llmmr

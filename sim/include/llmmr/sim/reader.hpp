#pragma once

// The simulator's reader policy: a deterministic test double that answers
// llmmr's own map, collapse and reduce prompts by word overlap, so that the
// pipeline's information flow (a needle found by one map call survives
// collapse and reduce) can be tested end to end without a model. It is not a
// model and does not try to be one.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr::sim {

/// What kind of prompt the reader recognised (the value indexes
/// `reply_styles::by_kind`).
enum class prompt_kind {
  /// A map prompt: one chunk and a question.
  map,
  /// A collapse prompt: several records to merge into one.
  collapse,
  /// A reduce prompt: the records to answer from.
  reduce,
  /// Anything else.
  unknown,
  /// A Chain-of-Agents worker prompt: the notes so far and one chunk.
  chain_step,
  /// A Chain-of-Agents manager prompt: the last notes.
  chain_answer,
  /// A direct prompt: the (cut) document.
  direct,
};

/// Returns the name of `x`, e.g. `"collapse"`.
std::string_view to_string(prompt_kind x) noexcept;

/// The parts of a recognised prompt.
struct prompt_parts {
  /// The kind of prompt.
  prompt_kind kind = prompt_kind::unknown;
  /// The profile directory of the matching template (`qa`, `retrieval`,
  /// `qa_zh`, `summary`, ...), or empty when recognised by heuristics.
  std::string profile;
  /// The question (or task).
  std::string question;
  /// The chunk text of a map or chain worker prompt, the document of a
  /// direct prompt.
  std::string chunk;
  /// The notes of a chain worker or manager prompt.
  std::string notes;
  /// The rendered records of a collapse or reduce prompt.
  std::string records;
  /// True when the prompt uses the Chinese labels.
  bool chinese = false;
  /// True for the summary profile (plain prose, no fields).
  bool summary = false;
};

/// Recognises `prompt` by matching it against the built-in templates of
/// `config/prompts` (placeholders `{question}`, `{chunk}`, `{records}`,
/// `{rubric}`), falling back to markers (`<part>`, `Question:`, `[Part N]`)
/// for edited templates.
prompt_parts classify_prompt(std::string_view prompt);

/// One record as the reader sees it in a collapse or reduce prompt.
struct reader_record {
  /// Extracted information.
  std::string extracted;
  /// Rationale.
  std::string rationale;
  /// Answer (may be a no-information marker).
  std::string answer;
  /// Confidence score, 0 when absent.
  double confidence = 0;
  /// True when the answer is a no-information marker.
  bool no_information = false;
};

/// Parses the rendered `{records}` of a collapse or reduce prompt: blocks
/// under headers like `[Part 3]` / `【第3段】` with labelled fields.
std::vector<reader_record> parse_records(std::string_view text, bool chinese);

/// The reader's answer: the fields it fills, in order, plus the plain text.
struct reader_reply {
  /// The prompt as recognised.
  prompt_parts parts;
  /// The labelled fields (label, value) in order; empty for summaries and
  /// unknown prompts.
  std::vector<std::pair<std::string, std::string>> fields;
  /// The confidence the reader gave (0 for no information).
  double confidence = 0;
  /// The answer field's value (or the whole text when there are no fields).
  std::string answer;
  /// The completion text: the fields as `Label: value` lines, or the text.
  std::string text;
};

/// Answers the conversation whose message contents are `messages` (all
/// roles, in order). Deterministic: the same input gives the same reply.
reader_reply answer_prompt(const std::vector<std::string>& messages);

/// Convenience overload for a single prompt.
reader_reply answer_prompt(std::string_view prompt);

} // namespace llmmr::sim

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// The shape of answer a task expects. It decides how the text found after
/// an answer label (or in the whole output) is narrowed to the answer alone.
/// The rules are described in docs/protocol.md, "Reading the final answer".
enum class answer_kind : uint8_t {
  /// Free text (question answering): the first paragraph of the answer.
  text,
  /// A literal value copied from the document (retrieval): a pass key, a
  /// digit sequence, the value of a key. Scores and chunk numbers never
  /// count as values.
  value,
  /// A number (calculations): the first number of the answer that is not a
  /// score.
  number,
  /// One option of a multiple-choice question, written as the option letter
  /// with a full stop and, when the model gave it, the option text:
  /// `B. France` or `B.`.
  choice,
  /// A long text (summaries): the whole output without a "Summary:" label.
  summary,
};

/// Returns the name of `x`, e.g. `"choice"`.
std::string to_string(answer_kind x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, answer_kind& x);

/// Returns the kind of answer a profile's tasks take when nothing more is
/// known: `retrieval` gives `value`, `math` gives `number`, `summary` gives
/// `summary` and the other profiles give `text`.
answer_kind default_answer_kind(task_profile profile) noexcept;

/// Where an extracted answer came from.
enum class answer_source : uint8_t {
  /// Nothing usable was found; the answer is empty.
  none,
  /// The value of an answer label (`Answer:`, `**Final answer**`, `答案：`).
  label,
  /// The text after a phrase such as "the final answer is:".
  phrase,
  /// The output as a whole (no label and no phrase).
  text,
};

/// Returns the name of `x`, e.g. `"label"`.
std::string to_string(answer_source x);

/// The answer read from a model's final output.
struct extracted_answer {
  /// The answer alone: no label, rationale, score text, notes, wrapping
  /// quotes or emphasis.
  std::string text;
  /// Where `text` came from.
  answer_source source = answer_source::none;
};

/// Reads the answer from a reducer's raw output. Never throws. Looks for the
/// last answer label first, then for the last answer phrase, then at the
/// whole output, and narrows what it finds according to `kind`.
extracted_answer extract_answer(std::string_view raw, answer_kind kind);

/// Narrows the value of an answer field (already separated from its label,
/// e.g. taken from a JSON object) according to `kind`.
std::string narrow_answer(std::string_view value, answer_kind kind);

/// Strips surrounding white space, markdown emphasis, backticks and quotes
/// (ASCII, curly and CJK) from `answer`, repeatedly.
std::string strip_answer_wrapping(std::string_view answer);

} // namespace llmmr

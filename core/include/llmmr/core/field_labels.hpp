#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmmr {

/// A field of the record protocol, as introduced by a label in model output.
enum class record_field : uint8_t { extracted, rationale, answer, confidence };

/// The number of `record_field` values.
inline constexpr size_t record_field_count = 4;

/// A line that starts a field.
struct line_label {
  /// The field the label introduces.
  record_field target;
  /// Offset of the value in the line, or `std::string_view::npos` when the
  /// value starts on the next line (heading form).
  size_t value_offset;
};

/// Recognises a line that starts a field: `Answer: x`, `**Answer:** x`,
/// `### Answer`, `- **Answer**: x`, `【答案】：x`, `Confidence score (0-5): 4`.
/// Labels are matched case-insensitively, in English or Chinese.
std::optional<line_label> match_line_label(std::string_view line);

/// A label starting a field in the middle of a line.
struct inline_label {
  /// Where the cut goes (the label, with emphasis or an opening bracket
  /// right before it).
  size_t label_pos;
  /// The field the label introduces.
  record_field target;
  /// Where the value starts.
  size_t value_pos;
};

/// Finds a label starting a field in the middle of `text`, e.g. the
/// "Confidence score:" in "Answer: 42 Confidence score: 5". Only strong
/// labels written capitalised (or Chinese ones) after a blank or an opening
/// bracket count, and only for fields not marked in `seen`.
std::optional<inline_label>
find_inline_label(std::string_view text,
                  const std::array<bool, record_field_count>& seen);

} // namespace llmmr

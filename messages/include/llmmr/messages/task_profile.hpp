#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// The prompt family a job uses (method.md section 7).
enum class task_profile : uint8_t {
  /// Question answering in English (En.QA, En.MC, En.Dia).
  qa,
  /// Question answering in Chinese (Zh.QA).
  qa_zh,
  /// Questions about source code (Code.Debug).
  code,
  /// Calculations over the text (Math.Find).
  math,
  /// Finding a literal value (PassKey, Number, KV).
  retrieval,
  /// Summarising the whole text (En.Sum); no scores.
  summary,
};

/// Returns the name of `x`, e.g. `"qa_zh"`.
std::string to_string(task_profile x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, task_profile& x);

/// Returns whether the profile uses the structured record protocol with
/// confidence scores (every profile but `summary`).
constexpr bool uses_scores(task_profile x) noexcept {
  return x != task_profile::summary;
}

} // namespace llmmr

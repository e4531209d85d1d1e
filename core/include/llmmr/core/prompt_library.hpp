#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/prompt_template.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// The three kinds of LLM call of the method.
enum class prompt_stage : uint8_t {
  /// One call per chunk.
  map,
  /// Merges a group of records into one.
  collapse,
  /// Produces the final answer from all remaining records.
  reduce,
};

/// Returns the name of `x`, e.g. `"collapse"`.
std::string to_string(prompt_stage x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, prompt_stage& x);

/// The calls of the baseline strategies (`strategy::chain`,
/// `strategy::direct`; method.md section 9), whose templates live next to
/// the map, collapse and reduce ones.
enum class baseline_stage : uint8_t {
  /// A Chain-of-Agents worker: the notes so far and one chunk in, the updated
  /// notes out (`{question}`, `{notes}` and `{chunk}` once each).
  chain_step,
  /// The Chain-of-Agents manager: the last notes in, the final answer out in
  /// the reduce's format (`{question}`, `{notes}` once).
  chain_answer,
  /// The single call of `direct`: the document, cut in the middle to fit,
  /// in; the final answer out (`{question}`, `{document}` once).
  direct,
};

/// Returns the name of `x`, which is also its file name without `.txt`:
/// `"chain_step"`, `"chain_answer"` or `"direct"`.
std::string to_string(baseline_stage x);

/// Number of baseline stages.
inline constexpr size_t baseline_stage_count = 3;

/// Number of task profiles (`task_profile::summary` is the last one).
inline constexpr size_t task_profile_count = 6;

/// Number of prompt stages.
inline constexpr size_t prompt_stage_count = 3;

/// The prompt templates and calibration rubrics of every task profile. Files
/// are named `<profile>/<stage>.txt` and `<profile>/rubric.txt`, relative to
/// `config/prompts` (built in) or to a user directory (overrides).
///
/// Placeholders per stage: map templates must use `{question}` and exactly one
/// `{chunk}`; collapse and reduce templates must use `{question}` and exactly
/// one `{records}`. Every template may use `{rubric}`. No other names are
/// allowed. The baseline templates (`<profile>/chain_step.txt`,
/// `chain_answer.txt`, `direct.txt`) follow `baseline_stage`.
class prompt_library {
public:
  /// Creates an empty library; use `builtin` or `load` instead.
  prompt_library() = default;

  /// Returns the templates compiled into the library from `config/prompts`.
  static expected<prompt_library> builtin();

  /// Loads the files under `dir`, each overriding its built-in counterpart;
  /// missing files fall back to the built-in ones. Errors
  /// (`error_kind::config`) name the offending file: a missing directory, an
  /// unreadable file, an unknown file name, a syntax error or a wrong set of
  /// placeholders. An empty `dir` gives the built-in library.
  static expected<prompt_library> load(const std::string& dir);

  /// Returns the template for `profile` and `stage`.
  const prompt_template& get(task_profile profile, prompt_stage stage) const;

  /// Returns the baseline template for `profile` and `stage`.
  const prompt_template& get(task_profile profile, baseline_stage stage) const;

  /// Returns the calibration text the prompts of `profile` embed as
  /// `{rubric}`; empty for `summary`.
  const std::string& rubric(task_profile profile) const;

  /// Returns the file the rubric of `profile` came from: the relative path
  /// for a built-in one, the full path for an override (templates carry theirs
  /// as `prompt_template::name`).
  const std::string& rubric_source(task_profile profile) const;

private:
  static size_t index(task_profile profile) noexcept {
    return static_cast<size_t>(profile);
  }

  std::array<std::array<prompt_template, prompt_stage_count>,
             task_profile_count>
    templates_;
  std::array<std::array<prompt_template, baseline_stage_count>,
             task_profile_count>
    baselines_;
  std::array<std::string, task_profile_count> rubrics_;
  std::array<std::string, task_profile_count> rubric_sources_;
};

/// Checks that `tpl` uses the right placeholders for `stage`; the error names
/// the template.
error validate_template(const prompt_template& tpl, prompt_stage stage);

/// Checks that `tpl` uses the right placeholders for the baseline `stage`.
error validate_template(const prompt_template& tpl, baseline_stage stage);

} // namespace llmmr

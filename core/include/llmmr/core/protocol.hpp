#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// The labels of the four record fields as the prompts of one profile ask for
/// them (English, or Chinese for `qa_zh`).
struct field_labels {
  /// Label of the extracted information.
  std::string_view extracted;
  /// Label of the rationale.
  std::string_view rationale;
  /// Label of the answer.
  std::string_view answer;
  /// Label of the confidence score.
  std::string_view confidence;
  /// The explicit "no information" marker written in the answer field.
  std::string_view no_information;
  /// Separator between a label and its value (`": "` or `"："`).
  std::string_view colon;
};

/// Returns the field labels for `profile`.
field_labels labels_for(task_profile profile) noexcept;

/// Returns the header naming the chunks a record covers, e.g. `[Part 3]` or
/// `[Parts 3-5, 9]` (`【第3段】` for `qa_zh`). Chunk indices are shown
/// one-based.
std::string render_record_header(task_profile profile,
                                 const std::vector<uint32_t>& chunks);

/// Renders one record under a header naming the chunk(s) it covers, with all
/// four labelled fields (for `summary`: just the text). A no-information
/// record shows the profile's marker as its answer.
std::string render_record(task_profile profile, const record& r);

/// Renders `records` in order, separated by blank lines, as they appear in
/// collapse and reduce prompts (the `{records}` value).
std::string render_records(task_profile profile,
                           const std::vector<record>& records);

/// Renders the map prompt of `spec.profile` for one chunk.
expected<std::string> render_map_prompt(const prompt_library& prompts,
                                        const job_spec& spec,
                                        std::string_view chunk_text);

/// Renders the collapse prompt of `spec.profile` over a group of records.
expected<std::string>
render_collapse_prompt(const prompt_library& prompts, const job_spec& spec,
                       const std::vector<record>& records);

/// Renders the reduce prompt of `spec.profile` over the remaining records.
expected<std::string> render_reduce_prompt(const prompt_library& prompts,
                                           const job_spec& spec,
                                           const std::vector<record>& records);

/// Returns a JSON schema (as text) for a map or collapse record of `profile`,
/// for servers that constrain output to a schema. Keys:
/// `extracted_information`, `rationale`, `answer`, `confidence` (`summary` for
/// the summary profile).
std::string record_json_schema(task_profile profile);

/// Returns a JSON schema (as text) for the reducer's output of `profile`:
/// `rationale`, `answer`, `confidence` (`summary` for the summary profile).
std::string final_answer_json_schema(task_profile profile);

} // namespace llmmr

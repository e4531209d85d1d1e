#pragma once

#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// The Chain-of-Agents "communication unit" before the first chunk: the
/// notes the first worker call is given (`"Nothing read yet."`, Chinese for
/// `qa_zh`).
std::string_view chain_initial_notes(task_profile profile) noexcept;

/// Renders a worker call of `strategy::chain`: the notes so far and the next
/// chunk (template `<profile>/chain_step.txt`).
expected<std::string> render_chain_step_prompt(const prompt_library& prompts,
                                               const job_spec& spec,
                                               std::string_view notes,
                                               std::string_view chunk_text);

/// Renders the manager call of `strategy::chain` over the last notes
/// (template `<profile>/chain_answer.txt`); its reply has the reduce's
/// fields.
expected<std::string> render_chain_answer_prompt(const prompt_library& prompts,
                                                 const job_spec& spec,
                                                 std::string_view notes);

/// Reads the notes out of a worker's reply: a `<think>...</think>` block and
/// a leading `Notes:` (`笔记：`) label are dropped, white space trimmed. Empty
/// when the reply holds no notes (empty, or only an unclosed `<think>`).
std::string clean_chain_notes(std::string_view reply);

/// Judges a worker's reply: `empty` / `truncated` (cut at `max_tokens` before
/// any notes) when `clean_chain_notes` finds nothing, `none` otherwise (notes
/// cut at `max_tokens` are kept and reported as a loss).
output_problem diagnose_chain_notes(std::string_view reply,
                                    std::string_view finish_reason);

/// Returns `prompt` followed by a note saying what was wrong with the
/// previous worker reply and asking for shorter notes.
std::string chain_corrective_prompt(task_profile profile,
                                    output_problem problem,
                                    std::string_view prompt);

/// Returns the longest note `chain_corrective_prompt` appends for `profile`,
/// so the chain budget can leave room for it.
std::string longest_chain_corrective_note(task_profile profile);

} // namespace llmmr

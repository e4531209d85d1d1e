#include "llmmr/core/chain_protocol.hpp"

#include <map>
#include <utility>

#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

using vars_map = std::map<std::string, std::string, std::less<>>;

std::string note(task_profile profile, output_problem problem) {
  std::string out = "\n\n";
  if (profile == task_profile::qa_zh) {
    out += problem == output_problem::truncated
             ? "你上一次的回复在输出上限处被截断，没有留下笔记。"
             : "你上一次的回复是空的。";
    out += "请重新作答，只写更新后的笔记，比上次更简短。";
    return out;
  }
  out += problem == output_problem::truncated
           ? "Your previous reply was cut off at the output limit before it "
             "held any notes."
           : "Your previous reply was empty.";
  out += " Reply again with the updated notes only, shorter than before.";
  return out;
}

} // namespace

std::string_view chain_initial_notes(task_profile profile) noexcept {
  return profile == task_profile::qa_zh ? "尚未阅读任何内容。"
                                        : "Nothing read yet.";
}

expected<std::string> render_chain_step_prompt(const prompt_library& prompts,
                                               const job_spec& spec,
                                               std::string_view notes,
                                               std::string_view chunk_text) {
  vars_map vars;
  vars.emplace("question", spec.question);
  vars.emplace("rubric", prompts.rubric(spec.profile));
  vars.emplace("notes", std::string{notes});
  vars.emplace("chunk", std::string{chunk_text});
  return prompts.get(spec.profile, baseline_stage::chain_step).render(vars);
}

expected<std::string> render_chain_answer_prompt(const prompt_library& prompts,
                                                 const job_spec& spec,
                                                 std::string_view notes) {
  vars_map vars;
  vars.emplace("question", spec.question);
  vars.emplace("rubric", prompts.rubric(spec.profile));
  vars.emplace("notes", std::string{notes});
  return prompts.get(spec.profile, baseline_stage::chain_answer).render(vars);
}

std::string clean_chain_notes(std::string_view reply) {
  auto text = reply;
  if (auto close = text.rfind("</think>"); close != std::string_view::npos)
    text = text.substr(close + 8);
  text = ascii::trim(text);
  if (text.starts_with("<think>"))
    return {};
  for (std::string_view label :
       {"Updated notes:", "Notes:", "更新后的笔记：", "笔记："}) {
    if (ascii::starts_with_icase(text, label)) {
      text = ascii::trim(text.substr(label.size()));
      break;
    }
  }
  return std::string{text};
}

output_problem diagnose_chain_notes(std::string_view reply,
                                    std::string_view finish_reason) {
  if (!clean_chain_notes(reply).empty())
    return output_problem::none;
  return finish_reason == "length" ? output_problem::truncated
                                   : output_problem::empty;
}

std::string chain_corrective_prompt(task_profile profile,
                                    output_problem problem,
                                    std::string_view prompt) {
  std::string out{prompt};
  out += note(profile, problem);
  return out;
}

std::string longest_chain_corrective_note(task_profile profile) {
  auto a = note(profile, output_problem::truncated);
  auto b = note(profile, output_problem::empty);
  return a.size() >= b.size() ? a : b;
}

} // namespace llmmr

#include "llmmr/core/corrective_prompt.hpp"

#include <algorithm>

#include "llmmr/core/answer_markers.hpp"
#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

std::string_view english_problem(output_problem x) {
  switch (x) {
  case output_problem::truncated:
    return "Your previous reply was cut off at the output limit.";
  case output_problem::empty:
    return "Your previous reply was empty.";
  case output_problem::missing_answer:
    return "Your previous reply did not give the answer.";
  default:
    return "Your previous reply did not have the requested fields.";
  }
}

std::string_view chinese_problem(output_problem x) {
  switch (x) {
  case output_problem::truncated:
    return "你上一次的回复在输出上限处被截断，没有写完。";
  case output_problem::empty:
    return "你上一次的回复是空的。";
  case output_problem::missing_answer:
    return "你上一次的回复没有给出答案。";
  default:
    return "你上一次的回复没有按要求的各项作答。";
  }
}

std::string_view english_request(task_profile profile, prompt_stage stage) {
  if (!uses_scores(profile))
    return "Reply again with a shorter summary, and nothing but the summary.";
  if (stage == prompt_stage::reduce)
    return "Reply again, briefly: the Answer field first (the answer alone), "
           "then Confidence score, then a short Rationale.";
  return "Reply again, shorter, with the same fields: Answer first, then "
         "Confidence score, Extracted information (key facts only) and a "
         "one-sentence Rationale.";
}

std::string_view chinese_request(prompt_stage stage) {
  if (stage == prompt_stage::reduce)
    return "请重新简短作答：先写“答案：”（只写答案本身），再写“置信度：”，"
           "最后用不超过三句话写“推理过程：”。";
  return "请按同样的四项重新作答，每项从简：先写“答案：”，再写“置信度：”，"
         "然后是“提取的信息：”（只写关键事实）和一两句话的“推理过程：”。";
}

std::string note(task_profile profile, prompt_stage stage,
                 output_problem problem) {
  std::string out = "\n\n";
  if (profile == task_profile::qa_zh) {
    out += chinese_problem(problem);
    out += chinese_request(stage);
  } else {
    out += english_problem(problem);
    out += ' ';
    out += english_request(profile, stage);
  }
  return out;
}

} // namespace

std::string to_string(output_problem x) {
  switch (x) {
  case output_problem::none:
    return "usable";
  case output_problem::truncated:
    return "cut off at max_tokens before it held a usable field";
  case output_problem::empty:
    return "empty (no text, or null content)";
  case output_problem::unparsable:
    return "none of the requested fields could be found";
  case output_problem::missing_answer:
    return "no answer in the reply";
  }
  return "unknown problem";
}

output_problem diagnose_record(const record& r,
                               std::string_view finish_reason) {
  // Records built elsewhere may not carry their kind: judge the fields too.
  bool usable = r.kind != record_kind::empty
                || (r.status != record_status::unparsable
                    && ((!r.no_information && !ascii::trim(r.answer).empty())
                        || !is_empty_extraction(r.extracted)));
  if (usable)
    return output_problem::none;
  if (finish_reason == "length" || r.status == record_status::truncated)
    return output_problem::truncated;
  if (ascii::trim(r.raw).empty())
    return output_problem::empty;
  if (r.status == record_status::unparsable)
    return output_problem::unparsable;
  // A parsed record with nothing in it ("No information" and no facts) is a
  // legitimate answer, not a problem.
  return output_problem::none;
}

std::string corrective_prompt(task_profile profile, prompt_stage stage,
                              output_problem problem, std::string_view prompt) {
  std::string out{prompt};
  out += note(profile, stage, problem);
  return out;
}

std::string longest_corrective_note(task_profile profile, prompt_stage stage) {
  std::string best;
  for (auto p : {output_problem::truncated, output_problem::empty,
                 output_problem::unparsable, output_problem::missing_answer}) {
    auto n = note(profile, stage, p);
    if (n.size() > best.size())
      best = std::move(n);
  }
  return best;
}

} // namespace llmmr

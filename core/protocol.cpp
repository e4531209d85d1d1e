#include "llmmr/core/protocol.hpp"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

namespace llmmr {

namespace {

constexpr field_labels english_labels{
  "Extracted information", "Rationale",      "Answer",
  "Confidence score",      "No information", ": ",
};

constexpr field_labels chinese_labels{
  "提取的信息", "推理过程", "答案", "置信度", "无相关信息", "：",
};

std::string format_score(double x) {
  auto halves = static_cast<long>(std::lround(x * 2));
  auto out = std::to_string(halves / 2);
  if (halves % 2 != 0)
    out += ".5";
  return out;
}

/// Writes `chunks` (zero-based) as one-based ranges: "3-5, 9".
std::string chunk_ranges(const std::vector<uint32_t>& chunks,
                         std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < chunks.size();) {
    size_t j = i;
    while (j + 1 < chunks.size() && chunks[j + 1] == chunks[j] + 1)
      ++j;
    if (!out.empty())
      out += separator;
    out += std::to_string(uint64_t{chunks[i]} + 1);
    if (j > i) {
      out += '-';
      out += std::to_string(uint64_t{chunks[j]} + 1);
    }
    i = j + 1;
  }
  return out;
}

using vars_map = std::map<std::string, std::string, std::less<>>;

expected<std::string> render_stage(const prompt_library& prompts,
                                   const job_spec& spec, prompt_stage stage,
                                   std::string payload) {
  vars_map vars;
  vars.emplace("question", spec.question);
  vars.emplace("rubric", prompts.rubric(spec.profile));
  vars.emplace(stage == prompt_stage::map ? "chunk" : "records",
               std::move(payload));
  return prompts.get(spec.profile, stage).render(vars);
}

} // namespace

field_labels labels_for(task_profile profile) noexcept {
  return profile == task_profile::qa_zh ? chinese_labels : english_labels;
}

std::string render_record_header(task_profile profile,
                                 const std::vector<uint32_t>& chunks) {
  auto ranges = chunks.empty() ? std::string{"?"} : chunk_ranges(chunks, ", ");
  if (profile == task_profile::qa_zh)
    return "【第" + (chunks.empty() ? ranges : chunk_ranges(chunks, "、"))
           + "段】";
  return (chunks.size() > 1 ? "[Parts " : "[Part ") + ranges + "]";
}

std::string render_record(task_profile profile, const record& r) {
  auto out = render_record_header(profile, r.chunks);
  out += '\n';
  if (!uses_scores(profile)) {
    out += r.answer.empty() ? r.extracted : r.answer;
    return out;
  }
  auto labels = labels_for(profile);
  auto field = [&](std::string_view label, std::string_view value) {
    out += label;
    out += labels.colon;
    out += value;
    out += '\n';
  };
  field(labels.extracted, r.extracted);
  field(labels.rationale, r.rationale);
  field(labels.answer,
        r.no_information ? labels.no_information : std::string_view{r.answer});
  out += labels.confidence;
  out += labels.colon;
  out += format_score(r.confidence);
  return out;
}

std::string render_records(task_profile profile,
                           const std::vector<record>& records) {
  std::string out;
  for (auto& r : records) {
    if (!out.empty())
      out += "\n\n";
    out += render_record(profile, r);
  }
  return out;
}

expected<std::string> render_map_prompt(const prompt_library& prompts,
                                        const job_spec& spec,
                                        std::string_view chunk_text) {
  return render_stage(prompts, spec, prompt_stage::map,
                      std::string{chunk_text});
}

expected<std::string>
render_collapse_prompt(const prompt_library& prompts, const job_spec& spec,
                       const std::vector<record>& records) {
  return render_stage(prompts, spec, prompt_stage::collapse,
                      render_records(spec.profile, records));
}

expected<std::string> render_reduce_prompt(const prompt_library& prompts,
                                           const job_spec& spec,
                                           const std::vector<record>& records) {
  return render_stage(prompts, spec, prompt_stage::reduce,
                      render_records(spec.profile, records));
}

namespace {

nlohmann::json schema_object(std::initializer_list<const char*> required,
                             nlohmann::json properties) {
  return nlohmann::json{
    {"type", "object"},
    {"properties", std::move(properties)},
    {"required", nlohmann::json(required)},
    {"additionalProperties", false},
  };
}

nlohmann::json string_property(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

nlohmann::json confidence_property() {
  return {{"type", "number"},
          {"minimum", 0},
          {"maximum", 5},
          {"description", "confidence score, 0 to 5 in steps of 0.5"}};
}

nlohmann::json summary_schema() {
  return schema_object({"summary"},
                       {{"summary", string_property("the summary")}});
}

} // namespace

std::string record_json_schema(task_profile profile) {
  if (!uses_scores(profile))
    return summary_schema().dump();
  auto answer_description = profile == task_profile::qa_zh
                              ? "答案，或“无相关信息”"
                              : "the answer, or \"No information\"";
  return schema_object(
           {"extracted_information", "rationale", "answer", "confidence"},
           {{"extracted_information",
             string_property("information extracted from the text")},
            {"rationale", string_property("how it leads to the answer")},
            {"answer", string_property(answer_description)},
            {"confidence", confidence_property()}})
    .dump();
}

std::string final_answer_json_schema(task_profile profile) {
  if (!uses_scores(profile))
    return summary_schema().dump();
  return schema_object({"rationale", "answer", "confidence"},
                       {{"rationale", string_property("the reasoning")},
                        {"answer", string_property("the answer alone")},
                        {"confidence", confidence_property()}})
    .dump();
}

} // namespace llmmr

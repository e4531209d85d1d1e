#include "llmmr/core/budget.hpp"

#include "llmmr/core/corrective_prompt.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// Tokens of the template of `stage` with the question and the payload left
/// empty (the rubric is part of the template's cost).
caf::expected<uint32_t> template_cost(const prompt_library& prompts,
                                      task_profile profile, prompt_stage stage,
                                      const tokenizer& tok) {
  std::map<std::string, std::string, std::less<>> vars{
    {"question", ""},
    {"chunk", ""},
    {"records", ""},
    {"rubric", prompts.rubric(profile)},
  };
  auto text = prompts.get(profile, stage).render(vars);
  if (!text)
    return std::move(text.error());
  return static_cast<uint32_t>(tok.count(*text));
}

} // namespace

caf::expected<call_budget> compute_budget(const job_spec& spec,
                                          const prompt_library& prompts,
                                          const tokenizer& tok) {
  call_budget b;
  b.total = spec.budget;
  b.reserved_output = reserved_output(spec);
  b.reduce_reserved_output = reduce_reserved_output(spec);
  b.question_tokens = static_cast<uint32_t>(tok.count(spec.question));
  uint32_t* template_tokens[]
    = {&b.map_template_tokens, &b.collapse_template_tokens,
       &b.reduce_template_tokens};
  uint32_t* payloads[]
    = {&b.chunk_payload, &b.collapse_payload, &b.reduce_payload};
  for (size_t s = 0; s < prompt_stage_count; ++s) {
    auto stage = static_cast<prompt_stage>(s);
    auto cost = template_cost(prompts, spec.profile, stage, tok);
    if (!cost)
      return std::move(cost.error());
    // A corrective re-ask appends a note to the prompt; leave room for it so
    // that the re-asked prompt fits the budget too.
    if (spec.reask_unparsable > 0)
      *cost += static_cast<uint32_t>(
        tok.count(longest_corrective_note(spec.profile, stage)));
    // The chat template's markers around the prompt cost tokens too.
    *cost += static_cast<uint32_t>(tok.message_overhead());
    *template_tokens[s] = *cost;
    auto reserved = stage == prompt_stage::reduce ? b.reduce_reserved_output
                                                  : b.reserved_output;
    // A template may repeat the question; each copy costs its tokens.
    auto questions = static_cast<int64_t>(
      prompts.get(spec.profile, stage).occurrences("question"));
    auto payload = int64_t{b.total} - int64_t{*cost}
                   - questions * int64_t{b.question_tokens} - int64_t{reserved};
    if (payload < int64_t{min_payload_tokens}) {
      std::string what = "per-call budget L=" + std::to_string(b.total)
                         + " leaves " + std::to_string(payload)
                         + " tokens for the " + to_string(stage) + " payload ("
                         + to_string(stage) + " template "
                         + std::to_string(*cost) + " + question "
                         + std::to_string(b.question_tokens);
      if (questions > 1)
        what += " x" + std::to_string(questions);
      what += " + reserved output " + std::to_string(reserved)
              + "); need at least " + std::to_string(min_payload_tokens)
              + ": raise the budget, lower max_tokens or shorten the question"
                " (tokenizer: "
              + tok.name() + ")";
      return make_error(error_kind::budget, std::move(what));
    }
    *payloads[s] = static_cast<uint32_t>(payload);
  }
  return b;
}

std::optional<double> context_overflow_ratio(std::string_view message) {
  // Every number directly followed by " tokens".
  std::vector<uint64_t> counts;
  for (size_t pos = message.find(" tokens"); pos != std::string_view::npos;
       pos = message.find(" tokens", pos + 1)) {
    size_t b = pos;
    while (b > 0 && message[b - 1] >= '0' && message[b - 1] <= '9')
      --b;
    if (b == pos)
      continue;
    uint64_t n = 0;
    for (auto i = b; i < pos; ++i)
      n = n * 10 + static_cast<uint64_t>(message[i] - '0');
    counts.push_back(n);
  }
  if (counts.size() < 2)
    return std::nullopt;
  auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  if (*lo == 0 || *hi == 0 || *lo >= *hi)
    return std::nullopt;
  return static_cast<double>(*lo) / static_cast<double>(*hi);
}

size_t shrink_after_overflow(size_t budget, std::string_view message) {
  auto ratio = context_overflow_ratio(message);
  double factor = ratio ? *ratio * 0.9 : 0.75;
  factor = std::clamp(factor, 0.1, 0.9);
  return static_cast<size_t>(static_cast<double>(budget) * factor);
}

} // namespace llmmr

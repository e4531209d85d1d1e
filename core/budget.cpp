#include "llmmr/core/budget.hpp"

#include "llmmr/core/chain_protocol.hpp"
#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/direct_window.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// The cost and the payload left by one template.
struct stage_cost {
  int64_t template_tokens = 0;
  int64_t questions = 0;
  int64_t payload = 0;
};

error too_small(const call_budget& b, const std::string& stage,
                const stage_cost& c, uint32_t reserved,
                const std::string& extra, const tokenizer& tok) {
  std::string what = "per-call budget L=" + std::to_string(b.total) + " leaves "
                     + std::to_string(c.payload) + " tokens for the " + stage
                     + " payload (" + stage + " template "
                     + std::to_string(c.template_tokens) + " + question "
                     + std::to_string(b.question_tokens);
  if (c.questions > 1)
    what += " x" + std::to_string(c.questions);
  what += extra + " + reserved output " + std::to_string(reserved)
          + "); need at least " + std::to_string(min_payload_tokens)
          + ": raise the budget, lower max_tokens or shorten the question"
            " (tokenizer: "
          + tok.name() + ")";
  return make_error(error_kind::budget, std::move(what));
}

uint32_t clamp_payload(int64_t x) {
  return x < 0 ? 0u : static_cast<uint32_t>(x);
}

} // namespace

expected<call_budget> compute_budget(const job_spec& spec,
                                     const prompt_library& prompts,
                                     const tokenizer& tok) {
  call_budget b;
  b.total = spec.budget;
  b.reserved_output = reserved_output(spec);
  b.reduce_reserved_output = reduce_reserved_output(spec);
  b.question_tokens = static_cast<uint32_t>(tok.count(spec.question));
  auto rubric = prompts.rubric(spec.profile);
  // Tokens of a template with the question and the payloads left empty (the
  // rubric is part of its cost), the corrective note a re-ask appends (leave
  // room for it, so a re-asked prompt fits too) and the chat template's
  // markers around the prompt.
  auto cost_of = [&](const prompt_template& tpl, std::string_view note,
                     int64_t reserved) -> expected<stage_cost> {
    std::map<std::string, std::string, std::less<>> vars{
      {"question", ""}, {"chunk", ""},    {"records", ""},
      {"notes", ""},    {"document", ""}, {"rubric", rubric},
    };
    auto text = tpl.render(vars);
    if (!text)
      return std::move(text.error());
    stage_cost c;
    c.template_tokens = static_cast<int64_t>(tok.count(*text));
    if (spec.reask_unparsable > 0)
      c.template_tokens += static_cast<int64_t>(tok.count(note));
    c.template_tokens += static_cast<int64_t>(tok.message_overhead());
    // A template may repeat the question; each copy costs its tokens.
    c.questions = static_cast<int64_t>(tpl.occurrences("question"));
    c.payload = int64_t{b.total} - c.template_tokens
                - c.questions * int64_t{b.question_tokens} - reserved;
    return c;
  };
  auto strat = spec.strategy;
  uint32_t* template_tokens[]
    = {&b.map_template_tokens, &b.collapse_template_tokens,
       &b.reduce_template_tokens};
  uint32_t* payloads[]
    = {&b.chunk_payload, &b.collapse_payload, &b.reduce_payload};
  for (size_t s = 0; s < prompt_stage_count; ++s) {
    auto stage = static_cast<prompt_stage>(s);
    auto reserved = stage == prompt_stage::reduce ? b.reduce_reserved_output
                                                  : b.reserved_output;
    auto c = cost_of(prompts.get(spec.profile, stage),
                     longest_corrective_note(spec.profile, stage), reserved);
    if (!c)
      return std::move(c.error());
    *template_tokens[s] = static_cast<uint32_t>(c->template_tokens);
    if (strat == strategy::mapreduce && c->payload < min_payload_tokens)
      return too_small(b, to_string(stage), *c, reserved, "", tok);
    *payloads[s] = clamp_payload(c->payload);
  }
  // Chain: a worker's prompt holds the notes so far (at most R, what the
  // previous worker could write) next to its chunk.
  b.chain_notes_tokens = b.reserved_output;
  auto reduce_note
    = longest_corrective_note(spec.profile, prompt_stage::reduce);
  {
    auto c = cost_of(prompts.get(spec.profile, baseline_stage::chain_step),
                     longest_chain_corrective_note(spec.profile),
                     int64_t{b.reserved_output} + b.chain_notes_tokens);
    if (!c)
      return std::move(c.error());
    b.chain_template_tokens = static_cast<uint32_t>(c->template_tokens);
    if (strat == strategy::chain && c->payload < min_payload_tokens)
      return too_small(b, "chain worker", *c, b.reserved_output,
                       " + notes " + std::to_string(b.chain_notes_tokens), tok);
    b.chain_chunk_payload = clamp_payload(c->payload);
  }
  {
    auto c = cost_of(prompts.get(spec.profile, baseline_stage::chain_answer),
                     reduce_note, b.reduce_reserved_output);
    if (!c)
      return std::move(c.error());
    b.chain_answer_template_tokens = static_cast<uint32_t>(c->template_tokens);
    if (strat == strategy::chain && c->payload < min_payload_tokens)
      return too_small(b, "chain manager", *c, b.reduce_reserved_output, "",
                       tok);
    b.chain_answer_payload = clamp_payload(c->payload);
  }
  {
    auto c = cost_of(prompts.get(spec.profile, baseline_stage::direct),
                     reduce_note, b.reduce_reserved_output);
    if (!c)
      return std::move(c.error());
    // The marker between head and tail costs tokens too, re-asks or not.
    auto marker_tokens = static_cast<int64_t>(tok.count(direct_cut_marker));
    c->template_tokens += marker_tokens;
    c->payload -= marker_tokens;
    b.direct_template_tokens = static_cast<uint32_t>(c->template_tokens);
    if (strat == strategy::direct && c->payload < min_payload_tokens)
      return too_small(b, "direct", *c, b.reduce_reserved_output, "", tok);
    b.direct_payload = clamp_payload(c->payload);
  }
  if (strat == strategy::chain)
    b.chunk_payload = b.chain_chunk_payload;
  else if (strat == strategy::direct)
    b.chunk_payload
      = std::max<uint32_t>(min_payload_tokens, b.direct_payload / 4);
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

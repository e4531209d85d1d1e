#include "llmmr/core/cost_estimate.hpp"

#include "llmmr/core/budget.hpp"

namespace llmmr {

cost_estimate estimate_cost(const call_budget& budget,
                            std::span<const uint32_t> chunk_tokens,
                            uint32_t record_overhead) {
  cost_estimate result;
  const uint64_t out = budget.reserved_output;
  const uint64_t record_size = out + record_overhead;
  result.map_calls = chunk_tokens.size();
  for (auto tokens : chunk_tokens)
    result.prompt_tokens
      += tokens + budget.map_template_tokens + budget.question_tokens;
  result.completion_tokens += result.map_calls * out;
  // Worst case: every record is as large as the reserved output allows, and
  // each collapse call again produces a record of that size.
  uint64_t records = result.map_calls;
  const uint64_t per_group
    = record_size == 0 ? records : budget.collapse_payload / record_size;
  while (records * record_size > budget.reduce_payload && records > 1) {
    if (per_group < 2) {
      // A group of one record cannot shrink the list; the collapse stage
      // then truncates or drops records instead of calling the model.
      result.collapse_needs_fallback = true;
      break;
    }
    uint64_t groups = (records + per_group - 1) / per_group;
    ++result.worst_collapse_rounds;
    result.worst_collapse_calls += groups;
    result.prompt_tokens
      += groups * (budget.collapse_template_tokens + budget.question_tokens)
         + records * record_size;
    result.completion_tokens += groups * out;
    records = groups;
  }
  result.prompt_tokens += budget.reduce_template_tokens + budget.question_tokens
                          + records * record_size;
  result.completion_tokens += out;
  return result;
}

} // namespace llmmr

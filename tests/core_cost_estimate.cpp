// The plan's cost estimate: map calls, worst-case collapse rounds, tokens.

#include <doctest/doctest.h>

#include <vector>

#include "llmmr/core/budget.hpp"
#include "llmmr/core/cost_estimate.hpp"

using namespace llmmr;

namespace {

call_budget sample_budget() {
  call_budget b;
  b.total = 4096;
  b.reserved_output = 300;
  b.question_tokens = 20;
  b.map_template_tokens = 300;
  b.collapse_template_tokens = 400;
  b.reduce_template_tokens = 350;
  b.chunk_payload = 4096 - 300 - 20 - 300;
  b.collapse_payload = 4096 - 400 - 20 - 300;
  b.reduce_payload = 4096 - 350 - 20 - 300;
  return b;
}

} // namespace

TEST_SUITE("core") {
  TEST_CASE("a few chunks need no collapse round") {
    auto b = sample_budget();
    std::vector<uint32_t> chunks{1000, 2000, 3000};
    auto cost = estimate_cost(b, chunks, 20);
    CHECK(cost.map_calls == 3);
    CHECK(cost.worst_collapse_rounds == 0);
    CHECK(cost.worst_collapse_calls == 0);
    CHECK(cost.reduce_calls == 1);
    CHECK_FALSE(cost.collapse_needs_fallback);
    // Map prompts: payload plus template and question per chunk; reduce over
    // three worst-case records.
    CHECK(cost.prompt_tokens == 6000 + 3 * 320 + 370 + 3 * 320);
    CHECK(cost.completion_tokens == 4 * 300);
  }

  TEST_CASE("many chunks need rounds that shrink the list geometrically") {
    auto b = sample_budget();
    std::vector<uint32_t> chunks(1000, 3000);
    auto cost = estimate_cost(b, chunks, 20);
    // 3376 / 320 = 10 records per group: 1000 -> 100 -> 10 -> fits.
    CHECK(cost.worst_collapse_rounds == 2);
    CHECK(cost.worst_collapse_calls == 110);
    CHECK_FALSE(cost.collapse_needs_fallback);
    CHECK(cost.completion_tokens == (1000 + 110 + 1) * 300);
  }

  TEST_CASE("a budget that cannot hold two records reports the fallback") {
    auto b = sample_budget();
    b.collapse_payload = 500;
    b.reduce_payload = 500;
    std::vector<uint32_t> chunks(5, 100);
    auto cost = estimate_cost(b, chunks, 20);
    CHECK(cost.collapse_needs_fallback);
    CHECK(cost.worst_collapse_rounds == 0);
  }
}

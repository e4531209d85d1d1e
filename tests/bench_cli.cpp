// `llmmr bench`: the arithmetic of its bound (in process) and a quick run
// that must report every figure. Only the presence of the figures is
// checked, never their values: speed is what the bench measures, not what
// a test may assume.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/tools/makespan_bound.hpp"
#include "test_support.hpp"

using namespace llmmr::test;
using llmmr::cli::call_stage;
using llmmr::cli::timed_call;

namespace {

timed_call call(call_stage stage, uint32_t round, double service, double start,
                double finish) {
  timed_call c;
  c.stage = stage;
  c.round = round;
  c.service_ms = service;
  c.start_ms = start;
  c.finish_ms = finish;
  return c;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("bench bound: call labels name stage and collapse round") {
    using llmmr::cli::classify_label;
    CHECK_EQ(classify_label("job 3 map 17").stage, call_stage::map);
    CHECK_EQ(classify_label("job 3 map 17 (corrective re-ask)").stage,
             call_stage::map);
    auto c = classify_label("job 12 collapse 2");
    CHECK_EQ(c.stage, call_stage::collapse);
    CHECK_EQ(c.round, 2u);
    CHECK_EQ(classify_label("job 12 collapse 0").round, 0u);
    CHECK_EQ(classify_label("job 1 reduce").stage, call_stage::reduce);
    CHECK_EQ(classify_label("job 1 reduce (corrective re-ask)").stage,
             call_stage::reduce);
    CHECK_EQ(classify_label("job 1 chain 4").stage, call_stage::other);
    CHECK_EQ(classify_label("").stage, call_stage::other);
  }

  TEST_CASE("bench bound: the larger of work / slots and the chain") {
    using llmmr::cli::compute_bound;
    // Eight maps of 100 ms on two slots: work 400 ms beats the chain.
    std::vector<timed_call> calls;
    for (int i = 0; i < 8; ++i)
      calls.push_back(call(call_stage::map, 0, 100, 0, 0));
    calls.push_back(call(call_stage::collapse, 0, 70, 0, 0)); // early: no chain
    calls.push_back(call(call_stage::collapse, 1, 60, 0, 0));
    calls.push_back(call(call_stage::collapse, 1, 50, 0, 0));
    calls.push_back(call(call_stage::collapse, 2, 40, 0, 0));
    calls.push_back(call(call_stage::reduce, 0, 30, 0, 0));
    auto b = compute_bound(calls, 2);
    CHECK_EQ(b.total_service_ms, doctest::Approx(800 + 70 + 60 + 50 + 40 + 30));
    CHECK_EQ(b.work_ms, doctest::Approx(b.total_service_ms / 2));
    // Longest map, the shortest call of rounds 1 and 2, the reduce.
    CHECK_EQ(b.chain_ms, doctest::Approx(100 + 50 + 40 + 30));
    CHECK_EQ(b.bound_ms, doctest::Approx(b.work_ms));
    CHECK_EQ(b.map_calls, 8u);
    CHECK_EQ(b.collapse_calls, 4u);
    CHECK_EQ(b.reduce_calls, 1u);
    CHECK_EQ(b.collapse_rounds, 2u);
    // Sixteen slots: now the chain binds.
    auto wide = compute_bound(calls, 16);
    CHECK_EQ(wide.bound_ms, doctest::Approx(220));
  }

  TEST_CASE("bench bound: idle slot time splits into four phases") {
    using llmmr::cli::break_down_idle;
    // Two slots. Maps [10,110) and [10,60); a collapse [110,150); the reduce
    // [150,170); the result at 200.
    std::vector<timed_call> calls{call(call_stage::map, 0, 100, 10, 110),
                                  call(call_stage::map, 0, 50, 10, 60),
                                  call(call_stage::collapse, 1, 40, 110, 150),
                                  call(call_stage::reduce, 0, 20, 150, 170)};
    auto idle = break_down_idle(calls, 2, 200);
    CHECK_EQ(idle.startup_ms, doctest::Approx(2 * 10));
    CHECK_EQ(idle.map_ms, doctest::Approx(2 * 100 - 150));
    CHECK_EQ(idle.tail_ms, doctest::Approx(2 * 60 - 60));
    CHECK_EQ(idle.end_ms, doctest::Approx(2 * 30));
    // makespan * slots = busy + idle, exactly.
    double busy = 100 + 50 + 40 + 20;
    CHECK_EQ(busy + idle.startup_ms + idle.map_ms + idle.tail_ms + idle.end_ms,
             doctest::Approx(2 * 200));
    // No call at all: every slot idles from the start.
    CHECK_EQ(break_down_idle({}, 4, 50).startup_ms, doctest::Approx(200));
  }

  TEST_CASE("bench --quick --json reports every figure or says why not") {
    auto res = run_command({llmmr_binary(), "bench", "--quick", "--json"}, {},
                           std::chrono::minutes{5});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto out = nlohmann::json::parse(res.out);
    for (auto name : {"makespan_vs_bound", "speedup_vs_stage_sync",
                      "orchestration_vs_raw_http", "cpu_us_per_map_call",
                      "peak_rss_mb_streamed_10m", "peak_rss_mb_streamed_100m",
                      "scaleout_4_workers", "calls_exact_vs_approx"}) {
      CAPTURE(name);
      REQUIRE(out.contains(name));
      if (out[name].is_null()) {
        REQUIRE(out.contains("null_reasons"));
        CHECK_FALSE(out["null_reasons"].value(name, "").empty());
      } else {
        CHECK(out[name].is_number());
      }
    }
    REQUIRE(out.contains("chunking_mb_per_s"));
    REQUIRE(out["chunking_mb_per_s"].is_object());
    REQUIRE(out["chunking_mb_per_s"].contains("approx"));
    for (auto& [name, v] : out["chunking_mb_per_s"].items()) {
      CAPTURE(name);
      CHECK(v.is_number());
    }
    REQUIRE(out.contains("verdicts"));
    for (auto& [name, v] : out["verdicts"].items()) {
      CAPTURE(name);
      auto s = v.get<std::string>();
      CHECK((s == "met" || s == "MISSED" || s == "NOT MEASURED"));
    }
  }

  TEST_CASE("bench rejects a bad option value naming it") {
    auto res = run_command({llmmr_binary(), "bench", "--only", "nonsense"});
    CHECK_EQ(res.exit_code, 2);
    CHECK(res.err.find("nonsense") != std::string::npos);
    res = run_command({llmmr_binary(), "bench", "--runs", "0"});
    CHECK_EQ(res.exit_code, 2);
    CHECK(res.err.find("--runs") != std::string::npos);
  }
}

// Unit tests of the pure collapse logic (method.md section 4).

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "llmmr/core/collapse_plan.hpp"

using namespace llmmr;

namespace {

/// One "token" per byte of the fields plus a header of 5.
size_t measure(const record& r) {
  return 5 + r.extracted.size() + r.rationale.size() + r.answer.size();
}

record make_rec(uint32_t chunk, size_t bytes, double conf = 3) {
  record r;
  r.chunks = {chunk};
  r.extracted = std::string(bytes / 2, 'e');
  r.rationale = std::string(bytes - bytes / 2, 'r');
  r.answer = "";
  r.confidence = conf;
  return r;
}

size_t total(const std::vector<record>& xs) {
  size_t n = 0;
  for (auto& x : xs)
    n += measure(x);
  return n;
}

} // namespace

TEST_SUITE("core") {

  TEST_CASE("collapse_plan: fits and greedy in-order packing") {
    std::vector<size_t> sizes{30, 30, 30, 50, 10, 10};
    CHECK(fits(sizes, 160));
    CHECK_FALSE(fits(sizes, 159));
    auto groups = pack_groups(sizes, 70);
    REQUIRE(groups.size() == 3);
    CHECK(groups[0] == collapse_group{0, 2, 60, false});
    CHECK(groups[1] == collapse_group{2, 3, 30, false});
    CHECK(groups[2] == collapse_group{3, 6, 70, false});
  }

  TEST_CASE("collapse_plan: a record larger than the budget is a group alone") {
    std::vector<size_t> sizes{10, 200, 10, 10};
    auto groups = pack_groups(sizes, 50);
    REQUIRE(groups.size() == 3);
    CHECK(groups[0] == collapse_group{0, 1, 10, false});
    CHECK(groups[1] == collapse_group{1, 2, 200, true});
    CHECK(groups[2] == collapse_group{2, 4, 20, false});
    CHECK(pack_groups(std::vector<size_t>{}, 10).empty());
  }

  TEST_CASE("collapse_plan: provenance is the sorted union") {
    std::vector<record> xs(3);
    xs[0].chunks = {4, 7};
    xs[1].chunks = {2};
    xs[2].chunks = {7, 9};
    CHECK(merge_provenance(xs) == std::vector<uint32_t>{2, 4, 7, 9});
  }

  TEST_CASE("collapse_plan: cut_utf8 never splits a character") {
    std::string s = "ab\xC3\xA9"
                    "cd"; // "abécd"
    CHECK(cut_utf8(s, 3) == "ab");
    CHECK(cut_utf8(s, 4) == "ab\xC3\xA9");
    CHECK(cut_utf8(s, 100) == s);
  }

  TEST_CASE("collapse_plan: truncate_to_fit shrinks an oversized record") {
    auto r = make_rec(0, 1000);
    r.answer = "42";
    CHECK(truncate_to_fit(r, 100, measure));
    CHECK(measure(r) <= 100);
    CHECK(r.answer == "42"); // rationale and extracted go first
    auto small = make_rec(1, 10);
    CHECK_FALSE(truncate_to_fit(small, 100, measure));
  }

  TEST_CASE("collapse_plan: force_fit cuts rationale, then drops the weakest") {
    std::vector<record> xs{make_rec(0, 40, 5), make_rec(1, 40, 1),
                           make_rec(2, 40, 3)};
    // Only cutting the weakest rationale is needed.
    auto a = xs;
    auto rep = force_fit(a, total(a) - 10, measure);
    CHECK(rep.truncated == 1);
    CHECK(rep.dropped == 0);
    CHECK(a[1].rationale.size() < 20);
    CHECK(a[0].rationale.size() == 20);
    // A tight budget drops the lowest-confidence records, keeping order.
    auto b = xs;
    rep = force_fit(b, 30, measure);
    CHECK(rep.dropped == 2);
    REQUIRE(b.size() == 1);
    CHECK(b[0].chunks == std::vector<uint32_t>{0});
    CHECK(rep.dropped_chunks == std::vector<uint32_t>{1, 2});
    CHECK(total(b) <= 30);
  }

  TEST_CASE("collapse_planner: rounds until it fits, provenance kept") {
    std::vector<record> xs;
    for (uint32_t i = 0; i < 16; ++i)
      xs.push_back(make_rec(i, 20)); // 25 each, 400 total
    collapse_planner p{{60, 8}, measure};
    auto round = p.begin(xs);
    while (!round.empty()) {
      std::vector<std::optional<record>> outs;
      for (auto& g : round) {
        // The model merges a group into one record of 20 bytes.
        outs.push_back(make_rec(999, 20));
        (void)g;
      }
      round = p.advance(std::move(outs));
    }
    CHECK(p.done());
    CHECK_FALSE(p.fallback());
    CHECK(p.rounds() >= 2);
    CHECK(p.total() <= 60);
    std::vector<uint32_t> all;
    for (auto& r : p.records())
      all.insert(all.end(), r.chunks.begin(), r.chunks.end());
    std::sort(all.begin(), all.end());
    std::vector<uint32_t> expected(16);
    std::iota(expected.begin(), expected.end(), 0u);
    CHECK(all == expected);
  }

  TEST_CASE("collapse_planner: no round needed when the records fit") {
    collapse_planner p{{1000, 8}, measure};
    CHECK(p.begin({make_rec(0, 10), make_rec(1, 10)}).empty());
    CHECK(p.done());
    CHECK(p.rounds() == 0);
    CHECK(p.records().size() == 2);
  }

  TEST_CASE("collapse_planner: terminates when outputs never shrink") {
    // Property: whatever the model returns (here: outputs at least as large as
    // all inputs together, or failures), the planner ends within the round
    // limit with records that fit and reports the fallback.
    std::mt19937 rng{42};
    for (int trial = 0; trial < 50; ++trial) {
      std::uniform_int_distribution<size_t> n_dist{1, 40};
      std::uniform_int_distribution<size_t> sz_dist{1, 300};
      std::uniform_int_distribution<int> conf_dist{0, 10};
      std::vector<record> xs;
      auto n = n_dist(rng);
      for (uint32_t i = 0; i < n; ++i)
        xs.push_back(make_rec(i, sz_dist(rng), conf_dist(rng) / 2.0));
      size_t budget = 100 + trial * 3;
      collapse_planner p{{budget, 1000}, measure};
      auto round = p.begin(xs);
      int guard = 0;
      while (!round.empty()) {
        REQUIRE(++guard < 1000);
        std::vector<std::optional<record>> outs;
        for (auto& g : round) {
          if (trial % 3 == 0) {
            outs.push_back(std::nullopt); // every call fails
            continue;
          }
          size_t in = 0;
          for (auto& r : g)
            in += measure(r);
          outs.push_back(make_rec(0, in + 7, 2)); // grows
        }
        round = p.advance(std::move(outs));
      }
      CHECK(p.done());
      CHECK(p.total() <= budget);
      if (total(xs) > budget && trial % 3 != 0) {
        CHECK(p.fallback());
        CHECK_FALSE(p.note().empty());
      }
    }
  }

  TEST_CASE("collapse_planner: the round limit ends a slow collapse") {
    std::vector<record> xs;
    for (uint32_t i = 0; i < 8; ++i)
      xs.push_back(make_rec(i, 95)); // 100 each
    collapse_planner p{{200, 2}, measure};
    auto round = p.begin(xs);
    while (!round.empty()) {
      std::vector<std::optional<record>> outs;
      for (auto& g : round) {
        size_t in = 0;
        for (auto& r : g)
          in += measure(r);
        outs.push_back(make_rec(0, in - 10, 3)); // shrinks, but barely
      }
      round = p.advance(std::move(outs));
    }
    CHECK(p.rounds() == 2);
    CHECK(p.fallback());
    CHECK(p.note().find("after 2 collapse rounds") != std::string::npos);
    CHECK(p.total() <= 200);
  }

  TEST_CASE("collapse_planner: the filter runs before every round") {
    std::vector<record> xs{make_rec(0, 50), make_rec(1, 50), make_rec(2, 50)};
    xs[1].no_information = true;
    collapse_planner p{{120, 8}, measure, [](std::vector<record> in) {
                         std::vector<record> out;
                         for (auto& r : in)
                           if (!r.no_information)
                             out.push_back(std::move(r));
                         return out;
                       }};
    CHECK(p.begin(xs).empty());
    CHECK(p.records().size() == 2);
  }

  TEST_CASE("collapse_planner: merge_round + next_round equals advance") {
    // An asynchronous caller splits `advance` in two to filter in between;
    // both paths must plan the same rounds and end with the same records.
    auto drop_weak = [](std::vector<record> in) {
      std::vector<record> out;
      for (auto& r : in)
        if (r.confidence >= 2)
          out.push_back(std::move(r));
      return out;
    };
    std::vector<record> xs;
    for (uint32_t i = 0; i < 12; ++i)
      xs.push_back(make_rec(i, 30, i % 4 == 0 ? 1 : 3));
    collapse_planner a{{70, 8}, measure, drop_weak};
    collapse_planner b{{70, 8}, measure};
    auto ra = a.begin(xs);
    auto rb = b.begin(drop_weak(xs));
    int guard = 0;
    while (!ra.empty()) {
      REQUIRE(++guard < 100);
      REQUIRE(ra == rb);
      std::vector<std::optional<record>> outs;
      for (size_t g = 0; g < ra.size(); ++g)
        if (g % 3 == 1)
          outs.push_back(std::nullopt); // a failed call keeps its inputs
        else
          outs.push_back(make_rec(0, 22, 3));
      auto outs_b = outs;
      ra = a.advance(std::move(outs));
      auto merged = b.merge_round(std::move(outs_b));
      CHECK(b.records().empty());
      rb = b.next_round(drop_weak(std::move(merged)));
    }
    CHECK(rb.empty());
    CHECK(a.done());
    CHECK(b.done());
    CHECK(a.rounds() == b.rounds());
    CHECK(a.fallback() == b.fallback());
    CHECK(a.records() == b.records());
  }

  TEST_CASE("collapse_planner: a first round partly collapsed early plans "
            "the rounds of the whole") {
    // Early collapse hands the planner the outputs of the first groups
    // (their inputs gone), a failed early group's inputs and the records
    // held since. Rounds, outputs and final records must equal planning over
    // every record at the end, for every place the early groups may stop.
    std::mt19937 rng{7};
    std::uniform_int_distribution<size_t> bytes{5, 60};
    std::vector<record> xs;
    for (uint32_t i = 0; i < 40; ++i)
      xs.push_back(make_rec(i, bytes(rng)));
    collapse_options opts{100, 8};
    // The output of a group: shorter than its inputs, same for both paths.
    auto output_of = [](const std::vector<record>& group) {
      auto out = make_rec(group.front().chunks.front(), 4 + group.size());
      out.chunks = merge_provenance(group);
      return out;
    };
    collapse_planner whole{opts, measure};
    auto first = whole.begin(xs);
    REQUIRE(first.size() > 4);
    for (size_t early = 1; early + 1 < first.size(); ++early) {
      CAPTURE(early);
      const size_t failed = early / 2; // this early call failed
      std::vector<first_round_part> parts;
      std::vector<record> early_outputs;
      size_t used = 0;
      for (size_t g = 0; g < early; ++g) {
        first_round_part p;
        if (g == failed) {
          p.records = first[g];
        } else {
          p.collapsed = true;
          for (auto& r : first[g])
            p.input_tokens += measure(r);
          early_outputs.push_back(output_of(first[g]));
        }
        used += first[g].size();
        parts.push_back(std::move(p));
      }
      first_round_part tail;
      tail.records.assign(xs.begin() + static_cast<std::ptrdiff_t>(used),
                          xs.end());
      parts.push_back(std::move(tail));
      collapse_planner part{opts, measure};
      auto got = part.begin(std::move(parts));
      REQUIRE_EQ(got.size(), first.size());
      std::vector<std::optional<record>> outs_whole, outs_part;
      size_t next = 0;
      for (size_t g = 0; g < first.size(); ++g) {
        if (g < early && g != failed) {
          CHECK(got[g].empty());
          outs_part.push_back(early_outputs[next++]);
        } else {
          CHECK(got[g] == first[g]);
          outs_part.push_back(output_of(got[g]));
        }
        outs_whole.push_back(output_of(first[g]));
      }
      collapse_planner ref{opts, measure};
      auto r_ref = ref.begin(xs);
      auto r_part = std::move(got);
      r_ref = ref.advance(std::move(outs_whole));
      r_part = part.advance(std::move(outs_part));
      int guard = 0;
      while (!r_ref.empty()) {
        REQUIRE(++guard < 50);
        REQUIRE(r_ref == r_part);
        std::vector<std::optional<record>> a, b;
        for (auto& g : r_ref) {
          a.push_back(output_of(g));
          b.push_back(output_of(g));
        }
        r_ref = ref.advance(std::move(a));
        r_part = part.advance(std::move(b));
      }
      CHECK(r_part.empty());
      CHECK(ref.rounds() == part.rounds());
      CHECK(ref.fallback() == part.fallback());
      CHECK(ref.records() == part.records());
    }
  }

} // TEST_SUITE

// Integration tests of `llmmr demo`: simulator, haystack and pipeline in one
// process.

#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/haystack.hpp"
#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

command_result demo(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = 300s) {
  return run_llmmr("demo", args, {}, timeout);
}

void check_found(const json& rep) {
  CHECK(rep["correct"].get<bool>());
  CHECK_EQ(rep["answer"], rep["expected"]);
  CHECK(rep["evidence_matches_needle"].get<bool>());
  CHECK(rep["needle"]["chunk"].is_number_unsigned());
  CHECK(rep["result"]["failures"].empty());
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("the demo's haystack is deterministic with one needle") {
    llmmr::approx_tokenizer tok;
    llmmr::haystack_options opts;
    opts.tokens = 50'000;
    opts.depth = 0.4;
    opts.seed = 17;
    auto a = llmmr::make_haystack(opts, tok);
    auto b = llmmr::make_haystack(opts, tok);
    CHECK_EQ(a.text, b.text);
    CHECK_EQ(a.answer, llmmr::haystack_passphrase(17));
    CHECK_EQ(a.needle, "The secret passphrase is " + a.answer + ".");
    REQUIRE_LT(a.needle_offset, a.text.size());
    CHECK_EQ(a.text.compare(a.needle_offset, a.needle.size(), a.needle), 0);
    // The needle is the only sentence about secrets or passphrases.
    CHECK_EQ(a.text.find("ecret"), a.needle_offset + 5);
    CHECK_EQ(a.text.rfind("ecret"), a.needle_offset + 5);
    CHECK_EQ(a.text.find("assp"), a.text.rfind("assp"));
    // About the requested size, needle near the requested depth.
    CHECK_GE(a.tokens, 50'000u);
    CHECK_LT(a.tokens, 51'000u);
    CHECK_LE(tok.count(a.text), a.tokens * 101 / 100);
    auto depth = static_cast<double>(a.needle_offset) / a.text.size();
    CHECK(depth > 0.35);
    CHECK(depth < 0.45);
    // Varied text: many distinct sentences, and another seed differs.
    llmmr::filler_text filler{3};
    std::set<std::string> sentences;
    for (int i = 0; i < 1000; ++i)
      sentences.insert(filler.next_sentence());
    CHECK_GT(sentences.size(), 950u);
    opts.seed = 18;
    CHECK_NE(llmmr::make_haystack(opts, tok).text, a.text);
    // The ends.
    opts.depth = 0;
    CHECK_EQ(llmmr::make_haystack(opts, tok).needle_offset, 0u);
    opts.depth = 1;
    auto end = llmmr::make_haystack(opts, tok);
    CHECK_EQ(end.needle_offset + end.needle.size() + 1, end.text.size());
  }

  TEST_CASE("demo finds the needle in a small haystack") {
    for (auto depth : {"0", "0.5", "1"}) {
      CAPTURE(depth);
      auto r = demo(
        {"--tokens", "30000", "--seed", "7", "--depth", depth, "--json"});
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      auto rep = parse_json_output(r);
      check_found(rep);
      CHECK_GE(rep["haystack"]["tokens"].get<uint64_t>(), 30000u);
      CHECK_LT(rep["haystack"]["tokens"].get<uint64_t>(), 32000u);
    }
  }

  TEST_CASE("demo prints a readable report and survives faults") {
    auto r = demo({"--tokens", "60000", "--seed", "3", "--fault-rate", "0.2"});
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    CHECK(r.out.find("CORRECT") != std::string::npos);
    CHECK(r.out.find("the evidence matches") != std::string::npos);
    CHECK(r.out.find("needle:") != std::string::npos);
    CHECK(r.out.find("calls:") != std::string::npos);
    CHECK(r.out.find("tokens:") != std::string::npos);
  }

  TEST_CASE("demo rejects bad options") {
    CHECK_EQ(demo({"--depth", "2"}).exit_code, 2);
    CHECK_EQ(demo({"--tokens", "many"}).exit_code, 2);
    CHECK_EQ(demo({"--fault-rate", "1.5"}).exit_code, 2);
    CHECK_EQ(demo({"extra"}).exit_code, 2);
  }

  TEST_CASE("demo with the default million tokens finds the needle") {
    auto t0 = std::chrono::steady_clock::now();
    auto r = demo({"--seed", "2026", "--json", "--quiet"}, 600s);
    auto secs
      = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
    MESSAGE("llmmr demo (1M tokens) took ", secs, " s");
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto rep = parse_json_output(r);
    check_found(rep);
    CHECK_GE(rep["haystack"]["tokens"].get<uint64_t>(), 1'000'000u);
  }
}

// `llmmr ask --json` against `llmmr sim` processes that misbehave on purpose
// (`--replies`): structured output on and off, truncated, null and
// evidence-only replies, and what the answer, the flags and the exit code say
// about each (docs/protocol.md, "Outcome rules").

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string& fact = relay_fact;
const std::string& question = relay_question;

command_result ask(const sim_process& sim, std::vector<std::string> extra,
                   const std::string& input) {
  std::vector<std::string> argv{llmmr_binary(), "ask",    "--doc",      "-",
                                "--question",   question, "--endpoint", sim.url,
                                "--budget",     "1536",   "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv, input, 120s);
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("ask: structured output on and off give the same answer") {
    auto text = document_with_fact(21, 30, fact);
    for (auto mode : {"auto", "json_schema", "text"}) {
      CAPTURE(mode);
      sim_process sim;
      auto r
        = ask(sim, {"--set", std::string{"protocol.structured_output="} + mode},
              text);
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      auto res = parse_json_output(r);
      CHECK(has(res["answer"].get<std::string>(), "Blue Heron"));
      CHECK_FALSE(res["partial"].get<bool>());
    }
  }

  TEST_CASE("ask: a server that rejects JSON schemas is served text") {
    sim_process sim{{"--replies", "all=reject_schema"}};
    auto text = document_with_fact(22, 30, fact);
    auto r
      = ask(sim, {"--set", "protocol.structured_output=json_schema"}, text);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK(has(res["answer"].get<std::string>(), "Blue Heron"));
    // Logged once, not per call.
    auto first = r.err.find("rejected a JSON-schema request");
    REQUIRE(first != std::string::npos);
    CHECK(r.err.find("rejected a JSON-schema request", first + 1)
          == std::string::npos);
  }

  TEST_CASE("ask: a truncated reduce is re-asked, then the job fails with 8") {
    auto text = document_with_fact(23, 30, fact);
    SUBCASE("cut once: the corrective re-ask answers") {
      sim_process sim{{"--replies", "reduce=truncated_first"}};
      auto r = ask(sim, {}, text);
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      auto res = parse_json_output(r);
      CHECK(has(res["answer"].get<std::string>(), "Blue Heron"));
      CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 2u);
      CHECK_EQ(res["reasks"]["reduce"].get<unsigned>(), 1u);
    }
    SUBCASE("cut every time: exit 8 naming the problem, no answer") {
      sim_process sim{{"--replies", "reduce=truncated"}};
      auto r = ask(sim, {}, text);
      CHECK_EQ(r.exit_code, 8);
      CHECK(r.out.empty());
      CHECK(has(r.err, "truncated"));
      CHECK(has(r.err, "cut off at max_tokens"));
    }
  }

  TEST_CASE("ask: null content everywhere is an error, never an answer") {
    sim_process sim{{"--replies", "all=null"}};
    auto r = ask(sim, {}, document_with_fact(24, 20, fact));
    CHECK_EQ(r.exit_code, 8);
    CHECK(r.out.empty());
    CHECK(has(r.err, "empty"));
  }

  TEST_CASE("ask: every map output truncated fails, or is partial if allowed") {
    auto text = document_with_fact(25, 20, fact);
    sim_process sim{{"--replies", "map=truncated"}};
    auto r = ask(sim, {}, text);
    CHECK_EQ(r.exit_code, 8);
    CHECK(r.out.empty());
    CHECK(has(r.err, "cut off"));
    auto p = ask(sim, {"--set", "job.max_failed_fraction=1"}, text);
    INFO("stderr: ", p.err);
    CHECK_EQ(p.exit_code, 5);
    auto res = parse_json_output(p);
    CHECK(res["partial"].get<bool>());
    CHECK(res["no_information"].get<bool>());
    CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 0u);
    CHECK_EQ(res["failures"].size(), res["chunks"].get<size_t>());
    CHECK(has(p.err, "partial result"));
  }

  TEST_CASE("ask: evidence-only map replies still lead to the answer") {
    sim_process sim{{"--replies", "map=evidence"}};
    auto r = ask(sim, {}, document_with_fact(26, 30, fact));
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK(has(res["answer"].get<std::string>(), "Blue Heron"));
    bool evidence = false;
    for (const auto& ev : res["evidence"])
      evidence = evidence || ev["kind"] == "evidence";
    CHECK(evidence);
  }

  TEST_CASE(
    "ask: nothing relevant anywhere makes no reduce call, and says so") {
    sim_process sim;
    std::string text;
    for (int i = 0; i < 400; ++i)
      text += "Line " + std::to_string(i) + ": the sky was grey all week.\n";
    // Terms that occur nowhere in the document.
    auto r = run_command({llmmr_binary(), "ask", "--doc", "-", "--question",
                          "Which zeppelin carried the xylophone?", "--endpoint",
                          sim.url, "--budget", "1536", "--json", "--quiet"},
                         text, 120s);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK(res["no_information"].get<bool>());
    CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 0u);
    CHECK(has(r.err, "no reduce call was made"));
  }

  TEST_CASE("ask: blank questions and blank documents exit 3 before any call") {
    sim_process sim;
    auto blank_q = run_command({llmmr_binary(), "ask", "--doc", "-",
                                "--question", "   ", "--endpoint", sim.url},
                               document_with_fact(28, 5, fact), 60s);
    CHECK_EQ(blank_q.exit_code, 3);
    CHECK(has(blank_q.err, "blank"));
    auto blank_doc
      = run_command({llmmr_binary(), "ask", "--doc", "-", "--question",
                     question, "--endpoint", sim.url},
                    std::string(20000, ' ') + "\n\t\n", 60s);
    CHECK_EQ(blank_doc.exit_code, 3);
    CHECK(has(blank_doc.err, "white space"));
  }
}

TEST_SUITE("cli") {
  TEST_CASE("ask: a server window smaller than configured is ridden out") {
    // The configuration claims 4096 tokens; the server takes 1500 and says
    // so in its context_length_exceeded errors: chunks are split again and
    // the job still answers.
    sim_process sim{{"--context-window", "1500"}};
    auto r = run_command({llmmr_binary(), "ask", "--doc", "-", "--question",
                          question, "--endpoint", sim.url, "--budget", "4096",
                          "--set", "endpoints[0].context_window=4096", "--set",
                          "tokenizer.kind=approx", "--json"},
                         document_with_fact(29, 40, fact), 120s);
    INFO("stderr: ", r.err.substr(0, 3000));
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK(has(res["answer"].get<std::string>(), "Blue Heron"));
    CHECK_GT(res["calls"]["map"].get<unsigned>(),
             res["chunks"].get<unsigned>());
    CHECK(res["failures"].empty());
  }
}

TEST_SUITE("cli") {
  TEST_CASE("ask: records dropped by the collapse fallback make it partial") {
    // At L = 1024 the simulator's collapse outputs grow instead of
    // shrinking, so the fallback drops records: exit 5, the losses listed in
    // the result and on stderr even with --quiet.
    sim_process sim;
    auto r
      = run_command({llmmr_binary(), "ask", "--doc", "-", "--question",
                     question, "--endpoint", sim.url, "--budget", "1024",
                     "--set", "tokenizer.kind=approx", "--json", "--quiet"},
                    document_with_fact(31, 60, fact), 120s);
    INFO("stderr: ", r.err.substr(0, 3000));
    REQUIRE_EQ(r.exit_code, 5);
    auto res = parse_json_output(r);
    CHECK(res["collapse_fallback"].get<bool>());
    CHECK(res["partial"].get<bool>());
    CHECK(res["failures"].empty());
    REQUIRE_FALSE(res["losses"].empty());
    bool dropped = false;
    for (const auto& l : res["losses"]) {
      dropped = dropped || has(l["what"].get<std::string>(), "dropped");
      CHECK_EQ(l["chunks"].size(), l["chunk_indices"].size());
    }
    CHECK(dropped);
    CHECK(has(r.err, "collapse fallback"));
    CHECK(has(r.err, "evidence lost or cut"));
  }
}

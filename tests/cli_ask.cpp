// Integration tests of `llmmr ask`: the real program against the real
// `llmmr sim` process over loopback, with and without injected faults.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/haystack.hpp"
#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string& fact = relay_fact;
const std::string& question = relay_question;

command_result ask(const std::vector<std::string>& args,
                   const std::string& input = {},
                   std::chrono::milliseconds timeout = 300s) {
  return run_llmmr("ask", args, input, timeout);
}

/// Checks that `doc` has every field `llmmr ask --json` promises.
void check_result_fields(const json& doc) {
  REQUIRE(doc.is_object());
  for (auto key :
       {"answer", "confidence", "evidence", "calls", "collapse_rounds", "usage",
        "failures", "partial", "chunks", "timings_ms", "rationale"})
    CHECK_MESSAGE(doc.contains(key), "missing field ", key);
  CHECK(doc["answer"].is_string());
  CHECK(doc["confidence"].is_number());
  REQUIRE(doc["evidence"].is_array());
  for (const auto& ev : doc["evidence"]) {
    REQUIRE(ev["chunks"].is_array());
    for (const auto& range : ev["chunks"]) {
      REQUIRE(range.is_array());
      REQUIRE_EQ(range.size(), 2u);
      CHECK_LT(range[0].get<uint64_t>(), range[1].get<uint64_t>());
    }
    for (auto key : {"answer", "confidence", "extracted", "rationale",
                     "chunk_indices", "status", "no_information"})
      CHECK_MESSAGE(ev.contains(key), "evidence misses ", key);
  }
  for (auto key : {"map", "collapse", "reduce"})
    CHECK(doc["calls"][key].is_number_unsigned());
  CHECK(doc["collapse_rounds"].is_number_unsigned());
  CHECK(doc["usage"]["prompt_tokens"].is_number_unsigned());
  CHECK(doc["usage"]["completion_tokens"].is_number_unsigned());
  CHECK(doc["failures"].is_array());
  CHECK(doc["partial"].is_boolean());
  CHECK(doc["timings_ms"]["total"].is_number());
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("ask answers over a small document with every JSON field") {
    sim_process sim;
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(5, 40, fact));
    auto r = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                  "--budget", "1536", "--json"});
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    check_result_fields(res);
    CHECK(res["answer"].get<std::string>().find("Blue Heron")
          != std::string::npos);
    CHECK_GT(res["chunks"].get<unsigned>(), 3u);
    CHECK_GE(res["calls"]["map"].get<unsigned>(),
             res["chunks"].get<unsigned>());
    CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 1u);
    CHECK(res["failures"].empty());
    CHECK_FALSE(res["partial"].get<bool>());
    // The evidence that carries the answer covers the fact's bytes.
    auto text = document_with_fact(5, 40, fact);
    auto fact_at = text.find(fact);
    bool covered = false;
    for (const auto& ev : res["evidence"])
      if (ev["answer"].get<std::string>().find("Blue Heron")
          != std::string::npos)
        for (const auto& range : ev["chunks"])
          covered = covered
                    || (range[0].get<uint64_t>() <= fact_at
                        && fact_at < range[1].get<uint64_t>());
    CHECK(covered);
    // Progress went to stderr as plain lines (stderr is not a terminal).
    auto counts = last_progress(r.err);
    CHECK(counts.found);
    CHECK_EQ(counts.mapped, res["chunks"].get<unsigned>());
    CHECK_EQ(counts.failed, 0u);
  }

  TEST_CASE("ask prints the answer on stdout and reads standard input") {
    sim_process sim;
    auto text = document_with_fact(6, 12, fact);
    auto r = ask({"--doc", "-", "--question", question, "--endpoint", sim.url,
                  "--budget", "1536"},
                 text);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    CHECK_EQ(r.out, "Blue Heron\n");
    CHECK(r.err.find("chunks;") != std::string::npos);       // summary
    CHECK(r.err.find("chunks mapped") != std::string::npos); // progress
    // --quiet: nothing but the answer.
    auto q = ask(
      {"--doc", "-", "--question", question, "--endpoint", sim.url, "--quiet"},
      text);
    CHECK_EQ(q.exit_code, 0);
    CHECK_EQ(q.out, "Blue Heron\n");
    CHECK(q.err.empty());
  }

  TEST_CASE("ask with streamed replies gives the same answer") {
    sim_process sim;
    auto text = document_with_fact(8, 12, fact);
    auto r = ask({"--doc", "-", "--question", question, "--endpoint", sim.url,
                  "--budget", "1536", "--set", "client.stream=true", "--set",
                  "job.temperature=0.2", "--quiet"},
                 text);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    CHECK_EQ(r.out, "Blue Heron\n");
  }

  TEST_CASE("ask keeps stdout clean while retries are logged") {
    sim_process sim{
      {"--fault-rate", "0.3", "--stall-ms", "200", "--seed", "5"}};
    auto text = document_with_fact(9, 16, fact);
    auto r = ask(
      {"--doc", "-", "--question", question, "--endpoint", sim.url, "--budget",
       "1536", "--json", "--set", "retry.max_attempts=12", "--set",
       "retry.initial_backoff_ms=5", "--set", "retry.max_backoff_ms=100",
       "--set", "client.first_byte_timeout_ms=5000", "--set", "log.level=info"},
      text);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto doc = parse_json_output(r);
    CHECK_EQ(doc["answer"], "Blue Heron");
    // The retries were logged, on stderr only.
    CHECK(r.err.find("retry") != std::string::npos);
  }

  TEST_CASE("ask with injected faults: retries make every chunk succeed") {
    sim_process sim{{"--fault-rate", "0.2", "--stall-ms", "200", "--slots", "8",
                     "--seed", "11"}};
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(8, 120, fact));
    auto r = ask({"--doc",
                  doc,
                  "--question",
                  question,
                  "--endpoint",
                  sim.url,
                  "--budget",
                  "1536",
                  "--json",
                  "--set",
                  "retry.max_attempts=12",
                  "--set",
                  "retry.initial_backoff_ms=5",
                  "--set",
                  "retry.max_backoff_ms=100",
                  "--set",
                  "client.first_byte_timeout_ms=5000",
                  "--set",
                  "pipeline.map_window=8",
                  "--set",
                  "log.level=off"});
    INFO("stderr: ", r.err.substr(0, 3000));
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    check_result_fields(res);
    CHECK(res["answer"].get<std::string>().find("Blue Heron")
          != std::string::npos);
    CHECK(res["failures"].empty());
    CHECK_FALSE(res["partial"].get<bool>());
    auto counts = last_progress(r.err);
    CHECK_EQ(counts.mapped, res["chunks"].get<unsigned>());
  }

  TEST_CASE("ask without retries accounts for every chunk") {
    // 40 % faults, one attempt per call, failures allowed: every chunk ends
    // as a record or as a listed failure with its reason.
    sim_process sim{
      {"--fault-rate", "0.4", "--stall-ms", "100", "--seed", "3"}};
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(9, 100, fact));
    auto r = ask(
      {"--doc", doc, "--question", question, "--endpoint", sim.url, "--budget",
       "1536", "--json", "--set", "retry.max_attempts=1", "--set",
       "job.max_failed_fraction=1", "--set", "job.reask_unparsable=0", "--set",
       "client.first_byte_timeout_ms=2000", "--set", "log.level=off"});
    INFO("stderr: ", r.err.substr(0, 3000));
    // Some chunks fail (a partial result, 5); the reduce call may fail too
    // (an endpoint failure, 4), which leaves no result but still an account
    // of every chunk in the last progress line.
    auto counts = last_progress(r.err);
    REQUIRE(counts.found);
    CHECK_GT(counts.total, 10u);
    CHECK_GT(counts.failed, 0u);
    CHECK_EQ(counts.mapped + counts.failed, counts.total);
    if (r.exit_code == 4) {
      CHECK(r.out.empty());
      return;
    }
    REQUIRE_EQ(r.exit_code, 5);
    auto res = parse_json_output(r);
    check_result_fields(res);
    CHECK(res["partial"].get<bool>());
    auto chunks = res["chunks"].get<unsigned>();
    CHECK_EQ(counts.total, chunks);
    CHECK_EQ(counts.failed, res["failures"].size());
    for (const auto& f : res["failures"]) {
      CHECK(f["index"].get<unsigned>() < chunks);
      CHECK(f["range"].is_array());
      CHECK_FALSE(f["kind"].get<std::string>().empty());
      CHECK_FALSE(f["reason"].get<std::string>().empty());
    }
  }

  TEST_CASE("ask reports the concurrency limit backing off on 429s") {
    sim_process sim{{"--faults", "rate_limit=0.3", "--retry-after-ms", "5",
                     "--slots", "8", "--seed", "5"}};
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(9, 100, fact));
    auto r = ask(
      {"--doc", doc, "--question", question, "--endpoint", sim.url, "--budget",
       "1536", "--json", "--set", "endpoints[0].max_concurrency=8", "--set",
       "pipeline.map_window=8", "--set", "retry.max_attempts=20", "--set",
       "retry.initial_backoff_ms=5", "--set", "retry.max_backoff_ms=50"});
    INFO("stderr: ", r.err.substr(0, 3000));
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    REQUIRE(res["endpoints"].is_array());
    REQUIRE_EQ(res["endpoints"].size(), 1u);
    const auto& ep = res["endpoints"][0];
    CHECK_LT(ep["lowest_concurrency_limit"].get<unsigned>(), 8u);
    REQUIRE_GE(ep["limit_changes"].size(), 2u);
    CHECK_EQ(ep["limit_changes"][0]["limit"], 8);
    CHECK_EQ(ep["limit_changes"][1]["reason"], "rate_limited");
    CHECK(r.err.find("concurrency limit 8 at the start") != std::string::npos);
  }

  TEST_CASE("ask: usage errors exit 2, input errors 3, config errors 6") {
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(1, 3, fact));
    auto url = "http://127.0.0.1:" + closed_port() + "/v1";
    CHECK_EQ(ask({}).exit_code, 2);
    CHECK_EQ(ask({"--doc", doc}).exit_code, 2);
    CHECK_EQ(ask({"--question", question}).exit_code, 2);
    CHECK_EQ(ask({"--doc", doc, "--question", question, "--bogus"}).exit_code,
             2);
    CHECK_EQ(
      ask({"--doc", doc, "--question", question, "--budget", "lots"}).exit_code,
      2);
    CHECK_EQ(
      ask({"--doc", doc, "--question", question, "--set", "nokey"}).exit_code,
      2);
    auto help = ask({"--help"});
    CHECK_EQ(help.exit_code, 0);
    CHECK(help.out.find("--question") != std::string::npos);
    // Input errors come first, even with an unreachable endpoint.
    auto missing = ask({"--doc", (dir.path() / "nope.txt").string(),
                        "--question", question, "--endpoint", url});
    CHECK_EQ(missing.exit_code, 3);
    CHECK(missing.err.find("nope.txt") != std::string::npos);
    // Configuration errors.
    auto bad_key = ask({"--doc", doc, "--question", question, "--set",
                        "job.budgt=5", "--endpoint", url});
    CHECK_EQ(bad_key.exit_code, 6);
    CHECK(bad_key.err.find("job.budget") != std::string::npos);
    CHECK_EQ(ask({"--doc", doc, "--question", question, "--endpoint",
                  "localhost:8000"})
               .exit_code,
             6);
  }

  TEST_CASE("ask: invalid UTF-8 and empty documents exit 3") {
    sim_process sim;
    temp_dir dir;
    std::string bad = document_with_fact(2, 4, fact);
    auto bad_at = bad.size();
    bad += "caf\xC3\x28 and more text\n";
    auto bad_doc = dir.write("bad.txt", bad);
    auto r = ask({"--doc", bad_doc, "--question", question, "--endpoint",
                  sim.url, "--quiet"});
    CHECK_EQ(r.exit_code, 3);
    CHECK(r.err.find(std::to_string(bad_at + 3)) != std::string::npos);
    auto empty = dir.write("empty.txt", "");
    auto e = ask({"--doc", empty, "--question", question, "--endpoint", sim.url,
                  "--quiet"});
    CHECK_EQ(e.exit_code, 3);
    CHECK(e.err.find("empty") != std::string::npos);
  }

  TEST_CASE("ask: an unreachable endpoint exits 4") {
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(3, 6, fact));
    auto url = "http://127.0.0.1:" + closed_port() + "/v1";
    // Detecting the profile finds nobody there.
    auto r = ask({"--doc", doc, "--question", question, "--endpoint", url});
    CHECK_EQ(r.exit_code, 4);
    CHECK(r.err.find("unreachable") != std::string::npos);
    // With profile and window given there is no probe: every call fails.
    auto s = ask({"--doc", doc, "--question", question, "--endpoint", url,
                  "--set", "endpoints[0].profile=vllm", "--set",
                  "endpoints[0].context_window=8192", "--set",
                  "retry.max_attempts=1", "--set", "log.level=off", "--quiet"});
    CHECK_EQ(s.exit_code, 4);
  }

  TEST_CASE("ask: a wrong API key exits 4 and the key is never printed") {
    sim_process sim{{"--api-key", "right-key-123"}};
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(4, 6, fact));
    auto r = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                  "--set", "endpoints[0].api_key=wrong-key-456"});
    CHECK_EQ(r.exit_code, 4);
    CHECK(r.err.find("wrong-key-456") == std::string::npos);
    CHECK(r.out.find("wrong-key-456") == std::string::npos);
    auto ok = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                   "--set", "endpoints[0].api_key=right-key-123", "--json",
                   "--quiet"});
    CHECK_EQ(ok.exit_code, 0);
    CHECK(ok.out.find("right-key-123") == std::string::npos);
  }

  TEST_CASE("ask over a 1M-token document with 20 % faults loses no chunk") {
    sim_process sim{{"--fault-rate", "0.2", "--stall-ms", "200", "--slots",
                     "16", "--seed", "20"}};
    temp_dir dir;
    llmmr::approx_tokenizer tok;
    llmmr::haystack_options opts;
    opts.tokens = 1'000'000;
    opts.depth = 0.63;
    opts.seed = 42;
    auto hay = llmmr::make_haystack(opts, tok);
    auto doc = dir.write("haystack.txt", hay.text);
    auto t0 = std::chrono::steady_clock::now();
    auto r = ask({"--doc",
                  doc,
                  "--question",
                  hay.question,
                  "--endpoint",
                  sim.url,
                  "--json",
                  "--set",
                  "endpoints[0].max_concurrency=16",
                  "--set",
                  "pipeline.mappers=4",
                  "--set",
                  "pipeline.map_window=8",
                  "--set",
                  "pipeline.chunk_window=32",
                  "--set",
                  "retry.max_attempts=12",
                  "--set",
                  "retry.initial_backoff_ms=5",
                  "--set",
                  "retry.max_backoff_ms=100",
                  "--set",
                  "client.first_byte_timeout_ms=5000",
                  "--set",
                  "log.level=off"},
                 {}, 900s);
    auto secs
      = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
    MESSAGE("1M-token ask with 20 % faults took ", secs, " s");
    INFO("stderr: ",
         r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0));
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    check_result_fields(res);
    CHECK_EQ(res["answer"].get<std::string>(), hay.answer);
    auto chunks = res["chunks"].get<unsigned>();
    CHECK_GT(chunks, 200u);
    CHECK(res["failures"].empty());
    CHECK_FALSE(res["partial"].get<bool>());
    auto counts = last_progress(r.err);
    CHECK_EQ(counts.mapped, chunks);
    CHECK_EQ(counts.failed, 0u);
    MESSAGE("chunks ", chunks, ", calls ", res["calls"].dump(), ", usage ",
            res["usage"].dump());
  }
}

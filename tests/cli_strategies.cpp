// `llmmr ask --strategy chain|direct` against the real `llmmr sim` process:
// the baselines find a planted fact and say which strategy ran.

#include <doctest/doctest.h>

#include <chrono>
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

command_result ask(const std::vector<std::string>& args) {
  return run_llmmr("ask", args);
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("ask --strategy chain finds the fact through n+1 sequential "
            "calls") {
    sim_process sim;
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(5, 40, fact));
    auto r = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                  "--budget", "1536", "--strategy", "chain", "--json"});
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK_EQ(res["strategy"], "chain");
    CHECK(res["answer"].get<std::string>().find("Blue Heron")
          != std::string::npos);
    auto chunks = res["chunks"].get<unsigned>();
    CHECK_GT(chunks, 3u);
    CHECK_EQ(res["calls"]["map"].get<unsigned>(), chunks);
    CHECK_EQ(res["calls"]["collapse"].get<unsigned>(), 0u);
    CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 1u);
    CHECK_FALSE(res["partial"].get<bool>());
    CHECK_EQ(res["cut_tokens"].get<unsigned>(), 0u);
  }

  TEST_CASE("ask --strategy direct answers in one call and reports a cut") {
    sim_process sim;
    temp_dir dir;
    // Small enough to fit: the fact is found, nothing is cut.
    auto small = dir.write("small.txt", document_with_fact(6, 12, fact));
    auto r = ask({"--doc", small, "--question", question, "--endpoint", sim.url,
                  "--budget", "4096", "--strategy", "direct", "--json"});
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    CHECK_EQ(res["strategy"], "direct");
    CHECK(res["answer"].get<std::string>().find("Blue Heron")
          != std::string::npos);
    CHECK_EQ(res["calls"]["map"].get<unsigned>(), 0u);
    CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 1u);
    CHECK_EQ(res["cut_tokens"].get<unsigned>(), 0u);
    CHECK_FALSE(res["partial"].get<bool>());
    // Too long: the middle (and the fact in it) is cut, the result is
    // partial (exit 5) and stderr says how many tokens were cut.
    auto big = dir.write("big.txt", document_with_fact(7, 80, fact));
    auto r2 = ask({"--doc", big, "--question", question, "--endpoint", sim.url,
                   "--budget", "1536", "--strategy", "direct", "--json"});
    INFO("stderr: ", r2.err);
    REQUIRE_EQ(r2.exit_code, 5);
    auto res2 = parse_json_output(r2);
    CHECK(res2["partial"].get<bool>());
    CHECK_GT(res2["cut_tokens"].get<unsigned>(), 0u);
    CHECK(r2.err.find("direct cut") != std::string::npos);
  }

  TEST_CASE("ask --strategy chain: a manager reply that stays cut off exits "
            "8, one cut only once is re-asked") {
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(5, 20, fact));
    {
      sim_process sim{{"--replies", "manager=truncated"}};
      auto r = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                    "--strategy", "chain", "--json"});
      INFO("stderr: ", r.err);
      CHECK_EQ(r.exit_code, 8);
      CHECK(r.err.find("manager output") != std::string::npos);
    }
    {
      sim_process sim{{"--replies", "manager=truncated_first"}};
      auto r = ask({"--doc", doc, "--question", question, "--endpoint", sim.url,
                    "--strategy", "chain", "--json"});
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      auto res = parse_json_output(r);
      CHECK_EQ(res["reasks"]["reduce"].get<unsigned>(), 1u);
      CHECK_EQ(res["calls"]["reduce"].get<unsigned>(), 2u);
      CHECK(res["answer"].get<std::string>().find("Blue Heron")
            != std::string::npos);
    }
  }

  TEST_CASE("plan states the calls of every strategy") {
    temp_dir dir;
    auto doc = dir.write("doc.txt", document_with_fact(5, 40, fact));
    auto r = run_command({llmmr_binary(), "plan", "--doc", doc, "--question",
                          question, "--budget", "1536", "--json"},
                         {}, 120s);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto res = parse_json_output(r);
    auto& st = res["strategies"];
    auto chain_chunks = st["chain"]["chunks"].get<unsigned>();
    // Chain chunks are smaller: the notes share the worker's prompt.
    CHECK_GE(chain_chunks, res["map_calls"].get<unsigned>());
    CHECK_EQ(st["chain"]["calls"].get<unsigned>(), chain_chunks + 1);
    CHECK(st["chain"]["sequential"].get<bool>());
    CHECK_EQ(st["direct"]["calls"].get<unsigned>(), 1u);
    CHECK_GT(st["direct"]["cut_tokens"].get<unsigned>(), 0u);
    auto text = run_command({llmmr_binary(), "plan", "--doc", doc, "--question",
                             question, "--budget", "1536"},
                            {}, 120s);
    CHECK(text.out.find("sequential calls") != std::string::npos);
  }

  TEST_CASE("ask --strategy rejects an unknown name") {
    temp_dir dir;
    auto doc = dir.write("doc.txt", "Some text.\n");
    auto r = ask({"--doc", doc, "--question", question, "--endpoint",
                  "http://127.0.0.1:9/v1", "--strategy", "parallel"});
    CHECK_NE(r.exit_code, 0);
    CHECK(r.err.find("strategy") != std::string::npos);
  }
}

// `llmmr plan` run as a process: chunks cover a multi-megabyte mixed-language
// document exactly, and bad input or usage ends with the documented exit
// codes and an error naming the problem.

#include <doctest/doctest.h>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace llmmr::test;

namespace {

/// Builds about `bytes` of English, Chinese and code with long lines, short
/// lines and one line with no newline for a long stretch.
std::string mixed_document(size_t bytes, uint32_t seed) {
  static const char* english[] = {
    "The survey team measured the river at dawn. ",
    "Nobody expected the bridge to hold; it did! ",
    "Why would the archive close early? ",
    "Prices rose by 3.5 percent in the second quarter. ",
  };
  static const char* chinese[] = {
    "今天的会议讨论了预算问题。",
    "他们决定推迟发布计划！",
    "谁负责最后的检查？",
  };
  static const char* code[] = {
    "int add(int a, int b) { return a + b; }\n",
    "for (auto& x : items) total += x.weight;\n",
    "if (ready && !failed) { launch(); }\n",
  };
  std::mt19937 rng{seed};
  std::string doc;
  while (doc.size() < bytes) {
    switch (rng() % 4) {
    case 0:
      for (int i = 0, n = 1 + rng() % 40; i < n; ++i)
        doc += english[rng() % 4];
      doc += '\n';
      break;
    case 1:
      for (int i = 0, n = 1 + rng() % 60; i < n; ++i)
        doc += chinese[rng() % 3];
      doc += '\n';
      break;
    case 2:
      for (int i = 0, n = 1 + rng() % 10; i < n; ++i)
        doc += code[rng() % 3];
      break;
    default:
      // A very long line without a newline.
      for (int i = 0; i < 2000; ++i)
        doc += english[rng() % 4];
      doc += '\n';
    }
  }
  return doc;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("plan --json covers a multi-megabyte document exactly") {
    temp_dir dir;
    auto doc = mixed_document(4 << 20, 42);
    auto path = dir.write("doc.txt", doc);
    auto res = run_command({llmmr_binary(), "plan", "--doc", path.string(),
                            "--question", "Who is responsible for the check?",
                            "--json"});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto plan = nlohmann::json::parse(res.out);
    auto budget = plan.at("chunk_budget").get<uint64_t>();
    CHECK(budget > 0);
    const auto& chunks = plan.at("chunks");
    REQUIRE(chunks.size() > 100);
    uint64_t expected_begin = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const auto& c = chunks[i];
      CHECK(c.at("index").get<uint64_t>() == i);
      CHECK(c.at("begin").get<uint64_t>() == expected_begin);
      CHECK(c.at("end").get<uint64_t>() > c.at("begin").get<uint64_t>());
      CHECK(c.at("tokens").get<uint64_t>() <= budget);
      expected_begin = c.at("end").get<uint64_t>();
    }
    CHECK(expected_begin == doc.size());
    CHECK(plan.at("map_calls").get<uint64_t>() == chunks.size());
    CHECK(plan.at("estimated_prompt_tokens").get<uint64_t>() > 0);
    CHECK(plan.at("estimated_completion_tokens").get<uint64_t>() > 0);
  }

  TEST_CASE("plan reads standard input and prints a readable table") {
    auto doc = mixed_document(200000, 7);
    auto res = run_command({llmmr_binary(), "plan", "--doc", "-", "--question",
                            "What rose?", "--budget", "2048"},
                           doc);
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    CHECK(res.out.find("chunk budget") != std::string::npos);
    CHECK(res.out.find("map calls") != std::string::npos);
    CHECK(res.out.find(std::to_string(doc.size()) + " bytes")
          != std::string::npos);
  }

  TEST_CASE("plan reports bad input and usage with distinct exit codes") {
    temp_dir dir;
    auto bad = dir.write("bad.txt", std::string{"valid text\nthen \xff here"});
    auto res = run_command(
      {llmmr_binary(), "plan", "--doc", bad.string(), "--question", "q"});
    CHECK(res.exit_code == 3);
    CHECK(res.err.find("invalid_utf8") != std::string::npos);
    CHECK(res.err.find("16") != std::string::npos);
    auto empty = dir.write("empty.txt", "");
    res = run_command(
      {llmmr_binary(), "plan", "--doc", empty.string(), "--question", "q"});
    CHECK(res.exit_code == 3);
    CHECK(res.err.find("empty") != std::string::npos);
    res
      = run_command({llmmr_binary(), "plan", "--doc",
                     (dir.path() / "missing.txt").string(), "--question", "q"});
    CHECK(res.exit_code == 3);
    CHECK(res.err.find("missing.txt") != std::string::npos);
    res = run_command({llmmr_binary(), "plan", "--question", "q"});
    CHECK(res.exit_code == 2);
    res = run_command({llmmr_binary(), "plan", "--doc", bad.string(),
                       "--question", "q", "--bogus"});
    CHECK(res.exit_code == 2);
    CHECK(res.err.find("--bogus") != std::string::npos);
    res = run_command({llmmr_binary(), "plan", "--doc", bad.string(),
                       "--question", "q", "--task", "poetry"});
    CHECK(res.exit_code == 2);
    res = run_command({llmmr_binary(), "plan", "--doc", bad.string(),
                       "--question", "q", "--budget", "100"});
    CHECK(res.exit_code == 2);
    CHECK(res.err.find("budget") != std::string::npos);
    res = run_command({llmmr_binary(), "plan", "--doc", bad.string(),
                       "--question", "q", "--replace-invalid-utf8", "--json"});
    CHECK(res.exit_code == 0);
    CHECK(nlohmann::json::parse(res.out).at("replacements") == 1);
  }
}

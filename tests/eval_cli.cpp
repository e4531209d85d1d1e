// `llmmr eval extract` run as a process on small prediction files: clean
// answers replace the predictions, the raw text is kept, and bad usage or
// input ends with the documented exit codes and messages.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace llmmr::test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string passkey_preds
  = R"({"id": 0, "prediction": "Easy one!\n\nThere is a clear answer with a confidence score of 5.0:\n\n**The pass key is 71432.**", "ground_truth": ["71432"]})"
    "\n\n"
    R"({"id": 1, "prediction": "Rationale: chunk 2.\nAnswer: \"69079\"\nConfidence: 5", "ground_truth": ["69079"], "extra": true})"
    "\n";

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("eval extract replaces predictions and keeps the raw text") {
    temp_dir dir;
    auto preds = dir.write("preds.jsonl", passkey_preds);
    auto res = run_command({llmmr_binary(), "eval", "extract", "--task",
                            "passkey", "--preds", preds.string()});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto lines = lines_of(res.out);
    REQUIRE_EQ(lines.size(), 3u);
    CHECK(lines[1].empty());
    auto first = nlohmann::json::parse(lines[0]);
    CHECK_EQ(first.at("prediction"), "71432");
    CHECK(contains(first.at("raw_prediction").get<std::string>(),
                   "confidence score of 5.0"));
    CHECK_EQ(first.at("id"), 0);
    CHECK_EQ(first.at("ground_truth"), nlohmann::json::array({"71432"}));
    auto second = nlohmann::json::parse(lines[2]);
    CHECK_EQ(second.at("prediction"), "69079");
    CHECK_EQ(second.at("extra"), true);
    // Keys keep their order; the raw text comes last.
    CHECK_LT(lines[2].find("\"id\""), lines[2].find("\"prediction\""));
    CHECK_GT(lines[2].find("\"raw_prediction\""), lines[2].find("\"extra\""));
  }

  TEST_CASE("eval extract writes --out and reads choices") {
    temp_dir dir;
    auto preds = dir.write(
      "code.jsonl",
      R"({"id": 3, "prediction": "Rationale: chunk 1 shows it.\n\nAnswer: B", "ground_truth": ["repack_carchive", "B"]})"
      "\n");
    auto out = dir.path() / "out.jsonl";
    auto res
      = run_command({llmmr_binary(), "eval", "extract", "--task", "code_debug",
                     "--preds", preds.string(), "--out", out.string()});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    CHECK(res.out.empty());
    std::ifstream in{out};
    std::string first;
    REQUIRE(std::getline(in, first));
    auto line = nlohmann::json::parse(first);
    CHECK_EQ(line.at("prediction"), "B.");
  }

  TEST_CASE("eval extract reports bad usage and bad input") {
    temp_dir dir;
    auto preds = dir.write("preds.jsonl", passkey_preds);
    auto unknown = run_command({llmmr_binary(), "eval", "extract", "--task",
                                "pass_key", "--preds", preds.string()});
    CHECK_EQ(unknown.exit_code, 2);
    CHECK(contains(unknown.err, "pass_key"));
    for (auto name : {"passkey", "kv_retrieval", "code_debug", "math_find",
                      "longbook_sum_eng"})
      CHECK_MESSAGE(contains(unknown.err, name), unknown.err);
    auto no_preds
      = run_command({llmmr_binary(), "eval", "extract", "--task", "passkey"});
    CHECK_EQ(no_preds.exit_code, 2);
    CHECK(contains(no_preds.err, "--preds"));
    auto bad = dir.write("bad.jsonl", "{\"prediction\": \"1\"}\n{\"predic\n");
    auto malformed = run_command({llmmr_binary(), "eval", "extract", "--task",
                                  "passkey", "--preds", bad.string()});
    CHECK_EQ(malformed.exit_code, 3);
    CHECK_MESSAGE(contains(malformed.err, bad.string() + ":2:"), malformed.err);
    CHECK(malformed.out.empty());
    auto missing
      = run_command({llmmr_binary(), "eval", "extract", "--task", "passkey",
                     "--preds", (dir.path() / "none.jsonl").string()});
    CHECK_EQ(missing.exit_code, 3);
    auto no_sub = run_command({llmmr_binary(), "eval"});
    CHECK_EQ(no_sub.exit_code, 2);
    CHECK(contains(no_sub.err, "extract"));
    auto other = run_command({llmmr_binary(), "eval", "frobnicate"});
    CHECK_EQ(other.exit_code, 2);
    auto help = run_command({llmmr_binary(), "eval", "extract", "--help"});
    CHECK_EQ(help.exit_code, 0);
    CHECK(contains(help.out, "--preds"));
  }
}

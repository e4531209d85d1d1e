// The exact tokenizers through the command line: `llmmr tokenize --jsonl`
// reproduces every golden id of the four real tokenizers in one process per
// tokenizer, and `llmmr plan` with an exact tokenizer cuts chunks that each
// fit the budget in that tokenizer's own count. Skipped with a message when
// ../shared is absent.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/tiktoken.hpp"

#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;

namespace {

std::filesystem::path shared_tokenizers() {
  return std::filesystem::path{LLMMR_SOURCE_DIR} / "../shared/data/tokenizers";
}

struct golden_tokenizer {
  const char* name; // key in golden.jsonl
  const char* file;
};

constexpr golden_tokenizer golden_set[] = {
  {"qwen3", "qwen3.tokenizer.json"},
  {"llama3", "llama3.tokenizer.json"},
  {"cl100k_base", "cl100k_base.tiktoken"},
  {"o200k_base", "o200k_base.tiktoken"},
};

std::vector<json> golden_lines() {
  std::ifstream in{shared_tokenizers() / "golden.jsonl"};
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(json::parse(line));
  return out;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("tokenize --jsonl gives every golden id of the four tokenizers") {
    if (!std::filesystem::exists(shared_tokenizers() / "golden.jsonl")) {
      MESSAGE("skipped: " << shared_tokenizers() << " is absent");
      return;
    }
    auto golden = golden_lines();
    REQUIRE_GE(golden.size(), 100u);
    std::string input;
    for (auto& g : golden)
      input += json{{"text", g["text"]}}.dump() + "\n";
    for (auto& t : golden_set) {
      INFO("tokenizer: ", std::string{t.name});
      auto file = (shared_tokenizers() / t.file).string();
      auto r = run_command({llmmr_binary(), "tokenize", "--set",
                            "tokenizer.file=" + file, "--jsonl"},
                           input);
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      std::istringstream out{r.out};
      size_t i = 0;
      size_t matched = 0;
      for (std::string line; std::getline(out, line); ++i) {
        REQUIRE_LT(i, golden.size());
        auto doc = json::parse(line);
        if (doc["ids"] == golden[i][t.name]
            && doc["count"] == golden[i][t.name].size())
          ++matched;
      }
      CHECK_EQ(i, golden.size());
      CHECK_EQ(matched, golden.size());
      MESSAGE(std::string{t.name} << ": " << matched << "/" << golden.size()
                                  << " texts with every id right");
    }
  }

  TEST_CASE("plan with an exact tokenizer: every chunk fits in its count") {
    auto file = shared_tokenizers() / "llama3.tokenizer.json";
    if (!std::filesystem::exists(file)) {
      MESSAGE("skipped: " << file << " is absent");
      return;
    }
    auto tok = llmmr::load_hf_tokenizer(file.string());
    REQUIRE(tok);
    std::string doc;
    auto prose = document_with_fact(7, 200, "The harbour master is Ines.");
    doc
      = prose + "\n今天的会议讨论了预算问题。他们决定推迟发布计划！\n" + prose;
    temp_dir dir;
    auto path = dir.write("doc.txt", doc);
    auto plan = [&](const std::string& kind) {
      std::vector<std::string> argv{
        llmmr_binary(), "plan",       "--doc",
        path.string(),  "--question", "Who is the harbour master?",
        "--json"};
      if (kind == "hf") {
        argv.push_back("--set");
        argv.push_back("tokenizer.file=" + file.string());
      } else {
        argv.push_back("--set");
        argv.push_back("tokenizer.kind=approx");
      }
      auto r = run_command(argv);
      INFO("stderr: ", r.err);
      REQUIRE_EQ(r.exit_code, 0);
      return json::parse(r.out);
    };
    auto exact = plan("hf");
    CHECK_EQ(exact["tokenizer"], "hf:llama3.tokenizer.json");
    CHECK_FALSE(exact["token_counts_estimated"].get<bool>());
    auto budget = exact["chunk_budget"].get<size_t>();
    uint64_t covered = 0;
    for (const auto& c : exact["chunks"]) {
      auto begin = c["begin"].get<uint64_t>();
      auto end = c["end"].get<uint64_t>();
      CHECK_EQ(begin, covered);
      covered = end;
      auto text = std::string_view{doc}.substr(begin, end - begin);
      auto n = (*tok)->count(text);
      CHECK_LE(n, budget);
      CHECK_EQ(n, c["tokens"].get<size_t>());
    }
    CHECK_EQ(covered, doc.size());
    // Exact counts use the budget better: fewer map calls than the estimate.
    auto approx = plan("approx");
    CHECK(approx["token_counts_estimated"].get<bool>());
    auto exact_calls = exact["map_calls"].get<double>();
    auto approx_calls = approx["map_calls"].get<double>();
    MESSAGE("map calls: llama3 " << exact_calls << ", approx " << approx_calls);
    CHECK_LT(exact_calls, approx_calls);
  }
}

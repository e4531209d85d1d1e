// `llmmr bench` runs end to end on small sizes and reports every figure.
// Only the presence and sanity of the figures is checked, never their speed.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace llmmr::test;

TEST_SUITE("cli") {
  TEST_CASE("bench reports chunking, pipeline and memory figures") {
    auto res
      = run_command({llmmr_binary(), "bench", "--chunk-tokens", "50000",
                     "--job-tokens", "20000", "--ttft-ms", "1", "--json"});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto figures = nlohmann::json::parse(res.out);
    CHECK(figures.at("chunking").at("chunks").get<int>() > 0);
    CHECK(figures.at("chunking").at("ratio_to_baseline").get<double>() > 0);
    CHECK(figures.at("pipeline").at("chunks").get<int>() > 0);
    // Filler only: every chunk is mapped and, with nothing found, no reduce
    // call is made.
    CHECK(figures.at("pipeline").at("calls").get<int>()
          >= figures.at("pipeline").at("chunks").get<int>());
    CHECK(figures.at("pipeline").at("ratio_to_ideal").get<double>() > 0);
    CHECK(figures.contains("memory"));
  }

  TEST_CASE("bench reports exact tokenizers' chunking speed and map calls") {
    auto file = std::string{LLMMR_SOURCE_DIR}
                + "/../shared/data/tokenizers/llama3.tokenizer.json";
    if (!std::filesystem::exists(file)) {
      MESSAGE("skipped: " << file << " is absent");
      return;
    }
    auto res = run_command({llmmr_binary(), "bench", "--chunk-tokens", "20000",
                            "--job-tokens", "10000", "--ttft-ms", "1",
                            "--tokenizer-mb", "2", "--tokenizer-file", file,
                            "--json"});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto figures = nlohmann::json::parse(res.out);
    auto& rows = figures.at("tokenizers");
    REQUIRE_EQ(rows.size(), 2u);
    CHECK_EQ(rows[0]["tokenizer"], "approx");
    CHECK_EQ(rows[1]["tokenizer"], "hf:llama3.tokenizer.json");
    for (const auto& r : rows) {
      CHECK(r["chunking_mb_per_s"].get<double>() > 0);
      CHECK(r["map_calls"].get<int>() > 0);
    }
  }
}

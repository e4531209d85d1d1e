// Integration tests of `llmmr niah`: a small grid against the built-in
// simulator, its results.json and heatmap, resuming, mismatched settings and
// a needle the simulator hides.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "svg_check.hpp"
#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

command_result niah(const std::vector<std::string>& args) {
  std::vector<std::string> argv{llmmr_binary(), "niah"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, {}, 300s);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const std::filesystem::path& p) {
  auto doc = json::parse(slurp(p), nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

const std::vector<std::string> small_grid{"--lengths", "8k,16k", "--depths",
                                          "0,50,100"};

std::vector<std::string> with(std::vector<std::string> base,
                              const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("niah finds every needle of a small grid against the simulator") {
    temp_dir dir;
    auto out = dir.path() / "run";
    auto r = niah(with(small_grid, {"--out", out.string(), "--json"}));
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto printed = json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(printed.is_discarded());
    auto doc = read_json(out / "results.json");
    CHECK_EQ(printed, doc);
    REQUIRE_EQ(doc["cells"].size(), 6u);
    CHECK_EQ(doc["settings"]["lengths"], json({8000, 16000}));
    CHECK_EQ(doc["settings"]["depths"], json({0, 50, 100}));
    CHECK_EQ(doc["settings"]["needles"], 1);
    for (const auto& cell : doc["cells"]) {
      CAPTURE(cell.dump());
      for (auto key : {"length_tokens", "depth_percent", "found", "answer",
                       "calls", "tokens", "wall_ms", "needles_found"})
        CHECK(cell.contains(key));
      CHECK(cell["found"].get<bool>());
      CHECK_EQ(cell["needles_found"], 1);
      CHECK_EQ(cell["needle_results"][0]["answer"],
               cell["needle_results"][0]["expected"]);
      CHECK(cell["needle_results"][0]["evidence_at_needle"].get<bool>());
      CHECK_GT(cell["calls"].get<int>(), 1);
      CHECK_GE(cell["tokens"]["document"].get<uint64_t>(),
               cell["length_tokens"].get<uint64_t>());
      CHECK_GT(cell["tokens"]["prompt"].get<uint64_t>(),
               cell["length_tokens"].get<uint64_t>() / 2);
      CHECK_FALSE(cell.contains("error"));
    }
    CHECK_EQ(doc["cells"][0]["length_tokens"], 8000);
    CHECK_EQ(doc["cells"][5]["depth_percent"], 100);
    CHECK(doc["summary"]["all_found"].get<bool>());
    CHECK_EQ(doc["summary"]["cells_found"], 6);
    // The heatmap: well-formed, six cells, every label and title.
    auto svg = slurp(out / "heatmap.svg");
    CHECK_EQ(xml_problem(svg), "");
    CHECK_EQ(count_of(svg, "<rect class=\"cell\""), 6u);
    CHECK_EQ(count_of(svg, "fill=\"#1a9850\""), 6u);
    for (auto label :
         {">8K<", ">16K<", ">0<", ">50<", ">100<", ">Context length (tokens)<",
          ">Needle depth (%)<", ">Fraction of needles found<"})
      CHECK_MESSAGE(svg.find(label) != std::string::npos, label);
    if (std::filesystem::exists("/usr/bin/rsvg-convert")) {
      auto png = slurp(out / "heatmap.png");
      REQUIRE_GT(png.size(), 8u);
      CHECK_EQ(png.substr(1, 3), "PNG");
    } else {
      MESSAGE("rsvg-convert absent: no PNG expected");
      CHECK_NE(r.err.find("rsvg-convert"), std::string::npos);
    }
    // The same run again is deterministic: same answers, calls and tokens.
    auto again_dir = dir.path() / "again";
    auto again = niah(with(
      small_grid, {"--out", again_dir.string(), "--quiet", "--parallel", "1"}));
    REQUIRE_EQ(again.exit_code, 0);
    auto doc2 = read_json(again_dir / "results.json");
    for (size_t i = 0; i < 6; ++i) {
      CHECK_EQ(doc2["cells"][i]["answer"], doc["cells"][i]["answer"]);
      CHECK_EQ(doc2["cells"][i]["calls"], doc["cells"][i]["calls"]);
      CHECK_EQ(doc2["cells"][i]["tokens"], doc["cells"][i]["tokens"]);
    }
  }

  TEST_CASE("niah resumes: only cells missing from results.json run again") {
    temp_dir dir;
    auto out = dir.path() / "run";
    auto first = niah(with(small_grid, {"--out", out.string(), "--quiet"}));
    INFO("stderr: ", first.err);
    REQUIRE_EQ(first.exit_code, 0);
    auto doc = read_json(out / "results.json");
    auto removed_a = doc["cells"][1];
    auto removed_b = doc["cells"][4];
    auto kept = doc;
    kept["cells"].erase(4);
    kept["cells"].erase(1);
    {
      std::ofstream f{out / "results.json"};
      f << kept.dump(2);
    }
    auto second = niah(with(small_grid, {"--out", out.string()}));
    INFO("second stderr: ", second.err);
    REQUIRE_EQ(second.exit_code, 0);
    CHECK_NE(second.err.find("4 kept"), std::string::npos);
    CHECK_NE(second.err.find("2 to run"), std::string::npos);
    CHECK_NE(second.err.find("[2/2]"), std::string::npos);
    CHECK_EQ(second.err.find("[3/"), std::string::npos);
    auto doc2 = read_json(out / "results.json");
    REQUIRE_EQ(doc2["cells"].size(), 6u);
    // Kept cells are untouched (same wall time); rerun ones match the
    // first run's answers and calls.
    for (auto i : {0, 2, 3, 5})
      CHECK_EQ(doc2["cells"][i], doc["cells"][i]);
    CHECK_EQ(doc2["cells"][1]["calls"], removed_a["calls"]);
    CHECK_EQ(doc2["cells"][4]["calls"], removed_b["calls"]);
    CHECK_EQ(doc2["cells"][4]["answer"], removed_b["answer"]);
    CHECK_EQ(doc2["summary"]["calls"], doc["summary"]["calls"]);
    // Nothing missing: nothing runs, the files are rewritten.
    auto third = niah(with(small_grid, {"--out", out.string()}));
    REQUIRE_EQ(third.exit_code, 0);
    CHECK_NE(third.err.find("0 to run"), std::string::npos);
    // Other settings do not mix with these results ...
    auto other = niah(
      with(small_grid, {"--out", out.string(), "--needles", "2", "--quiet"}));
    CHECK_EQ(other.exit_code, 2);
    CHECK_NE(other.err.find("needles = 1"), std::string::npos);
    CHECK_NE(other.err.find("--fresh"), std::string::npos);
    // ... unless asked to start over.
    auto fresh = niah({"--lengths", "8k", "--depths", "50", "--needles", "2",
                       "--out", out.string(), "--fresh", "--quiet"});
    INFO("fresh stderr: ", fresh.err);
    REQUIRE_EQ(fresh.exit_code, 0);
    auto doc3 = read_json(out / "results.json");
    REQUIRE_EQ(doc3["cells"].size(), 1u);
    CHECK_EQ(doc3["cells"][0]["needles_found"], 2);
  }

  TEST_CASE("niah finds several needles, each with its own question") {
    temp_dir dir;
    auto r = niah({"--lengths", "16k", "--depths", "0,40", "--needles", "3",
                   "--out", dir.path().string(), "--quiet"});
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto doc = read_json(dir.path() / "results.json");
    REQUIRE_EQ(doc["cells"].size(), 2u);
    for (const auto& cell : doc["cells"]) {
      CHECK_EQ(cell["needles"], 3);
      CHECK_EQ(cell["needles_found"], 3);
      REQUIRE_EQ(cell["needle_results"].size(), 3u);
      std::set<std::string> labels;
      for (const auto& n : cell["needle_results"]) {
        CHECK(n["found"].get<bool>());
        labels.insert(n["label"].get<std::string>());
      }
      CHECK_EQ(labels.size(), 3u);
    }
    auto depths = doc["cells"][1]["needle_results"];
    CHECK_EQ(depths[0]["depth_percent"], 40);
    CHECK_EQ(depths[1]["depth_percent"], 60);
    CHECK_EQ(depths[2]["depth_percent"], 80);
  }

  TEST_CASE("niah reports a needle it cannot find and exits 9") {
    // The simulator's reduce replies answer "No information".
    sim_process sim{{"--replies", "reduce=evidence"}};
    temp_dir dir;
    auto r
      = niah({"--lengths", "8k", "--depths", "50", "--endpoint", sim.url,
              "--set", "tokenizer.kind=approx", "--out", dir.path().string()});
    INFO("stderr: ", r.err);
    CHECK_EQ(r.exit_code, 9);
    CHECK_NE(r.err.find("MISSED"), std::string::npos);
    auto doc = read_json(dir.path() / "results.json");
    REQUIRE_EQ(doc["cells"].size(), 1u);
    const auto& cell = doc["cells"][0];
    CHECK_FALSE(cell["found"].get<bool>());
    CHECK_EQ(cell["needles_found"], 0);
    CHECK_EQ(cell["answer"], "No information");
    CHECK_FALSE(cell.contains("error"));
    CHECK_EQ(doc["settings"]["endpoints"], json({sim.url}));
    CHECK_FALSE(doc["summary"]["all_found"].get<bool>());
    auto svg = slurp(dir.path() / "heatmap.svg");
    CHECK_EQ(xml_problem(svg), "");
    CHECK_EQ(count_of(svg, "fill=\"#d73027\""), 1u);
    // A miss is a result: running again keeps it and still exits 9.
    auto again
      = niah({"--lengths", "8k", "--depths", "50", "--endpoint", sim.url,
              "--set", "tokenizer.kind=approx", "--out", dir.path().string()});
    CHECK_EQ(again.exit_code, 9);
    CHECK_NE(again.err.find("0 to run"), std::string::npos);
  }

  TEST_CASE("niah records a failed cell, stops and retries it next time") {
    // The reduce output stays cut off, also after the corrective re-ask.
    sim_process sim{{"--replies", "reduce=truncated"}};
    temp_dir dir;
    std::vector<std::string> args{
      "--lengths",  "8k,16k", "--depths", "50",
      "--endpoint", sim.url,  "--set",    "tokenizer.kind=approx",
      "--parallel", "1",      "--out",    dir.path().string()};
    auto r = niah(args);
    INFO("stderr: ", r.err);
    CHECK_EQ(r.exit_code, 8);
    CHECK_NE(r.err.find("stopped after a failed cell"), std::string::npos);
    auto doc = read_json(dir.path() / "results.json");
    REQUIRE_EQ(doc["cells"].size(), 1u);
    CHECK_FALSE(doc["cells"][0]["found"].get<bool>());
    CHECK(doc["cells"][0].contains("error"));
    CHECK_EQ(doc["summary"]["cells_failed"], 1);
    auto again = niah(args);
    CHECK_EQ(again.exit_code, 8);
    CHECK_NE(again.err.find("0 kept"), std::string::npos);
  }

  TEST_CASE("niah rejects bad grids and options") {
    for (const auto& args : std::vector<std::vector<std::string>>{
           {"--lengths", "8q"},
           {"--depths", "120"},
           {"--needles", "0"},
           {"--needles", "25"},
           {"--parallel", "0"},
           {"--fault-rate", "0.1", "--endpoint", "http://127.0.0.1:1/v1"},
           {"stray"}}) {
      auto r = niah(args);
      CAPTURE(args.front());
      CHECK_EQ(r.exit_code, 2);
      CHECK_NE(r.err.find("llmmr niah:"), std::string::npos);
    }
  }
}

// The synthetic InfiniteBench generators, the question builder, the
// calibration report (unit tests, suite "core") and `llmmr eval generate`,
// `eval infinitebench` and `eval calibration` run as processes against the
// in-process simulator (suite "cli").

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/calibration_report.hpp"
#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/core/reliability_diagram.hpp"
#include "llmmr/core/synthetic_tasks.hpp"

#include "test_support.hpp"

using namespace llmmr;
using namespace llmmr::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in{path, std::ios::binary};
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.push_back(nlohmann::json::parse(line));
  return out;
}

synthetic_example generate(infinitebench_task task, uint64_t index,
                           uint64_t count, synthetic_options opts) {
  approx_tokenizer tok;
  auto ex = make_synthetic_example(task, index, count, opts, tok);
  REQUIRE(ex);
  return std::move(*ex);
}

std::string answer_of(const infinitebench_example& ex) {
  REQUIRE_EQ(ex.answer.size(), 1u);
  return ex.answer[0].is_string() ? ex.answer[0].get<std::string>()
                                  : ex.answer[0].dump();
}

/// The numbers of a Math.Find context "[a, b, ...]".
std::vector<int64_t> numbers_of(const std::string& context) {
  std::vector<int64_t> out;
  auto doc = nlohmann::json::parse(context);
  for (auto& x : doc)
    out.push_back(x.get<int64_t>());
  return out;
}

} // namespace

TEST_SUITE("core") {
  TEST_CASE("synthetic examples are deterministic and differ by seed") {
    synthetic_options opts;
    opts.length_tokens = 4000;
    opts.seed = 7;
    for (auto task :
         {infinitebench_task::passkey, infinitebench_task::number_string,
          infinitebench_task::kv_retrieval, infinitebench_task::math_find}) {
      CAPTURE(to_string(task));
      auto a = to_jsonl_line(generate(task, 3, 5, opts).example);
      auto b = to_jsonl_line(generate(task, 3, 5, opts).example);
      CHECK_EQ(a, b);
      auto other = opts;
      other.seed = 8;
      CHECK_NE(a, to_jsonl_line(generate(task, 3, 5, other).example));
      CHECK_NE(a, to_jsonl_line(generate(task, 2, 5, opts).example));
      // The line reads back as the same example.
      auto back = parse_infinitebench_example(a, "x:1");
      REQUIRE(back);
      CHECK_EQ(to_jsonl_line(*back), a);
      CHECK_EQ(back->id, 3);
      CHECK(back->options.empty());
    }
  }

  TEST_CASE("passkey and number_string hide the answer at the asked depth") {
    for (auto task :
         {infinitebench_task::passkey, infinitebench_task::number_string}) {
      for (double depth : {0.0, 0.25, 0.5, 0.9, 1.0}) {
        CAPTURE(to_string(task));
        CAPTURE(depth);
        synthetic_options opts;
        opts.length_tokens = 16'000;
        opts.depth = depth;
        auto ex = generate(task, 0, 1, opts);
        auto answer = answer_of(ex.example);
        CHECK_EQ(answer.size(), task == infinitebench_task::passkey ? 5u : 10u);
        CHECK(std::all_of(answer.begin(), answer.end(),
                          [](char c) { return c >= '0' && c <= '9'; }));
        const auto& text = ex.example.context;
        // The needle says it twice and nothing else has the answer.
        CHECK_EQ(occurrences(text, answer), 2u);
        auto lead = task == infinitebench_task::passkey
                      ? "The pass key is " + answer + ". Remember it. " + answer
                          + " is the pass key."
                      : "The sequence of digits is " + answer
                          + ". Remember it. " + answer
                          + " is the sequence of digits.";
        CHECK_EQ(text.find(lead), ex.needle_offset);
        auto at = static_cast<double>(ex.needle_offset)
                  / static_cast<double>(text.size());
        CHECK(std::abs(at - depth) < 0.02);
        // Near the asked length (counted by the same tokenizer).
        approx_tokenizer tok;
        auto tokens = static_cast<double>(tok.count(text));
        CHECK(tokens <= 16'000 * 1.01);
        CHECK(tokens >= 16'000 * 0.95);
        CHECK(ex.example.input.find('?') != std::string::npos);
      }
    }
  }

  TEST_CASE("depths spread evenly over the examples when none is asked") {
    synthetic_options opts;
    opts.length_tokens = 8000;
    CHECK_EQ(generate(infinitebench_task::passkey, 0, 5, opts).depth, 0.0);
    CHECK_EQ(generate(infinitebench_task::passkey, 2, 5, opts).depth, 0.5);
    CHECK_EQ(generate(infinitebench_task::passkey, 4, 5, opts).depth, 1.0);
    CHECK_EQ(generate(infinitebench_task::passkey, 0, 1, opts).depth, 0.5);
  }

  TEST_CASE("kv_retrieval asks for a key of the object and answers its value") {
    synthetic_options opts;
    opts.length_tokens = 16'000;
    opts.depth = 0.3;
    auto ex = generate(infinitebench_task::kv_retrieval, 0, 1, opts);
    const auto& text = ex.example.context;
    REQUIRE(text.rfind("JSON data:\n{", 0) == 0);
    auto object = nlohmann::json::parse(text.substr(11));
    REQUIRE(object.is_object());
    CHECK(object.size() > 100);
    auto& input = ex.example.input;
    REQUIRE(input.rfind("Key: \"", 0) == 0);
    auto key = input.substr(6, 36);
    REQUIRE(object.contains(key));
    CHECK_EQ(object[key], answer_of(ex.example));
    CHECK_EQ(text.find("\"" + key + "\""), ex.needle_offset);
    CHECK_EQ(occurrences(text, key), 1u);
    auto at = static_cast<double>(ex.needle_offset)
              / static_cast<double>(text.size());
    CHECK(std::abs(at - 0.3) < 0.02);
  }

  TEST_CASE("math_find answers the largest, smallest and median number") {
    synthetic_options opts;
    opts.length_tokens = 6000;
    for (uint64_t i = 0; i < 3; ++i) {
      auto ex = generate(infinitebench_task::math_find, i, 3, opts);
      auto numbers = numbers_of(ex.example.context);
      REQUIRE(numbers.size() % 2 == 1);
      CHECK(numbers.size() > 500);
      auto sorted = numbers;
      std::sort(sorted.begin(), sorted.end());
      auto answer = std::stoll(answer_of(ex.example));
      CHECK(ex.example.answer[0].is_number());
      const auto& input = ex.example.input;
      if (i == 0) {
        CHECK(contains(input, "The largest number of the list"));
        CHECK_EQ(answer, sorted.back());
      } else if (i == 1) {
        CHECK(contains(input, "The smallest number of the list"));
        CHECK_EQ(answer, sorted.front());
      } else {
        CHECK(contains(input, "The median number of the list"));
        CHECK_EQ(answer, sorted[sorted.size() / 2]);
      }
      // The question names what is sought.
      auto q = build_question(infinitebench_task::math_find, ex.example);
      CHECK(contains(q, i == 0   ? "What is the largest number in the list"
                        : i == 1 ? "What is the smallest number in the list"
                                 : "What is the median number in the list"));
    }
  }

  TEST_CASE("generators refuse other tasks and bad depths") {
    approx_tokenizer tok;
    synthetic_options opts;
    CHECK_FALSE(make_synthetic_example(infinitebench_task::longbook_qa_eng, 0,
                                       1, opts, tok));
    opts.depth = 1.5;
    CHECK_FALSE(
      make_synthetic_example(infinitebench_task::passkey, 0, 1, opts, tok));
  }

  TEST_CASE("data lines: errors name the place and the problem") {
    auto err = [](const std::string& line) {
      auto x = parse_infinitebench_example(line, "f.jsonl:4");
      REQUIRE_FALSE(x);
      return to_string(x.error());
    };
    CHECK(contains(err("{not json"), "f.jsonl:4: not valid JSON"));
    CHECK(contains(err("[1]"), "f.jsonl:4: not a JSON object"));
    CHECK(
      contains(err(R"({"context":"c","input":"i","answer":["a"]})"), "'id'"));
    CHECK(contains(err(R"({"id":1,"input":"i","answer":["a"]})"), "'context'"));
    CHECK(contains(err(R"({"id":1,"context":"c","input":"i"})"), "'answer'"));
    CHECK(contains(err(R"({"id":1,"context":"c","input":"i","answer":[]})"),
                   "empty"));
    CHECK(contains(
      err(R"({"id":1,"context":"c","input":"i","answer":"a","options":"x"})"),
      "'options'"));
    auto ok = parse_infinitebench_example(
      R"({"id":"q1","context":"c","input":"i","answer":"a"})", "f:1");
    REQUIRE(ok);
    CHECK_EQ(ok->answer.size(), 1u);
    CHECK_EQ(id_key(ok->id), "\"q1\"");
  }

  TEST_CASE("choice questions list the options under letters") {
    infinitebench_example ex;
    ex.id = 0;
    ex.input = "Who repaired the gate?";
    ex.options = {"Ann", "Bob", "Cy", "Dee"};
    ex.answer = {"Cy"};
    auto q = build_question(infinitebench_task::longbook_choice_eng, ex);
    CHECK(contains(q, "Question: Who repaired the gate?"));
    CHECK(contains(q, "A. Ann\nB. Bob\nC. Cy\nD. Dee\n"));
    CHECK(contains(q, "(A, B, C or D)"));
    auto truth = ground_truth_of(infinitebench_task::longbook_choice_eng, ex);
    CHECK_EQ(truth, std::vector<std::string>{"Cy", "C"});
    CHECK_EQ(ground_truth_json(infinitebench_task::code_debug, ex),
             nlohmann::json::array({"Cy", "C"}));
    auto code = build_question(infinitebench_task::code_debug, ex);
    CHECK(contains(code, "deliberate mistake"));
    CHECK(contains(code, "D. Dee"));
    // Retrieval questions are the input itself.
    ex.input = "What is the pass key?";
    CHECK_EQ(build_question(infinitebench_task::passkey, ex), ex.input);
  }

  TEST_CASE("calibration report: ECE and Brier on a hand-computed example") {
    // conf 5: right, right, wrong; 4.5: right; 3: wrong; 0: wrong; one
    // without a confidence (right).
    std::vector<calibration_sample> s{{5.0, 1},         {5.0, 1}, {5.0, 0},
                                      {4.5, 1},         {3.0, 0}, {0.0, 0},
                                      {std::nullopt, 1}};
    auto r = make_calibration_report(s);
    CHECK_EQ(r.samples, 6u);
    CHECK_EQ(r.missing, 1u);
    CHECK_EQ(r.missing_accuracy, doctest::Approx(1.0));
    REQUIRE_EQ(r.buckets.size(), 6u);
    CHECK_EQ(r.buckets[0].count, 1u);
    CHECK_EQ(r.buckets[1].count, 0u);
    CHECK_EQ(r.buckets[3].count, 1u);
    CHECK_EQ(r.buckets[4].count, 1u);
    CHECK_EQ(r.buckets[5].count, 3u);
    CHECK_EQ(r.buckets[5].low, 5.0);
    CHECK_EQ(r.buckets[5].high, 5.0);
    CHECK_EQ(r.buckets[5].accuracy, doctest::Approx(2.0 / 3));
    CHECK_EQ(r.buckets[5].mean_probability, doctest::Approx(1.0));
    CHECK_EQ(r.buckets[4].mean_probability, doctest::Approx(0.9));
    // ECE = 3/6 * 1/3 + 1/6 * 0.1 + 1/6 * 0.6 + 1/6 * 0 = 1.7 / 6
    CHECK_EQ(r.ece, doctest::Approx(1.7 / 6));
    // Brier = (0 + 0 + 1 + 0.01 + 0.36 + 0) / 6
    CHECK_EQ(r.brier, doctest::Approx(1.37 / 6));
    CHECK_EQ(r.accuracy, doctest::Approx(0.5));
    CHECK_EQ(r.mean_probability, doctest::Approx(0.75));
    auto j = to_json(r);
    CHECK_EQ(j["ece"].get<double>(), doctest::Approx(1.7 / 6));
    CHECK_EQ(j["buckets"].size(), 6u);
  }

  TEST_CASE("calibration report: perfect, fractional and empty inputs") {
    std::vector<calibration_sample> perfect{{5.0, 1}, {5.0, 1}, {0.0, 0}};
    auto p = make_calibration_report(perfect);
    CHECK_EQ(p.ece, doctest::Approx(0));
    CHECK_EQ(p.brier, doctest::Approx(0));
    // F1-style correctness and a clamped confidence: 7 counts as 5.
    std::vector<calibration_sample> f1{{2.5, 0.5}, {7.0, 0.8}};
    auto f = make_calibration_report(f1);
    CHECK_EQ(f.buckets[2].count, 1u);
    CHECK_EQ(f.buckets[5].count, 1u);
    // |0.5 - 0.5| / 2 + |0.8 - 1.0| / 2
    CHECK_EQ(f.ece, doctest::Approx(0.1));
    // ((0.5 - 0.5)^2 + (1 - 0.8)^2) / 2
    CHECK_EQ(f.brier, doctest::Approx(0.02));
    auto e = make_calibration_report({});
    CHECK_EQ(e.samples, 0u);
    CHECK_EQ(e.ece, 0);
    std::vector<calibration_sample> none{{std::nullopt, 0}};
    auto n = make_calibration_report(none);
    CHECK_EQ(n.samples, 0u);
    CHECK_EQ(n.missing, 1u);
  }

  TEST_CASE("the reliability diagram draws bars, counts, axes and figures") {
    std::vector<calibration_sample> s{{5.0, 1}, {5.0, 1}, {5.0, 0}, {3.0, 0}};
    auto svg = reliability_svg(make_calibration_report(s), "A <title> & more");
    CHECK(svg.rfind("<svg ", 0) == 0);
    CHECK(contains(svg, "</svg>"));
    CHECK(contains(svg, "A &lt;title&gt; &amp; more"));
    CHECK(contains(svg, "n=3"));
    CHECK(contains(svg, "n=1"));
    CHECK(contains(svg, "ECE "));
    CHECK(contains(svg, "Brier "));
    CHECK(contains(svg, "perfect calibration"));
    CHECK(contains(svg, "accuracy (mean score)"));
    CHECK(contains(svg, "confidence / 5"));
  }
}

TEST_SUITE("cli") {
  TEST_CASE("eval generate writes the same file for the same seed") {
    temp_dir dir;
    auto a = (dir.path() / "a.jsonl").string();
    auto b = (dir.path() / "b.jsonl").string();
    for (const auto& out : {a, b}) {
      auto res = run_command({llmmr_binary(), "eval", "generate", "--task",
                              "kv_retrieval", "--out", out, "--count", "3",
                              "--length-tokens", "2000", "--seed", "5"});
      REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    }
    CHECK_EQ(read_text(a), read_text(b));
    auto lines = read_jsonl(a);
    REQUIRE_EQ(lines.size(), 3u);
    for (size_t i = 0; i < lines.size(); ++i) {
      CHECK_EQ(lines[i]["id"], i);
      for (auto key : {"id", "context", "input", "answer", "options"})
        CHECK(lines[i].contains(key));
      CHECK(lines[i]["answer"].is_array());
      CHECK(lines[i]["options"].empty());
    }
    auto bad = run_command({llmmr_binary(), "eval", "generate", "--task",
                            "longbook_qa_eng", "--out", a});
    CHECK_EQ(bad.exit_code, 2);
    CHECK(contains(bad.err, "not synthetic"));
  }

  TEST_CASE("eval infinitebench runs passkey and kv_retrieval end to end") {
    temp_dir dir;
    auto data = dir.path() / "data";
    std::filesystem::create_directories(data);
    auto out = dir.path() / "out";
    for (std::string task : {"passkey", "kv_retrieval"}) {
      CAPTURE(task);
      auto gen
        = run_command({llmmr_binary(), "eval", "generate", "--task", task,
                       "--out", (data / (task + ".jsonl")).string(), "--count",
                       "3", "--length-tokens", "16000", "--seed", "11"});
      REQUIRE_MESSAGE(gen.exit_code == 0, gen.err);
      auto res = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                              data.string(), "--task", task, "--out",
                              out.string(), "--json", "--quiet"});
      REQUIRE_MESSAGE(res.exit_code == 0, res.err);
      auto report = nlohmann::json::parse(res.out);
      CHECK_EQ(report["task"], task);
      CHECK_EQ(report["scorer"], "official");
      REQUIRE_EQ(report["strategies"].size(), 1u);
      auto& run = report["strategies"][0];
      CHECK_EQ(run["strategy"], "mapreduce");
      CHECK_EQ(run["examples"], 3);
      CHECK_EQ(run["ran"], 3);
      CHECK_EQ(run["failures"], 0);
      CHECK(run["score"].is_number());
      CHECK(run["calls"].get<int>() > 3);
      CHECK(run["tokens"].get<int>() > 3 * 2000);
      CHECK(run["calibration"]["buckets"].size() == 6);
      CHECK_EQ(run["calibration"]["samples"].get<int>()
                 + run["calibration"]["missing"].get<int>(),
               3);
      auto preds = read_jsonl(out / ("preds_" + task + ".jsonl"));
      REQUIRE_EQ(preds.size(), 3u);
      for (auto& p : preds) {
        for (auto key :
             {"id", "prediction", "ground_truth", "raw_prediction",
              "confidence", "calls", "tokens", "wall_ms", "strategy"})
          CHECK_MESSAGE(p.contains(key), key);
        CHECK(p["prediction"].is_string());
        CHECK(p["ground_truth"].is_array());
        CHECK(p["calls"].get<int>() > 0);
        CHECK_EQ(p["strategy"], "mapreduce");
      }
      auto svg = out / ("reliability_" + task + "_mapreduce.svg");
      CHECK(std::filesystem::exists(svg));
      CHECK(contains(read_text(svg), "</svg>"));
      if (task == "passkey") {
        // The simulator reads the pass key out of its needle sentence.
        CHECK_EQ(run["score"].get<double>(), doctest::Approx(100));
        for (auto& p : preds)
          CHECK_EQ(p["prediction"], p["ground_truth"][0]);
      }
    }
    // Text mode prints the table and the calibration report; everything is
    // already there, so nothing runs again.
    auto text = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                             data.string(), "--task", "passkey", "--out",
                             out.string(), "--quiet"});
    REQUIRE_MESSAGE(text.exit_code == 0, text.err);
    CHECK(contains(text.out, "scorer: official"));
    CHECK(contains(text.out, "score (%)"));
    CHECK(contains(text.out, "100.00"));
    CHECK(contains(text.out, "3 (0 run now)"));
    CHECK(contains(text.out, "ECE"));
    CHECK(contains(text.out, "Brier"));
    CHECK(contains(text.out, "calibration (mapreduce)"));
  }

  TEST_CASE("eval infinitebench resumes and keeps one file per strategy") {
    temp_dir dir;
    auto data = dir.path();
    auto out = dir.path() / "out";
    auto gen
      = run_command({llmmr_binary(), "eval", "generate", "--task", "passkey",
                     "--out", (data / "passkey.jsonl").string(), "--count", "3",
                     "--length-tokens", "6000"});
    REQUIRE_MESSAGE(gen.exit_code == 0, gen.err);
    auto run = [&](std::vector<std::string> extra) {
      std::vector<std::string> argv{
        llmmr_binary(), "eval",    "infinitebench", "--data",     data.string(),
        "--task",       "passkey", "--out",         out.string(), "--json"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      auto res = run_command(argv);
      REQUIRE_MESSAGE(res.exit_code == 0, res.err);
      return nlohmann::json::parse(res.out);
    };
    auto first = run({"--limit", "2"});
    CHECK_EQ(first["strategies"][0]["ran"], 2);
    CHECK_EQ(first["strategies"][0]["examples"], 2);
    CHECK_EQ(read_jsonl(out / "preds_passkey.jsonl").size(), 2u);
    auto second = run({"--strategy", "mapreduce,chain", "--parallel", "2"});
    auto& mr = second["strategies"][0];
    CHECK_EQ(mr["strategy"], "mapreduce");
    CHECK_EQ(mr["ran"], 1);
    CHECK_EQ(mr["resumed"], 2);
    CHECK_EQ(mr["examples"], 3);
    auto& chain = second["strategies"][1];
    CHECK_EQ(chain["strategy"], "chain");
    CHECK_EQ(chain["ran"], 3);
    auto preds = read_jsonl(out / "preds_passkey.jsonl");
    REQUIRE_EQ(preds.size(), 3u);
    std::vector<int> ids;
    for (auto& p : preds)
      ids.push_back(p["id"].get<int>());
    std::sort(ids.begin(), ids.end());
    CHECK_EQ(ids, std::vector<int>{0, 1, 2});
    auto chain_preds = read_jsonl(out / "preds_passkey_chain.jsonl");
    REQUIRE_EQ(chain_preds.size(), 3u);
    CHECK_EQ(chain_preds[0]["strategy"], "chain");
    CHECK(std::filesystem::exists(out / "reliability_passkey_chain.svg"));
    // A cut-off last line (an interrupted run) is dropped and run again.
    {
      std::ofstream f{out / "preds_passkey.jsonl", std::ios::app};
      f << R"({"id": 3, "prediction": "12)";
    }
    auto third = run({});
    CHECK_EQ(third["strategies"][0]["ran"], 0);
    CHECK_EQ(read_jsonl(out / "preds_passkey.jsonl").size(), 3u);
  }

  TEST_CASE("eval infinitebench records failed jobs and runs them again") {
    temp_dir dir;
    auto out = dir.path() / "out";
    auto gen
      = run_command({llmmr_binary(), "eval", "generate", "--task", "passkey",
                     "--out", (dir.path() / "passkey.jsonl").string(),
                     "--count", "1", "--length-tokens", "3000"});
    REQUIRE_MESSAGE(gen.exit_code == 0, gen.err);
    {
      sim_process faulty{{"--fault-rate", "1"}};
      auto res = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                              dir.path().string(), "--task", "passkey", "--out",
                              out.string(), "--endpoint", faulty.url, "--set",
                              "retry.max_attempts=1", "--set",
                              "tokenizer.kind=approx", "--json", "--quiet"});
      CHECK_EQ(res.exit_code, 5);
      auto report = nlohmann::json::parse(res.out);
      CHECK_EQ(report["strategies"][0]["failures"], 1);
      CHECK_EQ(report["strategies"][0]["score"].get<double>(), 0);
      auto preds = read_jsonl(out / "preds_passkey.jsonl");
      REQUIRE_EQ(preds.size(), 1u);
      CHECK(preds[0]["error"].is_string());
      CHECK(preds[0]["confidence"].is_null());
      CHECK_EQ(preds[0]["prediction"], "");
    }
    // The next run (the in-process simulator) runs the failed example again
    // and its new line is the one that counts.
    auto again = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                              dir.path().string(), "--task", "passkey", "--out",
                              out.string(), "--json"});
    REQUIRE_MESSAGE(again.exit_code == 0, again.err);
    CHECK(contains(again.err, "1 example failed before and run again"));
    auto report = nlohmann::json::parse(again.out);
    CHECK_EQ(report["strategies"][0]["ran"], 1);
    CHECK_EQ(report["strategies"][0]["examples"], 1);
    CHECK_EQ(report["strategies"][0]["failures"], 0);
    CHECK_EQ(report["strategies"][0]["score"].get<double>(),
             doctest::Approx(100));
    CHECK_EQ(read_jsonl(out / "preds_passkey.jsonl").size(), 2u);
  }

  TEST_CASE("eval infinitebench names the file and line of a bad example") {
    temp_dir dir;
    dir.write(
      "passkey.jsonl",
      R"({"id": 0, "context": "The pass key is 12345.", "input": "What is the pass key?", "answer": ["12345"], "options": []})"
      "\n"
      R"({"id": 1, "context": "x", "input": "y"})"
      "\n");
    auto res = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                            dir.path().string(), "--task", "passkey", "--out",
                            (dir.path() / "out").string(), "--quiet"});
    CHECK_EQ(res.exit_code, 3);
    CHECK(contains(res.err, "passkey.jsonl:2: no field 'answer'"));
    auto missing
      = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                     dir.path().string(), "--task", "kv_retrieval", "--quiet"});
    CHECK_EQ(missing.exit_code, 3);
    CHECK(contains(missing.err, "kv_retrieval.jsonl"));
    auto usage = run_command({llmmr_binary(), "eval", "infinitebench", "--data",
                              dir.path().string(), "--task", "passkey",
                              "--strategy", "mapreduce,magic"});
    CHECK_EQ(usage.exit_code, 2);
    CHECK(contains(usage.err, "unknown strategy 'magic'"));
  }

  TEST_CASE("eval calibration reports a prediction file's confidence") {
    temp_dir dir;
    // The hand-computed example of the core test, as a prediction file.
    auto preds = dir.write(
      "preds_passkey.jsonl",
      R"({"id": 0, "prediction": "11111", "ground_truth": ["11111"], "confidence": 5})"
      "\n"
      R"({"id": 1, "prediction": "22222", "ground_truth": ["22222"], "confidence": 5.0})"
      "\n"
      R"({"id": 2, "prediction": "33333", "ground_truth": ["30000"], "confidence": 5})"
      "\n"
      R"({"id": 3, "prediction": "44444", "ground_truth": ["44444"], "confidence": 4.5})"
      "\n"
      R"({"id": 4, "prediction": "5", "ground_truth": ["55555"], "confidence": 3})"
      "\n"
      R"({"id": 5, "prediction": "", "ground_truth": ["66666"], "confidence": 0})"
      "\n"
      R"({"id": 6, "prediction": "77777", "ground_truth": ["77777"], "confidence": null})"
      "\n");
    auto res = run_command({llmmr_binary(), "eval", "calibration", "--preds",
                            preds.string(), "--json"});
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    auto j = nlohmann::json::parse(res.out);
    CHECK_EQ(j["task"], "passkey");
    CHECK_EQ(j["samples"], 6);
    CHECK_EQ(j["missing"], 1);
    CHECK_EQ(j["ece"].get<double>(), doctest::Approx(1.7 / 6));
    CHECK_EQ(j["brier"].get<double>(), doctest::Approx(1.37 / 6));
    CHECK_EQ(j["score"].get<double>(), doctest::Approx(400.0 / 7));
    CHECK(std::filesystem::exists(dir.path() / "reliability_passkey.svg"));
    auto text = run_command(
      {llmmr_binary(), "eval", "calibration", "--preds", preds.string()});
    REQUIRE_MESSAGE(text.exit_code == 0, text.err);
    CHECK(contains(text.out, "ECE 0.283"));
    CHECK(contains(text.out, "Brier 0.228"));
    // Without a confidence field there is nothing to report.
    auto bare = dir.write(
      "other.jsonl", R"({"id": 0, "prediction": "1", "ground_truth": ["1"]})"
                     "\n");
    auto none = run_command({llmmr_binary(), "eval", "calibration", "--preds",
                             bare.string(), "--task", "passkey"});
    CHECK_EQ(none.exit_code, 3);
    CHECK(contains(none.err, "no 'confidence'"));
    auto no_task = run_command(
      {llmmr_binary(), "eval", "calibration", "--preds", bare.string()});
    CHECK_EQ(no_task.exit_code, 2);
    CHECK(contains(no_task.err, "--task is required"));
  }
}

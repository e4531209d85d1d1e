// The record parser: unit cases and the fixtures under
// tests/fixtures/records (model output in NAME.txt, expectations in
// NAME.json).

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/protocol.hpp"
#include "llmmr/core/record_parser.hpp"

using namespace llmmr;

namespace {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Checks the optional string expectations `key` (exact), `key_contains`
/// and `key_excludes` against `actual`.
void check_text(const nlohmann::json& exp, const std::string& key,
                const std::string& actual) {
  if (exp.contains(key))
    CHECK_EQ(actual, exp[key].get<std::string>());
  if (exp.contains(key + "_contains"))
    CHECK_MESSAGE(contains(actual, exp[key + "_contains"].get<std::string>()),
                  key << " = " << actual);
  if (exp.contains(key + "_excludes"))
    CHECK_MESSAGE(!contains(actual, exp[key + "_excludes"].get<std::string>()),
                  key << " = " << actual);
}

} // namespace

TEST_SUITE("protocol") {

  TEST_CASE("scores are read in their common spellings") {
    auto score
      = [](std::string_view s) { return parse_score(s).value_or(-99); };
    CHECK_EQ(score("4"), 4);
    CHECK_EQ(score("4.5"), 4.5);
    CHECK_EQ(score("4/5"), 4);
    CHECK_EQ(score("4.5 / 5"), 4.5);
    CHECK_EQ(score("8/10"), 4);
    CHECK_EQ(score("4.5 out of 5"), 4.5);
    CHECK_EQ(score("3 OUT OF 5."), 3);
    CHECK_EQ(score("**5**"), 5);
    CHECK_EQ(score("5 (stated outright)"), 5);
    CHECK_EQ(score("90%"), 4.5);
    CHECK_EQ(score("-1"), -1);
    CHECK_EQ(score("4分（满分5分）"), 4);
    CHECK(!parse_score("high"));
    CHECK(!parse_score(""));
  }

  TEST_CASE("no information is judged on the whole answer field") {
    for (auto s :
         {"No information", "no information.", "**No information**",
          "\"No relevant information\"", "N/A", "None",
          "No information (this part is about the weather)",
          "There is no information about the key in this part.", "无相关信息",
          "没有信息。", "未提及", "  No   Information  "})
      CHECK_MESSAGE(is_no_information(s), s);
    for (auto s :
         {"", "Paris", "None of the above",
          "Paris; there is no information about other cities",
          "Informational leaflets", "42", "B. no information leak", "North"})
      CHECK_MESSAGE(!is_no_information(s), s);
  }

  TEST_CASE("answers are cleaned of quotes and emphasis") {
    CHECK_EQ(clean_answer("  **\"Paris\"**  "), "Paris");
    CHECK_EQ(clean_answer("`foo()`"), "foo()");
    CHECK_EQ(clean_answer("“杭州”"), "杭州");
    CHECK_EQ(clean_answer("__init__"), "__init__");
    CHECK_EQ(clean_answer("It's \"quoted\" inside"), "It's \"quoted\" inside");
  }

  TEST_CASE("the parser keeps the raw text and never throws") {
    for (std::string raw :
         {std::string{}, std::string{"\0\xff\xfe{", 4},
          std::string{"{\"answer\": \"\\ud83d"}, std::string{"Answer:"},
          std::string{"{{{{}"}, std::string{"```\n```\n```"},
          std::string(5000, '{'), std::string{"Confidence score: 1e400"}}) {
      for (auto p : {task_profile::qa, task_profile::summary}) {
        record r;
        CHECK_NOTHROW(r = parse_record(raw, p));
        CHECK_EQ(r.raw, raw);
        CHECK_GE(r.confidence, 0);
        CHECK_LE(r.confidence, 5);
        final_answer f;
        CHECK_NOTHROW(f = parse_final_answer(raw, p));
        CHECK_EQ(f.raw, raw);
      }
    }
  }

  TEST_CASE("status reflects how many fields were found") {
    auto full = parse_record("Extracted information: a\nRationale: b\n"
                             "Answer: c\nConfidence score: 3",
                             task_profile::qa);
    CHECK_EQ(full.status, record_status::ok);
    auto some = parse_record("Answer: c", task_profile::qa);
    CHECK_EQ(some.status, record_status::partial);
    CHECK_EQ(some.answer, "c");
    auto none = parse_record("I could not find it.", task_profile::qa);
    CHECK_EQ(none.status, record_status::unparsable);
    CHECK_EQ(none.answer, "");
    CHECK_EQ(none.confidence, 0);
    CHECK_EQ(none.raw, "I could not find it.");
    auto no_number = parse_record("Extracted information: a\nRationale: b\n"
                                  "Answer: c\nConfidence score: unsure",
                                  task_profile::qa);
    CHECK_EQ(no_number.status, record_status::partial);
    CHECK_FALSE(no_number.has_confidence);
    auto word = parse_record("Extracted information: a\nRationale: b\n"
                             "Answer: c\nConfidence score: high",
                             task_profile::qa);
    CHECK_EQ(word.status, record_status::ok);
    CHECK(word.has_confidence);
    CHECK_EQ(word.confidence, 4);
  }

  TEST_CASE("a rendered record parses back to the same fields") {
    for (auto p : {task_profile::qa, task_profile::qa_zh, task_profile::code,
                   task_profile::math, task_profile::retrieval}) {
      CAPTURE(to_string(p));
      record r;
      r.chunks = {3, 4};
      r.extracted = "```cpp\nint f();\n// Answer: inside code\n```";
      r.rationale = "Line one.\nLine two.";
      r.answer = "42";
      r.confidence = 3.5;
      auto back = parse_record(render_record(p, r), p);
      CHECK_EQ(back.status, record_status::ok);
      CHECK_EQ(back.extracted, r.extracted);
      CHECK_EQ(back.rationale, r.rationale);
      CHECK_EQ(back.answer, r.answer);
      CHECK_EQ(back.confidence, r.confidence);
      r.answer.clear();
      r.no_information = true;
      back = parse_record(render_record(p, r), p);
      CHECK(back.no_information);
      CHECK(back.answer.empty());
    }
  }

  TEST_CASE("chunks and usage are left for the caller") {
    auto r = parse_record("Answer: x", task_profile::qa);
    CHECK(r.chunks.empty());
    CHECK_EQ(r.usage, usage{});
  }

  TEST_CASE("the model-output fixtures parse as expected") {
    namespace fs = std::filesystem;
    fs::path dir
      = fs::path{LLMMR_SOURCE_DIR} / "tests" / "fixtures" / "records";
    REQUIRE(fs::is_directory(dir));
    std::vector<fs::path> expectations;
    for (auto& entry : fs::directory_iterator{dir})
      if (entry.path().extension() == ".json")
        expectations.push_back(entry.path());
    std::sort(expectations.begin(), expectations.end());
    CHECK_GE(expectations.size(), 30u);
    for (auto& exp_file : expectations) {
      auto name = exp_file.stem().string();
      CAPTURE(name);
      auto txt_file = exp_file;
      txt_file.replace_extension(".txt");
      REQUIRE(fs::exists(txt_file));
      auto raw = slurp(txt_file);
      auto exp = nlohmann::json::parse(slurp(exp_file));
      task_profile profile = task_profile::qa;
      REQUIRE(from_string(exp.at("profile").get<std::string>(), profile));
      auto kind = exp.value("kind", std::string{"record"});
      if (kind == "final") {
        auto f = parse_final_answer(raw, profile);
        CHECK_EQ(f.raw, raw);
        if (exp.contains("status"))
          CHECK_EQ(to_string(f.status), exp["status"].get<std::string>());
        check_text(exp, "answer", f.answer);
        check_text(exp, "rationale", f.rationale);
        if (exp.contains("confidence"))
          CHECK_EQ(f.confidence, exp["confidence"].get<double>());
        // A clean answer never carries rationale or score text.
        for (auto bad :
             {"Rationale", "Confidence", "Answer:", "**", "推理", "置信度"})
          CHECK_MESSAGE(!contains(f.answer, bad), f.answer);
        continue;
      }
      auto r = parse_record(raw, profile);
      CHECK_EQ(r.raw, raw);
      if (exp.contains("status"))
        CHECK_EQ(to_string(r.status), exp["status"].get<std::string>());
      check_text(exp, "answer", r.answer);
      check_text(exp, "extracted", r.extracted);
      check_text(exp, "rationale", r.rationale);
      if (exp.contains("confidence"))
        CHECK_EQ(r.confidence, exp["confidence"].get<double>());
      if (exp.contains("no_information"))
        CHECK_EQ(r.no_information, exp["no_information"].get<bool>());
      if (r.no_information)
        CHECK(r.answer.empty());
      CHECK(r.chunks.empty());
    }
  }

} // TEST_SUITE

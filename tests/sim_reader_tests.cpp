// Tests of the simulator's reader policy (no networking).

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "llmmr/sim/protocol.hpp"
#include "llmmr/sim/reader.hpp"

using namespace llmmr::sim;

namespace {

std::string read_file(const std::string& rel) {
  std::ifstream in{std::string{LLMMR_SOURCE_DIR} + "/config/prompts/" + rel};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Substitutes {name} placeholders the simple way (tests only).
std::string fill(std::string text, const std::string& name,
                 const std::string& value) {
  auto key = "{" + name + "}";
  for (auto pos = text.find(key); pos != std::string::npos;
       pos = text.find(key, pos + value.size())) {
    text.replace(pos, key.size(), value);
  }
  return text;
}

std::string map_prompt(const std::string& profile, const std::string& question,
                       const std::string& chunk) {
  auto text = read_file(profile + "/map.txt");
  text = fill(text, "rubric", read_file(profile + "/rubric.txt"));
  text = fill(text, "question", question);
  return fill(text, "chunk", chunk);
}

std::string combine_prompt(const std::string& profile, const std::string& kind,
                           const std::string& question,
                           const std::string& records) {
  auto text = read_file(profile + "/" + kind + ".txt");
  text = fill(text, "rubric", read_file(profile + "/rubric.txt"));
  text = fill(text, "question", question);
  return fill(text, "records", records);
}

const std::string haystack
  = "The river town woke early. Fishermen mended their nets by the pier.\n"
    "The secret passphrase is amber-4127. Nobody else must know it.\n"
    "In the afternoon the market filled with traders from the hills.";

} // namespace

TEST_SUITE("sim") {

  TEST_CASE("tokens: four bytes each, never splitting a character") {
    CHECK_EQ(count_tokens(""), 0u);
    CHECK_EQ(count_tokens("abcd"), 1u);
    CHECK_EQ(count_tokens("abcde"), 2u);
    auto pieces = split_tokens("ab\xC3\xA9\xC3\xA9xy");
    std::string joined;
    for (auto p : pieces)
      joined += p;
    CHECK_EQ(joined, "ab\xC3\xA9\xC3\xA9xy");
    CHECK_EQ(pieces[0], "ab\xC3\xA9");
  }

  TEST_CASE("reader answers the needle question from a map prompt exactly") {
    auto prompt = map_prompt("qa", "What is the secret passphrase?", haystack);
    auto parts = classify_prompt(prompt);
    if (read_file("qa/map.txt").find("{chunk}") != std::string::npos) {
      CHECK_EQ(parts.kind, prompt_kind::map);
      CHECK_EQ(parts.profile, "qa");
    }
    CHECK_EQ(parts.question, "What is the secret passphrase?");
    auto reply = answer_prompt(prompt);
    CHECK_EQ(reply.answer, "amber-4127");
    CHECK_EQ(reply.confidence, 5);
    CHECK(reply.text.find("Answer: amber-4127\n") != std::string::npos);
    CHECK(reply.text.find("Confidence score: 5") != std::string::npos);
    CHECK(reply.text.starts_with("Extracted information: "));
  }

  TEST_CASE("reader: a chunk without the needle gives no information") {
    auto prompt = map_prompt("retrieval", "What is the secret passphrase?",
                             "Fishermen mended their nets by the pier.");
    auto reply = answer_prompt(prompt);
    CHECK_EQ(reply.answer, "No information");
    CHECK_EQ(reply.confidence, 0);
    CHECK(reply.text.find("Answer: No information") != std::string::npos);
  }

  TEST_CASE("reader: weaker overlap scores between 2.5 and 3.5") {
    auto prompt = map_prompt("qa", "Which traders came to the market at dawn?",
                             "The market was quiet all week.");
    auto reply = answer_prompt(prompt);
    CHECK_GE(reply.confidence, 2.5);
    CHECK_LE(reply.confidence, 3.5);
  }

  TEST_CASE("reader: collapse and reduce prefer higher confidence") {
    std::string records
      = "[Part 1]\nExtracted information: Nothing relevant.\nRationale: none.\n"
        "Answer: No information\nConfidence score: 0\n\n"
        "[Part 2]\nExtracted information: \"The passphrase might be red-1.\"\n"
        "Rationale: a guess.\nAnswer: red-1\nConfidence score: 3\n\n"
        "[Part 3]\nExtracted information: \"The secret passphrase is "
        "amber-4127.\"\nRationale: stated outright.\nAnswer: amber-4127\n"
        "Confidence score: 5";
    auto collapse = answer_prompt(combine_prompt(
      "qa", "collapse", "What is the secret passphrase?", records));
    CHECK_EQ(collapse.parts.kind, prompt_kind::collapse);
    CHECK_EQ(collapse.answer, "amber-4127");
    CHECK_EQ(collapse.confidence, 5);
    CHECK(collapse.text.starts_with("Extracted information: "));
    auto reduce = answer_prompt(combine_prompt(
      "qa", "reduce", "What is the secret passphrase?", records));
    CHECK_EQ(reduce.parts.kind, prompt_kind::reduce);
    CHECK_EQ(reduce.answer, "amber-4127");
    CHECK(reduce.text.starts_with("Rationale: "));
    CHECK(reduce.text.find("Extracted information") == std::string::npos);
    auto records_parsed = parse_records(records, false);
    REQUIRE_EQ(records_parsed.size(), 3u);
    CHECK(records_parsed[0].no_information);
    CHECK_EQ(records_parsed[2].confidence, 5);
  }

  TEST_CASE("reader: Chinese map prompt uses Chinese labels") {
    auto prompt
      = map_prompt("qa_zh", "秘密口令是什么？",
                   "河边的小镇醒得很早。秘密口令是青松-88。别告诉别人。");
    auto reply = answer_prompt(prompt);
    CHECK(reply.parts.chinese);
    CHECK_EQ(reply.answer, "青松-88");
    CHECK(reply.text.find("答案：青松-88") != std::string::npos);
  }

  TEST_CASE("reader: unknown prompts get a deterministic echo") {
    auto a = answer_prompt("Say hi");
    CHECK_EQ(a.parts.kind, prompt_kind::unknown);
    CHECK_EQ(a.text, "Echo: Say hi");
    CHECK_EQ(answer_prompt("Say hi").text, a.text);
  }

} // TEST_SUITE

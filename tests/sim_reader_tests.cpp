// Tests of the simulator's reader policy (no networking).

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "llmmr/sim/protocol.hpp"
#include "llmmr/sim/reader.hpp"
#include "llmmr/sim/structured_reading.hpp"

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

  TEST_CASE("reader: a key lookup answers the value of the named key") {
    const std::string key = "3f2a9c1e-0b7d-4e21-9a55-1c0d2e3f4a5b";
    const std::string value = "9d8c7b6a-5f4e-4d3c-8b2a-190817263544";
    auto question = "Find the value that belongs to the given key in the "
                    "JSON object.\n\nKey: \""
                    + key
                    + "\"\nThe value associated with the specified "
                      "key is: ";
    auto chunk = "\"0a1b2c3d-aaaa-bbbb-cccc-000000000001\": "
                 "\"0a1b2c3d-aaaa-bbbb-cccc-000000000002\", \""
                 + key + "\": \"" + value
                 + "\", \"0a1b2c3d-aaaa-bbbb-cccc-000000000003\": "
                   "\"0a1b2c3d-aaaa-bbbb-cccc-000000000004\"";
    auto hit = answer_prompt(map_prompt("retrieval", question, chunk));
    CHECK_EQ(hit.parts.kind, prompt_kind::map);
    CHECK_EQ(hit.answer, value);
    CHECK_EQ(hit.confidence, 5);
    CHECK(hit.text.find("Answer: " + value + "\n") != std::string::npos);
    // The key as a value, or other keys only: no information.
    auto miss = answer_prompt(
      map_prompt("retrieval", question,
                 "\"0a1b2c3d-aaaa-bbbb-cccc-000000000001\": \"" + key + "\""));
    CHECK_EQ(miss.answer, "No information");
    CHECK_EQ(miss.confidence, 0);
    // Collapse and reduce keep the record that has the value.
    std::string records
      = "[Part 1]\nExtracted information: Nothing in this part bears on the "
        "question.\nRationale: none.\nAnswer: No information\n"
        "Confidence score: 0\n\n[Part 2]\nExtracted information: \""
        + key + "\": \"" + value + "\"\nRationale: the pair.\nAnswer: " + value
        + "\nConfidence score: 5\n\n[Part 3]\nExtracted information: The "
          "part ends right after the key, so its value is not in this "
          "part.\nRationale: cut.\nAnswer: No information\n"
          "Confidence score: 0";
    for (auto kind : {"collapse", "reduce"}) {
      auto r
        = answer_prompt(combine_prompt("retrieval", kind, question, records));
      CHECK_EQ(r.answer, value);
      CHECK_EQ(r.confidence, 5);
    }
    // A value cut off by the end of the part is seen but not found.
    auto cut = look_up_key("{\"" + key + "\": \"9d8c", key);
    CHECK(cut.key_seen);
    CHECK_FALSE(cut.found);
    auto bare = look_up_key("{\"" + key + "\": 42, \"x\": 1}", key);
    CHECK(bare.found);
    CHECK_EQ(bare.value, "42");
  }

  TEST_CASE("reader: Math.Find extremes combine over the parts") {
    const std::string question
      = "What is the largest number in the list below?\n\nAnswer with a "
        "single number and no other words. The largest number of the list "
        "is: ";
    auto part1 = answer_prompt(map_prompt("math", question, "[12, 907, 5, 44"));
    CHECK_EQ(part1.answer, "907");
    CHECK_EQ(part1.confidence, 4);
    auto part2 = answer_prompt(map_prompt("math", question, "3, 1200, 8]"));
    CHECK_EQ(part2.answer, "1200");
    auto whole = answer_prompt(map_prompt("math", question, "[3, 1200, 8]"));
    CHECK_EQ(whole.confidence, 5);
    auto records = "[Part 1]\n" + part1.text + "\n\n[Part 2]\n" + part2.text;
    auto collapse
      = answer_prompt(combine_prompt("math", "collapse", question, records));
    CHECK_EQ(collapse.answer, "1200");
    auto reduce = answer_prompt(
      combine_prompt("math", "reduce", question, "[Part 1]\n" + collapse.text));
    CHECK_EQ(reduce.answer, "1200");
    CHECK_EQ(reduce.confidence, 5);
    auto smallest = answer_prompt(combine_prompt(
      "math", "reduce", "What is the smallest number in the list below?",
      records));
    CHECK_EQ(smallest.answer, "3");
    // Prose with a number is not a list.
    CHECK_FALSE(
      summarise_numbers("The largest city had 12 bridges.").has_value());
  }

  TEST_CASE("reader: a median is exact only over the whole list") {
    const std::string question = "What is the median number in the list below?";
    auto whole = answer_prompt(map_prompt("math", question, "[9, 1, 7, 3, 5]"));
    CHECK_EQ(whole.answer, "5");
    CHECK_EQ(whole.confidence, 5);
    auto a = answer_prompt(map_prompt("math", question, "[9, 1, 7"));
    CHECK_EQ(a.answer, "No information");
    CHECK(a.text.find("3 numbers of a longer list; smallest 1, median about "
                      "7, largest 9.")
          != std::string::npos);
    auto b = answer_prompt(map_prompt("math", question, "3, 5, 2, 4]"));
    auto reduce = answer_prompt(
      combine_prompt("math", "reduce", question,
                     "[Part 1]\n" + a.text + "\n\n[Part 2]\n" + b.text));
    // Medians 7 (of 3) and 3.5 (of 4): the estimate is 3.5, at low
    // confidence.
    CHECK_EQ(reduce.answer, "3.5");
    CHECK_EQ(reduce.confidence, 1.5);
    auto s = parse_number_summary(describe(*summarise_numbers("[4, 2, 8]")));
    REQUIRE(s.has_value());
    CHECK(s->whole);
    CHECK_EQ(s->count, 3u);
    CHECK_EQ(s->median, "4");
  }

  TEST_CASE("reader: chain prompts keep a key's pair and a running summary") {
    auto chain_step = [](const std::string& profile, const std::string& q,
                         const std::string& notes, const std::string& chunk) {
      auto text = read_file(profile + "/chain_step.txt");
      text = fill(text, "question", q);
      text = fill(text, "notes", notes);
      return fill(text, "chunk", chunk);
    };
    auto chain_answer = [](const std::string& profile, const std::string& q,
                           const std::string& notes) {
      auto text = read_file(profile + "/chain_answer.txt");
      text = fill(text, "rubric", read_file(profile + "/rubric.txt"));
      text = fill(text, "question", q);
      return fill(text, "notes", notes);
    };
    const std::string q = "What is the largest number in the list below?";
    auto n1
      = answer_prompt(chain_step("math", q, "Nothing read yet.", "[5, 70, 2"));
    CHECK_EQ(n1.parts.kind, prompt_kind::chain_step);
    auto n2 = answer_prompt(chain_step("math", q, n1.text, "90, 1, 4]"));
    auto final = answer_prompt(chain_answer("math", q, n2.text));
    CHECK_EQ(final.answer, "90");
    CHECK_EQ(final.confidence, 5);
    const std::string key = "abcdef12-3456";
    auto kq = "Key: \"" + key + "\"\nThe value associated with the key is: ";
    auto k1 = answer_prompt(
      chain_step("retrieval", kq, "Nothing read yet.",
                 "{\"x1234567\": \"y\", \"" + key + "\": \"found-it\""));
    auto k2 = answer_prompt(
      chain_step("retrieval", kq, k1.text, ", \"z7654321\": \"w\"}"));
    auto kf = answer_prompt(chain_answer("retrieval", kq, k2.text));
    CHECK_EQ(kf.answer, "found-it");
  }

  TEST_CASE("reader: unknown prompts get a deterministic echo") {
    auto a = answer_prompt("Say hi");
    CHECK_EQ(a.parts.kind, prompt_kind::unknown);
    CHECK_EQ(a.text, "Echo: Say hi");
    CHECK_EQ(answer_prompt("Say hi").text, a.text);
  }

} // TEST_SUITE

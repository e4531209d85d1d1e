// The answer extractor on the messy forms real models write at the reduce
// step, and on the unprocessed reduce outputs of two real models under
// shared/data/infinitebench (scored with the official InfiniteBench rules).

#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/record_parser.hpp"

using namespace llmmr;

namespace {

std::string extract(std::string_view raw, answer_kind kind) {
  return extract_answer(raw, kind).text;
}

/// One line of an InfiniteBench prediction file.
struct prediction_line {
  std::string prediction;
  std::vector<std::string> truth;
};

std::vector<std::string> truth_strings(const nlohmann::json& j) {
  std::vector<std::string> out;
  auto one = [&out](const nlohmann::json& v) {
    out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  };
  if (j.is_array())
    for (auto& v : j)
      one(v);
  else
    one(j);
  return out;
}

std::vector<prediction_line> load(const std::filesystem::path& file) {
  std::vector<prediction_line> out;
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto j = nlohmann::json::parse(line);
    out.push_back({j.at("prediction").get<std::string>(),
                   truth_strings(j.at("ground_truth"))});
  }
  return out;
}

/// A percentage rounded to two decimals, as the benchmark reports it.
double percent(double sum, size_t n) {
  return n == 0 ? 0 : std::round(10000.0 * sum / static_cast<double>(n)) / 100;
}

struct task_figures {
  size_t lines = 0;
  double raw = 0;       // official rule on the raw text
  double extracted = 0; // official rule on the extracted answer
  double modified = 0;  // the reference's modified rule on the raw text
  /// Lines the raw text scores and the extracted answer does not.
  size_t raw_only = 0;
  /// Those of `raw_only` whose text after the last "Answer:" label (the
  /// model's own final answer) scores as well: the extractor lost it.
  size_t raw_only_lost = 0;
  /// Those of `raw_only` without any "Answer:" label.
  size_t raw_only_unlabelled = 0;
};

/// Returns the text after the last "answer:" (any case) in `raw`, or
/// `std::nullopt` when there is none.
std::optional<std::string> after_last_answer_label(const std::string& raw) {
  std::string lower;
  for (char c : raw)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto pos = lower.rfind("answer:");
  if (pos == std::string::npos)
    return std::nullopt;
  return raw.substr(pos + 7);
}

task_figures score_file(infinitebench_task task,
                        const std::vector<prediction_line>& lines) {
  double raw = 0, ext = 0, mod = 0;
  task_figures out;
  for (auto& l : lines) {
    auto answer = extract(l.prediction, answer_kind_of(task));
    auto r = official_score(task, l.prediction, l.truth).value_or(0);
    auto e = official_score(task, answer, l.truth).value_or(0);
    raw += r;
    ext += e;
    mod += modified_score(task, l.prediction, l.truth).value_or(0);
    if (r > e) {
      ++out.raw_only;
      if (auto tail = after_last_answer_label(l.prediction)) {
        if (official_score(task, *tail, l.truth).value_or(0) > e)
          ++out.raw_only_lost;
      } else {
        ++out.raw_only_unlabelled;
      }
    }
  }
  out.lines = lines.size();
  out.raw = percent(raw, lines.size());
  out.extracted = percent(ext, lines.size());
  out.modified = percent(mod, lines.size());
  return out;
}

} // namespace

TEST_SUITE("protocol") {

  TEST_CASE("retrieval answers ignore scores, chunk numbers and percentages") {
    auto value
      = [](std::string_view raw) { return extract(raw, answer_kind::value); };
    CHECK_EQ(value("Easy one!\n\nAccording to the evidence, there is a clear "
                   "answer with a confidence score of 5.0:\n\n**The pass key "
                   "is 71432.**\n\nThis answer is explicitly mentioned in "
                   "Chunk 0, and the passage repeats it."),
             "71432");
    CHECK_EQ(value("Since there is an answer that scores 5 confidence points, "
                   "I will choose it directly.\n\nThe pass key is 18937."),
             "18937");
    CHECK_EQ(value("The confidence score for this answer is 5.\n\nThe pass "
                   "key is: **14345**"),
             "14345");
    CHECK_EQ(value("According to the information provided, the pass key is "
                   "mentioned in Chunk 2 as:\n\n**69777**\n\nThis answer has "
                   "a confidence score of 5.0."),
             "69777");
    CHECK_EQ(value("The sequence of digits is 5666661150.\n\nI'm 100% "
                   "confident about this answer."),
             "5666661150");
    CHECK_EQ(value("The pass key is 60984. The confidence score for this "
                   "answer is 5/5."),
             "60984");
    CHECK_EQ(value("Chunks 2, 3 and 4 agree: the value is 4417."), "4417");
    CHECK_EQ(value("The value associated with the key "
                   "\"798c2306-5ad1-42a9\" is \"5e6b7b90-710d-4953\"."),
             "5e6b7b90-710d-4953");
    CHECK_EQ(value("You correctly found the key \"dfc91e11-1cfd\" and its "
                   "value, which is indeed \"3eb6e54c-3562\"."),
             "3eb6e54c-3562");
    CHECK_EQ(value("Rationale: part 3 quotes it.\nAnswer: 42 (Confidence: 5)"),
             "42");
    CHECK_EQ(value("Answer: 71432\n71432"), "71432");
    CHECK_EQ(value("The final answer is:\n\nThe pass key is apple."), "apple");
    CHECK_EQ(value("I could not find the pass key in any chunk."),
             "I could not find the pass key in any chunk.");
  }

  TEST_CASE("numbers come from the answer, not from the rationale") {
    auto number
      = [](std::string_view raw) { return extract(raw, answer_kind::number); };
    CHECK_EQ(number("88"), "88");
    CHECK_EQ(number("Rationale: chunk 4 lists 12 and 88; 88 is larger.\n"
                    "Answer: The largest number is 88.\nConfidence: 4"),
             "88");
    CHECK_EQ(number("Answer: -3"), "-3");
    CHECK_EQ(number("Answer: 2.5 (confidence score 3)"), "2.5");
  }

  TEST_CASE("choice answers keep the option letter and text") {
    auto choice
      = [](std::string_view raw) { return extract(raw, answer_kind::choice); };
    CHECK_EQ(choice("Rationale: chunk 0 says so.\n\nAnswer: B. France"),
             "B. France");
    CHECK_EQ(choice("Rationale: the error is plain.\n\nAnswer: C"), "C.");
    CHECK_EQ(choice("**Answer:** (D) At the Mauras"), "D. At the Mauras");
    CHECK_EQ(choice("Answer: **Option A**"), "A.");
    CHECK_EQ(choice("Answer: Tasha (A)"), "A.");
    CHECK_EQ(choice("Considering everything, the answer is:\n\nD. At the "
                    "Mauras\n\nThis answer is based on chunk 0."),
             "D. At the Mauras");
    // Per-chunk recaps come first; the conclusion is the last label.
    CHECK_EQ(choice("Chunk 1:\nAnswer: A\nConfidence Score: 4\n\nChunk 2:\n"
                    "Answer: C\nConfidence Score: 3\n\nRationale: chunk 1 is "
                    "more direct.\nAnswer: A"),
             "A.");
    // A list of letters is not a choice, and "A lens" is option text.
    CHECK_EQ(choice("Answer: None of the options A, B, C, or D."),
             "None of the options A, B, C, or D.");
    CHECK_EQ(choice("Answer: A lens"), "A lens");
    CHECK_EQ(choice("I conclude that the function with the most obvious "
                    "error is **D. Style.stdout**."),
             "D.");
  }

  TEST_CASE("free-text answers lose labels, notes, quotes and repeats") {
    auto text
      = [](std::string_view raw) { return extract(raw, answer_kind::text); };
    CHECK_EQ(text("Rationale: both chunks agree.\n\nAnswer: \"Mrs. Deandra\""),
             "Mrs. Deandra");
    CHECK_EQ(text("Answer: Ace Rothstein\nNote: the script also names Nicky."),
             "Ace Rothstein");
    CHECK_EQ(text("Answer: Finlay (note: based on chunk 2)"), "Finlay");
    CHECK_EQ(text("Answer: Paris\n\nConfidence: 5\n\nAnswer: Paris"), "Paris");
    CHECK_EQ(text("Answer: Paris. Paris."), "Paris");
    CHECK_EQ(text("### Final Answer\n\nThe butler\n\n### Confidence\n4"),
             "The butler");
    CHECK_EQ(text("- **Answer**: *the lighthouse*\n- **Confidence**: 4"),
             "the lighthouse");
    CHECK_EQ(text("推理过程：第3段直接写明了地点。\n答案：「杭州」\n置信度：5"),
             "杭州");
    CHECK_EQ(text("**答案**：北京\n**置信度**：4"), "北京");
    CHECK_EQ(text("<think>Maybe Lyon.</think>Answer: Paris"), "Paris");
    CHECK_EQ(text(""), "");
    CHECK_EQ(extract_answer("Answer: x", answer_kind::text).source,
             answer_source::label);
    CHECK_EQ(extract_answer("The final answer is: x", answer_kind::text).source,
             answer_source::phrase);
  }

  TEST_CASE("summaries keep the whole text without their label") {
    CHECK_EQ(extract("Summary: The novel follows Jennifer.\n\nShe errs.",
                     answer_kind::summary),
             "The novel follows Jennifer.\n\nShe errs.");
  }

  TEST_CASE("parse_final_answer uses the extractor for its answer") {
    auto f = parse_final_answer("Easy one!\n\nThere is a clear answer with a "
                                "confidence score of 5.0:\n\n**The pass key "
                                "is 71432.**",
                                task_profile::retrieval);
    CHECK_EQ(f.answer, "71432");
    CHECK_EQ(f.status, record_status::partial);
    auto g = parse_final_answer("Rationale: r.\nAnswer: A\n\nRationale: r2.\n"
                                "Answer: **B**\nConfidence: 4",
                                task_profile::qa);
    CHECK_EQ(g.answer, "B");
    CHECK_EQ(g.status, record_status::ok);
    CHECK_EQ(g.confidence, 4);
  }

  TEST_CASE("the InfiniteBench rules score as the official scorer does") {
    using t = infinitebench_task;
    auto s = [](t task, std::string_view pred, std::vector<std::string> truth) {
      return official_score(task, pred, truth).value_or(-1);
    };
    CHECK_EQ(s(t::passkey, "score of 5.0: the key is 71432", {"71432"}), 0);
    CHECK_EQ(s(t::passkey, "71432.", {"71432"}), 1);
    CHECK_EQ(modified_score(t::passkey, "score of 5.0: 71432", {"71432"}), 1);
    CHECK_EQ(s(t::kv_retrieval, "is \"ab-12\".", {"ab-12"}), 1);
    CHECK_EQ(s(t::kv_retrieval, "is **ab-12**", {"ab-12"}), 0);
    CHECK_EQ(s(t::longbook_choice_eng, "B. France", {"France", "B"}), 1);
    CHECK_EQ(s(t::longbook_choice_eng, "France", {"France", "B"}), 1);
    CHECK_EQ(s(t::longbook_choice_eng, "so the answer is: B", {"x", "B"}), 1);
    CHECK_EQ(s(t::longbook_choice_eng, "Rationale: C is wrong", {"x", "B"}), 0);
    CHECK_EQ(s(t::code_debug, "B.", {"fn", "B"}), 1);
    CHECK_EQ(s(t::code_debug, "B", {"fn", "B"}), 0);
    CHECK_EQ(s(t::code_debug, "answer: B", {"fn", "B"}), 1);
    CHECK_EQ(s(t::code_debug, "the answer is: fn", {"fn", "B"}), 1);
    CHECK_EQ(modified_score(t::code_debug, "A or rather B", {"fn", "B"}), 1);
    CHECK_EQ(s(t::math_find, "The answer is 88.", {"88"}), 1);
    CHECK_EQ(s(t::math_find, "88.5", {"88"}), 0);
    CHECK_EQ(s(t::longdialogue_qa_eng, "It is Ace.", {"ACE"}), 1);
    CHECK_EQ(s(t::longbook_qa_eng, "The Peyton", {"\"Peyton\""}), 1);
    CHECK_EQ(official_score(t::longbook_sum_eng, "x", {"y"}).value_or(-1), 0);
    infinitebench_task k;
    CHECK(from_string("kv_retrieval", k));
    CHECK_EQ(k, t::kv_retrieval);
    CHECK(!from_string("kv", k));
    CHECK_EQ(profile_of(t::code_debug), task_profile::code);
    CHECK_EQ(answer_kind_of(t::code_debug), answer_kind::choice);
    CHECK_EQ(answer_kind_of(t::passkey), answer_kind::value);
    CHECK_EQ(answer_kind_of(t::longbook_qa_chn), answer_kind::text);
  }

  TEST_CASE("extracted answers of real models score at least as their raw "
            "text") {
    namespace fs = std::filesystem;
    auto root
      = fs::path{LLMMR_SOURCE_DIR} / ".." / "shared" / "data" / "infinitebench";
    if (!fs::is_directory(root)) {
      MESSAGE("skipped: no InfiniteBench prediction files at " << root);
      return;
    }
    // README.md of that folder: the figures for llmxmapreduce-llama3-70b
    // (modified scorer on the retrieval tasks, official on the choices).
    const std::map<infinitebench_task, double> llama_targets{
      {infinitebench_task::passkey, 100.00},
      {infinitebench_task::number_string, 99.83},
      {infinitebench_task::kv_retrieval, 99.00},
      {infinitebench_task::longbook_choice_eng, 82.10},
      {infinitebench_task::code_debug, 62.69},
    };
    size_t files = 0;
    for (std::string model :
         {"raw-meta-llama-3-70b-instruct", "raw-minicpm3-4b"}) {
      for (auto task : infinitebench_tasks) {
        auto file = root / model / ("preds_" + to_string(task) + ".jsonl");
        if (!fs::exists(file) || !official_score(task, "", {"x"}))
          continue;
        ++files;
        CAPTURE(model);
        CAPTURE(to_string(task));
        auto fig = score_file(task, load(file));
        REQUIRE(fig.lines > 0);
        MESSAGE(model << " " << table_name(task) << " (" << fig.lines
                      << " lines): official rule on raw text " << fig.raw
                      << ", on extracted answers " << fig.extracted
                      << " (modified rule on raw text " << fig.modified << ")");
        if (task == infinitebench_task::longdialogue_qa_eng) {
          // The En.Dia rule counts the name anywhere among the words, so the
          // raw text also scores when the model's final answer is wrong but
          // its rationale names the right character among the candidates it
          // rejected. A clean answer cannot keep that credit, and must not:
          // it would reward the rationale, not the answer. What is required
          // instead: every line the raw text wins is one where the model's
          // own final answer (after its last "Answer:" label) is wrong too,
          // so the extractor lost nothing the model answered; and the figure
          // reaches the reference's processed file (18.50 for Llama-3).
          MESSAGE(model << " En.Dia: " << fig.raw_only
                        << " lines credited only through the rationale, "
                        << fig.raw_only_unlabelled << " of them unlabelled");
          CHECK_EQ(fig.raw_only_lost, 0u);
          CHECK_LE(fig.raw_only_unlabelled * 20, fig.raw_only);
          if (model == "raw-meta-llama-3-70b-instruct")
            CHECK_GE(fig.extracted, 18.50);
        } else {
          CHECK_GE(fig.extracted, fig.raw);
        }
        if (model == "raw-meta-llama-3-70b-instruct")
          if (auto i = llama_targets.find(task); i != llama_targets.end())
            CHECK_GE(fig.extracted, i->second);
      }
    }
    CHECK_GT(files, 0u);
  }

} // TEST_SUITE

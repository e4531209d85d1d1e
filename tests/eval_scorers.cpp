// The InfiniteBench scorers: small fixtures for each rule (ROUGE-L and
// ROUGE-Lsum, the Chinese normalisation, the modified rules), every number
// of shared/data/infinitebench/README.md reproduced from its prediction
// files with both scorers, and `llmmr eval score` run as a process.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/infinitebench_predictions.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/python_text.hpp"
#include "llmmr/core/rouge.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "test_support.hpp"

using namespace llmmr;

namespace {

namespace fs = std::filesystem;

using t = infinitebench_task;

fs::path shared_predictions() {
  return fs::path{LLMMR_SOURCE_DIR} / ".." / "shared" / "data"
         / "infinitebench";
}

double official(t task, std::string_view pred, std::vector<std::string> truth) {
  return score_prediction(task, infinitebench_scorer::official, pred, truth)
    .value_or(-1);
}

double modified(t task, std::string_view pred, std::vector<std::string> truth) {
  return score_prediction(task, infinitebench_scorer::llmxmapreduce, pred,
                          truth)
    .value_or(-1);
}

/// One published figure: a task of a folder, a scorer, the percentage.
struct published_figure {
  const char* folder;
  t task;
  infinitebench_scorer scorer;
  double percent;
};

constexpr auto off = infinitebench_scorer::official;
constexpr auto mod = infinitebench_scorer::llmxmapreduce;

// shared/data/infinitebench/README.md: the InfiniteBench README's GPT-4
// figures (official scorer) and the LLM×MapReduce Llama-3-70B table.
const published_figure published[] = {
  {"gpt4", t::passkey, off, 100.00},
  {"gpt4", t::number_string, off, 100.00},
  {"gpt4", t::kv_retrieval, off, 89.00},
  {"gpt4", t::longbook_sum_eng, off, 14.73},
  {"gpt4", t::longbook_qa_eng, off, 22.44},
  {"gpt4", t::longbook_choice_eng, off, 67.25},
  {"gpt4", t::longdialogue_qa_eng, off, 8.50},
  {"gpt4", t::longbook_qa_chn, off, 25.96},
  {"gpt4", t::code_debug, off, 37.06},
  {"gpt4", t::math_find, off, 60.00},
  {"llmxmapreduce-llama3-70b", t::passkey, off, 47.97},
  {"llmxmapreduce-llama3-70b", t::passkey, mod, 100.00},
  {"llmxmapreduce-llama3-70b", t::number_string, off, 96.27},
  {"llmxmapreduce-llama3-70b", t::number_string, mod, 99.83},
  {"llmxmapreduce-llama3-70b", t::kv_retrieval, off, 99.00},
  {"llmxmapreduce-llama3-70b", t::kv_retrieval, mod, 99.00},
  {"llmxmapreduce-llama3-70b", t::longbook_qa_eng, off, 34.70},
  {"llmxmapreduce-llama3-70b", t::longbook_qa_eng, mod, 34.70},
  {"llmxmapreduce-llama3-70b", t::longbook_choice_eng, off, 82.10},
  {"llmxmapreduce-llama3-70b", t::longbook_choice_eng, mod, 82.10},
  {"llmxmapreduce-llama3-70b", t::longdialogue_qa_eng, off, 18.50},
  {"llmxmapreduce-llama3-70b", t::longdialogue_qa_eng, mod, 18.50},
  {"llmxmapreduce-llama3-70b", t::code_debug, off, 62.69},
  {"llmxmapreduce-llama3-70b", t::code_debug, mod, 62.94},
  {"llmxmapreduce-llama3-70b", t::math_find, off, 91.43},
  {"llmxmapreduce-llama3-70b", t::math_find, mod, 91.43},
};

} // namespace

TEST_SUITE("protocol") {

  TEST_CASE("python_text splits, strips and changes case as Python does") {
    namespace py = python_text;
    using v = std::vector<std::string>;
    // U+00A0, U+3000 and U+2009 are white space for str.split(); U+200B
    // (zero width space) is not.
    CHECK_EQ(py::split(" a\xC2\xA0"
                       "b\xE3\x80\x80"
                       "c\xE2\x80\x89"
                       "d\xE2\x80\x8B"
                       "e\n"),
             v{"a", "b", "c",
               "d\xE2\x80\x8B"
               "e"});
    CHECK_EQ(py::strip("\xE3\x80\x80 x y\t\xC2\xA0"), "x y");
    CHECK_EQ(py::strip(" \n"), "");
    CHECK_EQ(
      py::encode(py::lower(py::decode("\xC3\x89T\xC3\xA9 \xEF\xBC\xA1"))),
      "\xC3\xA9t\xC3\xA9 \xEF\xBD\x81"); // ÉTé Ａ -> été ａ
    CHECK_EQ(py::lower(py::decode("\xC4\xB0")), std::u32string{U'i', 0x307});
    CHECK_EQ(py::encode(py::upper(py::decode("ace\xC3\xA9"))), "ACE\xC3\x89");
    CHECK(py::is_word_char(U'_'));
    CHECK(py::is_word_char(0x7EA2));  // 红
    CHECK(!py::is_word_char(0x201C)); // a curly quote
    // Bytes that are not UTF-8 are one U+FFFD each.
    CHECK_EQ(py::decode("a\xFF"
                        "b"),
             std::u32string{U'a', 0xFFFD, U'b'});
  }

  TEST_CASE("rouge tokens are rouge_score's default ones") {
    using v = std::vector<std::string>;
    CHECK_EQ(rouge_tokens("The quick-brown fox's 2nd den."),
             v{"the", "quick", "brown", "fox", "s", "2nd", "den"});
    CHECK_EQ(rouge_tokens("caf\xC3\xA9 na\xC3\xAFve"), v{"caf", "na", "ve"});
    // U+212A KELVIN SIGN lowers to "k" in Python; U+0130 to "i" + a dot.
    CHECK_EQ(rouge_tokens("\xE2\x84\xAAm \xC4\xB0x"), v{"km", "i", "x"});
    CHECK(rouge_tokens(" ,;- ").empty());
  }

  TEST_CASE("ROUGE-L has the known values") {
    auto a = rouge_l("The quick brown fox jumps over the lazy dog",
                     "The quick brown dog jumps on the log.");
    CHECK_EQ(a.precision, doctest::Approx(5.0 / 8));
    CHECK_EQ(a.recall, doctest::Approx(5.0 / 9));
    CHECK_EQ(a.fmeasure, doctest::Approx(50.0 / 85));
    auto b = rouge_l("the cat sat on the mat", "the cat on the mat");
    CHECK_EQ(b.precision, 1);
    CHECK_EQ(b.fmeasure, doctest::Approx(10.0 / 11));
    CHECK_EQ(rouge_l("", "x").fmeasure, 0);
    CHECK_EQ(rouge_l("same words", "SAME, words!").fmeasure, 1);
    using v = std::vector<std::string>;
    CHECK_EQ(lcs_length(v{"a", "b", "c", "d"}, v{"b", "d", "a"}), 2u);
    // Ties step back in the reference first, as rouge_score does.
    CHECK_EQ(lcs_positions(v{"a", "b"}, v{"b", "a"}), std::vector<size_t>{0});
  }

  TEST_CASE("ROUGE-Lsum is the union LCS over newline sentences") {
    // Lin (2004), section 3.2: r = w1..w5, c1 = w1 w2 w6 w7 w8,
    // c2 = w1 w3 w8 w9 w5; the union LCS is w1 w2 w3 w5.
    auto s = rouge_lsum("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5");
    CHECK_EQ(s.recall, doctest::Approx(4.0 / 5));
    CHECK_EQ(s.precision, doctest::Approx(4.0 / 10));
    CHECK_EQ(s.fmeasure, doctest::Approx(2 * 0.8 * 0.4 / 1.2));
    // On one line it is ROUGE-L.
    CHECK_EQ(
      rouge_lsum("the cat sat on the mat", "the cat on the mat").fmeasure,
      doctest::Approx(10.0 / 11));
    // Empty lines are dropped; a token matches once however many
    // sentences share it.
    auto c = rouge_lsum("a b\n\na c", "a\n\na");
    CHECK_EQ(c.recall, doctest::Approx(2.0 / 4));
    CHECK_EQ(c.precision, 1);
    // Sentences split at new lines only, not at full stops.
    CHECK_EQ(rouge_lsum("b a. c", "a. b c").fmeasure,
             doctest::Approx(rouge_l("b a. c", "a. b c").fmeasure));
    // En.Sum scores the best truth.
    CHECK_EQ(official(t::longbook_sum_eng, "the cat on the mat",
                      {"dogs bark", "the cat sat on the mat"}),
             doctest::Approx(10.0 / 11));
  }

  TEST_CASE("Zh.QA is the character F1 after the Chinese normalisation") {
    // "》" and "。" are in the benchmark's list, "《" is not.
    CHECK_EQ(official(t::longbook_qa_chn,
                      "\xE3\x80\x8A\xE7\xBA\xA2\xE6\xA5\xBC\xE6\xA2\xA6"
                      "\xE3\x80\x8B\xE3\x80\x82",
                      {"\xE7\xBA\xA2\xE6\xA5\xBC\xE6\xA2\xA6"}),
             doctest::Approx(2 * 0.75 / 1.75));
    // Lower case; ASCII punctuation, ideographic and ASCII spaces removed.
    CHECK_EQ(official(t::longbook_qa_chn,
                      "A b\xE3\x80\x80"
                      "C!",
                      {"abc"}),
             1);
    // Characters, not words: half the characters in common.
    CHECK_EQ(official(t::longbook_qa_chn,
                      "\xE7\xBA\xA2\xE8\x89\xB2",    // 红色
                      {"\xE7\xBA\xA2\xE6\xA5\xBC"}), // 红楼
             doctest::Approx(0.5));
    CHECK_EQ(official(t::longbook_qa_chn, "", {"x"}), 0);
    // The best truth counts.
    CHECK_EQ(official(t::longbook_qa_chn, "xy", {"q", "xy"}), 1);
  }

  TEST_CASE("En.QA normalises as SQuAD with Python's \\b") {
    CHECK_EQ(official(t::longbook_qa_eng, "The Peyton", {"\"Peyton\""}), 1);
    // A curly quote is no ASCII punctuation, but "the" before it is a word.
    CHECK_EQ(official(t::longbook_qa_eng, "the\xE2\x80\x9C Peyton",
                      {"\xE2\x80\x9C Peyton"}),
             1);
    // A non-breaking space splits words as Python's split() does.
    CHECK_EQ(
      official(t::longbook_qa_eng, "Peyton\xC2\xA0Place", {"Peyton Place"}), 1);
  }

  TEST_CASE("the modified rules differ from the official ones where "
            "documented") {
    // PassKey and Number: any digit run.
    CHECK_EQ(official(t::passkey, "confidence 5: 71432", {"71432"}), 0);
    CHECK_EQ(modified(t::passkey, "confidence 5: 71432", {"71432"}), 1);
    CHECK_EQ(modified(t::number_string, "7143", {"71432"}), 0);
    // Code.Debug: the last standalone A-J of the first line that has one.
    CHECK_EQ(
      official(t::code_debug, "The bug is in C or rather B", {"fn", "B"}), 0);
    CHECK_EQ(
      modified(t::code_debug, "The bug is in C or rather B", {"fn", "B"}), 1);
    // "I" is a letter of A-J too, and later lines do not count.
    CHECK_EQ(
      modified(t::code_debug, "I think A\nso the answer is B", {"fn", "B"}), 0);
    CHECK_EQ(modified(t::code_debug, "no letter here\nB it is", {"fn", "B"}),
             1);
    // A letter inside a word is no option.
    CHECK_EQ(modified(t::code_debug, "Bx", {"fn", "B"}), 1); // starts with B
    CHECK_EQ(modified(t::code_debug, "xB yB", {"fn", "B"}), 0);
    CHECK_EQ(modified(t::code_debug, "fn has the bug", {"fn", "B"}), 1);
    CHECK_EQ(official(t::code_debug, "fn has the bug", {"fn", "B"}), 0);
    CHECK_EQ(modified(t::code_debug, "So, Answer: B", {"fn", "B"}), 1);
    // En.MC: the last standalone A-D of the first line that has one.
    CHECK_EQ(official(t::longbook_choice_eng, "Not A but C", {"x", "C"}), 0);
    CHECK_EQ(modified(t::longbook_choice_eng, "Not A but C", {"x", "C"}), 1);
    // En.Dia: a substring in upper case.
    CHECK_EQ(official(t::longdialogue_qa_eng, "Acey", {"ACE", "x"}), 0);
    CHECK_EQ(modified(t::longdialogue_qa_eng, "Acey", {"ACE", "x"}), 1);
    // The other tasks score alike.
    CHECK_EQ(modified(t::kv_retrieval, "is \"ab-12\".", {"ab-12"}), 1);
    CHECK_EQ(modified(t::math_find, "88.5", {"88"}), 0);
    infinitebench_scorer s;
    CHECK(from_string("llmxmapreduce", s));
    CHECK_EQ(s, mod);
    CHECK_EQ(to_string(off), "official");
    CHECK(!from_string("modified", s));
  }

  TEST_CASE("prediction lines parse with clear errors") {
    auto a = parse_infinitebench_prediction(
      R"({"id": 3, "prediction": "x", "ground_truth": [12, "B"]})");
    REQUIRE(a);
    CHECK_EQ(a->id, "3");
    CHECK_EQ(a->truth, std::vector<std::string>{"12", "B"});
    auto b = parse_infinitebench_prediction(R"({"pred": "x", "label": "y"})");
    REQUIRE(b);
    CHECK(b->id.empty());
    CHECK_EQ(b->truth, std::vector<std::string>{"y"});
    CHECK(!parse_infinitebench_prediction("{"));
    CHECK(!parse_infinitebench_prediction(R"({"ground_truth": "y"})"));
    CHECK(!parse_infinitebench_prediction(
      R"({"prediction": 1, "ground_truth": "y"})"));
    CHECK(!parse_infinitebench_prediction(
      R"({"prediction": "x", "ground_truth": []})"));
    CHECK(!parse_infinitebench_prediction(
      R"({"prediction": "x", "ground_truth": {"a": 1}})"));
    llmmr::test::temp_dir dir;
    auto file
      = dir.write("p.jsonl", "{\"prediction\": \"x\", \"ground_truth\": "
                             "\"x\"}\n\n[1]\n");
    auto read = read_infinitebench_predictions(file.string());
    REQUIRE(!read);
    CHECK_NE(describe(read.error())
               .find(file.string()
                     + ":3: not a JSON "
                       "object"),
             std::string::npos);
  }

  TEST_CASE("every published InfiniteBench number is reproduced") {
    auto root = shared_predictions();
    if (!fs::is_directory(root)) {
      MESSAGE("skipped: no InfiniteBench prediction files at " << root);
      return;
    }
    for (auto& fig : published) {
      auto file
        = root / fig.folder / ("preds_" + to_string(fig.task) + ".jsonl");
      CAPTURE(file);
      auto preds = read_infinitebench_predictions(file.string());
      REQUIRE_MESSAGE(preds, describe(preds.error()));
      auto got = score_predictions(fig.task, fig.scorer, *preds);
      MESSAGE(std::string{fig.folder}
              << " " << table_name(fig.task) << " " << to_string(fig.scorer)
              << ": published " << fig.percent << ", scored "
              << round_percent(got.percent) << " (" << got.percent << ", "
              << got.lines << " lines)");
      CHECK_EQ(round_percent(got.percent), doctest::Approx(fig.percent));
    }
    // The README's table leaves En.Sum of the Llama-3-70B run blank; its
    // files give the paper's Table 1 figure (30.63) with either scorer.
    auto file
      = root / "llmxmapreduce-llama3-70b" / "preds_longbook_sum_eng.jsonl";
    auto preds = read_infinitebench_predictions(file.string());
    REQUIRE_MESSAGE(preds, describe(preds.error()));
    for (auto scorer : {off, mod}) {
      auto got = score_predictions(t::longbook_sum_eng, scorer, *preds);
      MESSAGE("llmxmapreduce-llama3-70b En.Sum " << to_string(scorer)
                                                 << ": paper 30.63, scored "
                                                 << round_percent(got.percent));
      CHECK_EQ(round_percent(got.percent), doctest::Approx(30.63));
    }
  }

} // TEST_SUITE

TEST_SUITE("cli") {

  TEST_CASE("eval score prints the score, the lines and the scorer") {
    using namespace llmmr::test;
    temp_dir dir;
    auto preds = dir.write(
      "preds.jsonl",
      R"({"id": 0, "prediction": "score 5: 71432", "ground_truth": ["71432"]})"
      "\n"
      R"({"id": 1, "prediction": "69079", "ground_truth": "69079"})"
      "\n");
    auto text
      = run_command({llmmr_binary(), "eval", "score", "--task", "passkey",
                     "--preds", preds.string(), "--scorer", "official"});
    REQUIRE_MESSAGE(text.exit_code == 0, text.err);
    CHECK_EQ(text.out, "passkey (PassKey): 50.00 over 2 lines, scorer official "
                       "(InfiniteBench src/compute_scores.py)\n");
    auto json = run_command({llmmr_binary(), "eval", "score", "--task",
                             "passkey", "--preds", preds.string(), "--scorer",
                             "llmxmapreduce", "--json", "--per-line"});
    REQUIRE_MESSAGE(json.exit_code == 0, json.err);
    auto j = nlohmann::json::parse(json.out);
    CHECK_EQ(j.at("task"), "passkey");
    CHECK_EQ(j.at("scorer"), "llmxmapreduce");
    CHECK_EQ(j.at("lines"), 2);
    CHECK_EQ(j.at("score"), 100.0);
    CHECK_EQ(j.at("per_line").at(1).at("id"), 1);
    CHECK_EQ(j.at("per_line").at(1).at("score"), 1.0);

    auto bad = dir.write("bad.jsonl", "{\"prediction\": \"x\", "
                                      "\"ground_truth\": \"x\"}\nnot json\n");
    auto err
      = run_command({llmmr_binary(), "eval", "score", "--task", "passkey",
                     "--preds", bad.string(), "--scorer", "official"});
    CHECK_EQ(err.exit_code, 3);
    CHECK_NE(err.err.find(bad.string() + ":2: not valid JSON"),
             std::string::npos);
    auto no_scorer = run_command({llmmr_binary(), "eval", "score", "--task",
                                  "passkey", "--preds", preds.string()});
    CHECK_EQ(no_scorer.exit_code, 2);
    CHECK_NE(no_scorer.err.find("--scorer is required"), std::string::npos);
    auto wrong
      = run_command({llmmr_binary(), "eval", "score", "--task", "passkey",
                     "--preds", preds.string(), "--scorer", "modified"});
    CHECK_EQ(wrong.exit_code, 2);
    CHECK_NE(wrong.err.find("unknown scorer 'modified'"), std::string::npos);
    auto help = run_command({llmmr_binary(), "eval", "--help"});
    CHECK_NE(help.out.find("score"), std::string::npos);
  }

  TEST_CASE("eval score reproduces a published number from a shared file") {
    using namespace llmmr::test;
    auto file = shared_predictions() / "llmxmapreduce-llama3-70b"
                / "preds_code_debug.jsonl";
    if (!fs::exists(file)) {
      MESSAGE("skipped: no InfiniteBench prediction file " << file);
      return;
    }
    for (auto [scorer, expected] :
         {std::pair{"official", 62.69}, std::pair{"llmxmapreduce", 62.94}}) {
      auto res
        = run_command({llmmr_binary(), "eval", "score", "--task", "code_debug",
                       "--preds", file.string(), "--scorer", scorer, "--json"});
      REQUIRE_MESSAGE(res.exit_code == 0, res.err);
      auto j = nlohmann::json::parse(res.out);
      CHECK_EQ(j.at("lines"), 394);
      CHECK_EQ(j.at("score").get<double>(), doctest::Approx(expected));
    }
  }

} // TEST_SUITE

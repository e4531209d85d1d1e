// Unit tests of the needle-in-a-haystack pieces: needles and their
// placement, the judge, the grid and resume rules, and the SVG heatmap.

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "llmmr/core/answer_match.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/niah_grid.hpp"
#include "llmmr/core/niah_haystack.hpp"
#include "llmmr/core/svg_heatmap.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "svg_check.hpp"

using json = nlohmann::ordered_json;
using llmmr::test::count_of;

namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

TEST_SUITE("core") {
  TEST_CASE("niah needles are distinct, deterministic and self-describing") {
    auto a = llmmr::make_niah_needles(7, 24);
    REQUIRE_EQ(a.size(), 24u);
    CHECK_EQ(llmmr::make_niah_needles(7, 24).front().sentence,
             a.front().sentence);
    CHECK_NE(llmmr::make_niah_needles(8, 1).front().sentence,
             a.front().sentence);
    std::set<std::string> labels, answers;
    for (const auto& n : a) {
      labels.insert(n.label);
      answers.insert(n.answer);
      CHECK_EQ(n.sentence, "The secret passphrase of the " + n.label
                             + " vault is " + n.answer + ".");
      CHECK_EQ(n.question,
               "What is the secret passphrase of the " + n.label + " vault?");
    }
    CHECK_EQ(labels.size(), 24u);
    CHECK_EQ(answers.size(), 24u);
    CHECK_EQ(llmmr::make_niah_needles(7, 99).size(), llmmr::niah_max_needles);
  }

  TEST_CASE("niah needle depths follow the multi-needle spacing") {
    CHECK_EQ(llmmr::niah_needle_depths(40, 1), std::vector<double>{40});
    CHECK_EQ(llmmr::niah_needle_depths(40, 3),
             (std::vector<double>{40, 60, 80}));
    CHECK_EQ(llmmr::niah_needle_depths(100, 2),
             (std::vector<double>{100, 100}));
    CHECK_EQ(llmmr::niah_needle_depths(0, 4),
             (std::vector<double>{0, 25, 50, 75}));
  }

  TEST_CASE("niah haystacks put needles at sentence boundaries by tokens") {
    llmmr::approx_tokenizer tok;
    llmmr::niah_corpus corpus{3, 40'000, tok};
    CHECK_GE(corpus.tokens(), 40'000u);
    // No vault name shares a word or a five-letter prefix with the filler
    // (the simulator's reader matches key terms that way).
    std::set<std::string> words;
    std::string word;
    for (char c : corpus.text() + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!word.empty()) {
        words.insert(word);
        word.clear();
      }
    }
    for (const auto& n : llmmr::make_niah_needles(1, 24)) {
      auto key = lower(n.label);
      for (const auto& w : words)
        CHECK_MESSAGE(
          (w != key && (key.size() < 5 || w.substr(0, 5) != key.substr(0, 5))),
          n.label, " ~ ", w);
    }
    auto needles = llmmr::make_niah_needles(11, 3);
    for (double depth : {0.0, 10.0, 33.0, 50.0, 90.0, 100.0}) {
      CAPTURE(depth);
      std::vector<double> depths{depth};
      auto hay = llmmr::build_niah_haystack(
        corpus, 20'000, std::span{needles}.first(1), depths, tok);
      REQUIRE_EQ(hay.placements.size(), 1u);
      const auto& p = hay.placements[0];
      // Length: at least the target, at most one sentence more.
      CHECK_GE(hay.tokens, 20'000u);
      CHECK_LT(hay.tokens, 20'100u);
      CHECK_LE(tok.count(hay.text), hay.tokens);
      // The needle is there, whole, at a sentence boundary.
      CHECK_EQ(hay.text.compare(p.byte_offset, needles[0].sentence.size(),
                                needles[0].sentence),
               0);
      if (p.byte_offset > 0) {
        CHECK((hay.text[p.byte_offset - 1] == ' '
               || hay.text[p.byte_offset - 1] == '\n'));
        auto before = hay.text.find_last_not_of(" \n", p.byte_offset - 1);
        REQUIRE_NE(before, std::string::npos);
        CHECK_EQ(hay.text[before], '.');
      }
      auto after = p.byte_offset + needles[0].sentence.size();
      CHECK((hay.text[after] == ' ' || hay.text[after] == '\n'));
      // Its token offset is the requested depth, within one sentence.
      auto want = depth / 100.0 * static_cast<double>(hay.tokens);
      CHECK(std::abs(static_cast<double>(p.token_offset) - want) < 60);
      // The vault and the passphrase appear only in the needle.
      CHECK_EQ(count_of(lower(hay.text), lower(needles[0].label)), 1u);
      CHECK_EQ(count_of(hay.text, "passphrase"), 1u);
      CHECK_EQ(count_of(hay.text, "vault"), 1u);
    }
    // Depth 0 opens the document; 100 closes it.
    std::vector<double> zero{0}, hundred{100};
    auto first = llmmr::build_niah_haystack(
      corpus, 5000, std::span{needles}.first(1), zero, tok);
    CHECK_EQ(first.placements[0].byte_offset, 0u);
    auto last = llmmr::build_niah_haystack(
      corpus, 5000, std::span{needles}.first(1), hundred, tok);
    CHECK_EQ(last.text.size(),
             last.placements[0].byte_offset + needles[0].sentence.size() + 1);
    // A shorter document is a prefix of the same corpus.
    std::vector<double> mid{50};
    auto small = llmmr::build_niah_haystack(
      corpus, 2000, std::span{needles}.first(1), hundred, tok);
    CHECK_EQ(small.text.substr(0, 200), last.text.substr(0, 200));
    // Three needles, in order, each once.
    auto depths = llmmr::niah_needle_depths(20, 3);
    auto multi
      = llmmr::build_niah_haystack(corpus, 30'000, needles, depths, tok);
    REQUIRE_EQ(multi.placements.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      const auto& p = multi.placements[k];
      CHECK_EQ(p.needle, k);
      CHECK_EQ(multi.text.compare(p.byte_offset, needles[k].sentence.size(),
                                  needles[k].sentence),
               0);
      CHECK_EQ(count_of(multi.text, needles[k].answer), 1u);
      auto want = depths[k] / 100.0 * static_cast<double>(multi.tokens);
      CHECK(std::abs(static_cast<double>(p.token_offset) - want) < 100);
    }
    CHECK_LT(multi.placements[0].byte_offset, multi.placements[1].byte_offset);
    CHECK_LT(multi.placements[1].byte_offset, multi.placements[2].byte_offset);
    CHECK_EQ(count_of(multi.text, "passphrase"), 3u);
    // Deterministic.
    auto again
      = llmmr::build_niah_haystack(corpus, 30'000, needles, depths, tok);
    CHECK_EQ(again.text, multi.text);
  }

  TEST_CASE("the niah judge ignores case, blanks and punctuation") {
    CHECK_EQ(llmmr::normalise_for_match(" Amber-4127. "), "amber4127");
    CHECK(llmmr::answer_contains("amber-4127", "amber-4127"));
    CHECK(
      llmmr::answer_contains("The passphrase is AMBER 4127.", "amber-4127"));
    CHECK(llmmr::answer_contains("**amber–4127**", "amber-4127") == false);
    CHECK(llmmr::answer_contains("\"amber_4127\"", "amber-4127"));
    CHECK_FALSE(llmmr::answer_contains("amber-4128", "amber-4127"));
    CHECK_FALSE(llmmr::answer_contains("No information", "amber-4127"));
    CHECK_FALSE(llmmr::answer_contains("anything", " .,"));
  }

  TEST_CASE("niah grids parse lengths and depths and reject bad items") {
    auto def = llmmr::default_niah_grid();
    REQUIRE_EQ(def.lengths.size(), 20u);
    CHECK_EQ(def.lengths.front(), 64'000u);
    CHECK_EQ(def.lengths.back(), 1'280'000u);
    CHECK_EQ(def.depths.size(), 11u);
    CHECK_EQ(def.cells(), 220u);
    auto l = llmmr::parse_niah_lengths("8k, 16K,1m,500");
    REQUIRE(l);
    CHECK_EQ(*l, (std::vector<uint64_t>{8000, 16000, 1'000'000, 500}));
    for (auto bad : {"", "8k,", "0", "x", "8kk", "-5", "8k,8000"}) {
      CAPTURE(bad);
      CHECK_FALSE(llmmr::parse_niah_lengths(bad));
    }
    auto d = llmmr::parse_niah_depths("0,12.5,100");
    REQUIRE(d);
    CHECK_EQ(*d, (std::vector<double>{0, 12.5, 100}));
    for (auto bad : {"", "101", "-1", "a", "50,50", "nan"}) {
      CAPTURE(bad);
      CHECK_FALSE(llmmr::parse_niah_depths(bad));
    }
    CHECK_EQ(llmmr::niah_length_label(64'000), "64K");
    CHECK_EQ(llmmr::niah_length_label(1'280'000), "1280K");
    CHECK_EQ(llmmr::niah_length_label(2'000'000), "2M");
    CHECK_EQ(llmmr::niah_length_label(8'500), "8.5K");
    CHECK_EQ(llmmr::niah_length_label(900), "900");
    CHECK_EQ(llmmr::niah_depth_label(0), "0");
    CHECK_EQ(llmmr::niah_depth_label(12.5), "12.5");
  }

  TEST_CASE("niah results resume only with the same settings") {
    llmmr::niah_grid grid{{8000, 16000}, {0, 50, 100}};
    json settings{{"needles", 1}, {"seed", 1}};
    json cells = json::array();
    cells.push_back({{"length_tokens", 8000},
                     {"depth_percent", 0},
                     {"found", true},
                     {"needles", 1},
                     {"needles_found", 1}});
    cells.push_back({{"length_tokens", 8000},
                     {"depth_percent", 50},
                     {"found", false},
                     {"error", "endpoint down"}});
    cells.push_back(
      {{"length_tokens", 32000}, {"depth_percent", 0}, {"found", true}});
    cells.push_back({{"length_tokens", 16000},
                     {"depth_percent", 100},
                     {"found", false},
                     {"needles", 1},
                     {"needles_found", 0}});
    json doc{{"settings", settings}, {"cells", cells}};
    auto kept = llmmr::niah_resumable_cells(doc, settings, grid);
    REQUIRE(kept);
    // Errors rerun; cells off the grid are dropped; a miss is a result.
    REQUIRE_EQ(kept->size(), 2u);
    CHECK_EQ((*kept)[0]["depth_percent"], 0);
    CHECK_EQ((*kept)[1]["length_tokens"], 16000);
    auto other = settings;
    other["seed"] = 2;
    auto refused = llmmr::niah_resumable_cells(doc, other, grid);
    REQUIRE_FALSE(refused);
    auto text = llmmr::describe(refused.error());
    CHECK_NE(text.find("seed = 1"), std::string::npos);
    CHECK_NE(text.find("seed = 2"), std::string::npos);
    CHECK_FALSE(llmmr::niah_resumable_cells(json::array(), settings, grid));
    auto sum = llmmr::niah_summary(*kept, grid.cells());
    CHECK_EQ(sum["cells"], 6);
    CHECK_EQ(sum["cells_run"], 2);
    CHECK_EQ(sum["cells_found"], 1);
    CHECK_EQ(sum["all_found"], false);
  }

  TEST_CASE("the svg heatmap is well-formed with one rect per cell") {
    CHECK_EQ(llmmr::heatmap_colour(0), "#d73027");
    CHECK_EQ(llmmr::heatmap_colour(0.5), "#fee08b");
    CHECK_EQ(llmmr::heatmap_colour(1), "#1a9850");
    CHECK_EQ(llmmr::heatmap_colour(7), "#1a9850");
    llmmr::niah_grid grid{{16000, 8000}, {0, 50, 100}};
    std::vector<json> cells{
      {{"length_tokens", 8000},
       {"depth_percent", 0},
       {"needles", 2},
       {"needles_found", 2},
       {"answer", "a <b> & \"c\""}},
      {{"length_tokens", 16000},
       {"depth_percent", 100},
       {"needles", 2},
       {"needles_found", 1}},
      {{"length_tokens", 8000},
       {"depth_percent", 50},
       {"needles", 2},
       {"needles_found", 0}},
    };
    auto spec = llmmr::niah_heatmap(grid, cells, "Title & <co>", "sub");
    CHECK_EQ(spec.x_labels, (std::vector<std::string>{"8K", "16K"}));
    CHECK_EQ(spec.y_labels, (std::vector<std::string>{"0", "50", "100"}));
    CHECK_EQ(spec.values[0][0], 1.0);
    CHECK_EQ(spec.values[2][1], 0.5);
    CHECK_EQ(spec.values[1][0], 0.0);
    CHECK(std::isnan(spec.values[0][1]));
    auto svg = llmmr::render_svg_heatmap(spec);
    CHECK_EQ(llmmr::test::xml_problem(svg), "");
    CHECK_EQ(count_of(svg, "<rect class=\"cell\""), 6u);
    CHECK_EQ(count_of(svg, "fill=\"#1a9850\""), 1u);
    CHECK_EQ(count_of(svg, "fill=\"#fee08b\""), 1u);
    CHECK_NE(svg.find(">Title &amp; &lt;co&gt;</text>"), std::string::npos);
    CHECK_NE(svg.find(">16K</text>"), std::string::npos);
    CHECK_NE(svg.find(">Context length (tokens)</text>"), std::string::npos);
    CHECK_NE(svg.find(">Needle depth (%)</text>"), std::string::npos);
    CHECK_NE(svg.find(">not run</text>"), std::string::npos);
    CHECK_NE(svg.find("linearGradient"), std::string::npos);
  }
}

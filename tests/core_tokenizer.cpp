// Tests for the approximate tokenizer (core/approx_tokenizer.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/utf8.hpp"

using namespace std::literals;
using llmmr::approx_tokenizer;

namespace {

/// A text sample with reference counts from real BPE vocabularies, obtained
/// by encoding the sample with each one.
struct reference_sample {
  std::string_view text;
  size_t cl100k;
  size_t o200k;
  size_t llama3;
};

constexpr reference_sample reference_samples[] = {
  // English prose.
  {"The quick brown fox jumps over the lazy dog.", 10, 10, 10},
  {"Chunking splits a long document into pieces that each fit the model's "
   "context window, so every piece can be read on its own.",
   27, 27, 27},
  {"Internationalization and telecommunications infrastructure "
   "notwithstanding, the committee's deliberations were inconclusive.",
   16, 16, 16},
  // Chinese, including a run of rare characters (a transliterated name)
  // that cl100k spends two tokens per character on.
  {"我们今天去公园散步，天气非常好。", 18, 12, 13},
  {"长文本处理需要把文档切成若干块，每一块都要放进模型的上下文窗口里。", 39, 26,
   29},
  {"赫德岛与麦克唐纳群岛", 20, 10, 10},
  // Source code.
  {"int main(int argc, char** argv) {\n"
   "  std::vector<std::string> args(argv, argv + argc);\n"
   "  for (const auto& a : args)\n"
   "    std::cout << a << '\\n';\n"
   "  return 0;\n"
   "}\n",
   51, 51, 51},
  {"def fib(n):\n"
   "    if n < 2:\n"
   "        return n\n"
   "    return fib(n - 1) + fib(n - 2)\n",
   30, 30, 30},
  // Numbers and symbols.
  {"Call 555-0199 before 12/31/2024 or pay $1,234,567.89 in fees.", 27, 27, 27},
  {"Hello \xF0\x9F\x91\x8B world \xF0\x9F\x8C\x8D!", 8, 7, 8},
};

/// Builds a random text mixing English, Chinese, code, digits, blanks,
/// CRLF and emoji.
std::string random_text(std::mt19937& rng, size_t pieces) {
  static constexpr std::string_view parts[] = {
    "the",
    "Quick",
    "camelCaseName",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    ".",
    ". ",
    ";",
    "::",
    "{",
    "}",
    "0",
    "42",
    "123456",
    "中",
    "文本",
    "。",
    "，",
    "\xF0\x9F\x98\x80",
    "é",
    "Привет",
    "x",
    "   if (a < b) {\n",
    "'s",
    "—",
    "\xE2\x80\x9C",
  };
  std::uniform_int_distribution<size_t> pick{0, std::size(parts) - 1};
  std::string out;
  for (size_t i = 0; i < pieces; ++i)
    out += parts[pick(rng)];
  return out;
}

/// Returns a random character boundary of `s`.
size_t random_boundary(std::mt19937& rng, std::string_view s) {
  std::uniform_int_distribution<size_t> pick{0, s.size()};
  return llmmr::utf8::ceil_boundary(s, pick(rng));
}

} // namespace

TEST_SUITE("core") {

  TEST_CASE("approx tokenizer: name and empty input") {
    approx_tokenizer tok;
    CHECK(tok.name() == "approx");
    CHECK(tok.count("") == 0);
  }

  TEST_CASE("approx tokenizer: never below the BPE reference counts") {
    approx_tokenizer tok;
    for (const auto& s : reference_samples) {
      CAPTURE(s.text);
      auto n = tok.count(s.text);
      CHECK(n >= s.cl100k);
      CHECK(n >= s.o200k);
      CHECK(n >= s.llama3);
      // Conservative, but not absurdly so.
      CHECK(n <= 3 * std::max({s.cl100k, s.o200k, s.llama3}));
    }
  }

  TEST_CASE("approx tokenizer: the rules, in quarter tokens") {
    // Letters: a quarter each (capitals half a token), words rounded up to
    // whole tokens.
    CHECK(approx_tokenizer::raw_quarters("a") == 4);
    CHECK(approx_tokenizer::raw_quarters("word") == 4);
    CHECK(approx_tokenizer::raw_quarters("words") == 8);
    CHECK(approx_tokenizer::raw_quarters("The") == 4);
    CHECK(approx_tokenizer::raw_quarters("ABC") == 8); // 2 + 2 + 2
    // A single blank before a word is free, other blanks cost a token per
    // four, trailing blanks are charged.
    CHECK(approx_tokenizer::raw_quarters("a b") == 8);
    CHECK(approx_tokenizer::raw_quarters("a     b") == 12);
    CHECK(approx_tokenizer::raw_quarters("a ") == 8);
    // Digits in groups of three; a blank before digits is not free.
    CHECK(approx_tokenizer::raw_quarters("1234567") == 12);
    CHECK(approx_tokenizer::raw_quarters("a 1") == 12);
    // Punctuation and line breaks: one token each.
    CHECK(approx_tokenizer::raw_quarters("();") == 12);
    CHECK(approx_tokenizer::raw_quarters("\r\n") == 8);
    // Han: two tokens; kana: 1.5; emoji: one per byte.
    CHECK(approx_tokenizer::raw_quarters("中文") == 16);
    CHECK(approx_tokenizer::raw_quarters("かな") == 12);
    CHECK(approx_tokenizer::raw_quarters("\xF0\x9F\x98\x80") == 16);
    // Stray bytes count one token each.
    CHECK(approx_tokenizer::raw_quarters("\x80\xFF") == 8);
    // The margin: +10 %, rounded up.
    CHECK(approx_tokenizer::apply_margin(40) == 11);
    CHECK(approx_tokenizer::apply_margin(4) == 2);
    CHECK(approx_tokenizer{}.count("中文") == 5);
  }

  TEST_CASE("approx tokenizer: subadditive and monotone at character "
            "boundaries") {
    approx_tokenizer tok;
    for (unsigned seed = 1; seed <= 200; ++seed) {
      std::mt19937 rng{seed};
      auto text = random_text(rng, 1 + seed % 60);
      std::string_view all{text};
      auto whole = tok.count(all);
      for (int i = 0; i < 10; ++i) {
        auto cut = random_boundary(rng, all);
        auto left = tok.count(all.substr(0, cut));
        auto right = tok.count(all.substr(cut));
        CAPTURE(seed);
        CAPTURE(cut);
        CHECK(left + right >= whole);
        CHECK(left <= whole);
        CHECK(right <= whole);
      }
    }
  }

  TEST_CASE("approx tokenizer: large inputs") {
    approx_tokenizer tok;
    std::string big;
    for (int i = 0; i < 20000; ++i)
      big += "Some prose, 中文内容, and code(x); ";
    auto n = tok.count(big);
    CHECK(n > big.size() / 8);
    CHECK(n < big.size());
  }

} // TEST_SUITE

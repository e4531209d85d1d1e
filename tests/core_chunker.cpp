// Tests for the token-budgeted chunker (core/chunker.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/utf8.hpp"
#include "llmmr/messages/error_kind.hpp"

using namespace std::literals;
using namespace llmmr;

namespace {

/// A tokenizer whose counts are not subadditive: long texts pay a penalty.
/// It exercises the chunker's safety net for such tokenizers.
class penalty_tokenizer final : public tokenizer {
public:
  size_t count(std::string_view text) const override {
    return utf8::length(text) / 3 + (text.size() >= 40 ? 6 : 0);
  }
  std::string name() const override { return "penalty"; }
};

/// Generates a random document of about `target` bytes mixing English, Chinese
/// and code lines, very long lines, lone huge words, CRLF and emoji.
std::string random_document(std::mt19937& rng, size_t target) {
  static constexpr std::string_view words[] = {
    "the",
    "model",
    "reads",
    "every",
    "chunk",
    "Question",
    "answer",
    "of",
    "and",
    "information",
    "x",
    "42",
    "2024",
    "C++",
    "a.b",
    "e.g.",
    "\xF0\x9F\x98\x80",
    "na\xC3\xAFve",
    "caf\xC3\xA9",
    "\xD0\x9C\xD0\xB8\xD1\x80",
  };
  static constexpr std::string_view hanzi[] = {
    "文档", "模型", "长文本", "处理", "信息", "每", "块", "上下文", "窗口",
  };
  static constexpr std::string_view code[] = {
    "int main(int argc, char** argv) {",
    "  for (size_t i = 0; i < n; ++i) { sum += v[i]; }",
    "    return std::accumulate(xs.begin(), xs.end(), 0);",
    "}",
    "def f(x): return x * 2  # comment",
    "#include <vector>",
  };
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>{0, n - 1}(rng);
  };
  auto english_sentence = [&] {
    std::string s;
    auto n = 3 + pick(15);
    for (size_t i = 0; i < n; ++i) {
      if (i > 0)
        s += pick(10) == 0 ? "  " : " ";
      s += words[pick(std::size(words))];
    }
    static constexpr std::string_view ends[]
      = {". ", "? ", "! ", "; ", ".", ", "};
    s += ends[pick(std::size(ends))];
    return s;
  };
  auto chinese_sentence = [&] {
    std::string s;
    auto n = 2 + pick(12);
    for (size_t i = 0; i < n; ++i)
      s += hanzi[pick(std::size(hanzi))];
    static constexpr std::string_view ends[] = {"。", "！", "？", "；", "，"};
    s += ends[pick(std::size(ends))];
    return s;
  };
  std::string doc;
  auto style = pick(6); // some documents have no line breaks at all
  while (doc.size() < target) {
    auto kind = pick(10);
    if (kind < 4) {
      doc += english_sentence();
    } else if (kind < 6) {
      doc += chinese_sentence();
    } else if (kind < 8) {
      doc += code[pick(std::size(code))];
    } else if (kind == 8) {
      // A lone huge word, sometimes of multi-byte characters.
      auto len = 50 + pick(3000);
      std::string_view unit = pick(2) == 0 ? "k"sv : "字"sv;
      for (size_t i = 0; i < len; ++i)
        doc += unit;
    } else {
      // A very long line of sentences.
      auto n = 20 + pick(80);
      for (size_t i = 0; i < n; ++i)
        doc += pick(3) == 0 ? chinese_sentence() : english_sentence();
    }
    if (style != 0) {
      auto brk = pick(4);
      doc += brk == 0 ? "\r\n"sv : brk == 1 ? "\n\n"sv : "\n"sv;
    } else {
      doc += ' ';
    }
  }
  return doc;
}

/// Feeds `doc` to a fresh chunker in random pieces (which may split UTF-8
/// sequences) and collects all chunks.
llmmr::expected<std::vector<chunk>>
chunk_in_pieces(std::string_view doc, const tokenizer& tok,
                chunker_options opts, std::mt19937& rng, size_t max_piece) {
  chunker ch{tok, opts};
  std::vector<chunk> all;
  std::uniform_int_distribution<size_t> len{0, max_piece};
  size_t pos = 0;
  while (pos < doc.size()) {
    auto n = std::min(len(rng), doc.size() - pos);
    auto got = ch.feed(doc.substr(pos, n));
    if (!got)
      return got.error();
    all.insert(all.end(), got->begin(), got->end());
    pos += n;
  }
  auto rest = ch.finish();
  if (!rest)
    return rest.error();
  all.insert(all.end(), rest->begin(), rest->end());
  return all;
}

/// Checks every invariant of a chunking of `doc`.
void check_invariants(std::string_view doc, const std::vector<chunk>& chunks,
                      const tokenizer& tok, const chunker_options& opts) {
  REQUIRE(!chunks.empty());
  uint64_t pos = 0;
  std::string joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    CAPTURE(i);
    CHECK(c.index == i);
    CHECK(c.job_id == opts.job_id);
    CHECK(c.range.begin == pos);
    CHECK(c.range.end > c.range.begin);
    CHECK(c.text == doc.substr(c.range.begin, c.range.size()));
    CHECK(c.tokens == tok.count(c.text));
    CHECK(c.tokens <= opts.budget);
    CHECK(utf8::is_valid(c.text));
    pos = c.range.end;
    joined += c.text;
  }
  CHECK(pos == doc.size());
  CHECK(joined == doc);
}

std::vector<chunk> must(llmmr::expected<std::vector<chunk>> x) {
  if (!x)
    FAIL(describe(x.error()));
  return std::move(*x);
}

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

} // namespace

TEST_SUITE("core") {

  TEST_CASE("chunker: properties over random documents") {
    approx_tokenizer tok;
    for (unsigned seed = 1; seed <= 60; ++seed) {
      std::mt19937 rng{seed};
      static constexpr size_t budgets[] = {12, 40, 150, 600, 2000};
      chunker_options opts;
      opts.budget = budgets[seed % std::size(budgets)];
      opts.job_id = 1000 + seed;
      auto doc = random_document(rng, 2000 + (seed * 7919) % 60000);
      CAPTURE(seed);
      CAPTURE(opts.budget);
      auto whole = must(chunk_text(doc, tok, opts));
      check_invariants(doc, whole, tok, opts);
      // Fed in random pieces, small and large: the very same chunks.
      for (size_t max_piece : {7, 300, 20000}) {
        CAPTURE(max_piece);
        auto pieces = must(chunk_in_pieces(doc, tok, opts, rng, max_piece));
        CHECK(pieces == whole);
      }
    }
  }

  TEST_CASE("chunker: byte-at-a-time feeding gives the same chunks") {
    approx_tokenizer tok;
    std::mt19937 rng{4242};
    auto doc = random_document(rng, 6000);
    chunker_options opts{80, 7, false};
    auto whole = must(chunk_text(doc, tok, opts));
    auto bytes = must(chunk_in_pieces(doc, tok, opts, rng, 1));
    CHECK(bytes == whole);
  }

  TEST_CASE("chunker: a tokenizer that is not subadditive still fits") {
    penalty_tokenizer tok;
    for (unsigned seed = 1; seed <= 20; ++seed) {
      std::mt19937 rng{seed};
      chunker_options opts{30 + seed * 5, seed, false};
      auto doc = random_document(rng, 5000);
      CAPTURE(seed);
      auto whole = must(chunk_text(doc, tok, opts));
      check_invariants(doc, whole, tok, opts);
      auto pieces = must(chunk_in_pieces(doc, tok, opts, rng, 100));
      CHECK(pieces == whole);
    }
  }

  TEST_CASE("chunker: whole lines are packed greedily") {
    approx_tokenizer tok;
    // Eight identical lines (each keeps its newline).
    auto line = "alpha beta gamma delta epsilon zeta eta theta\n"s;
    auto per_line = tok.count(line);
    auto doc = repeat(line, 8);
    chunker_options opts{per_line * 4 + 1, 0, false};
    auto chunks = must(chunk_text(doc, tok, opts));
    check_invariants(doc, chunks, tok, opts);
    REQUIRE(chunks.size() == 2);
    for (const auto& c : chunks) {
      CHECK(c.text == repeat(line, 4)); // lines keep their newline
    }
  }

  TEST_CASE("chunker: a long line is split into sentences") {
    approx_tokenizer tok;
    auto sentence = "The map step reads one chunk. "s;
    auto cjk = "模型读取每一块。"s;
    std::string doc;
    for (int i = 0; i < 30; ++i)
      doc += i % 3 == 2 ? cjk : sentence;
    doc += "\n";
    chunker_options opts{40, 0, false};
    auto chunks = must(chunk_text(doc, tok, opts));
    check_invariants(doc, chunks, tok, opts);
    REQUIRE(chunks.size() > 2);
    for (size_t i = 0; i + 1 < chunks.size(); ++i) {
      auto& t = chunks[i].text;
      bool ends_sentence = t.ends_with(". ") || t.ends_with("。");
      CHECK(ends_sentence);
    }
  }

  TEST_CASE("chunker: a long sentence is split on blanks") {
    approx_tokenizer tok;
    std::string doc;
    for (int i = 0; i < 200; ++i)
      doc += i % 2 ? "word " : "another  ";
    doc += "end";
    chunker_options opts{25, 0, false};
    auto chunks = must(chunk_text(doc, tok, opts));
    check_invariants(doc, chunks, tok, opts);
    REQUIRE(chunks.size() > 2);
    for (size_t i = 0; i + 1 < chunks.size(); ++i)
      CHECK(chunks[i].text.back() == ' ');
  }

  TEST_CASE("chunker: a run longer than the budget is cut at characters") {
    approx_tokenizer tok;
    for (auto unit : {"x"sv, "字"sv, "\xF0\x9F\x98\x80"sv, "é"sv}) {
      auto doc = repeat(unit, 2000);
      chunker_options opts{10, 0, false};
      CAPTURE(unit);
      auto chunks = must(chunk_text(doc, tok, opts));
      check_invariants(doc, chunks, tok, opts);
      CHECK(chunks.size() > 5);
      for (const auto& c : chunks)
        CHECK(c.range.size() % unit.size() == 0);
    }
  }

  TEST_CASE("chunker: the last two chunks are rebalanced") {
    approx_tokenizer tok;
    auto line = "alpha beta gamma delta epsilon zeta eta theta\n"s;
    auto per_line = tok.count(line);
    // Greedy packing would give 5 lines and then 1; the budget holds 5.
    auto doc = repeat(line, 6);
    chunker_options opts{per_line * 5, 0, false};
    auto chunks = must(chunk_text(doc, tok, opts));
    check_invariants(doc, chunks, tok, opts);
    REQUIRE(chunks.size() == 2);
    CHECK(chunks[0].text == repeat(line, 3));
    CHECK(chunks[1].text == repeat(line, 3));
    CHECK(chunks[1].tokens * 2 >= opts.budget);
  }

  TEST_CASE("chunker: rebalancing falls back to finer cuts") {
    approx_tokenizer tok;
    // One line that nearly fills a chunk, then a short one: a line cut cannot
    // balance them, a sentence cut can.
    std::string first;
    for (int i = 0; i < 9; ++i)
      first += "Every chunk is read once. ";
    first += "\n";
    auto doc = first + "Short tail.\n";
    chunker_options opts{tok.count(first) + 2, 0, false};
    auto greedy_tail = tok.count("Short tail.\n");
    REQUIRE(greedy_tail * 2 < opts.budget);
    auto chunks = must(chunk_text(doc, tok, opts));
    check_invariants(doc, chunks, tok, opts);
    REQUIRE(chunks.size() == 2);
    CHECK(chunks[1].tokens * 2 >= opts.budget);
    CHECK(chunks[0].text.ends_with(". "));
  }

  TEST_CASE("chunker: a single small document is one chunk") {
    approx_tokenizer tok;
    chunker_options opts{100, 9, false};
    auto chunks = must(chunk_text("hello world", tok, opts));
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].text == "hello world");
    CHECK(chunks[0].range == byte_range{0, 11});
    CHECK(chunks[0].job_id == 9);
    CHECK(chunks[0].tokens == tok.count("hello world"));
  }

  TEST_CASE("chunker: errors") {
    approx_tokenizer tok;
    chunker_options opts{50, 0, false};
    SUBCASE("budget 0") {
      auto r = chunk_text("text", tok, chunker_options{});
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::budget);
    }
    SUBCASE("empty document") {
      auto r = chunk_text("", tok, opts);
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::empty_document);
    }
    SUBCASE("invalid byte") {
      auto r = chunk_text("hello \xFF world", tok, opts);
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::invalid_utf8);
      CHECK(describe(r.error()).find("offset 6") != std::string::npos);
    }
    SUBCASE("NUL byte") {
      auto r = chunk_text("abc\0def"sv, tok, opts);
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::invalid_utf8);
      CHECK(describe(r.error()).find("offset 3") != std::string::npos);
    }
    SUBCASE("truncated sequence at the end") {
      auto r = chunk_text("abc\xE4\xB8", tok, opts);
      REQUIRE(!r);
      CHECK(describe(r.error()).find("offset 3") != std::string::npos);
    }
    SUBCASE("bad sequence split across pieces") {
      chunker ch{tok, opts};
      std::string head = repeat("line of text\n", 100); // 1300 bytes
      REQUIRE(ch.feed(head + "\xE4"));
      auto r = ch.feed("\xB8"); // still a valid prefix
      REQUIRE(r);
      r = ch.feed("A rest");
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::invalid_utf8);
      CHECK(describe(r.error()).find("offset 1300") != std::string::npos);
      // The chunker stays failed.
      CHECK(!ch.feed("more"));
      CHECK(!ch.finish());
    }
    SUBCASE("budget too small for one character") {
      auto r = chunk_text("ok \xF0\x9F\x98\x80", tok, chunker_options{2, 0});
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::budget);
    }
    SUBCASE("feed after finish") {
      chunker ch{tok, opts};
      REQUIRE(ch.feed("x"));
      REQUIRE(ch.finish());
      auto r = ch.feed("y");
      REQUIRE(!r);
      CHECK(kind_of(r.error()) == error_kind::usage);
    }
  }

  TEST_CASE("chunker: replacing invalid UTF-8") {
    approx_tokenizer tok;
    std::string doc = "good \xFF text\n";
    doc += repeat("more text here. ", 40);
    doc += "\xE4\xB8"
           "A tail\0end"sv;
    doc += "\xF0\x9F"; // cut off at the end
    chunker_options opts{30, 3, true};
    std::mt19937 rng{5};
    auto whole = must(chunk_text(doc, tok, opts));
    auto pieces = must(chunk_in_pieces(doc, tok, opts, rng, 5));
    CHECK(pieces == whole);
    // Ranges index the original document; texts hold U+FFFD instead.
    std::string repaired;
    uint64_t pos = 0;
    for (const auto& c : whole) {
      CHECK(c.range.begin == pos);
      CHECK(c.tokens <= opts.budget);
      CHECK(utf8::is_valid(c.text));
      pos = c.range.end;
      repaired += c.text;
    }
    CHECK(pos == doc.size());
    std::string expected = "good \xEF\xBF\xBD text\n";
    expected += repeat("more text here. ", 40);
    expected += "\xEF\xBF\xBD"
                "A tail\xEF\xBF\xBD"
                "end\xEF\xBF\xBD";
    CHECK(repaired == expected);
    chunker ch{tok, opts};
    REQUIRE(ch.feed(doc));
    REQUIRE(ch.finish());
    CHECK(ch.replacements() == 4);
  }

  TEST_CASE("chunker: streaming keeps memory bounded and emits early") {
    approx_tokenizer tok;
    chunker_options opts{500, 0, false};
    // About 4 MB without a single line break: words, then a lone huge word.
    std::mt19937 rng{77};
    std::string piece;
    static constexpr std::string_view words[]
      = {"alpha ", "beta ", "中文 ", "x1 ", "gamma; "};
    while (piece.size() < 64 * 1024)
      piece += words[rng() % std::size(words)];
    auto huge_word = repeat("abcdefgh", 8 * 1024);
    chunker ch{tok, opts};
    size_t max_buffered = 0;
    size_t emitted = 0;
    uint64_t fed = 0;
    for (int i = 0; i < 64; ++i) {
      auto& p = i % 4 == 3 ? huge_word : piece;
      auto got = ch.feed(p);
      REQUIRE(got);
      fed += p.size();
      emitted += got->size();
      max_buffered = std::max(max_buffered, ch.buffered_bytes());
      // Chunks come out while the document is still being fed.
      CHECK(emitted > 0);
    }
    CHECK(ch.bytes_seen() == fed);
    auto rest = ch.finish();
    REQUIRE(rest);
    // A budget's worth of text is at most a few bytes per token; allow a small
    // multiple of it.
    CHECK(max_buffered <= 8 * 4 * opts.budget);
    MESSAGE("max buffered bytes: " << max_buffered << " for a budget of "
                                   << opts.budget << " tokens");
  }

} // TEST_SUITE

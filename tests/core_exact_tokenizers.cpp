// Tests for the exact tokenizers: tiktoken rank files and Hugging Face
// tokenizer.json files (core/tiktoken.hpp, core/hf_tokenizer.hpp), the BPE
// engine and its helpers.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "llmmr/core/byte_level.hpp"
#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/piece_cache.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/core/unicode_normalization.hpp"
#include "llmmr/core/utf8.hpp"
#include "test_support.hpp"

using namespace std::literals;
using namespace llmmr;

namespace {

/// The shared folder with the real tokenizer files and golden ids.
std::string fixture_dir() {
  return LLMMR_SOURCE_DIR "/../shared/data/tokenizers/";
}

/// The four real tokenizers of the golden file, by the golden file's keys.
constexpr const char* golden_names[]
  = {"qwen3", "llama3", "cl100k_base", "o200k_base"};

std::string fixture_path(std::string_view name) {
  if (name == "qwen3" || name == "llama3")
    return fixture_dir() + std::string{name} + ".tokenizer.json";
  return fixture_dir() + std::string{name} + ".tiktoken";
}

bool fixtures_present() {
  namespace fs = std::filesystem;
  if (!fs::exists(fixture_dir() + "golden.jsonl"))
    return false;
  for (auto name : golden_names)
    if (!fs::exists(fixture_path(name)))
      return false;
  return true;
}

/// Loads each real tokenizer once for the whole test run.
const exact_tokenizer& real_tokenizer(std::string_view name) {
  static std::map<std::string, std::unique_ptr<exact_tokenizer>, std::less<>>
    loaded;
  if (auto i = loaded.find(name); i != loaded.end())
    return *i->second;
  auto path = fixture_path(name);
  auto res = name == "qwen3" || name == "llama3" ? load_hf_tokenizer(path)
                                                 : load_tiktoken(path, name);
  REQUIRE_MESSAGE(res.has_value(), res.error().message);
  auto& slot = loaded[std::string{name}];
  slot = std::move(res).value();
  return *slot;
}

struct golden_entry {
  std::string text;
  std::map<std::string, std::vector<uint32_t>> ids;
};

const std::vector<golden_entry>& golden() {
  static std::vector<golden_entry> entries = [] {
    std::vector<golden_entry> result;
    std::ifstream in{fixture_dir() + "golden.jsonl"};
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty())
        continue;
      auto j = nlohmann::json::parse(line);
      golden_entry e;
      e.text = j.at("text").get<std::string>();
      for (auto name : golden_names)
        e.ids[name] = j.at(name).get<std::vector<uint32_t>>();
      result.push_back(std::move(e));
    }
    return result;
  }();
  return entries;
}

#define SKIP_WITHOUT_FIXTURES()                                                \
  if (!fixtures_present()) {                                                   \
    MESSAGE("skipped: the tokenizer fixtures are not in " << fixture_dir());   \
    return;                                                                    \
  }

void append_utf8(std::string& out, char32_t cp) {
  llmmr::utf8::append(out, cp);
}

/// A random, well-formed UTF-8 text mixing scripts, digits, whitespace,
/// emoji and combining marks.
std::string random_text(std::mt19937& rng, size_t max_code_points) {
  struct range {
    char32_t lo;
    char32_t hi;
    int weight;
  };
  static constexpr range ranges[] = {
    {0x61, 0x7A, 30},      // a-z
    {0x41, 0x5A, 6},       // A-Z
    {0x30, 0x39, 6},       // digits
    {0x20, 0x20, 14},      // space
    {0x21, 0x2F, 5},       // punctuation
    {0x0A, 0x0A, 3},       // LF
    {0x09, 0x0D, 1},       // TAB..CR
    {0xC0, 0x17F, 4},      // Latin-1 and Latin Extended-A
    {0x300, 0x36F, 2},     // combining marks
    {0x391, 0x3C9, 2},     // Greek
    {0x410, 0x44F, 2},     // Cyrillic
    {0x627, 0x64A, 2},     // Arabic
    {0x905, 0x94D, 2},     // Devanagari
    {0x3041, 0x30FF, 3},   // kana
    {0x4E00, 0x9FFF, 6},   // Han
    {0xAC00, 0xD7A3, 3},   // Hangul
    {0x1100, 0x11FF, 2},   // conjoining jamo (NFC composes them)
    {0xF900, 0xFA2D, 1},   // CJK compatibility ideographs (NFC changes them)
    {0x2000, 0x206F, 2},   // general punctuation, odd spaces, ZWJ
    {0x1F300, 0x1F6FF, 3}, // emoji
  };
  int total = 0;
  for (const auto& r : ranges)
    total += r.weight;
  std::uniform_int_distribution<size_t> len_dist{0, max_code_points};
  std::uniform_int_distribution<int> pick{0, total - 1};
  std::string out;
  auto n = len_dist(rng);
  for (size_t i = 0; i < n; ++i) {
    auto x = pick(rng);
    for (const auto& r : ranges) {
      if (x < r.weight) {
        std::uniform_int_distribution<uint32_t> cp{r.lo, r.hi};
        append_utf8(out, static_cast<char32_t>(cp(rng)));
        break;
      }
      x -= r.weight;
    }
  }
  return out;
}

/// Cuts `text` after every line break.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      parts.push_back(text.substr(begin, i + 1 - begin));
      begin = i + 1;
    }
  }
  if (begin < text.size())
    parts.push_back(text.substr(begin));
  return parts;
}

// -- a synthetic SentencePiece-style vocabulary
// --------------------------------

const std::string sp = "\xE2\x96\x81"; // "▁"

/// Ids: <unk> 0, ▁ 1, h 2, e 3, l 4, o 5, ▁h 6, ll 7, ▁he 8, llo 9,
/// ▁hello 10, w 11, r 12, d 13, then <0x00>..<0xFF> as 14..269.
nlohmann::json sp_model(bool byte_fallback, bool fuse_unk) {
  nlohmann::json vocab = nlohmann::json::object();
  const std::vector<std::string> tokens
    = {"<unk>", "▁",   "h",   "e",      "l", "o", "▁h",
       "ll",    "▁he", "llo", "▁hello", "w", "r", "d"};
  for (size_t i = 0; i < tokens.size(); ++i)
    vocab[tokens[i]] = i;
  for (unsigned b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    vocab[buf] = 14 + b;
  }
  return {
    {"type", "BPE"},
    {"dropout", nullptr},
    {"unk_token", "<unk>"},
    {"continuing_subword_prefix", nullptr},
    {"end_of_word_suffix", nullptr},
    {"fuse_unk", fuse_unk},
    {"byte_fallback", byte_fallback},
    {"vocab", vocab},
    {"merges", {"▁ h", "l l", "▁h e", "ll o", "▁he llo"}},
  };
}

/// A Metaspace tokenizer.json in the style of newer Mistral files.
std::string metaspace_json(bool byte_fallback = true, bool fuse_unk = true) {
  nlohmann::json j = {
    {"version", "1.0"},
    {"added_tokens",
     {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
      {{"id", 270}, {"content", "<s>"}, {"special", true}}}},
    {"normalizer", nullptr},
    {"pre_tokenizer",
     {{"type", "Metaspace"},
      {"replacement", "▁"},
      {"prepend_scheme", "always"},
      {"split", true}}},
    {"decoder",
     {{"type", "Metaspace"},
      {"replacement", "▁"},
      {"prepend_scheme", "always"},
      {"split", true}}},
    {"model", sp_model(byte_fallback, fuse_unk)},
  };
  return j.dump();
}

/// The older Llama 2 layout: Prepend + Replace normalizers, no
/// pre-tokenizer, the whole text is a single piece.
std::string legacy_sp_json() {
  nlohmann::json j = {
    {"version", "1.0"},
    {"added_tokens", nlohmann::json::array()},
    {"normalizer",
     {{"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", "▁"}},
        {{"type", "Replace"},
         {"pattern", {{"String", " "}}},
         {"content", "▁"}}}}}},
    {"pre_tokenizer", nullptr},
    {"decoder",
     {{"type", "Sequence"},
      {"decoders",
       {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
        {{"type", "ByteFallback"}},
        {{"type", "Fuse"}},
        {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
    {"model", sp_model(true, true)},
  };
  return j.dump();
}

std::unique_ptr<exact_tokenizer> parse_or_fail(const std::string& json) {
  auto res = parse_hf_tokenizer(json, "synthetic.json");
  REQUIRE_MESSAGE(res.has_value(), res.error().message);
  return std::move(res).value();
}

using ids = std::vector<uint32_t>;

} // namespace

TEST_SUITE("core") {

  TEST_CASE(
    "exact tokenizers reproduce the golden ids of all four vocabularies") {
    SKIP_WITHOUT_FIXTURES();
    const auto& entries = golden();
    REQUIRE(entries.size() == 120);
    for (auto name : golden_names) {
      const auto& tok = real_tokenizer(name);
      size_t matched = 0;
      for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        auto got = tok.encode(e.text);
        const auto& want = e.ids.at(name);
        bool same = got == want && tok.count(e.text) == want.size();
        if (same)
          ++matched;
        else
          CHECK_MESSAGE(same, std::string{name}, ": golden text ", i,
                        " differs: got ", got.size(), " ids, want ",
                        want.size());
      }
      MESSAGE(std::string{name}, ": ", matched, "/", entries.size(),
              " texts match");
      CHECK(matched == entries.size());
    }
  }

  TEST_CASE("exact tokenizers round-trip random UTF-8") {
    SKIP_WITHOUT_FIXTURES();
    for (auto name : golden_names) {
      const auto& tok = real_tokenizer(name);
      // Qwen normalizes to NFC before tokenizing.
      bool nfc = std::string_view{name} == "qwen3";
      std::mt19937 rng{20240611};
      for (int i = 0; i < 300; ++i) {
        auto text = random_text(rng, i < 250 ? 80 : 2000);
        auto want = nfc ? normalize(text, normal_form::nfc) : text;
        auto got = tok.encode(text);
        CHECK_MESSAGE(tok.decode(got) == want, std::string{name}, ": text ", i);
        CHECK(tok.count(text) == got.size());
      }
    }
  }

  TEST_CASE("exact tokenizers keep ill-formed UTF-8 bytes as they are") {
    SKIP_WITHOUT_FIXTURES();
    const std::string texts[] = {"abc\xFF"
                                 "def",
                                 "\xC3",
                                 "caf\xC3\xA9\xE2\x82",
                                 "\x80\x80 x \xF5\xF6",
                                 "ok\xED\xA0\x80surrogate",
                                 "truncated at the end \xF0\x9F\x94"};
    for (auto name : golden_names) {
      const auto& tok = real_tokenizer(name);
      for (const auto& text : texts) {
        auto got = tok.encode(text);
        CHECK_MESSAGE(tok.decode(got) == text, std::string{name});
        CHECK(tok.count(text) == got.size());
      }
    }
  }

  TEST_CASE("counting a text in lines never counts fewer tokens") {
    SKIP_WITHOUT_FIXTURES();
    std::mt19937 rng{7};
    std::vector<std::string> texts;
    for (const auto& e : golden())
      texts.push_back(e.text);
    for (int i = 0; i < 50; ++i)
      texts.push_back(random_text(rng, 400));
    for (auto name : golden_names) {
      const auto& tok = real_tokenizer(name);
      for (const auto& text : texts) {
        size_t sum = 0;
        for (auto part : split_lines(text))
          sum += tok.count(part);
        CHECK_MESSAGE(sum >= tok.count(text), std::string{name});
      }
    }
  }

  TEST_CASE("special tokens come out of decode but never out of plain text") {
    SKIP_WITHOUT_FIXTURES();
    const auto& cl100k = real_tokenizer("cl100k_base");
    CHECK(cl100k.decode({100257}) == "<|endoftext|>");
    CHECK(cl100k.decode({100276}) == "<|endofprompt|>");
    auto plain = cl100k.encode("a<|endoftext|>b");
    CHECK(std::find(plain.begin(), plain.end(), 100257u) == plain.end());
    CHECK(cl100k.decode(plain) == "a<|endoftext|>b");
    const auto& o200k = real_tokenizer("o200k_base");
    CHECK(o200k.decode({199999}) == "<|endoftext|>");
    const auto& qwen = real_tokenizer("qwen3");
    CHECK(qwen.decode({151644}) == "<|im_start|>");
    auto q = qwen.encode("<|im_start|>user");
    CHECK(std::find(q.begin(), q.end(), 151644u) == q.end());
    const auto& llama = real_tokenizer("llama3");
    CHECK(llama.decode({128000}) == "<|begin_of_text|>");
    CHECK(llama.encode("<|begin_of_text|>").size() > 1);
    // Unknown ids are skipped.
    CHECK(cl100k.decode({9906, 4000000000u}) == cl100k.decode({9906}));
    CHECK(cl100k.name() == "tiktoken:cl100k_base");
    CHECK(qwen.name() == "hf:qwen3.tokenizer.json");
  }

  TEST_CASE("exact tokenizers give the same counts from several threads") {
    SKIP_WITHOUT_FIXTURES();
    for (auto name : {"o200k_base", "qwen3"}) {
      const auto& tok = real_tokenizer(name);
      std::vector<std::string> texts;
      std::mt19937 rng{99};
      for (int i = 0; i < 200; ++i)
        texts.push_back(random_text(rng, 300));
      std::vector<size_t> want;
      for (const auto& t : texts)
        want.push_back(tok.encode(t).size());
      std::vector<std::vector<size_t>> got(3);
      std::vector<std::thread> threads;
      for (size_t k = 0; k < got.size(); ++k)
        threads.emplace_back([&, k] {
          for (int round = 0; round < 3; ++round)
            for (const auto& t : texts)
              got[k].push_back(tok.count(t));
        });
      for (auto& t : threads)
        t.join();
      for (const auto& g : got)
        for (size_t i = 0; i < g.size(); ++i)
          REQUIRE(g[i] == want[i % want.size()]);
    }
  }

  TEST_CASE("a long piece is merged like a short one") {
    SKIP_WITHOUT_FIXTURES();
    // One pre-token of 30000 letters takes the heap-based merge; the same
    // word repeated with spaces gives many short pieces.
    for (auto name : golden_names) {
      const auto& tok = real_tokenizer(name);
      std::string word = "abracadabra";
      std::string lng;
      for (int i = 0; i < 3000; ++i)
        lng += word;
      auto got = tok.encode(lng);
      CHECK(tok.decode(got) == lng);
      CHECK(tok.count(lng) == got.size());
      CHECK(got.size() < lng.size() / 2);
    }
  }

  TEST_CASE("a Metaspace tokenizer.json with byte fallback") {
    auto tok = parse_or_fail(metaspace_json());
    CHECK(tok->encode("") == ids{});
    CHECK(tok->encode("hello") == ids{10});
    CHECK(tok->encode("hello world") == ids{10, 1, 11, 5, 12, 4, 13});
    // "é" is not in the vocabulary: its bytes C3 A9 become <0xC3> <0xA9>.
    CHECK(tok->encode("h\xC3\xA9") == ids{6, 14 + 0xC3, 14 + 0xA9});
    // A leading space stands for the prepended "▁" itself.
    CHECK(tok->encode(" hello") == ids{10});
    CHECK(tok->encode("\n") == ids{1, 14 + 0x0A});
    CHECK(tok->count("hello world") == 7);
    CHECK(tok->decode({10, 1, 11, 5, 12, 4, 13}) == "hello world");
    CHECK(tok->decode({6, 14 + 0xC3, 14 + 0xA9}) == "h\xC3\xA9");
    // Only the very first space is taken for the prepended one.
    CHECK(tok->decode({270, 10}) == "<s> hello");
    // Ill-formed bytes go through byte fallback too.
    CHECK(tok->encode("h\xFF") == ids{6, 14 + 0xFF});
  }

  TEST_CASE("a SentencePiece-style tokenizer.json without byte fallback") {
    auto fused = parse_or_fail(metaspace_json(false, true));
    CHECK(fused->encode("h\xC3\xA9!") == ids{6, 0});
    CHECK(fused->encode("h\xC3\xA9!hello") == ids{6, 0, 2, 3, 9});
    auto unfused = parse_or_fail(metaspace_json(false, false));
    CHECK(unfused->encode("h\xC3\xA9!") == ids{6, 0, 0});
  }

  TEST_CASE("a Llama 2 style tokenizer.json with Prepend and Replace") {
    auto tok = parse_or_fail(legacy_sp_json());
    CHECK(tok->encode("hello world") == ids{10, 1, 11, 5, 12, 4, 13});
    // Prepend always adds "▁", even before a space.
    CHECK(tok->encode(" hello") == ids{1, 10});
    CHECK(tok->decode({10, 1, 11, 5, 12, 4, 13}) == "hello world");
    // The whole text is a single piece: long inputs take the heap merge.
    std::string lng = "hello";
    ids want{10};
    for (int i = 0; i < 500; ++i) {
      lng += " hello";
      want.push_back(10);
    }
    CHECK(tok->encode(lng) == want);
    CHECK(tok->count(lng) == want.size());
    CHECK(tok->decode(want) == lng);
  }

  TEST_CASE("unsupported tokenizer.json contents are errors naming them") {
    test::temp_dir dir;
    auto check_error = [&](const std::string& json, std::string_view needle) {
      auto path = dir.write("tokenizer.json", json).string();
      auto res = load_hf_tokenizer(path);
      REQUIRE_FALSE(res.has_value());
      INFO(res.error().message);
      CHECK(res.error().message.find(path) != std::string::npos);
      CHECK(res.error().message.find(needle) != std::string::npos);
    };
    check_error(R"({"model": {"type": "WordPiece", "vocab": {}}})",
                "unsupported model type 'WordPiece'");
    check_error(R"({"model": {"type": "Unigram", "vocab": []}})",
                "unsupported model type 'Unigram'");
    auto with = [](std::string_view key, std::string_view component) {
      auto j = nlohmann::json::parse(metaspace_json());
      j[std::string{key}] = nlohmann::json::parse(component);
      return j.dump();
    };
    check_error(with("normalizer", R"({"type": "Lowercase"})"),
                "unsupported normalizer 'Lowercase'");
    check_error(with("pre_tokenizer", R"({"type": "Whitespace"})"),
                "unsupported pre-tokenizer 'Whitespace'");
    check_error(with("pre_tokenizer",
                     R"({"type": "Sequence", "pretokenizers": [
                        {"type": "Split", "pattern": {"Regex": "\\s+"},
                         "behavior": "Contiguous", "invert": false}]})"),
                "Split behavior 'Contiguous'");
    check_error(with("decoder", R"({"type": "WordPiece"})"),
                "unsupported decoder 'WordPiece'");
    check_error(with("pre_tokenizer",
                     R"({"type": "Split", "pattern": {"Regex": "(unclosed"},
                       "behavior": "Isolated", "invert": false})"),
                "cannot compile the pattern");
    {
      auto j = nlohmann::json::parse(metaspace_json());
      j["model"]["continuing_subword_prefix"] = "##";
      check_error(j.dump(), "continuing_subword_prefix");
    }
    {
      auto j = nlohmann::json::parse(metaspace_json());
      j["model"]["merges"].push_back("x y");
      check_error(j.dump(), "not in the vocab");
    }
    check_error("{ not json", "not valid JSON");
    auto missing = (dir.path() / "absent.json").string();
    auto res = load_hf_tokenizer(missing);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().message.find(missing) != std::string::npos);
  }

  TEST_CASE("malformed tiktoken rank files are errors naming file and line") {
    test::temp_dir dir;
    auto check_error
      = [&](const std::string& contents, std::string_view needle) {
          auto path = dir.write("ranks.tiktoken", contents).string();
          auto res = load_tiktoken(path, "cl100k_base");
          REQUIRE_FALSE(res.has_value());
          INFO(res.error().message);
          CHECK(res.error().message.find(path + std::string{needle})
                != std::string::npos);
        };
    check_error("IQ== 0\nIg==\n", ":2: malformed line");
    check_error("IQ== 0\nIg== 1\nI!== 2\n", ":3: malformed line");
    check_error("IQ== x\n", ":1: malformed line");
    check_error("IQ== 0\nIQ== 1\n", ":2: duplicate");
    check_error("", ": no ranks");
    // Well-formed, but not every byte has a token.
    check_error("IQ== 0\n", ": no token for the byte 0x00");
    auto missing = (dir.path() / "absent.tiktoken").string();
    auto res = load_tiktoken(missing, "o200k_base");
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().message.find(missing) != std::string::npos);
    auto unknown = load_tiktoken(missing, "p50k_base");
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().message.find("p50k_base") != std::string::npos);
  }

  TEST_CASE("the built-in tiktoken encodings match the shared metadata") {
    SKIP_WITHOUT_FIXTURES();
    for (auto name : {"cl100k_base", "o200k_base"}) {
      const auto* enc = find_tiktoken_encoding(name);
      REQUIRE(enc != nullptr);
      std::ifstream in{fixture_dir() + name + ".json"};
      auto meta = nlohmann::json::parse(in);
      std::map<std::string, uint32_t> want;
      for (const auto& [text, id] : meta.at("special_tokens").items())
        want[text] = id.get<uint32_t>();
      std::map<std::string, uint32_t> got;
      for (const auto& sp : enc->specials)
        got[std::string{sp.text}] = sp.id;
      CHECK(got == want);
    }
    CHECK(find_tiktoken_encoding("r50k_base") == nullptr);
  }

  TEST_CASE("a tiktoken rank file built by hand") {
    // Every byte, then "ab" (256), "bc" (257) and "abc" (258).
    std::string contents;
    auto b64 = [](std::string_view bytes) {
      static constexpr char alphabet[]
        = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string out;
      size_t i = 0;
      for (; i + 2 < bytes.size(); i += 3) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8)
                     | uint8_t(bytes[i + 2]);
        for (int k = 18; k >= 0; k -= 6)
          out += alphabet[(v >> k) & 63];
      }
      if (bytes.size() - i == 1) {
        uint32_t v = uint8_t(bytes[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
      } else if (bytes.size() - i == 2) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
      }
      return out;
    };
    for (unsigned b = 0; b < 256; ++b)
      contents += b64(std::string(1, static_cast<char>(b))) + " "
                  + std::to_string(b) + "\n";
    contents
      += b64("ab") + " 256\n" + b64("bc") + " 257\n" + b64("abc") + " 258\n";
    const auto* enc = find_tiktoken_encoding("cl100k_base");
    REQUIRE(enc != nullptr);
    tiktoken_encoding small{enc->name, enc->pattern, {}};
    auto res = parse_tiktoken(contents, "hand.tiktoken", small);
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    const auto& tok = *res.value();
    CHECK(tok.encode("abc") == ids{258});
    // "abcbc": ab (256) merges first, then bc (257), then ab + c makes abc.
    CHECK(tok.encode("abcbc") == ids{258, 257});
    CHECK(tok.encode("bcab") == ids{257, 256});
    CHECK(tok.encode("xbc") == ids{'x', 257});
    CHECK(tok.decode({258, 257}) == "abcbc");
  }

  TEST_CASE("unicode normalization and the byte-level alphabet") {
    CHECK(normalize("e\xCC\x81", normal_form::nfc) == "\xC3\xA9");
    CHECK(normalize("\xC3\xA9", normal_form::nfd) == "e\xCC\x81");
    // A Hangul LV syllable and a trailing jamo compose into an LVT syllable.
    CHECK(normalize("x\xEA\xB0\x80\xE1\x86\xA8y", normal_form::nfc)
          == "x\xEA\xB0\x81y");
    CHECK(normalize("\xEF\xAC\x81", normal_form::nfkc) == "fi"); // ligature
    CHECK(normalize("a\xFF"
                    "e\xCC\x81",
                    normal_form::nfc)
          == "a\xFF\xC3\xA9");
    CHECK(is_quickly_normal("plain ASCII", normal_form::nfc));
    CHECK(is_quickly_normal("caf\xC3\xA9", normal_form::nfc));
    CHECK_FALSE(is_quickly_normal("caf\xC3\xA9", normal_form::nfd));
    CHECK_FALSE(is_quickly_normal("e\xCC\x81", normal_form::nfc));
    // NFC by segments agrees with utf8proc on the whole text.
    std::mt19937 rng{3};
    for (int i = 0; i < 2000; ++i) {
      auto text = random_text(rng, 60);
      auto* whole
        = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
      REQUIRE(whole != nullptr);
      std::string want{reinterpret_cast<const char*>(whole)};
      std::free(whole);
      CHECK(normalize(text, normal_form::nfc) == want);
    }
    CHECK(byte_level::to_code_point(' ') == U'\u0120');
    CHECK(byte_level::to_code_point('a') == U'a');
    CHECK(byte_level::decode_token("\xC4\xA0the") == " the");
    CHECK(byte_level::decode_token("\xE2\x96\x81") == std::nullopt);
    for (unsigned b = 0; b < 256; ++b) {
      std::string one(1, static_cast<char>(b));
      CHECK(byte_level::decode_token(byte_level::encode_token(one)) == one);
    }
  }

  TEST_CASE("the piece cache stays within its capacity") {
    piece_cache cache{64, 8};
    CHECK_FALSE(cache.accepts("more than eight bytes"));
    std::vector<uint32_t> one{1, 2, 3};
    for (int i = 0; i < 1000; ++i)
      cache.insert(std::to_string(i), one);
    CHECK(cache.size() <= 64 + 32);
    cache.insert("k", one);
    std::vector<uint32_t> out;
    size_t n = 0;
    REQUIRE(cache.find("k", &out, n));
    CHECK(n == 3);
    CHECK(out == one);
    CHECK_FALSE(cache.find("absent", nullptr, n));
  }

} // TEST_SUITE("core")

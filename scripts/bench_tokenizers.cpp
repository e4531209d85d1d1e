// Measures the throughput of tokenizer::count() for the exact tokenizers and
// the approximate one on about 20 MB of generated mixed text (English-like
// prose, source code, Chinese, digits and the golden texts), counted in
// 64 KiB slices the way the chunker does. Not built by CMake; build and run
// it from the repository root with:
//
//   mkdir -p /tmp/llmmr-bench && ln -sfn "$PWD" /tmp/llmmr-bench/llmmr
//   g++ -std=c++20 -O2 -I/tmp/llmmr-bench scripts/bench_tokenizers.cpp \
//     core/{approx_tokenizer,hf_tokenizer,tiktoken,bpe_model,piece_cache,\
//   split_regex,byte_level,unicode_normalization,read_file,utf8}.cpp \
//     -lpcre2-8 -lutf8proc -lpthread -o /tmp/llmmr-bench/bench
//   /tmp/llmmr-bench/bench ../shared/data/tokenizers [only-this-tokenizer]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/core/utf8.hpp"

namespace {

void append_utf8(std::string& out, char32_t cp) {
  llmmr::utf8::append(out, cp);
}

std::string make_corpus(const std::string& golden_path, size_t target) {
  std::mt19937 rng{42};
  // A Zipf-like vocabulary of made-up words.
  std::vector<std::string> words;
  std::uniform_int_distribution<int> len{2, 10};
  std::uniform_int_distribution<int> letter{'a', 'z'};
  for (int i = 0; i < 5000; ++i) {
    std::string w;
    for (int k = len(rng); k > 0; --k)
      w += static_cast<char>(letter(rng));
    words.push_back(w);
  }
  std::vector<double> weights;
  for (size_t i = 0; i < words.size(); ++i)
    weights.push_back(1.0 / static_cast<double>(i + 1));
  std::discrete_distribution<size_t> pick_word{weights.begin(), weights.end()};
  std::vector<std::string> golden;
  {
    std::ifstream in{golden_path};
    std::string line;
    while (std::getline(in, line)) {
      // The text is the first JSON string; keep the line as it is: it is a
      // mix of scripts, escapes and digits anyway.
      golden.push_back(line.substr(0, line.find("\",\"qwen3\"")));
    }
  }
  std::uniform_int_distribution<int> kind{0, 99};
  std::uniform_int_distribution<uint32_t> han{0x4E00, 0x62FF};
  std::uniform_int_distribution<int> num{0, 99999};
  std::string out;
  out.reserve(target + 4096);
  while (out.size() < target) {
    auto k = kind(rng);
    if (k < 50) { // prose
      for (int s = 0; s < 5; ++s) {
        for (int i = 0; i < 12; ++i) {
          auto w = words[pick_word(rng)];
          if (i == 0)
            w[0] = static_cast<char>(w[0] - 'a' + 'A');
          out += w;
          out += i == 11 ? ". " : (i % 5 == 4 ? ", " : " ");
        }
      }
      out += "\n\n";
    } else if (k < 65) { // code
      for (int i = 0; i < 6; ++i)
        out += "    auto " + words[pick_word(rng)] + "_"
               + std::to_string(num(rng)) + " = " + words[pick_word(rng)] + "("
               + words[pick_word(rng)] + ", " + std::to_string(num(rng))
               + ");\n";
    } else if (k < 80) { // Chinese
      for (int i = 0; i < 60; ++i) {
        append_utf8(out, han(rng));
        if (i % 15 == 14)
          out += "\xEF\xBC\x8C"; // fullwidth comma
      }
      out += "\xE3\x80\x82\n";
    } else if (k < 90) { // digits
      for (int i = 0; i < 10; ++i)
        out += std::to_string(num(rng)) + (i % 3 == 0 ? ".5 " : " ");
      out += "\n";
    } else if (!golden.empty()) {
      out += golden[static_cast<size_t>(k) % golden.size()];
      out += "\n";
    }
  }
  return out;
}

double count_pass(const llmmr::tokenizer& tok, const std::string& corpus,
                  size_t& total) {
  constexpr size_t slice = 64 * 1024;
  total = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t pos = 0; pos < corpus.size(); pos += slice) {
    auto end = std::min(corpus.size(), pos + slice);
    // Keep slices on character boundaries.
    while (end < corpus.size()
           && (static_cast<unsigned char>(corpus[end]) & 0xC0) == 0x80)
      ++end;
    total += tok.count(std::string_view{corpus}.substr(pos, end - pos));
    pos = end - slice;
  }
  auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
  return static_cast<double>(corpus.size()) / 1e6 / dt;
}

} // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "../shared/data/tokenizers";
  auto corpus = make_corpus(dir + "/golden.jsonl", 20 * 1000 * 1000);
  std::printf("corpus: %.1f MB\n", static_cast<double>(corpus.size()) / 1e6);
  std::vector<std::pair<std::string, std::unique_ptr<llmmr::tokenizer>>> toks;
  toks.emplace_back("approx", std::make_unique<llmmr::approx_tokenizer>());
  for (auto name : {"cl100k_base", "o200k_base"}) {
    auto t = llmmr::load_tiktoken(dir + "/" + name + ".tiktoken", name);
    if (!t) {
      std::fprintf(stderr, "%s\n", t.error().message.c_str());
      return 1;
    }
    toks.emplace_back(name, std::move(t).value());
  }
  for (auto name : {"qwen3", "llama3"}) {
    auto t = llmmr::load_hf_tokenizer(dir + "/" + name + ".tokenizer.json");
    if (!t) {
      std::fprintf(stderr, "%s\n", t.error().message.c_str());
      return 1;
    }
    toks.emplace_back(name, std::move(t).value());
  }
  std::printf("%-12s %12s %14s %14s\n", "tokenizer", "tokens", "cold MB/s",
              "warm MB/s");
  for (const auto& [name, tok] : toks) {
    if (argc > 2 && name != argv[2])
      continue;
    size_t n1 = 0;
    size_t n2 = 0;
    auto cold = count_pass(*tok, corpus, n1);
    auto warm = count_pass(*tok, corpus, n2);
    std::printf("%-12s %12zu %14.1f %14.1f\n", name.c_str(), n1, cold, warm);
  }
}

#include "llmmr/core/niah_haystack.hpp"

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include <string_view>

#include "llmmr/core/haystack.hpp"

namespace llmmr {

namespace {

// Vault names: star names that share no five-letter prefix (and no short
// word) with the filler grammar of haystack.cpp, so a question's vault name
// only ever matches its own needle.
constexpr std::array<std::string_view, niah_max_needles> vault_names
  = {"Altair", "Capella", "Deneb",  "Fomalhaut", "Hadar",     "Izar",
     "Kochab", "Mirfak",  "Nunki",  "Polaris",   "Rigel",     "Sirius",
     "Vega",   "Wezen",   "Zosma",  "Achernar",  "Bellatrix", "Canopus",
     "Diphda", "Elnath",  "Gacrux", "Menkar",    "Procyon",   "Thuban"};

/// Mixes `x` into a well-spread 64-bit value (splitmix64's finaliser).
uint64_t mix(uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

} // namespace

std::vector<niah_needle> make_niah_needles(uint64_t seed, size_t n) {
  n = std::min(n, niah_max_needles);
  std::mt19937_64 rng{mix(seed)};
  // A seeded shuffle of the names (Fisher-Yates on the raw engine output,
  // the same on every platform).
  std::array<std::string_view, niah_max_needles> names = vault_names;
  for (size_t i = names.size() - 1; i > 0; --i)
    std::swap(names[i], names[rng() % (i + 1)]);
  std::vector<niah_needle> out;
  std::set<std::string> used;
  uint64_t draw = mix(seed ^ 0x6E696168ull);
  for (size_t k = 0; k < n; ++k) {
    std::string answer;
    do
      answer = haystack_passphrase(draw++);
    while (!used.insert(answer).second);
    niah_needle x;
    x.label = std::string{names[k]};
    x.answer = std::move(answer);
    x.sentence = "The secret passphrase of the " + x.label + " vault is "
                 + x.answer + ".";
    x.question = "What is the secret passphrase of the " + x.label + " vault?";
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<double> niah_needle_depths(double depth_percent, size_t n) {
  depth_percent = std::clamp(depth_percent, 0.0, 100.0);
  std::vector<double> out;
  auto step = n == 0 ? 0.0 : (100.0 - depth_percent) / static_cast<double>(n);
  for (size_t k = 0; k < n; ++k)
    out.push_back(depth_percent + static_cast<double>(k) * step);
  return out;
}

niah_corpus::niah_corpus(uint64_t seed, uint64_t tokens, const tokenizer& tok) {
  filler_text filler{seed};
  // Paragraph lengths come from a second engine so that the sentences are
  // the same ones `filler_text` gives the demo for this seed.
  std::mt19937_64 rng{mix(seed) ^ 0x7061726Eull};
  size_t left_in_paragraph = 0;
  text_.reserve(tokens * 4);
  while (tokens_ < tokens) {
    auto s = filler.next_sentence();
    sentence x;
    x.paragraph_start = left_in_paragraph == 0;
    if (x.paragraph_start)
      left_in_paragraph = 4 + rng() % 5;
    --left_in_paragraph;
    x.begin = text_.size();
    x.size = static_cast<uint32_t>(s.size());
    x.tokens = static_cast<uint32_t>(tok.count(s) + 1);
    text_ += s;
    tokens_ += x.tokens;
    sentences_.push_back(x);
  }
}

niah_haystack build_niah_haystack(const niah_corpus& corpus, uint64_t tokens,
                                  std::span<const niah_needle> needles,
                                  std::span<const double> depths,
                                  const tokenizer& tok) {
  niah_haystack out;
  std::vector<uint64_t> needle_tokens;
  uint64_t all_needle_tokens = 0;
  for (const auto& x : needles) {
    needle_tokens.push_back(tok.count(x.sentence) + 1);
    all_needle_tokens += needle_tokens.back();
  }
  auto filler_target
    = tokens > all_needle_tokens ? tokens - all_needle_tokens : 0;
  // cum[i]: the filler's tokens before sentence i, for the shortest prefix
  // of sentences that reaches the target.
  const auto& ss = corpus.sentences();
  std::vector<uint64_t> cum{0};
  while (cum.back() < filler_target && cum.size() <= ss.size())
    cum.push_back(cum.back() + ss[cum.size() - 1].tokens);
  auto m = cum.size() - 1;
  auto filler_total = cum.back();
  // The boundary each needle goes to: the one nearest to its depth.
  std::vector<size_t> boundary(needles.size());
  for (size_t k = 0; k < needles.size(); ++k) {
    auto depth = k < depths.size() ? std::clamp(depths[k], 0.0, 100.0) : 100.0;
    auto target = depth / 100.0 * static_cast<double>(filler_total);
    auto it
      = std::lower_bound(cum.begin(), cum.end(), static_cast<uint64_t>(target));
    auto b = static_cast<size_t>(it - cum.begin());
    if (b > 0
        && target - static_cast<double>(cum[b - 1])
             <= static_cast<double>(cum[std::min(b, m)]) - target)
      --b;
    boundary[k] = std::min(b, m);
  }
  std::vector<size_t> order(needles.size());
  for (size_t k = 0; k < order.size(); ++k)
    order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return boundary[x] < boundary[y];
  });
  out.placements.resize(needles.size());
  out.text.reserve(corpus.text().size() * m / std::max<size_t>(ss.size(), 1)
                   + 64 * needles.size() + 4 * m);
  uint64_t tokens_so_far = 0;
  auto emit = [&](std::string_view piece, bool new_paragraph) {
    if (!out.text.empty())
      out.text += new_paragraph ? "\n\n" : " ";
    out.text += piece;
  };
  size_t next = 0; // into `order`
  auto emit_needles_before = [&](size_t i, bool paragraph_start) {
    bool first = true;
    while (next < order.size() && boundary[order[next]] == i) {
      auto k = order[next++];
      if (!out.text.empty())
        out.text += first && paragraph_start ? "\n\n" : " ";
      out.placements[k] = {k, out.text.size(), tokens_so_far};
      out.text += needles[k].sentence;
      tokens_so_far += needle_tokens[k];
      first = false;
    }
    return !first;
  };
  for (size_t i = 0; i < m; ++i) {
    const auto& s = ss[i];
    bool took_start = emit_needles_before(i, s.paragraph_start);
    emit(std::string_view{corpus.text()}.substr(s.begin, s.size),
         s.paragraph_start && !took_start);
    tokens_so_far += s.tokens;
  }
  emit_needles_before(m, false);
  out.text += '\n';
  out.tokens = tokens_so_far;
  return out;
}

} // namespace llmmr

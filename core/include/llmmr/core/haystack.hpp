#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// Deterministic English filler prose: varied sentences built from a seed,
/// grouped into paragraphs. The same seed gives the same text on every
/// platform (only the raw output of `std::mt19937_64` is used). The text
/// never mentions secrets or passphrases, so a needle about one stands out.
class filler_text {
public:
  /// Creates a generator whose output is fixed by `seed`.
  explicit filler_text(uint64_t seed);

  /// Returns the next sentence, ending in a full stop, without surrounding
  /// blanks.
  std::string next_sentence();

  /// Returns the next paragraph: four to eight sentences joined by blanks,
  /// without a trailing line break.
  std::string next_paragraph();

private:
  /// Returns a number in [0, n).
  size_t pick(size_t n);

  std::mt19937_64 rng_;
};

/// What `make_haystack` builds.
struct haystack_options {
  /// The approximate length of the document in tokens (as counted by the
  /// tokenizer given to `make_haystack`).
  uint64_t tokens = 1'000'000;
  /// Where the needle goes, from 0 (the start) to 1 (the end).
  double depth = 0.5;
  /// Seed of the filler text and of the needle's passphrase.
  uint64_t seed = 1;
};

/// A long filler document with one needle sentence hidden in it.
struct haystack {
  /// The document: paragraphs separated by blank lines.
  std::string text;
  /// The needle sentence, e.g. "The secret passphrase is amber-4127."
  std::string needle;
  /// The passphrase alone, e.g. "amber-4127".
  std::string answer;
  /// The question the needle answers.
  std::string question;
  /// Byte offset of the needle's first byte in `text`.
  uint64_t needle_offset = 0;
  /// Tokens of the document, summed over its paragraphs (an upper bound of
  /// the tokenizer's count of the whole text).
  uint64_t tokens = 0;
};

/// Returns the passphrase `make_haystack` hides for `seed`, e.g.
/// "amber-4127".
std::string haystack_passphrase(uint64_t seed);

/// Generates about `opts.tokens` tokens of filler prose from `opts.seed` and
/// puts the needle sentence at the paragraph boundary nearest to
/// `opts.depth` (clamped to [0, 1]).
haystack make_haystack(const haystack_options& opts, const tokenizer& tok);

} // namespace llmmr

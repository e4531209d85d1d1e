#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// One fact hidden in a needle-in-a-haystack document: the sentence, the
/// question it answers and the expected answer, e.g. "The secret passphrase
/// of the Rigel vault is amber-4127." / "What is the secret passphrase of the
/// Rigel vault?" / "amber-4127".
struct niah_needle {
  /// The sentence inserted into the filler, ending in a full stop.
  std::string sentence;
  /// The question only this sentence answers.
  std::string question;
  /// The expected answer (the passphrase).
  std::string answer;
  /// The vault's name, e.g. "Rigel"; distinct within one document.
  std::string label;
};

/// The most needles one document can hold (the number of vault names).
inline constexpr size_t niah_max_needles = 24;

/// Returns `n` needles (at most `niah_max_needles`) drawn from `seed`: every
/// needle names a different vault and holds a different passphrase, so each
/// question has exactly one answer in the document. Deterministic.
std::vector<niah_needle> make_niah_needles(uint64_t seed, size_t n);

/// Returns the depths (in percent of the document's tokens) of `n` needles
/// when the first one goes to `depth_percent`: the others follow at equal
/// steps through the rest of the document, `(100 - depth) / n` apart (the
/// usual multi-needle spacing); all of them sit at 100 for a depth of 100.
std::vector<double> niah_needle_depths(double depth_percent, size_t n);

/// Seeded filler prose (the `filler_text` grammar of haystack.hpp) cut into
/// sentences with their token counts, generated once up to the longest
/// document of a grid; every document of the grid is a prefix of it, as the
/// well-known test cuts one long essay to each length.
class niah_corpus {
public:
  /// Generates at least `tokens` tokens of sentences from `seed`, counted
  /// with `tok`.
  niah_corpus(uint64_t seed, uint64_t tokens, const tokenizer& tok);

  /// One filler sentence.
  struct sentence {
    /// Byte offset of the sentence in `text()`.
    uint64_t begin = 0;
    /// Its length in bytes.
    uint32_t size = 0;
    /// Its tokens plus one for the blank or line break before it.
    uint32_t tokens = 0;
    /// True when the sentence opens a paragraph.
    bool paragraph_start = false;
  };

  /// Returns every sentence, in order.
  const std::vector<sentence>& sentences() const noexcept { return sentences_; }

  /// Returns the sentences back to back (no separators).
  const std::string& text() const noexcept { return text_; }

  /// Returns the tokens of all sentences (as counted in `sentences()`).
  uint64_t tokens() const noexcept { return tokens_; }

private:
  std::string text_;
  std::vector<sentence> sentences_;
  uint64_t tokens_ = 0;
};

/// Where one needle went.
struct niah_placement {
  /// Index into the needles given to `build_niah_haystack`.
  size_t needle = 0;
  /// Byte offset of the needle sentence in the document.
  uint64_t byte_offset = 0;
  /// Tokens before the needle sentence.
  uint64_t token_offset = 0;
};

/// A filler document with needles hidden in it.
struct niah_haystack {
  /// Paragraphs separated by blank lines, ending in a line break.
  std::string text;
  /// One entry per needle, in the order of the needles given.
  std::vector<niah_placement> placements;
  /// Tokens of the document, summed over its sentences and separators (an
  /// upper bound of the approximate tokenizer's count of the whole text).
  uint64_t tokens = 0;
};

/// Builds a document of about `tokens` tokens: the shortest prefix of
/// `corpus` that, with the needles, reaches `tokens`, and needle `k` inserted
/// at the sentence boundary whose token offset is nearest to `depths[k]`
/// percent of the filler's tokens (clamped to [0, 100]). `depths` has one
/// entry per needle (missing entries count as 100). A corpus with fewer
/// tokens than asked for is used whole.
niah_haystack build_niah_haystack(const niah_corpus& corpus, uint64_t tokens,
                                  std::span<const niah_needle> needles,
                                  std::span<const double> depths,
                                  const tokenizer& tok);

} // namespace llmmr

#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmmr {

/// Precision, recall and F-measure of one ROUGE comparison, each in [0, 1].
struct rouge_result {
  /// Matched tokens over the prediction's tokens.
  double precision = 0;
  /// Matched tokens over the target's tokens.
  double recall = 0;
  /// The harmonic mean of precision and recall (0 when both are 0).
  double fmeasure = 0;
};

/// The default tokenizer of Google's rouge_score (the ROUGE behind Hugging
/// Face `evaluate`'s "rouge" metric) without stemming: the text in lower
/// case, every run of characters other than a-z and 0-9 a separator, the
/// runs between them the tokens. Non-ASCII characters separate, except the
/// two whose lower case is ASCII in Python (U+0130 "İ" gives "i", U+212A
/// KELVIN SIGN gives "k").
std::vector<std::string> rouge_tokens(std::string_view text);

/// The length of a longest common subsequence of `a` and `b`.
size_t lcs_length(const std::vector<std::string>& a,
                  const std::vector<std::string>& b);

/// The positions in `ref` of one longest common subsequence of `ref` and
/// `can`, ascending; read back from the end of the LCS table, preferring a
/// step in `ref` when both steps keep the length (as rouge_score does, so
/// that the union below picks the same tokens).
std::vector<size_t> lcs_positions(const std::vector<std::string>& ref,
                                  const std::vector<std::string>& can);

/// ROUGE-L: the LCS of the two token sequences over their lengths.
rouge_result rouge_l(std::string_view target, std::string_view prediction);

/// ROUGE-Lsum, the summary-level LCS (Lin 2004, section 3.2) as rouge_score
/// computes it: both texts split into sentences at "\n" (empty lines
/// dropped); for each target sentence the union of its LCS positions with
/// every predicted sentence; each token of that union is a hit while the
/// token is still unspent in both texts (counts clip double matches);
/// precision = hits / predicted tokens, recall = hits / target tokens.
rouge_result rouge_lsum(std::string_view target, std::string_view prediction);

} // namespace llmmr

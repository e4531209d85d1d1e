#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// A fast, deliberately pessimistic token counter for when the serving
/// model's tokenizer is unknown. On English prose, Chinese and source code it
/// counts at least as many tokens as the cl100k, o200k and Llama-3 BPE
/// vocabularies do; `docs/chunking.md` explains the rules and the margin.
///
/// Counting is linear in the input, allocates nothing and is thread-safe.
/// The count is subadditive (`count(a + b) <= count(a) + count(b)`) and does
/// not shrink when text is appended, for any split at a character boundary;
/// the chunker relies on both properties.
class approx_tokenizer final : public tokenizer {
public:
  /// Returns the (over)estimated number of tokens in `text`. Bytes that are
  /// not well-formed UTF-8 count one token each.
  size_t count(std::string_view text) const override;

  /// Returns `"approx"`.
  std::string name() const override;

  /// Returns the count before the safety margin, in quarter tokens. Exposed
  /// for tests and for the documentation of the rules.
  static size_t raw_quarters(std::string_view text) noexcept;

  /// Turns a raw count in quarter tokens into tokens, adding the safety
  /// margin of 10 % and rounding up.
  static constexpr size_t apply_margin(size_t quarters) noexcept {
    return (quarters * 11 + 39) / 40;
  }
};

} // namespace llmmr

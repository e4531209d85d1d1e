#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// A tokenizer that reproduces a real model's token ids, not just a count.
///
/// Plain text never produces special or added tokens: a literal
/// `"<|endoftext|>"` in the input is encoded like any other text. Such tokens
/// are known for `decode` only.
///
/// Text that is not well-formed UTF-8 is accepted: every maximal run of
/// ill-formed bytes becomes a pre-token of its own and is encoded byte by
/// byte (through the byte tokens of a byte-level vocabulary, or the
/// `<0xNN>` fallback tokens of a SentencePiece-style one), so that
/// `decode(encode(text)) == text` still holds for byte-level vocabularies.
///
/// All member functions are const and safe to call from several threads.
class exact_tokenizer : public tokenizer {
public:
  /// Returns the token ids of `text`, without special tokens (no BOS/EOS).
  virtual std::vector<uint32_t> encode(std::string_view text) const = 0;

  /// Turns token ids back into text. Ids that the vocabulary does not know
  /// are skipped.
  virtual std::string decode(const std::vector<uint32_t>& ids) const = 0;

  /// Returns `encode(text).size()`, computed without building the ids.
  size_t count(std::string_view text) const override = 0;

  /// A tokenizer file does not say which chat template the server applies:
  /// reserves 16 tokens, more than the common templates (ChatML, Llama 3)
  /// add around one message.
  size_t message_overhead() const override { return 16; }
};

} // namespace llmmr

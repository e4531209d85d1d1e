#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/tokenizer_error.hpp"

namespace llmmr {

/// Loads a Hugging Face `tokenizer.json` with a BPE model, in one of two
/// flavours:
///
/// - byte-level BPE (GPT-2, Llama 3, Qwen 2/3): normalizer none or a
///   Unicode normal form (NFC, NFD, NFKC, NFKD); pre-tokenizer `ByteLevel`,
///   alone or in a `Sequence` after `Split` patterns; decoder `ByteLevel`;
/// - SentencePiece-style BPE (Llama 2, Mistral): pre-tokenizer `Metaspace`,
///   or normalizers `Prepend("▁")` and `Replace(" ", "▁")`; `byte_fallback`
///   to `<0xNN>` tokens, `unk_token` and `fuse_unk`.
///
/// Merges may be spelled `"a b"` or `["a", "b"]`. Added tokens are known to
/// `decode` only; the post-processor (BOS/EOS templates) is ignored. Any
/// other model type or component, or an option that would change the ids
/// and is not implemented, is an error naming it and the file.
tokenizer_result<std::unique_ptr<exact_tokenizer>>
load_hf_tokenizer(const std::string& path);

/// Builds a tokenizer from the contents of a `tokenizer.json`; `origin`
/// names it in error messages and in `name()`.
tokenizer_result<std::unique_ptr<exact_tokenizer>>
parse_hf_tokenizer(std::string_view json, std::string_view origin);

} // namespace llmmr

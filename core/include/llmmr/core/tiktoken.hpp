#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/tokenizer_error.hpp"

namespace llmmr {

/// A special token of a tiktoken encoding.
struct tiktoken_special {
  /// Its text, e.g. `"<|endoftext|>"`.
  std::string_view text;
  /// Its id.
  uint32_t id;
};

/// What a tiktoken encoding consists of besides its rank file.
struct tiktoken_encoding {
  /// The encoding's name, e.g. `"cl100k_base"`.
  std::string_view name;
  /// The pre-tokenizer's split pattern (PCRE2 syntax).
  std::string_view pattern;
  /// The special tokens (known to `decode` only).
  std::span<const tiktoken_special> specials;
};

/// Returns the built-in description of the encoding called `name`
/// (`"cl100k_base"` or `"o200k_base"`), or null when there is none.
const tiktoken_encoding* find_tiktoken_encoding(std::string_view name) noexcept;

/// Loads a tiktoken rank file (`.tiktoken`: one `base64(token) rank` per
/// line) for the built-in encoding called `encoding_name`. Errors name the
/// file, and the line for a malformed one.
tokenizer_result<std::unique_ptr<exact_tokenizer>>
load_tiktoken(const std::string& path, std::string_view encoding_name);

/// Builds a tiktoken tokenizer from the contents of a rank file; `origin`
/// names the contents in error messages.
tokenizer_result<std::unique_ptr<exact_tokenizer>>
parse_tiktoken(std::string_view contents, std::string_view origin,
               const tiktoken_encoding& encoding);

} // namespace llmmr

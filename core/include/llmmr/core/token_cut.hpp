#pragma once

#include <cstddef>
#include <string_view>

#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// Returns the length of the longest prefix of `text` that ends on a UTF-8
/// character boundary and counts at most `max_tokens` with `tok` (the whole
/// text when it fits, 0 when not even one character does). Found by binary
/// search over the character boundaries with `tok.count`, so it works with
/// every tokenizer, exact ones included, in O(log n) counts.
size_t prefix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok);

/// Returns where the longest suffix of `text` that starts on a UTF-8
/// character boundary and counts at most `max_tokens` begins (0 when the
/// whole text fits, `text.size()` when not even one character does).
size_t suffix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok);

} // namespace llmmr

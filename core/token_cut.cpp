#include "llmmr/core/token_cut.hpp"

namespace llmmr {

namespace {

bool is_continuation(char c) noexcept {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

/// Moves `pos` back to the start of the character it falls into.
size_t boundary_at_or_before(std::string_view text, size_t pos) noexcept {
  while (pos > 0 && pos < text.size() && is_continuation(text[pos]))
    --pos;
  return pos;
}

} // namespace

size_t prefix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok) {
  if (tok.count(text) <= max_tokens)
    return text.size();
  // Invariant: the prefix of length `lo` fits, the one of length `hi` does
  // not; both are character boundaries.
  size_t lo = 0;
  size_t hi = text.size();
  while (true) {
    auto mid = boundary_at_or_before(text, lo + (hi - lo) / 2);
    if (mid <= lo) {
      // No boundary strictly between: try the next character after `lo`.
      mid = lo + 1;
      while (mid < hi && is_continuation(text[mid]))
        ++mid;
      if (mid >= hi)
        return lo;
    }
    if (tok.count(text.substr(0, mid)) <= max_tokens)
      lo = mid;
    else
      hi = mid;
  }
}

size_t suffix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok) {
  if (tok.count(text) <= max_tokens)
    return 0;
  // Invariant: the suffix from `hi` fits, the one from `lo` does not.
  size_t lo = 0;
  size_t hi = text.size();
  while (true) {
    auto mid = boundary_at_or_before(text, lo + (hi - lo) / 2);
    if (mid <= lo) {
      mid = lo + 1;
      while (mid < hi && is_continuation(text[mid]))
        ++mid;
      if (mid >= hi)
        return hi;
    }
    if (tok.count(text.substr(mid)) <= max_tokens)
      hi = mid;
    else
      lo = mid;
  }
}

} // namespace llmmr

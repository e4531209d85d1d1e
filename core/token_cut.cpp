#include "llmmr/core/token_cut.hpp"
#include "llmmr/core/utf8.hpp"

#include <utility>

namespace llmmr {

namespace {

/// Moves `pos` back to the start of the character it falls into.
size_t boundary_at_or_before(std::string_view text, size_t pos) noexcept {
  return pos < text.size() ? utf8::floor_boundary(text, pos) : pos;
}

} // namespace

namespace {

/// Narrows [0, text.size()] to two neighbouring character boundaries
/// `{lo, hi}` such that `low_side(lo)` holds and `low_side(hi)` does not,
/// given that this holds for 0 and `text.size()` (the predicate is
/// monotone: true up to some boundary, false after it).
template <class Predicate>
std::pair<size_t, size_t> bisect_boundaries(std::string_view text,
                                            Predicate low_side) {
  size_t lo = 0;
  size_t hi = text.size();
  while (true) {
    auto mid = boundary_at_or_before(text, lo + (hi - lo) / 2);
    if (mid <= lo) {
      // No boundary strictly between: try the next character after `lo`.
      mid = lo + 1;
      while (mid < hi && utf8::is_continuation(text[mid]))
        ++mid;
      if (mid >= hi)
        return {lo, hi};
    }
    if (low_side(mid))
      lo = mid;
    else
      hi = mid;
  }
}

} // namespace

size_t prefix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok) {
  if (tok.count(text) <= max_tokens)
    return text.size();
  // The prefix ending at `lo` fits, the one ending at `hi` does not.
  return bisect_boundaries(text,
                           [&](size_t mid) {
                             return tok.count(text.substr(0, mid))
                                    <= max_tokens;
                           })
    .first;
}

size_t suffix_within(std::string_view text, size_t max_tokens,
                     const tokenizer& tok) {
  if (tok.count(text) <= max_tokens)
    return 0;
  // The suffix from `hi` fits, the one from `lo` does not.
  return bisect_boundaries(
           text,
           [&](size_t mid) { return tok.count(text.substr(mid)) > max_tokens; })
    .second;
}

} // namespace llmmr

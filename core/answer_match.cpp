#include "llmmr/core/answer_match.hpp"

namespace llmmr {

namespace {

bool dropped(unsigned char c) noexcept {
  return c <= ' ' || c == 0x7F || (c >= '!' && c <= '/')
         || (c >= ':' && c <= '@') || (c >= '[' && c <= '`')
         || (c >= '{' && c <= '~');
}

} // namespace

std::string normalise_for_match(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (dropped(c))
      continue;
    if (c >= 'A' && c <= 'Z')
      c = static_cast<unsigned char>(c - 'A' + 'a');
    out += static_cast<char>(c);
  }
  return out;
}

bool answer_contains(std::string_view answer, std::string_view expected) {
  auto want = normalise_for_match(expected);
  return !want.empty()
         && normalise_for_match(answer).find(want) != std::string::npos;
}

} // namespace llmmr

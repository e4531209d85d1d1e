#include "llmmr/core/utf8.hpp"

#include <cstring>

namespace llmmr::utf8 {

decoded decode(std::string_view text, size_t pos) noexcept {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto lead = byte(pos);
  if (lead < 0x80)
    return {lead, 1, status::ok};
  auto len = sequence_length(lead);
  if (len == 0)
    return {0xFFFD, 1, status::invalid};
  // The second byte has a narrower range for some leads (no overlongs, no
  // surrogates, nothing above U+10FFFF); later bytes are plain continuations.
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  switch (lead) {
  case 0xE0:
    lo = 0xA0;
    break;
  case 0xED:
    hi = 0x9F;
    break;
  case 0xF0:
    lo = 0x90;
    break;
  case 0xF4:
    hi = 0x8F;
    break;
  default:
    break;
  }
  char32_t cp = lead & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  size_t avail = text.size() - pos;
  for (size_t i = 1; i < len; ++i) {
    if (i >= avail)
      return {0xFFFD, static_cast<uint8_t>(i), status::incomplete};
    auto b = byte(pos + i);
    bool good = i == 1 ? (b >= lo && b <= hi) : is_continuation(b);
    if (!good)
      return {0xFFFD, static_cast<uint8_t>(i), status::invalid};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, static_cast<uint8_t>(len), status::ok};
}

size_t find_invalid(std::string_view text, bool reject_nul) noexcept {
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    // Fast path: skip ASCII eight bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ull)
        break;
      // A zero byte in the word (classic bit trick).
      if (reject_nul
          && ((word - 0x0101010101010101ull) & ~word & 0x8080808080808080ull))
        break;
      pos += 8;
    }
    if (pos >= n)
      break;
    auto c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      if (c == 0 && reject_nul)
        return pos;
      ++pos;
      continue;
    }
    auto d = decode(text, pos);
    if (d.state != status::ok)
      return pos;
    pos += d.length;
  }
  return std::string_view::npos;
}

size_t ceil_boundary(std::string_view text, size_t pos) noexcept {
  while (pos < text.size() && is_continuation(text[pos]))
    ++pos;
  return pos < text.size() ? pos : text.size();
}

size_t floor_boundary(std::string_view text, size_t pos) noexcept {
  if (pos >= text.size())
    return text.size();
  while (pos > 0 && is_continuation(text[pos]))
    --pos;
  return pos;
}

size_t length(std::string_view text) noexcept {
  size_t result = 0;
  for (char c : text)
    result += is_continuation(static_cast<unsigned char>(c)) ? 0 : 1;
  return result;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

} // namespace llmmr::utf8

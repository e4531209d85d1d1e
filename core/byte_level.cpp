#include "llmmr/core/byte_level.hpp"

#include <array>

#include "llmmr/core/utf8.hpp"

namespace llmmr::byte_level {

namespace {

/// Returns whether GPT-2 keeps `byte` as its own code point.
constexpr bool is_kept(unsigned byte) noexcept {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC)
         || (byte >= 0xAE && byte <= 0xFF);
}

struct tables {
  std::array<char32_t, 256> to_cp{};
  /// Indexed by code point for U+0000..U+01FF; 0xFFFF marks "no byte".
  std::array<uint16_t, 512> to_byte{};
};

constexpr tables make_tables() {
  tables t;
  for (auto& x : t.to_byte)
    x = 0xFFFF;
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) {
    auto cp = is_kept(b) ? static_cast<char32_t>(b) : next++;
    t.to_cp[b] = cp;
    t.to_byte[cp] = static_cast<uint16_t>(b);
  }
  return t;
}

constexpr tables the_tables = make_tables();

void append_utf8(std::string& out, char32_t cp) {
  utf8::append(out, cp);
}

} // namespace

char32_t to_code_point(uint8_t byte) noexcept {
  return the_tables.to_cp[byte];
}

std::optional<uint8_t> to_byte(char32_t cp) noexcept {
  if (cp >= the_tables.to_byte.size() || the_tables.to_byte[cp] == 0xFFFF)
    return std::nullopt;
  return static_cast<uint8_t>(the_tables.to_byte[cp]);
}

std::optional<std::string> decode_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    auto d = utf8::decode(token, pos);
    if (d.state != utf8::status::ok)
      return std::nullopt;
    auto b = to_byte(d.code_point);
    if (!b)
      return std::nullopt;
    out += static_cast<char>(*b);
    pos += d.length;
  }
  return out;
}

std::string encode_token(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto c : bytes)
    append_utf8(out, to_code_point(static_cast<uint8_t>(c)));
  return out;
}

} // namespace llmmr::byte_level

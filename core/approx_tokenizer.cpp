#include "llmmr/core/approx_tokenizer.hpp"

#include <array>
#include <cstdint>

#include "llmmr/core/utf8.hpp"

namespace llmmr {

namespace {

// All costs are in quarter tokens so that letters can cost a fraction.

/// Classes of code points the counter tells apart.
enum class cp_class : uint8_t {
  /// Part of a word: joins the letter run before it.
  letter,
  /// 0-9: digits are grouped by three (like the BPE pre-tokenizers do).
  digit,
  /// Space, tab, vertical tab, form feed.
  blank,
  /// LF or CR: one token each.
  newline,
  /// Anything that costs a fixed number of quarters on its own.
  single,
};

struct cp_info {
  cp_class cls;
  /// Weight for letters, cost for singles.
  uint8_t quarters;
};

constexpr std::array<cp_info, 128> make_ascii_table() {
  std::array<cp_info, 128> tbl{};
  for (int c = 0; c < 128; ++c) {
    if (c >= 'a' && c <= 'z')
      tbl[c] = {cp_class::letter, 1};
    else if (c >= 'A' && c <= 'Z')
      tbl[c] = {cp_class::letter, 2}; // capitals break more BPE merges
    else if (c >= '0' && c <= '9')
      tbl[c] = {cp_class::digit, 0};
    else if (c == ' ' || c == '\t' || c == '\v' || c == '\f')
      tbl[c] = {cp_class::blank, 0};
    else if (c == '\n' || c == '\r')
      tbl[c] = {cp_class::newline, 4};
    else
      tbl[c] = {cp_class::single, 4}; // punctuation, symbols, controls
  }
  return tbl;
}

constexpr auto ascii_table = make_ascii_table();

/// Classifies a non-ASCII code point that takes `len` bytes.
constexpr cp_info classify(char32_t cp, size_t len) noexcept {
  // Accented Latin letters (Latin-1, Latin Extended, IPA, combining marks):
  // European words are split into more pieces than English ones, so half a
  // token per letter.
  if ((cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7)
      || (cp >= 0x250 && cp <= 0x36F) || (cp >= 0x1E00 && cp <= 0x1EFF))
    return {cp_class::letter, 2};
  // Greek, Cyrillic, Armenian: BPE vocabularies trained mostly on English
  // text need about one token per letter.
  if (cp >= 0x370 && cp <= 0x58F)
    return {cp_class::letter, 4};
  // Kana and Hangul syllables: 1.5 tokens per character.
  if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF)
      || (cp >= 0xAC00 && cp <= 0xD7AF))
    return {cp_class::single, 6};
  // Han and the rest of CJK: radicals, CJK punctuation, Bopomofo, unified
  // ideographs (with extension A), compatibility ideographs, vertical and
  // fullwidth forms. Frequent characters are one token in the BPE
  // vocabularies, rare ones up to three; rare runs such as transliterated
  // names reach two per character in cl100k, so two it is.
  if ((cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF)
      || (cp >= 0xFE10 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFFEF))
    return {cp_class::single, 8};
  // General punctuation: dashes, curly quotes, ellipsis.
  if (cp >= 0x2000 && cp <= 0x206F)
    return {cp_class::single, 8};
  // Everything else (other scripts, symbols, emoji, supplementary planes):
  // one token per byte, the worst a byte-level BPE can do.
  return {cp_class::single, static_cast<uint8_t>(4 * len)};
}

constexpr size_t round_up4(size_t x) noexcept {
  return (x + 3) & ~size_t{3};
}

} // namespace

size_t approx_tokenizer::raw_quarters(std::string_view text) noexcept {
  size_t total = 0;
  size_t word = 0;   // quarters of the current letter run
  size_t digits = 0; // length of the current digit run
  size_t blanks = 0; // length of the current run of blanks
  // A run of blanks followed by something else than a digit or a line break
  // donates its last blank to what follows (BPE merges " word", " (" ...).
  auto end_blanks = [&](bool merged) {
    if (blanks > 0) {
      auto n = merged ? blanks - 1 : blanks;
      total += 4 * ((n + 3) / 4);
      blanks = 0;
    }
  };
  auto end_word = [&] {
    total += round_up4(word);
    word = 0;
  };
  auto end_digits = [&] {
    total += 4 * ((digits + 2) / 3);
    digits = 0;
  };
  const auto* data = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t pos = 0;
  while (pos < n) {
    cp_info info;
    auto c = data[pos];
    if (c < 0x80) {
      info = ascii_table[c];
      ++pos;
    } else {
      auto d = utf8::decode(text, pos);
      if (d.state == utf8::status::ok) {
        info = classify(d.code_point, d.length);
        pos += d.length;
      } else {
        info = {cp_class::single, 4}; // a stray byte: one token
        ++pos;
      }
    }
    switch (info.cls) {
    case cp_class::letter:
      if (digits > 0)
        end_digits();
      end_blanks(true);
      word += info.quarters;
      break;
    case cp_class::digit:
      if (word > 0)
        end_word();
      end_blanks(false);
      ++digits;
      break;
    case cp_class::blank:
      if (word > 0)
        end_word();
      if (digits > 0)
        end_digits();
      ++blanks;
      break;
    case cp_class::newline:
      if (word > 0)
        end_word();
      if (digits > 0)
        end_digits();
      end_blanks(false);
      total += info.quarters;
      break;
    case cp_class::single:
      if (word > 0)
        end_word();
      if (digits > 0)
        end_digits();
      end_blanks(true);
      total += info.quarters;
      break;
    }
  }
  end_word();
  end_digits();
  end_blanks(false);
  return total;
}

size_t approx_tokenizer::count(std::string_view text) const {
  return apply_margin(raw_quarters(text));
}

std::string approx_tokenizer::name() const {
  return "approx";
}

} // namespace llmmr

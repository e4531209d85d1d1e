#include "llmmr/core/unicode_normalization.hpp"

#include <cstdlib>

#include <utf8proc.h>

#include "llmmr/core/utf8.hpp"

namespace llmmr {

namespace {

char32_t first_changed(normal_form form) noexcept {
  switch (form) {
  case normal_form::nfc:
    return 0x300;
  case normal_form::nfd:
    return 0xC0;
  default:
    return 0xA0;
  }
}

utf8proc_option_t options_of(normal_form form) noexcept {
  int opts = UTF8PROC_STABLE;
  switch (form) {
  case normal_form::nfc:
    opts |= UTF8PROC_COMPOSE;
    break;
  case normal_form::nfd:
    opts |= UTF8PROC_DECOMPOSE;
    break;
  case normal_form::nfkc:
    opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    break;
  case normal_form::nfkd:
    opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    break;
  }
  return static_cast<utf8proc_option_t>(opts);
}

/// Returns whether NFC leaves `cp` alone and never combines it with what
/// comes before: a starter (canonical combining class 0) with NFC_Quick_Check
/// Yes that is not the second part of any canonical composition. Text may be
/// cut before such a code point and the pieces normalized separately. The
/// ranges are a conservative subset: Latin, Greek, Cyrillic and the rest
/// below U+0300, CJK unified ideographs, Hangul syllables, kana letters, CJK
/// punctuation and fullwidth ASCII.
constexpr bool nfc_boundary_before(char32_t cp) noexcept {
  return cp < 0x300 || (cp >= 0x4E00 && cp <= 0x9FFF)
         || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x3041 && cp <= 0x3096)
         || (cp >= 0x30A1 && cp <= 0x30F6) || (cp >= 0x3000 && cp <= 0x3029)
         || (cp >= 0xFF01 && cp <= 0xFF5E);
}

/// Normalizes the well-formed `text` with utf8proc and appends it to `out`.
void map_with_utf8proc(std::string_view text, normal_form form,
                       std::string& out) {
  utf8proc_uint8_t* result = nullptr;
  auto len = utf8proc_map(
    reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
    static_cast<utf8proc_ssize_t>(text.size()), &result, options_of(form));
  if (len < 0) {
    // Cannot happen for well-formed input; keep the text as it is.
    out += text;
  } else {
    out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(len));
  }
  std::free(result);
}

/// NFC of the well-formed `run`, appended to `out`: only the stretches of
/// code points that are not `nfc_boundary_before`, with the starter before
/// each, go through utf8proc; the rest is copied.
void nfc_by_segments(std::string_view run, std::string& out) {
  // Returns the length of the code point at `at`, and in `boundary` whether
  // text may be cut before it.
  auto step = [&](size_t at, bool& boundary) -> size_t {
    auto c = static_cast<unsigned char>(run[at]);
    if (c < 0x80) {
      boundary = true;
      return 1;
    }
    auto d = utf8::decode(run, at);
    boundary = nfc_boundary_before(d.code_point);
    return d.length;
  };
  size_t copied = 0; // run[0, copied) is in `out`
  size_t prev = 0;   // start of the last boundary code point seen
  bool has_prev = false;
  size_t pos = 0;
  while (pos < run.size()) {
    bool boundary = false;
    auto len = step(pos, boundary);
    if (boundary) {
      prev = pos;
      has_prev = true;
      pos += len;
      continue;
    }
    // A segment: the starter before `pos` (it may compose with what
    // follows), then everything up to the next boundary.
    auto begin = has_prev ? prev : pos;
    auto end = pos + len;
    while (end < run.size()) {
      auto n = step(end, boundary);
      if (boundary)
        break;
      end += n;
    }
    out.append(run, copied, begin - copied);
    map_with_utf8proc(run.substr(begin, end - begin), normal_form::nfc, out);
    copied = end;
    has_prev = false;
    pos = end;
  }
  out.append(run, copied);
}

/// Normalizes the well-formed `run` and appends it to `out`.
void normalize_run(std::string_view run, normal_form form, std::string& out) {
  if (run.empty())
    return;
  if (is_quickly_normal(run, form)) {
    out += run;
    return;
  }
  if (form == normal_form::nfc)
    nfc_by_segments(run, out);
  else
    map_with_utf8proc(run, form, out);
}

} // namespace

bool is_quickly_normal(std::string_view text, normal_form form) noexcept {
  // Code points below U+0080 are single bytes below 0x80; those below
  // U+0100 start with 0xC2 or 0xC3, those below U+0300 with 0xC4..0xCB.
  unsigned char limit;
  switch (first_changed(form)) {
  case 0x300:
    limit = 0xCC;
    break;
  default:
    limit = 0xC2;
    break;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  if (limit == 0xC2) {
    // NFD keeps U+0080..U+00BF, the K forms only U+0080..U+009F: check the
    // second byte after 0xC2.
    auto last = first_changed(form) == 0xC0 ? 0xBF : 0x9F;
    for (; p < end; ++p) {
      if (*p < 0x80)
        continue;
      if (*p != 0xC2 || p + 1 == end || p[1] > last)
        return false;
      ++p;
    }
    return true;
  }
  for (; p < end; ++p) {
    if (*p < 0x80 || (*p & 0xC0) == 0x80)
      continue;
    if (*p >= limit || *p < 0xC2)
      return false;
  }
  return true;
}

void normalize(std::string_view text, normal_form form, std::string& out) {
  size_t pos = 0;
  while (pos < text.size()) {
    auto rest = text.substr(pos);
    auto bad = utf8::find_invalid(rest, false);
    if (bad == std::string_view::npos) {
      normalize_run(rest, form, out);
      return;
    }
    normalize_run(rest.substr(0, bad), form, out);
    auto d = utf8::decode(rest, bad);
    out += rest.substr(bad, d.length);
    pos += bad + d.length;
  }
}

std::string normalize(std::string_view text, normal_form form) {
  std::string out;
  out.reserve(text.size());
  normalize(text, form, out);
  return out;
}

} // namespace llmmr

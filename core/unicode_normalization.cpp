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

/// Normalizes the well-formed `run` and appends it to `out`.
void normalize_run(std::string_view run, normal_form form, std::string& out) {
  if (run.empty())
    return;
  if (is_quickly_normal(run, form)) {
    out += run;
    return;
  }
  utf8proc_uint8_t* result = nullptr;
  auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                          static_cast<utf8proc_ssize_t>(run.size()), &result,
                          options_of(form));
  if (len < 0) {
    // Cannot happen for well-formed input; keep the text as it is.
    out += run;
  } else {
    out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(len));
  }
  std::free(result);
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

#pragma once

// Internal to core: the field extraction record_parser.cpp builds on,
// split by input form (labelled text in record_labels.cpp, JSON objects in
// record_json.cpp). Not installed.

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/field_labels.hpp"

namespace llmmr::detail {

// The string helpers the three parts share.
using namespace ascii;

/// The full-width colon (U+FF1A) Chinese labels end with.
inline constexpr std::string_view fullwidth_colon = "\xEF\xBC\x9A";

/// The fields a record output names.
using field = record_field;

/// The number of record fields.
inline constexpr size_t field_count = record_field_count;

/// The value chosen for each field: the first non-empty occurrence wins.
struct field_values {
  std::array<bool, field_count> present{};
  std::array<std::string, field_count> value;

  size_t count() const {
    return static_cast<size_t>(
      std::count(present.begin(), present.end(), true));
  }

  bool has(field f) const { return present[static_cast<size_t>(f)]; }

  const std::string& get(field f) const {
    return value[static_cast<size_t>(f)];
  }

  void set(field f, std::string v) {
    auto i = static_cast<size_t>(f);
    if (present[i] && !value[i].empty())
      return;
    present[i] = true;
    value[i] = std::move(v);
  }
};

/// Reads labelled fields ("Extracted information: ...", "Answer: ...", in
/// every spelling `field_labels` knows), fences and emphasis included.
field_values parse_labels(std::string_view text);

/// Reads the fields of the first JSON object found in `text` (in a code
/// fence, after prose, or cut off and read leniently).
field_values parse_json_anywhere(std::string_view text);

/// Returns whether the output is a JSON object, optionally in a code fence.
bool looks_like_json(std::string_view body);

} // namespace llmmr::detail

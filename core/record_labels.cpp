// Labelled record fields: "Extracted information: ...", "Answer: ..." in
// every spelling core/field_labels knows, inside or outside code fences.

#include "detail/record_fields.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/ascii.hpp"

namespace llmmr::detail {

namespace {

// -- fields and labels (core/field_labels) ----------------------------------

/// One occurrence of a field in the text.
struct occurrence {
  field target;
  std::string value;
};

struct scan_result {
  std::vector<occurrence> hits;
  bool unclosed_fence = false;
};

bool is_fence(std::string_view line) {
  auto t = trim(line);
  return t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~";
}

/// Splits `text` into labelled fields. Lines inside fenced code blocks never
/// start a field when `respect_fences` is set.
scan_result scan_fields(std::string_view text, bool respect_fences) {
  scan_result result;
  std::array<bool, 4> seen{};
  bool in_fence = false;
  // Appends `piece` to the current field, starting new fields at inline
  // labels.
  auto append = [&](std::string_view piece, bool new_line) {
    for (;;) {
      auto hit = find_inline_label(piece, seen);
      auto head = hit ? piece.substr(0, hit->label_pos) : piece;
      if (!result.hits.empty()) {
        auto& value = result.hits.back().value;
        if (new_line && !value.empty())
          value += '\n';
        value += head;
      }
      if (!hit)
        return;
      seen[static_cast<size_t>(hit->target)] = true;
      result.hits.push_back({hit->target, {}});
      piece = piece.substr(hit->value_pos);
      new_line = false;
    }
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    pos = end + 1;
    if (respect_fences && in_fence) {
      if (is_fence(line))
        in_fence = false;
      if (!result.hits.empty())
        result.hits.back().value.append("\n").append(line);
      continue;
    }
    if (auto hit = match_line_label(line)) {
      seen[static_cast<size_t>(hit->target)] = true;
      result.hits.push_back({hit->target, {}});
      if (hit->value_offset != std::string_view::npos) {
        auto value = line.substr(hit->value_offset);
        // "Extracted information: ```python" opens a fence on the label line.
        if (respect_fences && value.starts_with("```")
            && value.find("```", 3) == std::string_view::npos) {
          result.hits.back().value.append(value);
          in_fence = true;
        } else {
          append(value, false);
        }
      }
      continue;
    }
    if (respect_fences && is_fence(line))
      in_fence = true;
    if (in_fence) {
      if (!result.hits.empty())
        result.hits.back().value.append("\n").append(line);
      continue;
    }
    append(line, true);
  }
  result.unclosed_fence = in_fence;
  return result;
}

field_values collect(const scan_result& scan) {
  field_values out;
  for (auto& h : scan.hits)
    out.set(h.target, std::string{trim(h.value)});
  return out;
}

} // namespace

field_values parse_labels(std::string_view text) {
  auto with_fences = scan_fields(text, true);
  auto result = collect(with_fences);
  if (with_fences.unclosed_fence && result.count() < field_count) {
    // A fence opened and never closed may have swallowed later labels.
    auto without = collect(scan_fields(text, false));
    if (without.count() > result.count())
      return without;
  }
  return result;
}

} // namespace llmmr::detail

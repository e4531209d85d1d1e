#include "llmmr/core/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/record_parser.hpp"

namespace llmmr {

namespace {

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space)
      out += ' ';
    space = false;
    out += c;
  }
  return out;
}

} // namespace

double normalise_confidence(double raw) {
  if (std::isnan(raw))
    return 0;
  auto clamped = std::clamp(raw, 0.0, 5.0);
  return std::round(clamped * 2.0) / 2.0;
}

bool occurs_literally(std::string_view answer, std::string_view text) {
  auto needle = clean_answer(answer);
  if (needle.size() > 1
      && (needle.back() == '.' || needle.back() == ',' || needle.back() == ';'))
    needle.pop_back();
  if (needle.empty())
    return false;
  if (text.find(needle) != std::string_view::npos)
    return true;
  auto n = collapse_whitespace(needle);
  auto t = collapse_whitespace(text);
  return !n.empty() && t.find(n) != std::string::npos;
}

record calibrator::calibrate(record r, std::string_view finish_reason,
                             std::string_view source_text) const {
  if (finish_reason == "length")
    r.status = record_status::truncated;
  if (!uses_scores(profile_)) {
    r.confidence = 0;
    return r;
  }
  r.confidence = normalise_confidence(r.confidence);
  if (r.status == record_status::truncated
      || r.status == record_status::unparsable) {
    r.confidence = 0;
    return r;
  }
  if (profile_ == task_profile::retrieval) {
    if (r.no_information)
      r.confidence = std::min(r.confidence, retrieval_nonliteral_cap);
    else if (!source_text.empty() && !occurs_literally(r.answer, source_text))
      r.confidence = std::min(r.confidence, retrieval_nonliteral_cap);
  }
  return r;
}

bool calibrator::should_reask(const record& r) const {
  return diagnose_record(r, {}) != output_problem::none;
}

std::vector<record> calibrator::select(std::vector<record> records) const {
  // Classified again here: records built by hand (or by an older node) may
  // not carry their kind.
  for (auto& r : records)
    r.kind = classify_record(r, profile_);
  std::erase_if(records,
                [](const record& r) { return r.kind == record_kind::empty; });
  if (profile_ == task_profile::retrieval) {
    auto top = [](const record& r) {
      return r.kind == record_kind::answer && r.confidence >= 5.0;
    };
    if (std::any_of(records.begin(), records.end(), top))
      std::erase_if(records, [&](const record& r) { return !top(r); });
  }
  return records;
}

} // namespace llmmr

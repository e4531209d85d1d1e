#include "llmmr/core/record_parser.hpp"
#include "detail/record_fields.hpp"
#include "llmmr/core/utf8.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/ascii.hpp"
#include "llmmr/core/calibration.hpp"
#include "llmmr/core/field_labels.hpp"

namespace llmmr {

namespace {

// The field extraction of detail/record_fields.hpp and its string helpers.
using namespace detail;

bool consume_colon(std::string_view& s) noexcept {
  return consume(s, ":") || consume(s, fullwidth_colon);
}

// -- the body of an output --------------------------------------------------

/// Drops reasoning blocks some models emit before their answer
/// (`<think>...</think>`).
std::string_view strip_thinking(std::string_view text) {
  auto close = text.rfind("</think>");
  if (close != std::string_view::npos)
    return trim(text.substr(close + 8));
  auto t = trim(text);
  if (t.substr(0, 7) == "<think>")
    return {};
  return t;
}

field_values parse_fields(std::string_view body) {
  if (looks_like_json(body)) {
    auto result = parse_json_anywhere(body);
    if (result.count() > 0)
      return result;
  }
  auto result = parse_labels(body);
  if (result.count() > 0)
    return result;
  return parse_json_anywhere(body);
}

/// Strips a leading "Summary:" label from a summary.
std::string_view strip_summary_label(std::string_view body) {
  auto s = body;
  skip_emphasis(s);
  while (!s.empty() && s.front() == '#')
    s.remove_prefix(1);
  skip_blanks(s);
  skip_emphasis(s);
  for (std::string_view l : {"summary", "摘要", "总结"}) {
    if (!starts_with_icase(s, l))
      continue;
    auto rest = s.substr(l.size());
    skip_emphasis(rest);
    if (consume_colon(rest)) {
      skip_emphasis(rest);
      return trim(rest);
    }
    skip_emphasis(rest);
    if (!rest.empty() && rest.front() == '\n')
      return trim(rest);
  }
  return body;
}

std::string summary_text(std::string_view body) {
  if (looks_like_json(body)) {
    auto fields = parse_json_anywhere(body);
    if (fields.has(field::answer))
      return std::string{trim(fields.get(field::answer))};
  }
  return std::string{strip_summary_label(body)};
}

double score_of(const field_values& fields, bool& found) {
  found = false;
  if (!fields.has(field::confidence))
    return 0;
  auto text = fields.get(field::confidence);
  auto score = parse_score(text);
  if (!score)
    score = parse_confidence_word(text);
  if (!score)
    return 0;
  found = true;
  return normalise_confidence(*score);
}

} // namespace

std::optional<double> parse_score(std::string_view text) {
  auto s = text;
  size_t i = 0;
  while (i < s.size() && !is_digit(s[i]))
    ++i;
  if (i == s.size())
    return std::nullopt;
  bool negative = i > 0 && s[i - 1] == '-';
  size_t start = i;
  while (i < s.size() && is_digit(s[i]))
    ++i;
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
  }
  auto value
    = std::strtod(std::string{s.substr(start, i - start)}.c_str(), nullptr);
  if (negative)
    value = -value;
  auto rest = s.substr(i);
  skip_blanks(rest);
  skip_emphasis(rest);
  skip_blanks(rest);
  if (consume(rest, "%"))
    return value * 5.0 / 100.0;
  bool scaled = consume(rest, "/");
  if (!scaled && starts_with_icase(rest, "out of")) {
    rest.remove_prefix(6);
    scaled = true;
  }
  if (scaled) {
    skip_blanks(rest);
    skip_emphasis(rest);
    if (auto denom = parse_score(rest.substr(0, rest.find_first_of(" \n")));
        denom && *denom > 0 && rest.size() > 0 && is_digit(rest.front()))
      return value * 5.0 / *denom;
  }
  return value;
}

std::string clean_answer(std::string_view answer) {
  return strip_answer_wrapping(answer);
}

record parse_record(std::string_view raw, task_profile profile) {
  record r;
  r.raw = std::string{raw};
  auto body = strip_thinking(raw);
  if (!uses_scores(profile)) {
    r.answer = summary_text(body);
    r.status = r.answer.empty() ? record_status::unparsable : record_status::ok;
    r.kind = classify_record(r, profile);
    return r;
  }
  auto fields = parse_fields(body);
  bool has_score = false;
  auto score = score_of(fields, has_score);
  size_t found = 0;
  for (auto f : {field::extracted, field::rationale, field::answer})
    found += fields.has(f) ? 1 : 0;
  found += has_score ? 1 : 0;
  if (found == 0) {
    r.status = record_status::unparsable;
    return r;
  }
  r.extracted = std::string{trim(fields.get(field::extracted))};
  r.rationale = std::string{trim(fields.get(field::rationale))};
  auto answer = clean_answer(fields.get(field::answer));
  if (is_no_information(answer)) {
    r.no_information = true;
  } else {
    r.answer = std::move(answer);
  }
  r.confidence = score;
  r.has_confidence = has_score;
  r.status = found == field_count ? record_status::ok : record_status::partial;
  r.kind = classify_record(r, profile);
  return r;
}

record_kind classify_record(const record& r, task_profile profile) {
  if (r.status == record_status::unparsable)
    return record_kind::empty;
  if (!uses_scores(profile))
    return ascii::trim(r.answer).empty() ? record_kind::empty
                                         : record_kind::answer;
  if (!r.no_information && !ascii::trim(r.answer).empty())
    return record_kind::answer;
  auto facts = ascii::trim(r.extracted);
  if (is_empty_extraction(facts))
    return record_kind::empty;
  return record_kind::evidence;
}

final_answer parse_final_answer(std::string_view raw, task_profile profile) {
  final_answer result;
  result.raw = std::string{raw};
  auto body = strip_thinking(raw);
  if (!uses_scores(profile)) {
    result.answer = summary_text(body);
    result.status
      = result.answer.empty() ? record_status::unparsable : record_status::ok;
    return result;
  }
  auto fields = parse_fields(body);
  bool has_score = false;
  result.confidence = score_of(fields, has_score);
  result.has_confidence = has_score;
  // The answer itself comes from the answer extractor, which prefers the
  // last answer label and narrows its value to the profile's answer kind.
  auto kind = default_answer_kind(profile);
  auto extracted
    = looks_like_json(body) ? extracted_answer{} : extract_answer(body, kind);
  if (!fields.has(field::answer) && !fields.has(field::rationale)) {
    // No usable labels: a phrase such as "the answer is" or the output as a
    // whole (its last paragraph, without score lines, for free text).
    result.answer = std::move(extracted.text);
    result.status = result.answer.empty() ? record_status::unparsable
                                          : record_status::partial;
    return result;
  }
  result.rationale = std::string{trim(fields.get(field::rationale))};
  if (extracted.source == answer_source::label
      || extracted.source == answer_source::phrase
      || (extracted.source == answer_source::text && kind != answer_kind::text
          && !fields.has(field::answer)))
    result.answer = std::move(extracted.text);
  else
    result.answer = narrow_answer(fields.get(field::answer), kind);
  result.status = fields.has(field::answer) && fields.has(field::rationale)
                      && !result.answer.empty()
                    ? record_status::ok
                    : record_status::partial;
  return result;
}

} // namespace llmmr

// Names of the small enums in messages/, for to_string and from_string.

#include <array>
#include <string_view>

#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/progress_event.hpp"
#include "llmmr/messages/record_kind.hpp"
#include "llmmr/messages/record_status.hpp"
#include "llmmr/messages/strategy.hpp"
#include "llmmr/messages/structured_output.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

namespace {

template <class Enum, size_t N>
std::string name_of(const std::array<std::string_view, N>& names, Enum x) {
  auto i = static_cast<size_t>(x);
  if (i < N)
    return std::string{names[i]};
  return "<invalid " + std::to_string(i) + ">";
}

template <class Enum, size_t N>
bool parse_name(const std::array<std::string_view, N>& names,
                std::string_view name, Enum& x) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) {
      x = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

constexpr std::array<std::string_view, 25> error_kind_names{
  "none",
  "usage",
  "config",
  "input",
  "invalid_utf8",
  "empty_document",
  "budget",
  "unreachable",
  "tls",
  "auth",
  "rate_limited",
  "quota",
  "context_length_exceeded",
  "bad_request",
  "server_error",
  "timeout",
  "bad_reply",
  "truncated",
  "unparsable",
  "cancelled",
  "deadline",
  "node_down",
  "too_many_failures",
  "policy",
  "internal",
};
static_assert(static_cast<size_t>(error_kind::internal) + 1
              == error_kind_names.size());

constexpr std::array<std::string_view, 6> task_profile_names{
  "qa", "qa_zh", "code", "math", "retrieval", "summary",
};
static_assert(static_cast<size_t>(task_profile::summary) + 1
              == task_profile_names.size());

constexpr std::array<std::string_view, 4> record_status_names{
  "ok",
  "partial",
  "unparsable",
  "truncated",
};
static_assert(static_cast<size_t>(record_status::truncated) + 1
              == record_status_names.size());

constexpr std::array<std::string_view, 3> record_kind_names{
  "answer",
  "evidence",
  "empty",
};
static_assert(static_cast<size_t>(record_kind::empty) + 1
              == record_kind_names.size());

constexpr std::array<std::string_view, 3> structured_output_names{
  "auto",
  "json_schema",
  "text",
};
static_assert(static_cast<size_t>(structured_output::text) + 1
              == structured_output_names.size());

constexpr std::array<std::string_view, 3> strategy_names{
  "mapreduce",
  "chain",
  "direct",
};
static_assert(static_cast<size_t>(strategy::direct) + 1
              == strategy_names.size());

constexpr std::array<std::string_view, 6> job_stage_names{
  "chunking", "mapping", "collapsing", "reducing", "done", "failed",
};
static_assert(static_cast<size_t>(job_stage::failed) + 1
              == job_stage_names.size());

} // namespace

std::string to_string(error_kind x) {
  return name_of(error_kind_names, x);
}

bool from_string(std::string_view name, error_kind& x) {
  return parse_name(error_kind_names, name, x);
}

std::string to_string(task_profile x) {
  return name_of(task_profile_names, x);
}

bool from_string(std::string_view name, task_profile& x) {
  return parse_name(task_profile_names, name, x);
}

std::string to_string(record_status x) {
  return name_of(record_status_names, x);
}

bool from_string(std::string_view name, record_status& x) {
  return parse_name(record_status_names, name, x);
}

std::string to_string(record_kind x) {
  return name_of(record_kind_names, x);
}

bool from_string(std::string_view name, record_kind& x) {
  return parse_name(record_kind_names, name, x);
}

std::string to_string(structured_output x) {
  return name_of(structured_output_names, x);
}

bool from_string(std::string_view name, structured_output& x) {
  return parse_name(structured_output_names, name, x);
}

std::string to_string(strategy x) {
  return name_of(strategy_names, x);
}

bool from_string(std::string_view name, strategy& x) {
  return parse_name(strategy_names, name, x);
}

std::string to_string(job_stage x) {
  return name_of(job_stage_names, x);
}

bool from_string(std::string_view name, job_stage& x) {
  return parse_name(job_stage_names, name, x);
}

} // namespace llmmr

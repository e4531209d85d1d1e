#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// What a parsed map or collapse record carries for the question
/// (`docs/protocol.md`, "Record classes").
enum class record_kind : uint8_t {
  /// A substantive answer to the question (with or without extracted facts).
  answer,
  /// No answer of its own, but extracted information that bears on the
  /// question: a partial fact that may combine with facts of other parts.
  evidence,
  /// Nothing usable: no answer and no extracted information (or an output
  /// that could not be parsed at all). Only these records are dropped.
  empty,
};

/// Returns the name of `x`, e.g. `"evidence"`.
std::string to_string(record_kind x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, record_kind& x);

} // namespace llmmr

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// Whether calls ask the server to constrain output to a JSON schema
/// (`protocol.structured_output`).
enum class structured_output : uint8_t {
  /// A schema when the endpoint is known to support one, text otherwise
  /// (named `"auto"`).
  automatic,
  /// Always request a schema (a server that rejects it is still served text).
  json_schema,
  /// Never request a schema.
  text,
};

/// Returns the name of `x`: `"auto"`, `"json_schema"` or `"text"`.
std::string to_string(structured_output x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, structured_output& x);

} // namespace llmmr

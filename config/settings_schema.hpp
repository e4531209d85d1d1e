// Internal: the table of configuration keys shared by config/settings.cpp and
// config/load.cpp. Not part of the public API.

#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/config/settings.hpp"

namespace llmmr::config_detail {

/// What went wrong with one value. An empty `text` means no problem.
struct problem {
  /// Appended to the key path, e.g. "[2]" for an element of a list.
  std::string suffix;
  /// The problem in words, e.g. `expected a positive integer, got "abc"`.
  std::string text;

  /// Returns whether there is a problem.
  explicit operator bool() const noexcept { return !text.empty(); }
};

/// One key of the configuration, relative to `Root`.
template <class Root>
struct field {
  /// Key path relative to `Root`, e.g. "budget" or "tls.verify".
  std::string key;
  /// The type in words, for documentation.
  std::string type;
  /// One-line description.
  std::string help;
  /// Values of this key are never shown.
  bool secret = false;
  /// Sets the key from a JSON value.
  std::function<problem(Root&, const nlohmann::json&)> from_json;
  /// Sets the key from text (environment variable or command line).
  std::function<problem(Root&, std::string_view)> from_text;
  /// Reads the key.
  std::function<nlohmann::json(const Root&)> get;
};

/// Keys of the top-level sections, e.g. "job.budget", in documentation order.
const std::vector<field<settings>>& global_fields();

/// Keys of one entry of `endpoints`, e.g. "url" or "tls.verify".
const std::vector<field<endpoint_settings>>& endpoint_fields();

/// Returns the edit distance (with adjacent transpositions) of `a` and `b`.
size_t edit_distance(std::string_view a, std::string_view b);

/// Returns the candidate nearest to `word` when it is near enough to be a
/// plausible typo, else an empty string.
std::string nearest(std::string_view word,
                    const std::vector<std::string>& candidates);

/// Returns `x` for use in an error message: JSON text for scalars, "an
/// object" or "an array" for containers, and only the type for secrets.
std::string show(const nlohmann::json& x, bool secret);

/// Returns `text` quoted for use in an error message, or "a value" for
/// secrets.
std::string show_text(std::string_view text, bool secret);

/// Returns a problem text when `url` is not an http(s) URL, else "".
std::string check_url(std::string_view url);

} // namespace llmmr::config_detail

#pragma once

// The one parser of network addresses: http(s) endpoint URLs and "host:port"
// strings, built on Boost.URL. Configuration checks, endpoint clients and
// worker connections all go through it, so a value the configuration accepts
// is one the code can use.

#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

namespace llmmr {

/// An http or https URL, split into the parts a client needs.
struct http_url {
  /// "http" or "https", in lower case.
  std::string scheme;
  /// Host name or address; IPv6 addresses without their brackets.
  std::string host;
  /// The port, defaulted from the scheme (80, 443) when the URL has none.
  uint16_t port = 0;
  /// Whether the URL names its port.
  bool explicit_port = false;
  /// The path as written (percent-encoding kept), e.g. "/v1" or "".
  std::string path;
  /// Whether the URL has a query (`?...`) or a fragment (`#...`).
  bool has_query_or_fragment = false;

  /// Returns whether the scheme is https.
  bool tls() const noexcept { return scheme == "https"; }
};

/// Parses `text` as an http or https URL. Fails with `error_kind::config`
/// and a message that quotes `text` and says what is wrong (no scheme,
/// another scheme, missing host, a bad host name, an empty or out-of-range
/// port, an unterminated IPv6 literal, stray characters); the quote stops
/// before a query or fragment, which may carry tokens. User information
/// (`user:password@`) is rejected and the URL is then not quoted, since it
/// may hold a password.
expected<http_url> parse_http_url(std::string_view text);

/// A host and a port, as in "localhost:4242" or "[::1]:4242".
struct host_port {
  /// Host name or address; IPv6 addresses without their brackets.
  std::string host;
  /// The port, 1 to 65535.
  uint16_t port = 0;
};

/// Parses `text` as "host:port" (IPv6 addresses in brackets). Fails with
/// `error_kind::config` and the message `expected host:port, got "<text>"`,
/// followed by " (the port must be between 1 and 65535)" when only the port
/// is wrong.
expected<host_port> parse_host_port(std::string_view text);

/// Returns whether `host` is a literal loopback address: IPv4 127.0.0.0/8 or
/// IPv6 ::1 (with or without brackets). Host names, "localhost" included,
/// are not: what they resolve to is not up to the caller.
bool is_loopback_address(std::string_view host);

/// Returns the text of an error from the functions above, without the
/// error kind in front.
std::string address_problem(const error& err);

} // namespace llmmr

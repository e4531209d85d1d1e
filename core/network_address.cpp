// Endpoint URLs and host:port strings, parsed with Boost.URL. Boost.URL does
// the grammar (RFC 3986); the checks here add what llmmr needs on top: http
// or https only, a host, a port in range, no user information, and messages
// that name the bad input.

#include "llmmr/core/network_address.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "llmmr/core/ascii.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// Returns `text` in double quotes, shortened when long.
std::string quoted(std::string_view text) {
  return ascii::quoted_excerpt(text);
}

/// Returns `text` without its query and fragment, which may carry tokens,
/// for quoting in an error message.
std::string_view without_query(std::string_view text) {
  return text.substr(0, text.find_first_of("?#"));
}

/// Returns the port `text` names, if it is a number from 1 to 65535.
std::optional<uint16_t> port_number(std::string_view text) {
  uint32_t value = 0;
  auto [ptr, ec]
    = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()
      || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

/// Returns whether `name` is a plain host name: letters, digits, '-', '.'
/// and '_' (no percent-encoding, no sub-delimiters).
bool plain_host_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

/// Returns the authority of `text` ("host:port" between "//" and the path),
/// empty when there is none.
std::string_view authority_of(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return {};
  auto rest = text.substr(sep + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

} // namespace

expected<http_url> parse_http_url(std::string_view text) {
  // Never quote a URL with user information: it may hold a password. Check
  // the raw authority first so that a URL Boost.URL rejects is not quoted
  // either.
  if (authority_of(text).find('@') != std::string_view::npos)
    return make_error(error_kind::config,
                      "must not contain user information (user:password@); "
                      "use api_key or api_key_env for credentials");
  auto bad = [&](std::string_view why) {
    return make_error(error_kind::config, "expected an http or https URL like "
                                          "http://host:port/v1, got "
                                            + quoted(without_query(text)) + " ("
                                            + std::string{why} + ")");
  };
  if (text.find("://") == std::string_view::npos)
    return bad("no scheme");
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    auto authority = authority_of(text);
    if (!authority.empty() && authority.front() == '['
        && authority.find(']') == std::string_view::npos)
      return bad("unterminated IPv6 address");
    if (text.find_first_of(" \t\r\n") != std::string_view::npos)
      return bad("no spaces, query or fragment allowed");
    return bad("not a valid URL: " + parsed.error().message());
  }
  const auto& u = *parsed;
  http_url result;
  result.scheme = ascii::lower(std::string_view{u.scheme()});
  if (result.scheme != "http" && result.scheme != "https")
    return bad("scheme must be http or https");
  if (u.has_userinfo())
    return make_error(error_kind::config,
                      "must not contain user information (user:password@); "
                      "use api_key or api_key_env for credentials");
  switch (u.host_type()) {
  case boost::urls::host_type::ipv4:
  case boost::urls::host_type::ipv6:
    result.host = u.host_address();
    break;
  case boost::urls::host_type::name: {
    std::string_view name = u.encoded_host();
    if (name.empty())
      return bad("missing host");
    if (!plain_host_name(name))
      return bad("invalid host name");
    result.host = std::string{name};
    break;
  }
  default:
    return bad("missing host");
  }
  std::string_view path = u.encoded_path();
  // Boost.URL reads "http://h:12ab" as port 12 and path "ab": a path after
  // an authority must start with '/'.
  if (!path.empty() && path.front() != '/')
    return bad(u.has_port() ? "port must be between 1 and 65535"
                            : "unexpected text after the host");
  if (u.has_port()) {
    if (u.port().empty())
      return bad("empty port");
    auto port = port_number(u.port());
    if (!port)
      return bad("port must be between 1 and 65535");
    result.port = *port;
    result.explicit_port = true;
  } else {
    result.port = result.tls() ? 443 : 80;
  }
  result.path = std::string{path};
  result.has_query_or_fragment = u.has_query() || u.has_fragment();
  return result;
}

expected<host_port> parse_host_port(std::string_view text) {
  auto bad = [&](std::string_view note = {}) {
    return make_error(error_kind::config, "expected host:port, got "
                                            + quoted(text) + std::string{note});
  };
  auto parsed = boost::urls::parse_authority(text);
  if (!parsed || parsed->has_userinfo() || !parsed->has_port()
      || parsed->port().empty())
    return bad();
  const auto& a = *parsed;
  host_port result;
  switch (a.host_type()) {
  case boost::urls::host_type::ipv4:
  case boost::urls::host_type::ipv6:
    result.host = a.host_address();
    break;
  case boost::urls::host_type::name: {
    std::string_view name = a.encoded_host();
    if (!plain_host_name(name))
      return bad();
    result.host = std::string{name};
    break;
  }
  default:
    return bad();
  }
  auto port = port_number(a.port());
  if (!port)
    return bad(" (the port must be between 1 and 65535)");
  result.port = *port;
  return result;
}

bool is_loopback_address(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string text{host};
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string address_problem(const error& err) {
  auto text = describe(err);
  // describe() reads "kind: text"; keep only the text.
  if (auto pos = text.find(": "); pos != std::string::npos)
    text.erase(0, pos + 2);
  return text;
}

} // namespace llmmr

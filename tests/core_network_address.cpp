// The one parser of endpoint URLs and host:port strings
// (core/network_address.hpp).

#include <doctest/doctest.h>

#include <string>

#include "llmmr/core/network_address.hpp"
#include "llmmr/messages/error_kind.hpp"

using namespace llmmr;

namespace {

/// Returns the problem `parse_http_url` reports for `text`, or "" when it
/// accepts it.
std::string url_problem(std::string_view text) {
  auto r = parse_http_url(text);
  if (r)
    return {};
  CHECK(kind_of(r.error()) == error_kind::config);
  return address_problem(r.error());
}

std::string host_port_problem(std::string_view text) {
  auto r = parse_host_port(text);
  if (r)
    return {};
  CHECK(kind_of(r.error()) == error_kind::config);
  return address_problem(r.error());
}

} // namespace

TEST_SUITE("core") {

  TEST_CASE("http URLs: parts, default ports and IPv6 literals") {
    auto a = parse_http_url("http://127.0.0.1:8000/v1");
    REQUIRE(a);
    CHECK(a->scheme == "http");
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 8000);
    CHECK(a->explicit_port);
    CHECK(a->path == "/v1");
    CHECK(!a->has_query_or_fragment);
    auto b = parse_http_url("HTTPS://api.openai.com/v1/");
    REQUIRE(b);
    CHECK(b->scheme == "https");
    CHECK(b->tls());
    CHECK(b->port == 443);
    CHECK(!b->explicit_port);
    auto c = parse_http_url("http://[::1]:9000/proxy/v1?x=1");
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->port == 9000);
    CHECK(c->path == "/proxy/v1");
    CHECK(c->has_query_or_fragment);
    auto d = parse_http_url("http://[2001:db8::7]/");
    REQUIRE(d);
    CHECK(d->host == "2001:db8::7");
    CHECK(d->port == 80);
    auto e = parse_http_url("http://a_b.c:1");
    REQUIRE(e);
    CHECK(e->host == "a_b.c");
    CHECK(e->path.empty());
  }

  TEST_CASE("malformed http URLs are rejected with the input and the reason") {
    auto prefix = std::string{"expected an http or https URL like "
                              "http://host:port/v1, got "};
    CHECK(url_problem("localhost:8000")
          == prefix + "\"localhost:8000\" (no scheme)");
    CHECK(url_problem("ftp://host/v1")
          == prefix + "\"ftp://host/v1\" (scheme must be http or https)");
    CHECK(url_problem("http://") == prefix + "\"http://\" (missing host)");
    CHECK(url_problem("http:///v1")
          == prefix + "\"http:///v1\" (missing host)");
    CHECK(url_problem("http://host:/v1")
          == prefix + "\"http://host:/v1\" (empty port)");
    for (auto bad_port : {"http://h:0", "http://h:70000", "http://h:12ab"})
      CHECK_MESSAGE(url_problem(bad_port)
                      == prefix + "\"" + bad_port
                           + "\" (port must be between 1 and 65535)",
                    bad_port);
    CHECK(url_problem("http://[::1/v1")
          == prefix + "\"http://[::1/v1\" (unterminated IPv6 address)");
    CHECK(url_problem("http://ho st/v1").find(prefix + "\"http://ho st/v1\"")
          == 0);
    // A query may carry a token: the quote stops before it.
    CHECK(url_problem("ftp://h/v1?key=s3cret")
          == prefix + "\"ftp://h/v1\" (scheme must be http or https)");
    CHECK(url_problem("http://a%20b/v1")
          == prefix + "\"http://a%20b/v1\" (invalid host name)");
  }

  TEST_CASE("user information in a URL is rejected without echoing it") {
    for (auto bad : {"https://user:hunter2@host/v1", "http://hunter2@h:80",
                     "http://user:hunter2@[::1"}) {
      CAPTURE(bad);
      auto problem = url_problem(bad);
      CHECK(problem.find("must not contain user information")
            != std::string::npos);
      CHECK(problem.find("hunter2") == std::string::npos);
    }
  }

  TEST_CASE("host:port strings: names, IPv4, bracketed IPv6") {
    auto a = parse_host_port("localhost:4242");
    REQUIRE(a);
    CHECK(a->host == "localhost");
    CHECK(a->port == 4242);
    auto b = parse_host_port("10.0.0.5:1");
    REQUIRE(b);
    CHECK(b->host == "10.0.0.5");
    auto c = parse_host_port("[::1]:65535");
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->port == 65535);
  }

  TEST_CASE("malformed host:port strings name the input") {
    for (auto bad : {"b", "b:", ":4242", "h:12ab", "u@h:1", "a b:1", "h/x:1",
                     "[::1:80", "http://h:1", ""}) {
      CAPTURE(bad);
      CHECK(host_port_problem(bad)
            == "expected host:port, got \"" + std::string{bad} + "\"");
    }
    for (auto bad : {"b:0", "b:70000"}) {
      CAPTURE(bad);
      CHECK(host_port_problem(bad)
            == "expected host:port, got \"" + std::string{bad}
                 + "\" (the port must be between 1 and 65535)");
    }
  }

} // TEST_SUITE("core")

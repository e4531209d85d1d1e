#include "llmmr/backends/endpoint.hpp"

#include <array>
#include <charconv>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

constexpr std::array<std::string_view, 5> profile_names{
  "generic", "openai", "vllm", "llamacpp", "tgi"};

} // namespace

std::string to_string(endpoint_profile x) {
  auto i = static_cast<size_t>(x);
  return i < profile_names.size() ? std::string{profile_names[i]}
                                  : "<invalid profile>";
}

bool from_string(std::string_view name, endpoint_profile& x) {
  for (size_t i = 0; i < profile_names.size(); ++i) {
    if (profile_names[i] == name) {
      x = static_cast<endpoint_profile>(i);
      return true;
    }
  }
  if (name == "llama.cpp" || name == "llama-cpp") {
    x = endpoint_profile::llamacpp;
    return true;
  }
  return false;
}

std::string endpoint_url::to_string() const {
  std::string result = scheme + "://";
  if (host.find(':') != std::string::npos)
    result += "[" + host + "]";
  else
    result += host;
  result += ':';
  result += std::to_string(port);
  result += base_path;
  return result;
}

expected<endpoint_url> parse_endpoint_url(std::string_view url) {
  auto fail = [&](std::string_view why) {
    // The URL is quoted only up to its authority part: a path or query might
    // carry secrets.
    return make_error(error_kind::config,
                      "invalid endpoint URL: " + std::string{why});
  };
  endpoint_url result;
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return fail("expected http://host[:port] or https://host[:port]");
  for (auto c : url.substr(0, sep))
    result.scheme
      += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (result.scheme != "http" && result.scheme != "https")
    return fail("unsupported scheme '" + result.scheme + "'");
  auto rest = url.substr(sep + 3);
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  auto path
    = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported; use the API key");
  if (authority.empty())
    return fail("missing host");
  std::string_view port_str;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return fail("unterminated IPv6 address");
    result.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return fail("unexpected text after the IPv6 address");
      port_str = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      result.host = std::string{authority.substr(0, colon)};
      port_str = authority.substr(colon + 1);
    } else {
      result.host = std::string{authority};
    }
  }
  if (result.host.empty())
    return fail("missing host");
  if (!port_str.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_str.data(),
                                     port_str.data() + port_str.size(), value);
    if (ec != std::errc{} || ptr != port_str.data() + port_str.size()
        || value == 0 || value > 65535)
      return fail("invalid port '" + std::string{port_str} + "'");
    result.port = static_cast<uint16_t>(value);
  } else {
    result.port = result.tls() ? 443 : 80;
  }
  if (auto q = path.find_first_of("?#"); q != std::string_view::npos)
    path = path.substr(0, q);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  if (path.ends_with("/v1"))
    path.remove_suffix(3);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  result.base_path = std::string{path};
  return result;
}

} // namespace llmmr

#include "llmmr/backends/endpoint.hpp"

#include <array>
#include <utility>

#include "llmmr/core/network_address.hpp"

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
  auto parsed = parse_http_url(url);
  if (!parsed)
    return std::move(parsed.error());
  endpoint_url result;
  result.scheme = std::move(parsed->scheme);
  result.host = std::move(parsed->host);
  result.port = parsed->port;
  // The client appends "/v1/..." itself: keep only the prefix before it.
  std::string_view path = parsed->path;
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

#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

namespace llmmr {

/// The kind of server behind an endpoint. Profiles differ in how JSON-schema
/// output is requested, where `/tokenize` lives, how the context window is
/// discovered and how errors are shaped.
enum class endpoint_profile : uint8_t {
  /// Unknown OpenAI-compatible server: OpenAI spelling, no extras.
  generic = 0,
  /// api.openai.com and servers that copy it exactly.
  openai,
  /// vLLM's OpenAI-compatible server.
  vllm,
  /// llama.cpp's `llama-server`.
  llamacpp,
  /// Hugging Face text-generation-inference.
  tgi,
};

/// Returns the name of `x`, e.g. `"vllm"`.
std::string to_string(endpoint_profile x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, endpoint_profile& x);

/// One OpenAI-compatible endpoint. Mirrors the `endpoints` section of the
/// settings.
struct endpoint_options {
  /// Base URL, e.g. `http://127.0.0.1:8080` or `https://api.openai.com/v1`.
  /// A trailing `/v1` is accepted and stripped.
  std::string url;
  /// Model name sent in requests.
  std::string model;
  /// API key sent as `Authorization: Bearer`; empty sends no header.
  /// Never logged, never put into an error text.
  std::string api_key;
  /// Server kind; `generic` when unknown (see `detect_profile`).
  endpoint_profile profile = endpoint_profile::generic;
  /// Most concurrent completion requests this client sends to the endpoint
  /// (its generation slots); further calls queue inside the client, by
  /// priority. Tokenize and discovery requests do not count.
  uint32_t max_concurrency = 8;
  /// Adapt the requests in flight below `max_concurrency` to what the
  /// endpoint takes (`adaptive_limit`: halve on 429, back off when latency
  /// grows, recover by one per full window); false keeps `max_concurrency`.
  bool adaptive_concurrency = true;
  /// Verify the server certificate and host name (HTTPS). Turning it off
  /// logs a warning.
  bool verify_tls = true;
  /// A PEM file of trusted CA certificates; empty uses the system store.
  std::string ca_file;
  /// The model's context window in tokens; 0 means unknown (discover it).
  uint32_t context_window = 0;
};

/// Time limits of one call. Mirrors the `client` section of the settings.
struct client_timeouts {
  /// Resolving, connecting and the TLS handshake.
  std::chrono::milliseconds connect{5'000};
  /// From sending the request to the response header.
  std::chrono::milliseconds first_byte{120'000};
  /// Longest silence between two pieces of the body (stream events).
  std::chrono::milliseconds idle{30'000};
  /// The whole call, one attempt.
  std::chrono::milliseconds total{300'000};
  /// Keep-alive connections kept open per endpoint; 0 disables reuse.
  uint32_t max_idle_connections = 8;
};

/// How a computed backoff is randomized.
enum class jitter_mode : uint8_t {
  /// Uniform in [0, bound] ("full jitter").
  full,
  /// Exactly the bound.
  none,
};

/// Parameters of the retry policy. Mirrors the `retry` section of the
/// settings.
struct retry_options {
  /// Attempts per call including the first; 1 disables retries.
  uint32_t max_attempts = 5;
  /// Backoff bound before the first retry; doubles with every retry.
  std::chrono::milliseconds initial_backoff{500};
  /// Upper bound of one computed backoff. A delay the server asks for is
  /// honoured as long as it fits into `max_total`.
  std::chrono::milliseconds max_backoff{20'000};
  /// Bound on the time a call may spend including all retries and waits.
  std::chrono::milliseconds max_total{120'000};
  /// How the backoff is randomized.
  jitter_mode jitter = jitter_mode::full;
  /// Seed for the jitter; 0 seeds from the system's random device.
  uint64_t seed = 0;
  /// Consecutive "endpoint down" failures (unreachable, 5xx) that open the
  /// circuit breaker; 0 disables the breaker.
  uint32_t breaker_threshold = 5;
  /// Wait between two probes while the circuit is open.
  std::chrono::milliseconds probe_interval{1'000};
  /// How long calls are held while the circuit is open before they fail
  /// with `error_kind::unreachable`.
  std::chrono::milliseconds outage_limit{60'000};
};

/// Parameters of the endpoint pool. Mirrors the `routing` section of the
/// settings.
struct routing_options {
  /// Consecutive transient failures after which an endpoint is benched.
  uint32_t bench_after_failures = 3;
  /// How long a benched endpoint rests before it is tried again.
  std::chrono::milliseconds bench_cooldown{30'000};
};

/// The parts of an endpoint URL.
struct endpoint_url {
  /// "http" or "https".
  std::string scheme;
  /// Host name or address, without brackets for IPv6.
  std::string host;
  /// Port, defaulted from the scheme.
  uint16_t port = 0;
  /// Path prefix without a trailing slash and without a final `/v1`,
  /// e.g. "" or "/proxy".
  std::string base_path;

  /// Returns whether the scheme is https.
  bool tls() const noexcept { return scheme == "https"; }

  /// Returns `scheme://host:port` plus the base path, for logs and errors.
  std::string to_string() const;
};

/// Parses `http[s]://host[:port][/path]` with `parse_http_url`
/// (core/network_address.hpp); a query or fragment is ignored. Returns
/// `error_kind::config` when the URL is malformed. Credentials in the URL
/// (`user:pass@`) are rejected so that they never reach a log.
expected<endpoint_url> parse_endpoint_url(std::string_view url);

} // namespace llmmr

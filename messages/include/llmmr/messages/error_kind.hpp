#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmmr {

/// Classifies every failure llmmr reports. Errors carry it in `llmmr::error`
/// (`llmmr/messages/error.hpp`) with a human-readable description.
enum class error_kind : uint8_t {
  /// Not an error.
  none = 0,
  /// The command line or an API call was used wrongly.
  usage,
  /// A configuration file, variable or flag is invalid.
  config,
  /// The input document cannot be read or is malformed.
  input,
  /// The input is not valid UTF-8 or holds NUL bytes.
  invalid_utf8,
  /// The input document is empty.
  empty_document,
  /// The token budget cannot hold even the template and the question.
  budget,
  /// The endpoint could not be reached (DNS, connect, reset).
  unreachable,
  /// The TLS handshake or certificate verification failed.
  tls,
  /// The endpoint refused the credentials (401, 403).
  auth,
  /// The endpoint asked us to slow down (429 rate_limit_exceeded).
  rate_limited,
  /// The account has no quota left (429 insufficient_quota).
  quota,
  /// The prompt is longer than the model's context window.
  context_length_exceeded,
  /// The endpoint rejected the request (other 4xx).
  bad_request,
  /// The endpoint failed (5xx).
  server_error,
  /// A connect, first-byte, idle or total timeout expired.
  timeout,
  /// The endpoint's reply could not be understood.
  bad_reply,
  /// The model stopped because of `max_tokens` (finish_reason "length").
  truncated,
  /// The model's output could not be parsed into a record.
  unparsable,
  /// The job was cancelled.
  cancelled,
  /// The job's deadline passed.
  deadline,
  /// A remote node went down.
  node_down,
  /// More chunks failed than the job allows.
  too_many_failures,
  /// A worker node refused the work under its own policy (a model it does
  /// not serve, `max_tokens` above its cap) or its protocol differs.
  policy,
  /// An internal invariant broke; a bug in llmmr.
  internal,
};

/// Returns the name of `x`, e.g. `"rate_limited"`.
std::string to_string(error_kind x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, error_kind& x);

/// Returns whether an operation that failed with `x` may succeed when retried.
bool is_transient(error_kind x) noexcept;

/// Returns whether a call that failed with `x` will fail the same way for
/// every further request to the same endpoint, whatever its prompt: bad
/// credentials or permissions (`auth`, HTTP 401/403), no quota left
/// (`quota`), a request the server rejects as malformed or naming an unknown
/// model (`bad_request`, HTTP 400/404 `model_not_found`), TLS failures and a
/// worker node's policy refusals (`policy`). A job can end at the first such
/// error instead of sending every chunk.
bool is_recurring(error_kind x) noexcept;

} // namespace llmmr

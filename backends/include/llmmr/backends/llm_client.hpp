#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/cancellation.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// One message of a chat conversation.
struct chat_message {
  /// "system", "user" or "assistant".
  std::string role;
  /// The message text.
  std::string content;
};

/// A chat-completions request, independent of the wire format.
struct chat_request {
  /// The conversation, usually one user message holding the rendered prompt.
  std::vector<chat_message> messages;
  /// Model to request; empty means the endpoint's configured model.
  std::string model;
  /// Completion tokens reserved for the reply, sent as `max_tokens`.
  uint32_t max_tokens = 300;
  /// Sampling temperature.
  double temperature = 0.0;
  /// Ask the server to stream the reply (server-sent events).
  bool stream = false;
  /// A JSON schema (serialized) the reply must follow; empty means free text.
  std::string json_schema;
  /// A label for logs and errors, e.g. "job 3 map chunk 17".
  std::string label;
  /// Aborts the call when cancelled: a queued call is dropped, a call in
  /// flight closes its connection; either way `done` receives `cancelled`.
  /// Null means the call is never cancelled.
  cancellation_ptr cancel;
  /// When set, no attempt runs past this point: a reply still arriving (a
  /// slow body, a stream of keep-alive comments) ends with `timeout`.
  /// `retrying_client` sets it from `retry_options::max_total`.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// Calls with a higher priority leave the clients' queues first; equal
  /// priorities keep their order. The pipeline gives collapse and reduce
  /// calls (a job's critical path) priority over map calls
  /// (`call_priority`).
  uint8_t priority = 0;
};

/// The priorities the pipeline gives its calls (`chat_request::priority`).
namespace call_priority {
/// Map calls: many, and each one is off the critical path.
inline constexpr uint8_t map = 0;
/// Collapse calls: the next round waits for them.
inline constexpr uint8_t collapse = 1;
/// The reduce call: the job's answer waits for it.
inline constexpr uint8_t reduce = 2;
} // namespace call_priority

/// A successful chat-completions reply.
struct chat_reply {
  /// The generated text.
  std::string text;
  /// Why generation stopped: "stop", "length", ...
  std::string finish_reason;
  /// Tokens used by this call (as reported by the server, or estimated).
  llmmr::usage usage;
  /// The server's request id, when it sent one.
  std::string request_id;
  /// The endpoint that answered (its base URL, never the API key).
  std::string endpoint;
  /// Number of attempts it took, 1 without retries.
  uint32_t attempts = 1;
  /// Time from sending the request to the last byte, in microseconds.
  uint64_t latency_us = 0;
  /// True when the server reported no usage and `usage` is an estimate.
  bool usage_estimated = false;
};

/// Receives the outcome of one call: a reply or a typed `llmmr` error.
using reply_handler = std::function<void(expected<chat_reply>)>;

/// Receives streamed text deltas as they arrive.
using delta_handler = std::function<void(std::string_view)>;

/// What decorators (retry, endpoint pool) learn about one attempt besides
/// its outcome.
struct attempt_info {
  /// The failure is transient: the same request may succeed later.
  bool retryable = false;
  /// A delay the server asked for (`retry-after-ms`, `retry-after`,
  /// `x-ratelimit-reset-*`), in milliseconds; negative when none.
  int64_t retry_after_ms = -1;
  /// A short reason for logs, e.g. "429 rate_limit_exceeded", "timeout".
  std::string reason;
  /// The endpoint that was tried (base URL, never the API key).
  std::string endpoint;
};

/// Receives the outcome of one attempt together with facts for decorators.
using attempt_handler = std::function<void(expected<chat_reply>, attempt_info)>;

/// Adapts a `reply_handler` to an `attempt_handler` that ignores the
/// attempt's facts, for clients whose `chat` is a plain `try_chat`.
inline attempt_handler ignore_attempt_info(reply_handler done) {
  return [done = std::move(done)](expected<chat_reply> res, attempt_info) {
    done(std::move(res));
  };
}

/// The one interface every LLM call of llmmr goes through.
///
/// Implementations call `done` exactly once per `chat` call, from a thread of
/// their own choosing (the real client uses its I/O thread), so callers hand
/// the outcome back to their own context instead of touching state directly.
class llm_client {
public:
  virtual ~llm_client() = default;

  /// Starts a call. `on_delta`, when set and the request streams, receives
  /// text deltas before `done` receives the complete reply.
  virtual void chat(chat_request req, reply_handler done,
                    delta_handler on_delta = {})
    = 0;

  /// Returns the number of calls started but not yet completed.
  virtual size_t outstanding() const = 0;

  /// Returns whether the endpoint(s) behind this client are known to
  /// constrain output to a JSON schema (`chat_request::json_schema`), from
  /// their profile. Decorators forward; the default is false.
  virtual bool supports_json_schema() const { return false; }

  /// Returns how many calls the endpoint(s) behind this client serve at once
  /// now: the sum of their concurrency limits, following the limits as they
  /// adapt (`adaptive_limit`). Callers use it as credit, so that calls wait
  /// in their own queues instead of the client's. 0 means unknown.
  /// Decorators forward; the default is 0.
  virtual size_t capacity() const { return 0; }

  /// Makes exactly one attempt (no retries) and reports it with the facts a
  /// retrying decorator needs. The default forwards to `chat` and derives
  /// `retryable` from the error kind.
  virtual void try_chat(chat_request req, attempt_handler done,
                        delta_handler on_delta = {}) {
    chat(
      std::move(req),
      [done = std::move(done)](expected<chat_reply> res) {
        attempt_info info;
        if (!res) {
          info.retryable = is_transient(kind_of(res.error()));
          info.reason = to_string(kind_of(res.error()));
        } else {
          info.endpoint = res->endpoint;
        }
        done(std::move(res), std::move(info));
      },
      std::move(on_delta));
  }
};

/// A client built around single attempts: it implements `try_chat`, and its
/// `chat` is that attempt with the facts dropped. The HTTP client, the
/// endpoint pool and the decorators derive from it.
class attempt_client : public llm_client {
public:
  /// Calls `try_chat` and hands `done` the outcome alone.
  void chat(chat_request req, reply_handler done,
            delta_handler on_delta = {}) final {
    try_chat(std::move(req), ignore_attempt_info(std::move(done)),
             std::move(on_delta));
  }

  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override = 0;
};

} // namespace llmmr

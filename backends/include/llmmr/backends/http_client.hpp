#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/adaptive_limit.hpp"
#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/backends/retry_policy.hpp"

namespace llmmr {

/// Counters of one endpoint, aggregated over all calls of an `http_client`.
struct endpoint_stats {
  /// Chat calls started (attempts; each retry counts again).
  uint64_t calls = 0;
  /// Chat calls that produced a reply.
  uint64_t succeeded = 0;
  /// Chat calls that ended with an error.
  uint64_t failed = 0;
  /// Prompt tokens of all replies (reported or estimated).
  uint64_t prompt_tokens = 0;
  /// Completion tokens of all replies (reported or estimated).
  uint64_t completion_tokens = 0;
  /// Replies whose usage had to be estimated.
  uint64_t estimated_usage = 0;
  /// TCP (and TLS) connections opened.
  uint64_t connections_opened = 0;
  /// Requests sent over an already open keep-alive connection.
  uint64_t connections_reused = 0;
  /// Requests (chat and raw) on the wire right now.
  uint64_t in_flight = 0;
  /// Requests waiting for a free slot right now.
  uint64_t queued = 0;
  /// Highest number of requests ever on the wire at once.
  uint64_t peak_in_flight = 0;
  /// Requests the client lets on the wire now (`adaptive_limit`).
  uint32_t concurrency_limit = 0;
  /// The lowest that limit has been.
  uint32_t lowest_concurrency_limit = 0;
  /// Every change of the limit, oldest first.
  std::vector<limit_change> limit_history;
};

/// A plain HTTP response, for discovery requests (`/props`, `/tokenize`).
struct raw_response {
  /// The HTTP status code.
  int status = 0;
  /// The response headers.
  header_list headers;
  /// The response body.
  std::string body;
  /// Time from sending the request to the last byte, in microseconds.
  uint64_t latency_us = 0;
};

/// Receives the outcome of a raw request.
using raw_handler = std::function<void(expected<raw_response>)>;

/// The real `llm_client`: OpenAI chat completions over HTTP or HTTPS to one
/// endpoint (Boost.Beast, behind this Boost-free header).
///
/// Threading: the client owns no thread. It runs on an `io_runtime` shared
/// with the other clients of a pipeline, serialized by a strand of its own.
/// `chat`, `try_chat`, `request` and `schedule` may be called from any
/// thread; they hand the work over to the runtime, and every handler runs on
/// one of its threads (actors should only send themselves a message from
/// there). At most `max_concurrency` completion calls (the adaptive limit
/// below it) are on the wire at once; excess calls wait by priority, FIFO
/// within one. Plain requests (`request`: tokenize, discovery) take no
/// generation slot of the server and go out at once. The client makes one
/// attempt per call:
/// retries belong to `retrying_client`.
///
/// Cancellation: a call whose `chat_request::cancel` fires is dropped from
/// the queue or has its connection closed; its handler receives
/// `error_kind::cancelled` once. Deadline: an attempt ends at
/// `client_timeouts::total` or `chat_request::deadline`, whichever comes
/// first, even while reply bytes still arrive. Reply bytes count against the
/// runtime's budget (`io_runtime_options`).
///
/// Lifetime: destroying the client never blocks. Calls still in flight end
/// with `error_kind::cancelled`; their coroutines keep what they need alive.
class http_client final : public attempt_client {
public:
  /// Creates a client for `opts`. Fails with `error_kind::config` for a bad
  /// URL or an unreadable CA file.
  static expected<std::shared_ptr<http_client>>
  make(endpoint_options opts, client_timeouts timeouts = {});

  /// Creates a client for `opts` on `runtime` (shared with other clients).
  /// Fails with `error_kind::config` for a bad URL or an unreadable CA file.
  static expected<std::shared_ptr<http_client>>
  make(io_runtime_ptr runtime, endpoint_options opts,
       client_timeouts timeouts = {});

  /// Cancels pending calls (their handlers receive `error_kind::cancelled`)
  /// without waiting for them.
  ~http_client() override;

  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Makes one attempt; `attempt_info` says whether and when to retry.
  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not completed.
  size_t outstanding() const override;

  /// Returns the concurrency limit now in force (`adaptive_limit`).
  size_t capacity() const override;

  /// Returns whether the profile is one whose JSON-schema request shape is
  /// known (every profile but `generic`).
  bool supports_json_schema() const override;

  /// Sends a plain request, e.g. `request("GET", "/props", "", ...)`. The
  /// path is relative to the endpoint's base path. Does not wait for, or
  /// take, a slot of the concurrency limit: it is not a completion (its
  /// callers, the server tokenizer and discovery, are few and wait for
  /// their answers). Non-2xx statuses are not errors here.
  void request(std::string method, std::string path, std::string body,
               raw_handler done);

  /// Runs `fn` on the runtime after `delay`; when the runtime stops, `fn`
  /// runs at once.
  void schedule(std::chrono::milliseconds delay, std::function<void()> fn);

  /// Cancels every call of this client (handlers receive
  /// `error_kind::cancelled`, asynchronously); later calls fail the same
  /// way. Never blocks. Idempotent.
  void shutdown();

  /// Returns the runtime the client runs on.
  const io_runtime_ptr& runtime() const noexcept;

  /// Returns a snapshot of the counters.
  endpoint_stats stats() const;

  /// Returns the parsed endpoint URL.
  const endpoint_url& url() const noexcept;

  /// Returns the endpoint's name for logs: its URL without credentials.
  const std::string& name() const noexcept;

  /// Returns the configured profile.
  endpoint_profile profile() const noexcept;

  /// Returns the configured model.
  const std::string& model() const noexcept;

  /// Internal state, defined in http_client.cpp.
  struct impl;

private:
  explicit http_client(std::shared_ptr<impl> ptr);

  std::shared_ptr<impl> impl_;
};

} // namespace llmmr

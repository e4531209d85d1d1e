#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/sim/latency_model.hpp"
#include "llmmr/sim/reply_style.hpp"

#include "llmmr/sim/protocol.hpp"

namespace llmmr::sim {

/// Everything that configures one simulated OpenAI-compatible server.
struct sim_options {
  /// Address to bind; tests and the CLI default to loopback.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks any free port (see `sim_server::port`).
  uint16_t port = 0;
  /// The model name reported by `/v1/models` and in every completion.
  std::string model = "llmmr-sim";
  /// Prompts with more tokens than this get a 400 `context_length_exceeded`.
  uint32_t context_window = 8192;
  /// Number of concurrent generations; requests beyond wait in FIFO order.
  uint32_t slots = 4;
  /// The fixed part of the time to first token: how long a generation holds
  /// its slot before the first output token, prefill aside, in milliseconds.
  uint32_t ttft_ms = 0;
  /// Prefill cost: time to first token added per prompt token (counted as
  /// `prompt_tokens` counts them), in milliseconds.
  double prefill_ms_per_token = 0;
  /// Time per output token, in milliseconds.
  double per_token_ms = 0;
  /// When set, the server keeps a `call_record` of every completed
  /// generation (see `sim_server::calls`); off by default, since the log
  /// grows with every call.
  bool record_calls = false;
  /// Probability of each injected fault kind per chat request.
  fault_rates faults;
  /// Seed of the fault draw (one draw per chat request, in arrival order).
  uint64_t seed = 1;
  /// When set, chat requests naming a model other than `model` get a 404
  /// `model_not_found` (an empty model is accepted).
  bool strict_model = false;
  /// When set, requests without `Authorization: Bearer <key>` get a 401.
  std::string api_key;
  /// Certificate chain (PEM); together with `tls_key_file` enables HTTPS.
  std::string tls_cert_file;
  /// Private key (PEM); together with `tls_cert_file` enables HTTPS.
  std::string tls_key_file;
  /// What injected 429s ask for (`retry-after-ms` and `retry-after`).
  uint32_t retry_after_ms = 50;
  /// How long the `stall` fault keeps a connection silent before closing.
  uint32_t stall_ms = 60000;
  /// Interval of `: keep-alive` SSE comments while a stream waits for its
  /// slot or its first token.
  uint32_t keepalive_ms = 1000;
  /// Deliberate misbehaviour per kind of prompt (truncated, null, evidence
  /// only, schema rejected); normal everywhere by default.
  reply_styles replies;
  /// The JSON shape of every error body.
  error_shape shape = error_shape::openai;
  /// Idle time after which a keep-alive connection without a new request is
  /// closed, and the timeout of every read and write, in milliseconds.
  uint32_t io_timeout_ms = 30000;
  /// Pause between two small pieces of a `slow_drip` reply, in milliseconds.
  uint32_t drip_pause_ms = 2;

  /// Returns the latency model these options describe.
  latency_model latency() const noexcept {
    return {static_cast<double>(ttft_ms), prefill_ms_per_token, per_token_ms};
  }
};

/// One completed generation, as `sim_options::record_calls` logs it.
struct call_record {
  /// The request's `x-request-id` (`sim-<n>`).
  std::string request_id;
  /// Prompt tokens of the request (`prompt_tokens`).
  uint64_t prompt_tokens = 0;
  /// Output tokens sent.
  uint64_t completion_tokens = 0;
  /// How long the model held the slot: `latency_model::service_ms`.
  double service_ms = 0;
  /// When the request was ready for a slot (after parsing and validation).
  std::chrono::steady_clock::time_point queued;
  /// When it got its slot.
  std::chrono::steady_clock::time_point started;
  /// When its last token was due (the slot was released).
  std::chrono::steady_clock::time_point finished;
};

/// Counters of one server since it started. All fields are totals.
struct sim_stats {
  /// HTTP requests parsed (all endpoints).
  uint64_t requests = 0;
  /// Chat completions answered in full (plain or streamed).
  uint64_t completions = 0;
  /// Chat requests that received an injected fault.
  uint64_t faults_injected = 0;
  /// The largest number of generations that ever ran at the same time.
  uint64_t max_concurrent_generations = 0;
  /// Prompt tokens of the chat requests admitted to generation.
  uint64_t prompt_tokens = 0;
  /// Output tokens sent in completions (including truncated ones).
  uint64_t completion_tokens = 0;
  /// TCP connections accepted.
  uint64_t connections_accepted = 0;
  /// Chat requests rejected with a 4xx (bad JSON, context length, auth).
  uint64_t rejected = 0;
  /// Requests whose connection the client closed (or reset) before the
  /// reply was complete, e.g. a cancelled call.
  uint64_t client_aborts = 0;
  /// Injected faults by kind, indexed by `fault_kind`.
  std::array<uint64_t, fault_kind_count> faults_by_kind{};
};

/// A local OpenAI-compatible HTTP(S) server: a test double for llmmr's
/// backend client, benchmarks and the demo. It runs on its own io thread.
class sim_server {
public:
  /// Binds `opts.host:opts.port` and starts serving on a background thread.
  /// Fails with `error_kind::config` when TLS files cannot be loaded and
  /// `error_kind::unreachable` (naming host:port) when binding fails.
  static expected<std::unique_ptr<sim_server>> start(sim_options opts);

  sim_server(const sim_server&) = delete;
  sim_server& operator=(const sim_server&) = delete;

  /// Stops the server.
  ~sim_server();

  /// Returns the port the server listens on.
  uint16_t port() const noexcept;

  /// Returns the options the server runs with.
  const sim_options& options() const noexcept;

  /// Returns a snapshot of the counters; safe from any thread.
  sim_stats stats() const;

  /// Returns the completed generations logged so far, in completion order
  /// (empty unless `sim_options::record_calls`); safe from any thread.
  std::vector<call_record> calls() const;

  /// Returns the CPU time the server's io thread used so far, in seconds,
  /// so that a benchmark sharing the process can leave it out; negative
  /// when the platform cannot tell.
  double io_cpu_seconds() const;

  /// Closes the listener and every connection and joins the io thread.
  /// Idempotent.
  void stop();

  /// Implementation details (Boost lives only in sim_server.cpp).
  struct impl;

private:
  explicit sim_server(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace llmmr::sim

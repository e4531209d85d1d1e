#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/messages/expected.hpp"
#include <nlohmann/json_fwd.hpp>

#include "llmmr/core/pipeline_defaults.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/task_profile.hpp"

namespace llmmr {

/// TLS options of one endpoint.
struct tls_settings {
  /// Verify the server's certificate and host name. Turning this off is
  /// insecure; the client logs a warning when it does.
  bool verify = true;
  /// PEM file with extra trusted CA certificates; empty means the system's.
  std::string ca_file;

  friend bool operator==(const tls_settings&, const tls_settings&) = default;
};

/// One OpenAI-compatible server (or replica) the client may send requests to.
struct endpoint_settings {
  /// Base URL up to and including the API version, e.g.
  /// `https://api.openai.com/v1`.
  std::string url = "http://127.0.0.1:8000/v1";
  /// Model name sent with each request; empty lets the server choose.
  std::string model;
  /// The API key. After `load_settings` this holds the effective key, also
  /// when it came from `api_key_env` or `OPENAI_API_KEY`. Never print it.
  std::string api_key;
  /// Name of an environment variable holding the API key; used when
  /// `api_key` is empty.
  std::string api_key_env;
  /// Server dialect: "auto", "openai", "vllm", "llamacpp", "tgi" or
  /// "generic"; "auto" detects it.
  std::string profile = "auto";
  /// Maximum number of concurrent requests to this endpoint (its slot count).
  uint32_t max_concurrency = 0;
  /// The model's context window in tokens; 0 means discover it from the
  /// server.
  uint32_t context_window = 0;
  /// TLS options for `https` URLs.
  tls_settings tls;

  friend bool operator==(const endpoint_settings&, const endpoint_settings&)
    = default;
};

/// Timeouts and connection reuse of the HTTP client.
struct client_settings {
  /// Time allowed to resolve, connect and finish the TLS handshake.
  uint64_t connect_timeout_ms = 5000;
  /// Time allowed between sending a request and the first response byte.
  uint64_t first_byte_timeout_ms = 120000;
  /// Longest silence allowed between two stream events.
  uint64_t idle_timeout_ms = 30000;
  /// Time allowed for a whole call, from connect to the last byte.
  uint64_t total_timeout_ms = 300000;
  /// Request streamed (SSE) replies.
  bool stream = pipeline_defaults::stream;
  /// Keep-alive connections kept open per endpoint; 0 disables reuse.
  uint32_t max_idle_connections = 8;
  /// How long set-up waits for a server that answers 503 while it loads its
  /// model.
  uint64_t ready_timeout_ms = 60000;
  /// I/O threads shared by every endpoint client of a command.
  uint32_t io_threads = 1;
  /// Adapt each endpoint's requests in flight below its max_concurrency.
  bool adaptive_concurrency = true;

  friend bool operator==(const client_settings&, const client_settings&)
    = default;
};

/// The retry policy for transient endpoint failures.
struct retry_settings {
  /// Attempts per call, the first one included; 1 disables retries.
  uint32_t max_attempts = 5;
  /// Backoff before the first retry.
  uint64_t initial_backoff_ms = 500;
  /// Upper bound of a single backoff.
  uint64_t max_backoff_ms = 20000;
  /// Upper bound of the time spent on one call including all retries.
  uint64_t max_total_ms = 120000;
  /// Jitter applied to the exponential backoff: "full" or "none".
  std::string jitter = "full";
  /// Consecutive refused/5xx attempts that open the circuit breaker; 0
  /// disables it.
  uint32_t breaker_threshold = 5;
  /// Wait between two probes while the circuit is open.
  uint64_t probe_interval_ms = 1000;
  /// How long calls are held while the endpoint is down before they fail.
  uint64_t outage_limit_ms = 60000;

  friend bool operator==(const retry_settings&, const retry_settings&)
    = default;
};

/// How calls are spread over several endpoints.
struct routing_settings {
  /// Consecutive failures after which an endpoint is benched.
  uint32_t bench_after_failures = 3;
  /// How long a benched endpoint receives no requests.
  uint64_t bench_cooldown_ms = 30000;

  friend bool operator==(const routing_settings&, const routing_settings&)
    = default;
};

/// Defaults for the jobs a process runs (see `job_spec`).
struct job_settings {
  /// "mapreduce", "chain" or "direct" (see `llmmr::strategy`).
  std::string strategy = "mapreduce";
  /// The prompt family.
  task_profile task = task_profile::qa;
  /// Per-call token budget `L`.
  uint32_t budget = 4096;
  /// Reserved output tokens; 0 means the profile's default.
  uint32_t max_tokens = 0;
  /// Reserved output of the reduce call; 0 means `max_tokens` + 300.
  uint32_t reduce_max_tokens = 0;
  /// Fraction of chunks allowed to fail before the job fails.
  double max_failed_fraction = 0;
  /// Wall-clock limit of a job; 0 means none.
  uint64_t deadline_ms = 0;
  /// Start collapsing while later chunks are still being mapped.
  bool early_collapse = true;
  /// How often an unparsable output is asked for again.
  uint32_t reask_unparsable = 1;
  /// Sampling temperature sent with each request.
  double temperature = 0;
  /// Model name for the job; empty means each endpoint's `model`.
  std::string model;

  friend bool operator==(const job_settings&, const job_settings&) = default;
};

/// Windows and limits of the actor pipeline. The defaults are those of
/// `pipeline_options` (both come from core/pipeline_defaults.hpp).
struct pipeline_settings {
  /// Map requests in flight per mapper.
  uint32_t map_window = pipeline_defaults::map_window;
  /// Local mapper actors.
  uint32_t mappers = pipeline_defaults::mappers;
  /// Chunks the chunker may buffer ahead of the mappers.
  uint32_t chunk_window = pipeline_defaults::chunk_window;
  /// Collapse rounds before the termination fallback applies.
  uint32_t max_collapse_rounds = pipeline_defaults::max_collapse_rounds;
  /// Jobs running at the same time; later ones wait.
  uint32_t max_jobs = pipeline_defaults::max_jobs;
  /// Jobs that may wait for admission; a start beyond is refused.
  uint32_t max_queued_jobs = pipeline_defaults::max_queued_jobs;
  /// Collapse calls of one job in flight; 0 derives it from the map slots.
  uint32_t collapse_window = pipeline_defaults::collapse_window;
  /// How often a chunk the endpoint rejects as too long is split again.
  uint32_t max_resplits = pipeline_defaults::max_resplits;
  /// Finished jobs whose result (or error) stays available.
  uint32_t retain_results = pipeline_defaults::retain_results;
  /// MiB the retained results may take together.
  uint32_t retain_results_mb = pipeline_defaults::retain_results_mb;
  /// Limit of one chunk's map request, queueing included.
  uint64_t map_timeout_ms = pipeline_defaults::map_timeout_ms;
  /// Limit of one collapse or reduce call.
  uint64_t call_timeout_ms = pipeline_defaults::call_timeout_ms;

  friend bool operator==(const pipeline_settings&, const pipeline_settings&)
    = default;
};

/// How input documents are read.
struct input_settings {
  /// Replace invalid UTF-8 sequences (with a warning) instead of failing.
  bool replace_invalid_utf8 = pipeline_defaults::replace_invalid_utf8;

  friend bool operator==(const input_settings&, const input_settings&)
    = default;
};

/// Which tokenizer counts tokens for budgets.
struct tokenizer_settings {
  /// "auto", "approx", "hf", "tiktoken" or "server" (docs/chunking.md).
  std::string kind = "auto";
  /// A Hugging Face `tokenizer.json` or a tiktoken rank file.
  std::string file;
  /// The tiktoken encoding of `file` ("cl100k_base", "o200k_base"); empty
  /// means the one the file name names.
  std::string encoding;

  friend bool operator==(const tokenizer_settings&, const tokenizer_settings&)
    = default;
};

/// How the record protocol talks to the model.
struct protocol_settings {
  /// "auto", "json_schema" or "text" (see `llmmr::structured_output`).
  std::string structured_output = "auto";

  friend bool operator==(const protocol_settings&, const protocol_settings&)
    = default;
};

/// Where prompt templates come from.
struct prompts_settings {
  /// Directory with user templates that override the built-in ones; empty
  /// means the built-in templates only.
  std::string dir;

  friend bool operator==(const prompts_settings&, const prompts_settings&)
    = default;
};

/// Logging.
struct log_settings {
  /// Minimum level: "trace", "debug", "info", "warn", "error" or "off".
  std::string level = "info";
  /// Log file; empty means standard error.
  std::string file;

  friend bool operator==(const log_settings&, const log_settings&) = default;
};

/// Mutual TLS of the links between a coordinator and its worker nodes (CAF's
/// OpenSSL module). Either all of `certificate`, `key` and `ca_file` are set
/// or none; `load_settings` checks that the files can be read.
struct node_tls_settings {
  /// PEM file with this node's certificate (chain).
  std::string certificate;
  /// PEM file with the private key of `certificate`.
  std::string key;
  /// PEM file with the CA(s) a peer's certificate must chain to.
  std::string ca_file;
  /// Name of an environment variable holding the passphrase of `key`; empty
  /// means the key is not encrypted.
  std::string passphrase_env;
  /// The passphrase read from `passphrase_env` by `load_settings`; not a
  /// configuration key, never printed.
  std::string passphrase;

  /// Returns whether the links use TLS.
  bool enabled() const noexcept { return !certificate.empty(); }

  friend bool operator==(const node_tls_settings&, const node_tls_settings&)
    = default;
};

/// Remote mapper nodes (`llmmr worker`) and how they are used.
struct workers_settings {
  /// Worker nodes as "host:port" strings; empty means local mappers only.
  std::vector<std::string> nodes;
  /// Map requests in flight per worker node; 0 means its advertised
  /// capacity.
  uint32_t window = pipeline_defaults::worker_window;
  /// Timeout of one request to a worker.
  uint64_t request_timeout_ms = pipeline_defaults::worker_timeout_ms;
  /// Limit of connecting to one worker node when the pipeline starts.
  uint64_t connect_timeout_ms = pipeline_defaults::worker_connect_timeout_ms;
  /// Middleman heartbeat interval; 0 disables heartbeats.
  uint64_t heartbeat_interval_ms = pipeline_defaults::worker_heartbeat_ms;
  /// Drop a connection silent for this long; 0 disables (needs heartbeats).
  uint64_t connection_timeout_ms = pipeline_defaults::worker_silence_ms;
  /// Times a given-back chunk goes to another node before it fails.
  uint32_t max_requeues = pipeline_defaults::worker_max_requeues;
  /// Given-back chunks in a row that bench a node.
  uint32_t bench_after = pipeline_defaults::worker_bench_after;
  /// How long a bench lasts.
  uint64_t bench_ms = pipeline_defaults::worker_bench_ms;
  /// First wait before reconnecting a node that went down; 0 never does.
  uint64_t reconnect_backoff_ms
    = pipeline_defaults::worker_reconnect_backoff_ms;
  /// Longest wait between two reconnection attempts.
  uint64_t reconnect_max_ms = pipeline_defaults::worker_reconnect_max_ms;
  /// How long chunks wait for a node to come back when none is left.
  uint64_t rejoin_wait_ms = pipeline_defaults::worker_rejoin_wait_ms;
  /// TLS of the links to worker nodes; the same section configures
  /// `llmmr worker`'s side.
  node_tls_settings tls;

  friend bool operator==(const workers_settings&, const workers_settings&)
    = default;
};

/// What `llmmr worker` agrees to run for its callers: its own policy, not
/// the caller's.
struct worker_settings {
  /// Models the worker serves; empty means the models of its endpoints
  /// (`endpoints[].model`). A job that names no model is always served (its
  /// endpoints' own model).
  std::vector<std::string> models;
  /// Largest `max_tokens` of one call the worker makes for a caller.
  uint32_t max_tokens = 4096;

  friend bool operator==(const worker_settings&, const worker_settings&)
    = default;
};

/// Every setting of llmmr. Each member has its documented default, so a
/// default-constructed object is a valid configuration.
struct settings {
  /// The servers to call; at least one.
  std::vector<endpoint_settings> endpoints{endpoint_settings{}};
  /// HTTP client timeouts and connection reuse.
  client_settings client;
  /// Retry policy.
  retry_settings retry;
  /// Endpoint routing and benching.
  routing_settings routing;
  /// Job defaults.
  job_settings job;
  /// Pipeline windows and limits.
  pipeline_settings pipeline;
  /// Input handling.
  input_settings input;
  /// Token counting.
  tokenizer_settings tokenizer;
  /// Prompt templates.
  prompts_settings prompts;
  /// Record protocol.
  protocol_settings protocol;
  /// Logging.
  log_settings log;
  /// Remote worker nodes.
  workers_settings workers;
  /// The policy of this node when it runs as `llmmr worker`.
  worker_settings worker;

  /// Returns a job spec for `question` filled from the `job` section.
  job_spec to_job_spec(std::string question = {}) const;

  friend bool operator==(const settings&, const settings&) = default;
};

/// The layers `load_settings` combines, lowest first: built-in defaults <
/// JSON file < environment < command-line overrides.
struct settings_sources {
  /// JSON config path; empty means `LLMMR_CONFIG` if set, else no file.
  std::string file;
  /// Environment variables, normally from `current_environment()`.
  std::map<std::string, std::string> environment;
  /// Key path (e.g. "job.budget" or "endpoints[0].url") and value text, in
  /// the order given; later entries win.
  std::vector<std::pair<std::string, std::string>> overrides;
};

/// Describes one configuration key, for documentation and help output.
struct key_info {
  /// Key path, e.g. "job.budget"; endpoint keys read "endpoints[].url".
  std::string path;
  /// The value type in words, e.g. "integer >= 1".
  std::string type;
  /// The default value as JSON text.
  std::string default_value;
  /// The environment variable setting the key, e.g. "LLMMR_JOB_BUDGET"; for
  /// endpoint keys with `N` as the placeholder for the index.
  std::string env;
  /// One-line description.
  std::string help;
};

/// Builds the effective settings from `src`. Errors have kind
/// `error_kind::config` and name the origin (file, variable or "command
/// line"), the key path and the problem; they never contain an API key.
expected<settings> load_settings(const settings_sources& src);

/// Returns the process environment for `settings_sources::environment`.
/// The whole environment is returned because `api_key_env` may name any
/// variable; `load_settings` reads only `LLMMR_*`, `OPENAI_API_KEY`,
/// `OPENAI_BASE_URL` and the variables named by `api_key_env`.
std::map<std::string, std::string> current_environment();

/// Returns the effective configuration as JSON with every key; API keys read
/// "***" (when set) unless `redact_secrets` is false. The unredacted form
/// loads back into equal settings.
nlohmann::json to_json(const settings& s, bool redact_secrets = true);

/// Returns every valid key path, in documentation order; endpoint keys read
/// "endpoints[].url" and so on.
std::vector<std::string> known_keys();

/// Returns a description of every key, in the order of `known_keys()`.
std::vector<key_info> describe_keys();

/// Returns the environment variable for the key `path`, e.g.
/// "LLMMR_PIPELINE_MAP_WINDOW" for "pipeline.map_window" and
/// "LLMMR_ENDPOINTS_0_URL" for "endpoints[0].url".
std::string env_name(std::string_view path);

} // namespace llmmr

#pragma once

// Settings to a connected client stack: backend options, endpoint discovery
// and fitting a job's budget to the model's context window.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/messages/job_spec.hpp"

namespace llmmr::cli {

/// The backend options that `settings` describe, before any endpoint was
/// asked anything.
struct backend_options {
  /// One entry per configured endpoint; "auto" profiles read `generic`.
  std::vector<endpoint_options> endpoints;
  /// Parallel to `endpoints`: whether the profile is "auto" (detect it).
  std::vector<bool> detect_profile;
  /// HTTP timeouts and connection reuse.
  client_timeouts timeouts;
  /// The retry policy.
  retry_options retry;
  /// Routing over several endpoints.
  routing_options routing;
};

/// Maps the `endpoints`, `client`, `retry` and `routing` sections of `s` to
/// backend options. Fails with `error_kind::config` for an unknown profile
/// or jitter name.
expected<backend_options> to_backend_options(const settings& s);

/// A connected client stack.
/// Owns the I/O runtime of a command's clients and stops it (joining its
/// threads) when the command is done. Commands run on the main thread, never
/// on an actor's, so the join is allowed there.
class runtime_owner {
public:
  runtime_owner() = default;
  explicit runtime_owner(io_runtime_ptr runtime)
    : runtime_(std::move(runtime)) {
    // nop
  }
  runtime_owner(runtime_owner&& other) noexcept
    : runtime_(std::move(other.runtime_)) {
    // nop
  }
  runtime_owner& operator=(runtime_owner&& other) noexcept {
    if (this != &other) {
      stop();
      runtime_ = std::move(other.runtime_);
    }
    return *this;
  }
  ~runtime_owner() { stop(); }

  /// Returns the runtime (null when none was made).
  const io_runtime_ptr& get() const noexcept { return runtime_; }

  /// Stops the runtime now: calls still open end as `cancelled`.
  void stop() {
    if (runtime_) {
      runtime_->stop();
      runtime_.reset();
    }
  }

private:
  io_runtime_ptr runtime_;
};

struct backend {
  /// The one I/O runtime of every client below; declared first so that it
  /// is stopped after the clients are gone.
  runtime_owner runtime;
  /// The client every LLM call goes through (retries included).
  std::shared_ptr<llm_client> client;
  /// The per-endpoint clients below `client`, for their counters.
  std::vector<std::shared_ptr<http_client>> http_clients;
  /// The endpoints as used: detected profiles and context windows filled in.
  std::vector<endpoint_options> endpoints;
  /// The smallest context window of all endpoints, 0 when none is known.
  uint32_t context_window = 0;
};

/// Turns `s` into a client stack. Endpoints with profile "auto" are asked
/// which server they run (`detect_profile`) and endpoints without a
/// configured context window are asked for it. Fails with the endpoint's
/// error kind (`unreachable`, `tls`, `auth`, ...) when an endpoint cannot be
/// used and with `error_kind::config` for invalid options. API keys never
/// appear in an error.
expected<backend> connect_backend(const settings& s);

/// The counters of every endpoint of `be` for `--json` (`endpoints`): calls,
/// outcomes, tokens, the peak in flight and the concurrency limit over time.
nlohmann::json endpoints_json(const backend& be);

/// Prints one line per endpoint whose concurrency limit changed.
void print_limit_changes(FILE* out, const backend& be);

/// Lowers `spec.budget` to `context_window` when it is larger (and the
/// window is known). Returns a note for the user when it did, else nothing.
std::string fit_budget(job_spec& spec, uint32_t context_window);

} // namespace llmmr::cli

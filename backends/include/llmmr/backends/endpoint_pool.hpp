#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// The state of one endpoint of an `endpoint_pool`.
struct pool_member_status {
  /// The endpoint's name (URL).
  std::string name;
  /// Calls routed to it and not yet completed.
  size_t outstanding = 0;
  /// Transient failures in a row.
  uint32_t consecutive_failures = 0;
  /// Whether it is resting now.
  bool benched = false;
  /// How often it was benched.
  uint64_t times_benched = 0;
  /// Calls routed to it in total.
  uint64_t routed = 0;
};

/// A decorator spreading the calls for one model over several endpoints
/// (replicas). Each attempt goes to the endpoint with the fewest outstanding
/// calls among those not benched (ties: the one used least recently). An
/// endpoint with `bench_after_failures` consecutive transient failures is
/// benched for `bench_cooldown`; after its rest one more failure benches it
/// again. When all endpoints are benched, the one benched least recently is
/// tried. Thread-safe; handlers hold the pool's state, so destroying the
/// pool while calls are in flight is safe. A call whose
/// `chat_request::cancel` fires is cancelled by the endpoint that carries it.
class endpoint_pool final : public attempt_client {
public:
  /// The clock for cool-downs (for tests).
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// One endpoint of the pool.
  struct member {
    /// The client for this endpoint (usually an `http_client`).
    std::shared_ptr<llm_client> client;
    /// Its name for logs and `status`.
    std::string name;
  };

  /// Creates a pool over `members` (at least one).
  endpoint_pool(std::vector<member> members, routing_options opts,
                clock_fn clock = {});

  /// Releases the endpoints; pending calls end as cancelled.
  ~endpoint_pool() override;

  /// Routes one attempt and reports it with its facts.
  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not completed.
  size_t outstanding() const override;

  /// Returns the sum of the endpoints' capacities (0 when none is known).
  size_t capacity() const override;

  /// Returns whether every endpoint of the pool supports JSON-schema output.
  bool supports_json_schema() const override;

  /// Returns the state of every endpoint, in configuration order.
  std::vector<pool_member_status> status() const;

private:
  struct state;
  std::shared_ptr<state> st_;
};

} // namespace llmmr

#pragma once

#include <memory>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

class http_client;

/// Builds the client stack for one model on `runtime`: an `http_client` per
/// endpoint (all sharing the runtime's event loop and threads), an
/// `endpoint_pool` over them when there are several, a
/// `circuit_breaker_client` (unless `retry.breaker_threshold` is 0) and a
/// `retrying_client` on top, whose backoffs wait on the runtime. Fails with
/// `error_kind::config` for an empty list, a bad URL or an unreadable CA
/// file. When `http_clients` is not null it receives the `http_client`s (for
/// their counters). The stack never joins a thread; the runtime's owner
/// stops it (see `io_runtime`).
expected<std::shared_ptr<llm_client>>
make_client(io_runtime_ptr runtime,
            const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients = nullptr);

/// Like the above on a runtime of its own with one I/O thread, kept alive
/// by the clients; its thread is detached, not joined, when the last client
/// goes. Prefer passing a runtime you own and stop.
expected<std::shared_ptr<llm_client>>
make_client(const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients = nullptr);

} // namespace llmmr

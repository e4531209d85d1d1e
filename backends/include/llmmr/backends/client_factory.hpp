#pragma once

#include <memory>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

class http_client;

/// Builds the client stack for one model: an `http_client` per endpoint,
/// an `endpoint_pool` over them when there are several, and a
/// `retrying_client` on top. Fails with `error_kind::config` for an empty
/// list, a bad URL or an unreadable CA file. When `endpoints` is not null it
/// receives the `http_client`s (for their counters).
expected<std::shared_ptr<llm_client>>
make_client(const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients = nullptr);

} // namespace llmmr

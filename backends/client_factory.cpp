#include "llmmr/backends/client_factory.hpp"

#include <algorithm>

#include "llmmr/backends/circuit_breaker_client.hpp"
#include "llmmr/backends/endpoint_pool.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/retrying_client.hpp"

namespace llmmr {

expected<std::shared_ptr<llm_client>>
make_client(io_runtime_ptr runtime,
            const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients) {
  if (!runtime)
    return make_error(error_kind::usage, "make_client: no I/O runtime");
  if (endpoints.empty())
    return make_error(error_kind::config, "no endpoint configured");
  std::vector<std::shared_ptr<http_client>> clients;
  for (const auto& opts : endpoints) {
    auto client = http_client::make(runtime, opts, timeouts);
    if (!client)
      return std::move(client.error());
    clients.push_back(std::move(*client));
  }
  // Backoffs and probes wait on the runtime; when it stops they run at once
  // and find their calls cancelled.
  scheduler wait
    = [runtime](std::chrono::milliseconds delay, std::function<void()> fn) {
        runtime->schedule(delay, std::move(fn));
      };
  if (http_clients)
    *http_clients = clients;
  std::shared_ptr<llm_client> inner;
  if (clients.size() == 1) {
    inner = clients.front();
  } else {
    std::vector<endpoint_pool::member> members;
    for (auto& c : clients)
      members.push_back(endpoint_pool::member{c, c->name()});
    inner = std::make_shared<endpoint_pool>(std::move(members), routing);
  }
  clients.clear();
  if (retry.breaker_threshold > 0) {
    size_t window = 0;
    for (const auto& opts : endpoints)
      window += std::max<uint32_t>(opts.max_concurrency, 1);
    inner = std::make_shared<circuit_breaker_client>(
      std::move(inner), retry, wait, circuit_breaker_client::clock_fn{},
      window);
  }
  return std::shared_ptr<llm_client>{std::make_shared<retrying_client>(
    std::move(inner), retry, std::move(wait))};
}

expected<std::shared_ptr<llm_client>>
make_client(const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients) {
  return make_client(io_runtime::make(), endpoints, timeouts, retry, routing,
                     http_clients);
}

} // namespace llmmr

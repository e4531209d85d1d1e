#include "llmmr/backends/client_factory.hpp"

#include "llmmr/backends/endpoint_pool.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/retrying_client.hpp"

namespace llmmr {

expected<std::shared_ptr<llm_client>>
make_client(const std::vector<endpoint_options>& endpoints,
            const client_timeouts& timeouts, const retry_options& retry,
            const routing_options& routing,
            std::vector<std::shared_ptr<http_client>>* http_clients) {
  if (endpoints.empty())
    return make_error(error_kind::config, "no endpoint configured");
  std::vector<std::shared_ptr<http_client>> clients;
  for (const auto& opts : endpoints) {
    auto client = http_client::make(opts, timeouts);
    if (!client)
      return std::move(client.error());
    clients.push_back(std::move(*client));
  }
  // Retries wait on the first endpoint's I/O thread; a weak reference keeps
  // the scheduler from prolonging the client's life.
  std::weak_ptr<http_client> timer_owner = clients.front();
  scheduler wait
    = [timer_owner](std::chrono::milliseconds delay, std::function<void()> fn) {
        if (auto owner = timer_owner.lock())
          owner->schedule(delay, std::move(fn));
        else
          fn();
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
  return std::shared_ptr<llm_client>{std::make_shared<retrying_client>(
    std::move(inner), retry, std::move(wait))};
}

} // namespace llmmr

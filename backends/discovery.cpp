#include "llmmr/backends/discovery.hpp"

#include <future>

#include "llmmr/backends/profile.hpp"

namespace llmmr {

expected<raw_response> fetch(http_client& client, std::string method,
                             std::string path, std::string body) {
  std::promise<expected<raw_response>> result;
  auto fut = result.get_future();
  client.request(std::move(method), std::move(path), std::move(body),
                 [&result](expected<raw_response> res) {
                   result.set_value(std::move(res));
                 });
  return fut.get();
}

expected<endpoint_profile> detect_profile(http_client& client) {
  auto body_of = [](const expected<raw_response>& res) -> std::string {
    if (res && res->status == 200)
      return res->body;
    return {};
  };
  auto models = fetch(client, "GET", "/v1/models");
  auto props = fetch(client, "GET", "/props");
  auto info = fetch(client, "GET", "/info");
  if (!models && !props && !info)
    return std::move(models.error());
  return guess_profile(client.url().host, body_of(props), body_of(info),
                       body_of(models));
}

std::optional<uint64_t> discover_context_window(http_client& client,
                                                endpoint_profile profile) {
  auto path = context_window_path(profile);
  if (path.empty())
    return std::nullopt;
  auto res = fetch(client, "GET", path);
  if (!res || res->status != 200)
    return std::nullopt;
  return parse_context_window(res->body, client.model());
}

std::optional<uint64_t> remote_token_count(http_client& client,
                                           endpoint_profile profile,
                                           std::string_view text) {
  auto path = tokenize_path(profile);
  if (path.empty())
    return std::nullopt;
  auto res = fetch(client, "POST", path,
                   render_tokenize_body(profile, client.model(), text));
  if (!res || res->status != 200)
    return std::nullopt;
  return parse_tokenize_reply(res->body);
}

expected<chat_reply> chat_blocking(llm_client& client, chat_request req,
                                   delta_handler on_delta) {
  std::promise<expected<chat_reply>> result;
  auto fut = result.get_future();
  client.chat(
    std::move(req),
    [&result](expected<chat_reply> res) { result.set_value(std::move(res)); },
    std::move(on_delta));
  return fut.get();
}

} // namespace llmmr

// Maps settings to backend options and connects to the endpoints.

#include "llmmr/tools/backend_setup.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "llmmr/backends/client_factory.hpp"
#include "llmmr/backends/discovery.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

namespace {

std::chrono::milliseconds ms(uint64_t x) {
  return std::chrono::milliseconds{static_cast<int64_t>(x)};
}

error with_endpoint(const error& err, const std::string& url) {
  auto text = describe(err);
  // describe() reads "kind: text"; keep only the text.
  if (auto pos = text.find(": "); pos != std::string::npos)
    text = text.substr(pos + 2);
  return make_error(kind_of(err), "endpoint " + url + ": " + text);
}

} // namespace

expected<backend_options> to_backend_options(const settings& s) {
  backend_options out;
  for (size_t i = 0; i < s.endpoints.size(); ++i) {
    const auto& ep = s.endpoints[i];
    endpoint_options opts;
    opts.url = ep.url;
    opts.model = !ep.model.empty() ? ep.model : s.job.model;
    opts.api_key = ep.api_key;
    opts.max_concurrency = ep.max_concurrency;
    opts.adaptive_concurrency = s.client.adaptive_concurrency;
    opts.verify_tls = ep.tls.verify;
    opts.ca_file = ep.tls.ca_file;
    opts.context_window = ep.context_window;
    bool detect = ep.profile == "auto";
    if (!detect && !from_string(ep.profile, opts.profile))
      return make_error(error_kind::config, "endpoints[" + std::to_string(i)
                                              + "].profile: unknown "
                                              + "profile '" + ep.profile + "'");
    out.endpoints.push_back(std::move(opts));
    out.detect_profile.push_back(detect);
  }
  out.timeouts.connect = ms(s.client.connect_timeout_ms);
  out.timeouts.first_byte = ms(s.client.first_byte_timeout_ms);
  out.timeouts.idle = ms(s.client.idle_timeout_ms);
  out.timeouts.total = ms(s.client.total_timeout_ms);
  out.timeouts.max_idle_connections = s.client.max_idle_connections;
  out.retry.max_attempts = s.retry.max_attempts;
  out.retry.initial_backoff = ms(s.retry.initial_backoff_ms);
  out.retry.max_backoff = ms(s.retry.max_backoff_ms);
  out.retry.max_total = ms(s.retry.max_total_ms);
  out.retry.breaker_threshold = s.retry.breaker_threshold;
  out.retry.probe_interval = ms(s.retry.probe_interval_ms);
  out.retry.outage_limit = ms(s.retry.outage_limit_ms);
  if (s.retry.jitter == "full")
    out.retry.jitter = jitter_mode::full;
  else if (s.retry.jitter == "none")
    out.retry.jitter = jitter_mode::none;
  else
    return make_error(error_kind::config,
                      "retry.jitter: unknown mode '" + s.retry.jitter + "'");
  out.routing.bench_after_failures = s.routing.bench_after_failures;
  out.routing.bench_cooldown = ms(s.routing.bench_cooldown_ms);
  return out;
}

namespace {

/// The ids in a `/v1/models` listing.
std::vector<std::string> model_ids(const std::string& body) {
  std::vector<std::string> out;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
    return out;
  for (const auto& m : doc["data"])
    if (m.is_object() && m.contains("id") && m["id"].is_string())
      out.push_back(m["id"].get<std::string>());
  return out;
}

/// llama.cpp's `/props` `total_slots`.
std::optional<uint64_t> discover_slots(http_client& client) {
  auto res = fetch(client, "GET", "/props");
  if (!res || res->status != 200)
    return std::nullopt;
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (doc.is_object() && doc.contains("total_slots")
      && doc["total_slots"].is_number_unsigned()
      && doc["total_slots"].get<uint64_t>() > 0)
    return doc["total_slots"].get<uint64_t>();
  return std::nullopt;
}

/// Asks `/v1/models` until the server stops answering `503` (llama.cpp says
/// "Loading model" while it starts), for at most `limit_ms`.
expected<raw_response> wait_until_loaded(http_client& client,
                                         uint64_t limit_ms) {
  auto deadline
    = std::chrono::steady_clock::now() + std::chrono::milliseconds{limit_ms};
  for (;;) {
    auto res = fetch(client, "GET", "/v1/models");
    if (!res || res->status != 503
        || std::chrono::steady_clock::now() >= deadline)
      return res;
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
}

} // namespace

expected<backend> connect_backend(const settings& s) {
  auto opts = to_backend_options(s);
  if (!opts)
    return std::move(opts.error());
  backend out;
  io_runtime_options rt_opts;
  rt_opts.threads = s.client.io_threads;
  out.runtime = runtime_owner{io_runtime::make(rt_opts)};
  // Set-up requests should not hang for the long per-call limits.
  auto probe_timeouts = opts->timeouts;
  probe_timeouts.total
    = std::min(probe_timeouts.total, std::chrono::milliseconds{30'000});
  probe_timeouts.first_byte
    = std::min(probe_timeouts.first_byte, probe_timeouts.total);
  probe_timeouts.idle = std::min(probe_timeouts.idle, probe_timeouts.total);
  probe_timeouts.connect
    = std::min(probe_timeouts.connect, probe_timeouts.total);
  for (size_t i = 0; i < opts->endpoints.size(); ++i) {
    auto& ep = opts->endpoints[i];
    bool detect = opts->detect_profile[i];
    bool want_slots = ep.max_concurrency == 0;
    if (!detect && ep.context_window != 0 && !ep.model.empty() && !want_slots)
      continue;
    auto probe_opts = ep;
    if (probe_opts.max_concurrency == 0)
      probe_opts.max_concurrency = 1;
    auto probe
      = http_client::make(out.runtime.get(), probe_opts, probe_timeouts);
    if (!probe)
      return std::move(probe.error());
    auto name = (*probe)->name();
    auto models = wait_until_loaded(**probe, s.client.ready_timeout_ms);
    if (!models)
      return with_endpoint(models.error(), name);
    if (models->status == 401 || models->status == 403)
      return make_error(error_kind::auth,
                        "endpoint " + name + " refused the credentials (HTTP "
                          + std::to_string(models->status) + ")");
    if (detect) {
      auto profile = detect_profile(**probe);
      if (!profile)
        return with_endpoint(profile.error(), name);
      ep.profile = *profile;
    }
    if (ep.context_window == 0) {
      if (auto window = discover_context_window(**probe, ep.profile))
        ep.context_window
          = static_cast<uint32_t>(std::min<uint64_t>(*window, UINT32_MAX));
    }
    if (ep.model.empty() && models->status == 200) {
      // No model configured: the server's only model, or a clear error.
      auto ids = model_ids(models->body);
      if (ids.size() > 1) {
        std::string list;
        for (const auto& id : ids)
          list += (list.empty() ? "" : ", ") + id;
        return make_error(error_kind::config,
                          "endpoint " + name + " serves "
                            + std::to_string(ids.size()) + " models (" + list
                            + "): choose one with --model or job.model");
      }
      if (ids.size() == 1)
        ep.model = ids.front();
    }
    if (want_slots) {
      auto slots = ep.profile == endpoint_profile::llamacpp
                     ? discover_slots(**probe)
                     : std::nullopt;
      ep.max_concurrency = slots ? static_cast<uint32_t>(*slots) : 8;
    }
    logger()->debug("endpoint {}: profile {}, model '{}', context window {}, "
                    "max_concurrency {}",
                    name, to_string(ep.profile), ep.model, ep.context_window,
                    ep.max_concurrency);
  }
  for (const auto& ep : opts->endpoints)
    if (ep.context_window != 0
        && (out.context_window == 0 || ep.context_window < out.context_window))
      out.context_window = ep.context_window;
  auto client = make_client(out.runtime.get(), opts->endpoints, opts->timeouts,
                            opts->retry, opts->routing, &out.http_clients);
  if (!client)
    return std::move(client.error());
  out.client = std::move(*client);
  out.endpoints = std::move(opts->endpoints);
  return out;
}

std::string fit_budget(job_spec& spec, uint32_t context_window) {
  if (context_window == 0 || spec.budget <= context_window)
    return {};
  auto note = "job.budget " + std::to_string(spec.budget)
              + " exceeds the model's context window; using "
              + std::to_string(context_window);
  spec.budget = context_window;
  return note;
}

nlohmann::json endpoints_json(const backend& be) {
  auto out = nlohmann::json::array();
  for (const auto& c : be.http_clients) {
    auto st = c->stats();
    auto changes = nlohmann::json::array();
    for (const auto& ch : st.limit_history)
      changes.push_back(
        {{"at_ms", ch.at.count()}, {"limit", ch.limit}, {"reason", ch.reason}});
    out.push_back({
      {"endpoint", c->name()},
      {"calls", st.calls},
      {"succeeded", st.succeeded},
      {"failed", st.failed},
      {"prompt_tokens", st.prompt_tokens},
      {"completion_tokens", st.completion_tokens},
      {"peak_in_flight", st.peak_in_flight},
      {"concurrency_limit", st.concurrency_limit},
      {"lowest_concurrency_limit", st.lowest_concurrency_limit},
      {"limit_changes", std::move(changes)},
    });
  }
  return out;
}

void print_limit_changes(FILE* out, const backend& be) {
  for (const auto& c : be.http_clients) {
    auto st = c->stats();
    if (st.limit_history.size() < 2)
      continue;
    std::fprintf(out,
                 "llmmr: endpoint %s: concurrency limit %u at the start, "
                 "%u at the lowest, %u now (%zu changes)\n",
                 c->name().c_str(), st.limit_history.front().limit,
                 st.lowest_concurrency_limit, st.concurrency_limit,
                 st.limit_history.size() - 1);
  }
}

} // namespace llmmr::cli

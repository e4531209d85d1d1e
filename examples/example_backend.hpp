// What both examples need before their own logic starts: an endpoint (a URL
// from the command line, or the simulator in this process on loopback), a
// client for it and a pipeline on that client. Each step prints why it
// failed on stderr.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/client_factory.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error.hpp"
#include "llmmr/sim/sim_server.hpp"

namespace example {

/// The endpoint an example talks to.
struct backend {
  /// The simulator when no URL was given; it serves as long as this lives.
  std::unique_ptr<llmmr::sim::sim_server> sim;
  /// A client for the endpoint, `max_concurrency` calls at a time.
  std::shared_ptr<llmmr::llm_client> client;
};

/// Connects to `argv[1]` when given, else starts the simulator with
/// `sim_opts`. Returns nothing after printing the reason on stderr.
inline std::optional<backend> open_backend(int argc, char** argv,
                                           llmmr::sim::sim_options sim_opts,
                                           uint32_t max_concurrency) {
  backend out;
  llmmr::endpoint_options ep;
  if (argc > 1) {
    ep.url = argv[1];
  } else {
    auto server = llmmr::sim::sim_server::start(sim_opts);
    if (!server) {
      std::fprintf(stderr, "cannot start the simulator: %s\n",
                   llmmr::describe(server.error()).c_str());
      return std::nullopt;
    }
    out.sim = std::move(*server);
    ep.url = "http://127.0.0.1:" + std::to_string(out.sim->port()) + "/v1";
  }
  ep.max_concurrency = max_concurrency;
  auto client = llmmr::make_client({ep}, {}, {}, {});
  if (!client) {
    std::fprintf(stderr, "cannot create the client: %s\n",
                 llmmr::describe(client.error()).c_str());
    return std::nullopt;
  }
  out.client = std::move(*client);
  return out;
}

/// Spawns a pipeline on `client` that counts tokens approximately. Returns
/// nothing after printing the reason on stderr.
inline std::optional<llmmr::pipeline_handle>
open_pipeline(caf::actor_system& sys, const llmmr::pipeline_options& opts,
              std::shared_ptr<llmmr::llm_client> client) {
  auto pipeline = llmmr::spawn_pipeline(
    sys, opts, std::move(client), std::make_shared<llmmr::approx_tokenizer>());
  if (!pipeline) {
    std::fprintf(stderr, "cannot spawn the pipeline: %s\n",
                 llmmr::describe(pipeline.error()).c_str());
    return std::nullopt;
  }
  return *pipeline;
}

} // namespace example

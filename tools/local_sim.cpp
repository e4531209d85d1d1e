#include "llmmr/tools/local_sim.hpp"

namespace llmmr::cli {

expected<local_sim> start_local_sim(uint64_t seed, double fault_rate) {
  sim::sim_options opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.slots = 16;
  opts.seed = seed;
  opts.faults = sim::fault_rates::uniform(fault_rate);
  opts.stall_ms = 300;
  opts.retry_after_ms = 20;
  auto server = sim::sim_server::start(opts);
  if (!server)
    return server.error();
  local_sim out;
  out.url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/v1";
  out.server = std::move(*server);
  out.overrides = {
    {"endpoints[0].url", out.url},
    {"endpoints[0].max_concurrency", "16"},
    {"pipeline.mappers", "4"},
    {"pipeline.map_window", "8"},
    {"pipeline.chunk_window", "32"},
    {"retry.max_attempts", "10"},
    {"retry.initial_backoff_ms", "10"},
    {"retry.max_backoff_ms", "200"},
    {"client.first_byte_timeout_ms", "10000"},
    {"client.idle_timeout_ms", "10000"},
    {"client.total_timeout_ms", "30000"},
    {"log.level", "error"},
  };
  return out;
}

} // namespace llmmr::cli

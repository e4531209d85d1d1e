// Maps settings to pipeline options and middleman parameters.

#include "llmmr/tools/pipeline_settings.hpp"
#include "llmmr/actors/node_tls.hpp"

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/timespan.hpp>

namespace llmmr::cli {

pipeline_options to_pipeline_options(const settings& s) {
  pipeline_options out;
  out.mappers = s.pipeline.mappers;
  out.map_window = s.pipeline.map_window;
  out.chunk_window = s.pipeline.chunk_window;
  out.max_collapse_rounds = s.pipeline.max_collapse_rounds;
  out.max_jobs = s.pipeline.max_jobs;
  out.max_queued_jobs = s.pipeline.max_queued_jobs;
  out.collapse_window = s.pipeline.collapse_window;
  out.max_resplits = s.pipeline.max_resplits;
  out.retain_results = s.pipeline.retain_results;
  out.retain_results_bytes = size_t{s.pipeline.retain_results_mb} * 1024 * 1024;
  out.map_timeout = std::chrono::milliseconds{s.pipeline.map_timeout_ms};
  out.call_timeout = std::chrono::milliseconds{s.pipeline.call_timeout_ms};
  out.replace_invalid_utf8 = s.input.replace_invalid_utf8;
  out.prompts_dir = s.prompts.dir;
  out.stream = s.client.stream;
  out.workers = s.workers.nodes;
  out.worker_window = s.workers.window;
  out.worker_timeout = std::chrono::milliseconds{s.workers.request_timeout_ms};
  out.worker_max_requeues = s.workers.max_requeues;
  out.worker_bench_after = s.workers.bench_after;
  out.worker_bench = std::chrono::milliseconds{s.workers.bench_ms};
  out.worker_reconnect_backoff
    = std::chrono::milliseconds{s.workers.reconnect_backoff_ms};
  out.worker_reconnect_max
    = std::chrono::milliseconds{s.workers.reconnect_max_ms};
  out.worker_rejoin_wait = std::chrono::milliseconds{s.workers.rejoin_wait_ms};
  out.worker_connect_timeout
    = std::chrono::milliseconds{s.workers.connect_timeout_ms};
  return out;
}

error configure_middleman(caf::actor_system_config& cfg, const settings& s,
                          bool always) {
  if (!always && s.workers.nodes.empty())
    return {};
  cfg.load<caf::io::middleman>();
  auto ms
    = [](uint64_t x) { return caf::timespan{std::chrono::milliseconds{x}}; };
  if (s.workers.heartbeat_interval_ms != 0)
    cfg.set("middleman.heartbeat-interval",
            ms(s.workers.heartbeat_interval_ms));
  if (s.workers.connection_timeout_ms != 0)
    cfg.set("middleman.connection-timeout",
            ms(s.workers.connection_timeout_ms));
  return configure_node_tls(cfg, s.workers.tls);
}

} // namespace llmmr::cli

#pragma once

// The one table of pipeline defaults. `pipeline_options` (actors/pipeline.hpp)
// initialises its members from it and the configuration schema
// (config/settings.hpp) takes its defaults from it, so a library user and the
// command line start from the same values. docs/config.md is tested against
// the configuration, and therefore against this table.

#include <cstdint>

namespace llmmr::pipeline_defaults {

/// Local mapper actors in the shared pool (`pipeline.mappers`).
inline constexpr uint32_t mappers = 1;

/// Map requests in flight per mapper (`pipeline.map_window`).
inline constexpr uint32_t map_window = 16;

/// Chunks per job that may wait for a mapper before input acks are held back
/// (`pipeline.chunk_window`).
inline constexpr uint32_t chunk_window = 8;

/// Collapse rounds before the termination fallback applies
/// (`pipeline.max_collapse_rounds`).
inline constexpr uint32_t max_collapse_rounds = 32;

/// Jobs running at the same time (`pipeline.max_jobs`).
inline constexpr uint32_t max_jobs = 8;
/// Jobs waiting for admission beyond `max_jobs` (`pipeline.max_queued_jobs`).
inline constexpr uint32_t max_queued_jobs = 64;

/// Collapse calls of one job in flight; 0 derives it from the map slots
/// (`pipeline.collapse_window`).
inline constexpr uint32_t collapse_window = 0;

/// How often a chunk the endpoint rejects as too long is split again
/// (`pipeline.max_resplits`).
inline constexpr uint32_t max_resplits = 2;

/// Finished jobs whose result stays available (`pipeline.retain_results`).
inline constexpr uint32_t retain_results = 64;

/// Bytes the retained results may take together, in MiB
/// (`pipeline.retain_results_mb`); the oldest go first, the newest always
/// stays.
inline constexpr uint32_t retain_results_mb = 64;

/// Limit of one chunk's map request, queueing included, in milliseconds
/// (`pipeline.map_timeout_ms`).
inline constexpr uint64_t map_timeout_ms = 30 * 60 * 1000;

/// Limit of one collapse or reduce call, in milliseconds
/// (`pipeline.call_timeout_ms`).
inline constexpr uint64_t call_timeout_ms = 10 * 60 * 1000;

/// Request streamed replies (`client.stream`).
inline constexpr bool stream = false;

/// Replace ill-formed UTF-8 instead of failing (`input.replace_invalid_utf8`).
inline constexpr bool replace_invalid_utf8 = false;

/// Map requests in flight per worker node (`workers.window`); 0 means the
/// capacity each node advertises (its map credit).
inline constexpr uint32_t worker_window = 0;

/// Limit of one map request to a worker node, in milliseconds
/// (`workers.request_timeout_ms`).
inline constexpr uint64_t worker_timeout_ms = 5 * 60 * 1000;

/// Limit of connecting to one worker node, in milliseconds
/// (`workers.connect_timeout_ms`).
inline constexpr uint64_t worker_connect_timeout_ms = 10 * 1000;

/// How often a chunk a worker node gives back (a failure that is not the
/// chunk's own) goes to another node before it counts as failed
/// (`workers.max_requeues`).
inline constexpr uint32_t worker_max_requeues = 2;

/// Given-back chunks in a row after which a worker node is benched
/// (`workers.bench_after`).
inline constexpr uint32_t worker_bench_after = 3;

/// How long a benched worker node gets no chunk while others can take them,
/// in milliseconds (`workers.bench_ms`).
inline constexpr uint64_t worker_bench_ms = 30 * 1000;

/// First wait before reconnecting to a worker node that went down, in
/// milliseconds; it doubles with each failed attempt
/// (`workers.reconnect_backoff_ms`, 0 never reconnects).
inline constexpr uint64_t worker_reconnect_backoff_ms = 250;

/// Longest wait between two reconnection attempts, in milliseconds
/// (`workers.reconnect_max_ms`).
inline constexpr uint64_t worker_reconnect_max_ms = 5 * 1000;

/// How long chunks wait for a worker node to come back when no mapper is
/// left, in milliseconds (`workers.rejoin_wait_ms`).
inline constexpr uint64_t worker_rejoin_wait_ms = 15 * 1000;

/// Middleman heartbeat interval towards and from worker nodes, in
/// milliseconds (`workers.heartbeat_interval_ms`).
inline constexpr uint64_t worker_heartbeat_ms = 1000;

/// Silence after which a worker connection counts as lost, in milliseconds
/// (`workers.connection_timeout_ms`).
inline constexpr uint64_t worker_silence_ms = 5000;

} // namespace llmmr::pipeline_defaults

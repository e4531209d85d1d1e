// Checks that the library and the configuration start from the same
// defaults (core/pipeline_defaults.hpp) and that every pipeline option has a
// configuration key.

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "config_test_util.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/tools/pipeline_settings.hpp"

using namespace llmmr;
using llmmr::testing::message_of;

namespace {

/// Compares every member of two option sets, naming the first that differs.
void check_equal(const pipeline_options& x, const pipeline_options& y) {
  CHECK(x.mappers == y.mappers);
  CHECK(x.map_window == y.map_window);
  CHECK(x.chunk_window == y.chunk_window);
  CHECK(x.max_collapse_rounds == y.max_collapse_rounds);
  CHECK(x.max_jobs == y.max_jobs);
  CHECK(x.max_queued_jobs == y.max_queued_jobs);
  CHECK(x.collapse_window == y.collapse_window);
  CHECK(x.max_resplits == y.max_resplits);
  CHECK(x.retain_results == y.retain_results);
  CHECK(x.retain_results_bytes == y.retain_results_bytes);
  CHECK(x.stream == y.stream);
  CHECK(x.replace_invalid_utf8 == y.replace_invalid_utf8);
  CHECK(x.prompts_dir == y.prompts_dir);
  CHECK(x.map_timeout == y.map_timeout);
  CHECK(x.call_timeout == y.call_timeout);
  CHECK(x.workers == y.workers);
  CHECK(x.worker_window == y.worker_window);
  CHECK(x.worker_timeout == y.worker_timeout);
  CHECK(x.worker_max_requeues == y.worker_max_requeues);
  CHECK(x.worker_bench_after == y.worker_bench_after);
  CHECK(x.worker_bench == y.worker_bench);
  CHECK(x.worker_reconnect_backoff == y.worker_reconnect_backoff);
  CHECK(x.worker_reconnect_max == y.worker_reconnect_max);
  CHECK(x.worker_rejoin_wait == y.worker_rejoin_wait);
  CHECK(x.worker_connect_timeout == y.worker_connect_timeout);
}

pipeline_options
options_from(std::vector<std::pair<std::string, std::string>> overrides) {
  settings_sources src;
  src.overrides = std::move(overrides);
  auto s = load_settings(src);
  REQUIRE_MESSAGE(s, message_of(s.error()));
  return cli::to_pipeline_options(*s);
}

} // namespace

TEST_SUITE("config") {

  TEST_CASE("a default pipeline_options equals an empty configuration's") {
    check_equal(pipeline_options{}, options_from({}));
    check_equal(pipeline_options{}, cli::to_pipeline_options(settings{}));
  }

  TEST_CASE("every pipeline option is reachable from a configuration key") {
    using std::chrono::milliseconds;
    pipeline_options defaults;
    auto opts = options_from({
      {"pipeline.mappers", "3"},
      {"pipeline.map_window", "5"},
      {"pipeline.chunk_window", "6"},
      {"pipeline.max_collapse_rounds", "7"},
      {"pipeline.max_jobs", "9"},
      {"pipeline.max_queued_jobs", "5"},
      {"pipeline.collapse_window", "11"},
      {"pipeline.max_resplits", "4"},
      {"pipeline.retain_results", "13"},
      {"pipeline.retain_results_mb", "3"},
      {"pipeline.map_timeout_ms", "1234"},
      {"pipeline.call_timeout_ms", "2345"},
      {"client.stream", "true"},
      {"input.replace_invalid_utf8", "true"},
      {"prompts.dir", "/nonexistent/prompts"},
      {"workers.nodes", "127.0.0.1:4242"},
      {"workers.window", "17"},
      {"workers.request_timeout_ms", "3456"},
      {"workers.connect_timeout_ms", "4567"},
      {"workers.max_requeues", "5"},
      {"workers.bench_after", "6"},
      {"workers.bench_ms", "7890"},
      {"workers.reconnect_backoff_ms", "111"},
      {"workers.reconnect_max_ms", "2222"},
      {"workers.rejoin_wait_ms", "3333"},
    });
    pipeline_options expected;
    expected.mappers = 3;
    expected.map_window = 5;
    expected.chunk_window = 6;
    expected.max_collapse_rounds = 7;
    expected.max_jobs = 9;
    expected.max_queued_jobs = 5;
    expected.collapse_window = 11;
    expected.max_resplits = 4;
    expected.retain_results = 13;
    expected.retain_results_bytes = 3 * 1024 * 1024;
    expected.map_timeout = milliseconds{1234};
    expected.call_timeout = milliseconds{2345};
    expected.stream = true;
    expected.replace_invalid_utf8 = true;
    expected.prompts_dir = "/nonexistent/prompts";
    expected.workers = {"127.0.0.1:4242"};
    expected.worker_window = 17;
    expected.worker_timeout = milliseconds{3456};
    expected.worker_connect_timeout = milliseconds{4567};
    expected.worker_max_requeues = 5;
    expected.worker_bench_after = 6;
    expected.worker_bench = milliseconds{7890};
    expected.worker_reconnect_backoff = milliseconds{111};
    expected.worker_reconnect_max = milliseconds{2222};
    expected.worker_rejoin_wait = milliseconds{3333};
    check_equal(opts, expected);
    // Each value above differs from its default, so each key reached its
    // option rather than leaving the default in place.
    CHECK(expected.mappers != defaults.mappers);
    CHECK(expected.collapse_window != defaults.collapse_window);
    CHECK(expected.max_resplits != defaults.max_resplits);
    CHECK(expected.retain_results != defaults.retain_results);
    CHECK(expected.map_timeout != defaults.map_timeout);
    CHECK(expected.call_timeout != defaults.call_timeout);
    CHECK(expected.worker_connect_timeout != defaults.worker_connect_timeout);
  }

  TEST_CASE("the new pipeline keys come from the environment too") {
    settings_sources src;
    src.environment["LLMMR_PIPELINE_COLLAPSE_WINDOW"] = "3";
    src.environment["LLMMR_PIPELINE_MAX_RESPLITS"] = "0";
    src.environment["LLMMR_PIPELINE_RETAIN_RESULTS"] = "2";
    src.environment["LLMMR_PIPELINE_MAP_TIMEOUT_MS"] = "100";
    src.environment["LLMMR_PIPELINE_CALL_TIMEOUT_MS"] = "200";
    src.environment["LLMMR_WORKERS_CONNECT_TIMEOUT_MS"] = "300";
    auto s = load_settings(src);
    REQUIRE_MESSAGE(s, message_of(s.error()));
    CHECK(s->pipeline.collapse_window == 3);
    CHECK(s->pipeline.max_resplits == 0);
    CHECK(s->pipeline.retain_results == 2);
    CHECK(s->pipeline.map_timeout_ms == 100);
    CHECK(s->pipeline.call_timeout_ms == 200);
    CHECK(s->workers.connect_timeout_ms == 300);
    src.environment["LLMMR_PIPELINE_RETAIN_RESULTS"] = "0";
    auto bad = load_settings(src);
    REQUIRE(!bad);
    CHECK(message_of(bad.error()).find("pipeline.retain_results")
          != std::string::npos);
  }

} // TEST_SUITE("config")

// `llmmr demo`: a needle-in-a-haystack run through the whole pipeline
// against the simulator, started in this process on loopback.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <spdlog/spdlog.h>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/haystack.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/local_sim.hpp"

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr option_spec demo_options[] = {
  {"tokens", true, "N  haystack length in tokens (default 1000000)"},
  {"depth", true, "F  needle depth from 0 to 1 (default: drawn from the seed)"},
  {"seed", true, "N  seed of the text, needle and depth (default: random)"},
  {"fault-rate", true, "X  fraction of simulator replies that fail (0..1)"},
  {"set", true, "KEY=VALUE  override a configuration key"},
  {"json", false, "print the report as one JSON object"},
  job_option::quiet,
};

constexpr std::string_view synopsis
  = "[--tokens N] [--depth F] [--seed N] [--fault-rate X] [--json]";

uint64_t micros_since(clock_type::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - t0)
      .count());
}

std::string lower_trimmed(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int run_demo(arg_list raw) {
  auto parsed = parse_command_args("demo", raw, demo_options, synopsis);
  if (!parsed.args)
    return parsed.exit_code;
  auto& args = parsed.args;
  auto tokens = args->get_uint("tokens");
  auto seed_arg = args->get_uint("seed");
  auto depth_arg = args->get_double("depth");
  auto fault_arg = args->get_double("fault-rate");
  for (const error* err : {tokens ? nullptr : &tokens.error(),
                           seed_arg ? nullptr : &seed_arg.error(),
                           depth_arg ? nullptr : &depth_arg.error(),
                           fault_arg ? nullptr : &fault_arg.error()})
    if (err != nullptr) {
      print_error("demo", *err);
      return exit_usage;
    }
  haystack_options hay;
  hay.tokens = tokens->value_or(1'000'000);
  if (hay.tokens == 0)
    return usage_failure("demo", "--tokens must be at least 1");
  hay.seed = seed_arg->value_or(std::random_device{}() % 1'000'000);
  if (*depth_arg) {
    if (**depth_arg < 0 || **depth_arg > 1)
      return usage_failure("demo", "--depth must be between 0 and 1");
    hay.depth = **depth_arg;
  } else {
    std::mt19937_64 rng{hay.seed};
    hay.depth = static_cast<double>(rng() % 10'000) / 10'000.0;
  }
  double fault_rate = fault_arg->value_or(0.0);
  if (fault_rate < 0 || fault_rate > 1)
    return usage_failure("demo", "--fault-rate must be between 0 and 1");
  bool as_json = args->has("json");
  auto mode
    = args->has("quiet") ? progress_mode::none : default_progress_mode();
  set_log_level(spdlog::level::err);

  // 1. The simulator, in this process, on loopback.
  auto sim = start_local_sim(hay.seed, fault_rate);
  if (!sim) {
    print_error("demo", sim.error());
    return exit_endpoint;
  }
  auto& server = sim->server;
  const auto& url = sim->url;

  // 2. Settings: the same layers as `llmmr ask`, minus the environment (the
  // demo must not pick up a real endpoint or key).
  settings_sources src;
  src.overrides = sim->overrides;
  if (auto err = add_set_overrides(*args, src.overrides)) {
    print_error("demo", err);
    return exit_usage;
  }
  auto cfg = load_settings(src);
  if (!cfg) {
    print_error("demo", cfg.error());
    return exit_config;
  }
  if (auto err = configure_logging(*cfg)) {
    print_error("demo", err);
    return exit_config;
  }

  // 3. The haystack.
  auto tok = std::make_shared<approx_tokenizer>();
  auto gen_t0 = clock_type::now();
  auto doc = make_haystack(hay, *tok);
  auto gen_us = micros_since(gen_t0);
  if (!as_json)
    std::fprintf(stderr,
                 "llmmr demo: haystack of %s tokens (%s bytes, seed %llu) "
                 "generated in %s; needle at byte %llu (depth %.1f %%); "
                 "simulator on %s\n",
                 format_count(doc.tokens).c_str(),
                 format_count(doc.text.size()).c_str(),
                 static_cast<unsigned long long>(hay.seed),
                 format_duration(gen_us).c_str(),
                 static_cast<unsigned long long>(doc.needle_offset),
                 hay.depth * 100, url.c_str());

  // 4. The same path as `llmmr ask`: client, pipeline, streamed job.
  auto be = connect_backend(*cfg);
  if (!be) {
    print_error("demo", be.error());
    return exit_code_for(be.error());
  }
  auto spec = cfg->to_job_spec(doc.question);
  fit_budget(spec, be->context_window);
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  if (auto err = configure_middleman(sys_cfg, *cfg)) {
    print_error("demo", err);
    return exit_config;
  }
  caf::actor_system sys{sys_cfg};
  auto pipeline
    = spawn_pipeline(sys, to_pipeline_options(*cfg), be->client, tok);
  if (!pipeline) {
    print_error("demo", pipeline.error());
    return exit_code_for(pipeline.error());
  }
  const std::string& text = doc.text;
  auto outcome = run_streamed_job(sys, *pipeline, spec, text_source(text), mode,
                                  text.size());
  pipeline->stop();
  auto sim_stats = server->stats();
  if (!outcome.result) {
    print_error("demo", outcome.result.error());
    return exit_code_for(outcome);
  }
  const auto& res = *outcome.result;

  // 5. Did it find the needle, and from where?
  auto answer = lower_trimmed(res.answer);
  bool correct = answer.find(lower_trimmed(doc.answer)) != std::string::npos;
  std::string evidence_chunks;
  std::optional<uint32_t> needle_chunk;
  std::optional<byte_range> needle_range;
  for (const auto& ev : res.evidence)
    for (size_t i = 0; i < ev.record.chunks.size(); ++i) {
      if (!evidence_chunks.empty())
        evidence_chunks += ", ";
      evidence_chunks += std::to_string(ev.record.chunks[i]);
      if (i < ev.ranges.size()) {
        const auto& r = ev.ranges[i];
        evidence_chunks += " [" + std::to_string(r.begin) + ", "
                           + std::to_string(r.end) + ")";
        if (doc.needle_offset >= r.begin && doc.needle_offset < r.end) {
          needle_chunk = ev.record.chunks[i];
          needle_range = r;
        }
      }
    }
  bool evidence_matches = needle_chunk.has_value();
  auto calls = res.calls.map + res.calls.collapse + res.calls.reduce;
  if (as_json) {
    nlohmann::json report{
      {"answer", res.answer},
      {"expected", doc.answer},
      {"correct", correct},
      {"needle",
       {{"sentence", doc.needle},
        {"byte_offset", doc.needle_offset},
        {"depth", hay.depth},
        {"chunk", needle_chunk ? nlohmann::json(*needle_chunk)
                               : nlohmann::json(nullptr)}}},
      {"evidence_matches_needle", evidence_matches},
      {"haystack",
       {{"tokens", doc.tokens},
        {"bytes", doc.text.size()},
        {"seed", hay.seed},
        {"generate_ms", static_cast<double>(gen_us) / 1000.0}}},
      {"sim",
       {{"requests", sim_stats.requests},
        {"completions", sim_stats.completions},
        {"faults_injected", sim_stats.faults_injected},
        {"max_concurrent_generations", sim_stats.max_concurrent_generations}}},
      {"wall_ms", static_cast<double>(outcome.wall_us) / 1000.0},
      {"result", to_json(res)},
    };
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("question:  %s\n", doc.question.c_str());
    std::printf("answer:    %s\n", res.answer.c_str());
    std::printf("expected:  %s  -> %s\n", doc.answer.c_str(),
                correct ? "CORRECT" : "WRONG");
    std::printf("needle:    \"%s\" at byte %llu of %zu (depth %.1f %%)\n",
                doc.needle.c_str(),
                static_cast<unsigned long long>(doc.needle_offset),
                doc.text.size(), hay.depth * 100);
    std::printf("evidence:  chunk %s\n",
                evidence_chunks.empty() ? "(none)" : evidence_chunks.c_str());
    if (needle_chunk)
      std::printf("           the needle lies in chunk %u [%llu, %llu): "
                  "the evidence matches\n",
                  *needle_chunk,
                  static_cast<unsigned long long>(needle_range->begin),
                  static_cast<unsigned long long>(needle_range->end));
    else
      std::printf("           no evidence chunk contains the needle\n");
    std::printf("document:  %s tokens in %u chunks\n",
                format_count(doc.tokens).c_str(), res.chunks);
    std::printf("calls:     %u (%u map, %u collapse, %u reduce), %u collapse "
                "round%s\n",
                calls, res.calls.map, res.calls.collapse, res.calls.reduce,
                res.collapse_rounds, res.collapse_rounds == 1 ? "" : "s");
    std::printf("tokens:    %s prompt + %s completion\n",
                format_count(res.usage.prompt_tokens).c_str(),
                format_count(res.usage.completion_tokens).c_str());
    std::printf("simulator: %llu requests, %llu faults injected\n",
                static_cast<unsigned long long>(sim_stats.requests),
                static_cast<unsigned long long>(sim_stats.faults_injected));
    std::printf("failures:  %zu chunk%s%s\n", res.failures.size(),
                res.failures.size() == 1 ? "" : "s",
                res.partial ? " (partial result)" : "");
    std::printf("time:      %s (map %s, collapse %s, reduce %s); haystack "
                "generated in %s\n",
                format_duration(outcome.wall_us).c_str(),
                format_duration(res.timings.map_us).c_str(),
                format_duration(res.timings.collapse_us).c_str(),
                format_duration(res.timings.reduce_us).c_str(),
                format_duration(gen_us).c_str());
  }
  std::fflush(stdout);
  if (!correct) {
    std::fprintf(stderr, "llmmr demo: the needle was not found\n");
    return exit_job_failed;
  }
  return exit_ok;
}

const bool registered = register_command(
  {"demo", "find a needle in a generated haystack via the simulator",
   run_demo});

} // namespace

} // namespace llmmr::cli

// `llmmr bench`: measures the chunker and the whole pipeline and prints each
// figure as a ratio against a baseline measured in the same run, so results
// compare across machines. No thresholds: the numbers are for people.
//
//   chunking  chunk_text() time vs one tokenizer pass over the same bytes
//             (the least any chunker must do)
//   pipeline  wall time of a job against the simulator vs the ideal makespan
//             computed from the simulator's latency model and slot count
//   memory    peak RSS growth for a document 4x longer, streamed in pieces
//             (bounded windows: the ratio should stay near 0)

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <nlohmann/json.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/client_factory.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/haystack.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/sim/sim_server.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/streamed_job.hpp"

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr option_spec bench_options[] = {
  {"chunk-tokens", true, "N  document size for the chunking bench (2000000)"},
  {"job-tokens", true, "N    document size for the pipeline bench (200000)"},
  {"slots", true, "N         simulator slots (8)"},
  {"ttft-ms", true, "N       simulator time to first token (20)"},
  {"per-token-ms", true, "X  simulator time per output token (0.2)"},
  {"mappers", true, "N       mapper actors (4)"},
  {"map-window", true, "N    map requests in flight per mapper (4)"},
  {"tokenizer-file", true,
   "F  also chunk with this tokenizer.json or .tiktoken file (repeatable)"},
  {"tokenizer-mb", true, "N  mixed text for the tokenizer bench (100)"},
  {"json", false, "          print the figures as one JSON object"},
};

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Returns the process's peak resident set size in KiB since the last
/// `reset_peak_rss` (Linux's VmHWM), or since the start.
long peak_rss_kib() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
  }
  char line[256];
  long result = 0;
  while (std::fgets(line, sizeof(line), status) != nullptr)
    if (std::sscanf(line, "VmHWM: %ld kB", &result) == 1)
      break;
  std::fclose(status);
  return result;
}

/// Resets the peak RSS to the current RSS, so the next reading shows what
/// the following work needed (writing 5 to clear_refs; Linux 4.0 and later).
void reset_peak_rss() {
  if (FILE* refs = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", refs);
    std::fclose(refs);
  }
}

/// Appends filler paragraphs to `out` until it holds about `tokens` tokens.
void fill(std::string& out, filler_text& gen, const tokenizer& tok,
          uint64_t tokens) {
  uint64_t have = 0;
  while (have < tokens) {
    auto para = gen.next_paragraph();
    para += "\n\n";
    have += tok.count(para);
    out += para;
  }
}

/// About `bytes` of mixed text: English prose, Chinese sentences and code,
/// the same for every tokenizer.
std::string mixed_text(size_t bytes) {
  static constexpr std::string_view chinese[] = {
    "今天的会议讨论了预算问题，大家都同意推迟发布计划。",
    "谁负责最后的检查？他们决定下周再讨论。",
  };
  static constexpr std::string_view code[] = {
    "int add(int a, int b) { return a + b; }\n",
    "for (auto& x : items) total += x.weight * 1.5;\n",
    "if (ready && !failed) { launch(queue.front()); }\n",
  };
  filler_text gen{23};
  std::string out;
  out.reserve(bytes + 4096);
  for (size_t i = 0; out.size() < bytes; ++i) {
    out += gen.next_paragraph();
    out += "\n\n";
    if (i % 5 == 0)
      for (int k = 0; k < 4; ++k)
        out += chinese[(i + k) % 2];
    if (i % 7 == 0)
      for (int k = 0; k < 6; ++k)
        out += code[(i + k) % 3];
    out += "\n";
  }
  return out;
}

/// Chunks `doc` for a qa job with L = 4096 with `tok`; returns seconds and
/// chunk (map call) count.
expected<std::pair<double, size_t>> chunk_with(const std::string& doc,
                                               const tokenizer& tok) {
  job_spec spec;
  spec.question = "Which decision did the committee postpone, and why?";
  auto lib = prompt_library::builtin();
  if (!lib)
    return std::move(lib.error());
  auto budget = compute_budget(spec, *lib, tok);
  if (!budget)
    return std::move(budget.error());
  chunker_options opts;
  opts.budget = budget->chunk_payload;
  auto start = clock_type::now();
  auto chunks = chunk_text(doc, tok, opts);
  auto seconds = seconds_since(start);
  if (!chunks)
    return std::move(chunks.error());
  return std::make_pair(seconds, chunks->size());
}

struct job_figures {
  double seconds = 0;
  uint32_t chunks = 0;
  job_result result;
};

/// Streams about `tokens` tokens of filler into a new job, piece by piece,
/// waiting for each acknowledgement (the pipeline's backpressure), and
/// returns the job's figures. The document never exists in memory whole.
/// The job runs through the CLI's one streaming job runner.
expected<job_figures> run_filler_job(caf::actor_system& sys,
                                     const pipeline_handle& pipeline,
                                     const tokenizer& tok, uint64_t tokens,
                                     uint64_t seed) {
  job_spec spec;
  spec.question = "What is the secret passphrase?";
  spec.profile = task_profile::retrieval;
  auto source = [&](const std::function<error(std::string_view)>& consume) {
    filler_text gen{seed};
    uint64_t sent = 0;
    while (sent < tokens) {
      std::string piece;
      fill(piece, gen, tok, 20000);
      sent += tok.count(piece);
      if (auto err = consume(piece))
        return err;
    }
    return error{};
  };
  auto start = clock_type::now();
  auto outcome = run_streamed_job(sys, pipeline, std::move(spec), source,
                                  progress_mode::none);
  if (!outcome.result)
    return std::move(outcome.result.error());
  job_figures out;
  out.seconds = seconds_since(start);
  out.chunks = outcome.result->chunks;
  out.result = std::move(*outcome.result);
  return out;
}

int run_bench(arg_list raw_args) {
  auto args = parse_args("bench", raw_args, bench_options);
  if (!args) {
    print_error("bench", args.error());
    return exit_usage;
  }
  if (args->has("help")) {
    print_usage("bench", "[options]", bench_options);
    return exit_ok;
  }
  auto uint_arg = [&](std::string_view name, uint64_t fallback) {
    auto x = args->get_uint(name);
    if (!x) {
      print_error("bench", x.error());
      std::exit(exit_usage);
    }
    return x->value_or(fallback);
  };
  auto chunk_tokens = uint_arg("chunk-tokens", 2'000'000);
  auto job_tokens = uint_arg("job-tokens", 200'000);
  auto slots = static_cast<uint32_t>(uint_arg("slots", 8));
  auto ttft_ms = static_cast<uint32_t>(uint_arg("ttft-ms", 20));
  auto mappers = static_cast<uint32_t>(uint_arg("mappers", 4));
  auto map_window = static_cast<uint32_t>(uint_arg("map-window", 4));
  auto per_token = args->get_double("per-token-ms");
  if (!per_token) {
    print_error("bench", per_token.error());
    return exit_usage;
  }
  double per_token_ms = per_token->value_or(0.2);
  nlohmann::json out;
  approx_tokenizer tok;

  // -- chunking ---------------------------------------------------------------
  {
    std::string doc;
    filler_text gen{7};
    fill(doc, gen, tok, chunk_tokens);
    auto start = clock_type::now();
    auto total = tok.count(doc);
    auto baseline = seconds_since(start);
    chunker_options opts;
    opts.budget = 3400;
    start = clock_type::now();
    auto chunks = chunk_text(doc, tok, opts);
    auto measured = seconds_since(start);
    if (!chunks) {
      print_error("bench", chunks.error());
      return exit_internal;
    }
    double mb = static_cast<double>(doc.size()) / 1e6;
    out["chunking"] = {{"bytes", doc.size()},
                       {"tokens", total},
                       {"chunks", chunks->size()},
                       {"baseline_mb_per_s", mb / baseline},
                       {"chunker_mb_per_s", mb / measured},
                       {"ratio_to_baseline", measured / baseline}};
  }

  // -- pipeline and memory ----------------------------------------------------
  sim::sim_options sopts;
  sopts.slots = slots;
  sopts.ttft_ms = ttft_ms;
  sopts.per_token_ms = per_token_ms;
  auto server = sim::sim_server::start(sopts);
  if (!server) {
    print_error("bench", server.error());
    return exit_internal;
  }
  endpoint_options endpoint;
  endpoint.url
    = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/v1";
  endpoint.max_concurrency = slots;
  auto client = make_client({endpoint}, {}, {}, {});
  if (!client) {
    print_error("bench", client.error());
    return exit_internal;
  }
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  pipeline_options popts;
  popts.mappers = mappers;
  popts.map_window = map_window;
  auto pipeline
    = spawn_pipeline(sys, popts, *client, std::make_shared<approx_tokenizer>());
  if (!pipeline) {
    print_error("bench", pipeline.error());
    return exit_internal;
  }
  reset_peak_rss();
  auto rss_before = peak_rss_kib();
  auto before = (*server)->stats();
  auto small = run_filler_job(sys, *pipeline, tok, job_tokens, 11);
  if (!small) {
    print_error("bench", small.error());
    pipeline->stop();
    return exit_job_failed;
  }
  auto after = (*server)->stats();
  auto rss_small = peak_rss_kib();
  // The ideal makespan: all generation time spread perfectly over the
  // slots (a lower bound no schedule can beat).
  auto completions = after.completions - before.completions;
  auto tokens_out = after.completion_tokens - before.completion_tokens;
  double service_ms = static_cast<double>(completions) * ttft_ms
                      + static_cast<double>(tokens_out) * per_token_ms;
  double ideal = service_ms / 1000.0 / slots;
  out["pipeline"]
    = {{"document_tokens", job_tokens},
       {"chunks", small->chunks},
       {"calls", completions},
       {"completion_tokens", tokens_out},
       {"seconds", small->seconds},
       {"ideal_seconds", ideal},
       {"ratio_to_ideal", ideal > 0 ? small->seconds / ideal : 0.0},
       {"answer", small->result.answer}};
  reset_peak_rss();
  auto rss_between = peak_rss_kib();
  auto large = run_filler_job(sys, *pipeline, tok, job_tokens * 4, 12);
  pipeline->stop();
  if (!large) {
    print_error("bench", large.error());
    return exit_job_failed;
  }
  auto rss_large = peak_rss_kib();
  auto growth_small = rss_small - rss_before;
  auto growth_large = rss_large - rss_between;
  out["memory"] = {{"peak_rss_kib_before", rss_before},
                   {"peak_rss_kib_after_1x", rss_small},
                   {"rss_kib_between", rss_between},
                   {"peak_rss_kib_after_4x", rss_large},
                   {"growth_4x_over_1x",
                    growth_small > 0 ? static_cast<double>(growth_large)
                                         / static_cast<double>(growth_small)
                                     : 0.0}};
  // -- exact tokenizers -------------------------------------------------------
  auto files = args->all("tokenizer-file");
  if (!files.empty()) {
    auto mb = uint_arg("tokenizer-mb", 100);
    auto doc = mixed_text(static_cast<size_t>(mb) * 1000000);
    auto& rows = out["tokenizers"] = nlohmann::json::array();
    approx_tokenizer approx;
    auto base = chunk_with(doc, approx);
    if (!base) {
      print_error("bench", base.error());
      return exit_internal;
    }
    auto row = [&](const std::string& name, double secs, size_t calls) {
      rows.push_back(
        {{"tokenizer", name},
         {"bytes", doc.size()},
         {"chunking_mb_per_s", static_cast<double>(doc.size()) / 1e6 / secs},
         {"time_ratio_to_approx", secs / base->first},
         {"map_calls", calls},
         {"calls_ratio_to_approx",
          static_cast<double>(calls) / static_cast<double>(base->second)}});
    };
    row("approx", base->first, base->second);
    for (const auto& file : files) {
      std::unique_ptr<exact_tokenizer> exact;
      if (file.ends_with(".tiktoken")) {
        std::string encoding = file.find("o200k") != std::string::npos
                                 ? "o200k_base"
                                 : "cl100k_base";
        auto loaded = load_tiktoken(file, encoding);
        if (!loaded) {
          print_error("bench",
                      make_error(error_kind::config, loaded.error().message));
          return exit_config;
        }
        exact = std::move(*loaded);
      } else {
        auto loaded = load_hf_tokenizer(file);
        if (!loaded) {
          print_error("bench",
                      make_error(error_kind::config, loaded.error().message));
          return exit_config;
        }
        exact = std::move(*loaded);
      }
      auto figures = chunk_with(doc, *exact);
      if (!figures) {
        print_error("bench", figures.error());
        return exit_internal;
      }
      row(exact->name(), figures->first, figures->second);
    }
  }
  if (args->has("json")) {
    std::printf("%s\n", out.dump(2).c_str());
    return exit_ok;
  }
  const auto& c = out["chunking"];
  std::printf("chunking  %.1f MB/s vs one tokenizer pass %.1f MB/s: %.2fx the "
              "baseline's time (%zu chunks)\n",
              c["chunker_mb_per_s"].get<double>(),
              c["baseline_mb_per_s"].get<double>(),
              c["ratio_to_baseline"].get<double>(), c["chunks"].get<size_t>());
  const auto& p = out["pipeline"];
  std::printf("pipeline  %.2f s for %llu tokens (%u chunks, %llu calls); "
              "ideal %.2f s on %u slots: %.2fx ideal\n",
              p["seconds"].get<double>(),
              static_cast<unsigned long long>(job_tokens), small->chunks,
              static_cast<unsigned long long>(completions), ideal, slots,
              p["ratio_to_ideal"].get<double>());
  std::printf("memory    peak RSS grew %ld KiB for a %llu-token job and %ld "
              "KiB for a 4x longer one: ratio %.2f (4 would mean unbounded)\n",
              growth_small, static_cast<unsigned long long>(job_tokens),
              growth_large, out["memory"]["growth_4x_over_1x"].get<double>());
  if (out.contains("tokenizers"))
    for (const auto& t : out["tokenizers"])
      std::printf("tokenizer %-28s chunking %6.1f MB/s (%.2fx approx's "
                  "time), %zu map calls (%.2fx approx's)\n",
                  t["tokenizer"].get<std::string>().c_str(),
                  t["chunking_mb_per_s"].get<double>(),
                  t["time_ratio_to_approx"].get<double>(),
                  t["map_calls"].get<size_t>(),
                  t["calls_ratio_to_approx"].get<double>());
  return exit_ok;
}

const bool registered = register_command(
  {"bench", "benchmarks: chunker, pipeline vs ideal makespan, memory",
   run_bench});

} // namespace

} // namespace llmmr::cli

// `llmmr bench`: the performance figures of docs/performance.md, each a ratio
// taken inside one run (so results compare across machines), each the median
// of several runs. The scenario is fixed and documented there; `--quick` runs
// a smaller one for a smoke test.
//
//   makespan_vs_bound       a job's makespan / the lower bound computed from
//                           the calls it made (simulator's latency model)
//   speedup_vs_stage_sync   the same job with barriers between the stages /
//                           the overlapping schedule
//   orchestration_vs_raw_http  map calls/s through the pipeline / calls/s of
//                           the bare HTTP client replaying the same bodies
//   cpu_us_per_map_call     whole-process CPU per map call, simulator out
//   chunking_mb_per_s       per tokenizer; calls_exact_vs_approx
//   peak_rss_mb_streamed_*  fresh `llmmr ask` children streaming 10M and
//                           100M tokens from a pipe
//   scaleout_4_workers      map throughput of 4 `llmmr worker`s / of 1

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <nlohmann/json.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/haystack.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/backend_setup.hpp"
#include "llmmr/tools/call_recorder.hpp"
#include "llmmr/tools/child_process.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/makespan_bound.hpp"
#include "llmmr/tools/pipeline_settings.hpp"
#include "llmmr/tools/streamed_job.hpp"

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr option_spec bench_options[] = {
  {"quick", false, "a smaller scenario (under a minute)"},
  {"json", false, "print the figures as one JSON object"},
  {"json-file", true, "F  also write the JSON object to F"},
  {"runs", true,
   "N  runs per figure, the median is reported (3; "
   "quick 1)"},
  {"doc-tokens", true, "N  scenario document size (1000000; quick 120000)"},
  {"slots", true, "N  simulator slots (8)"},
  {"ttft-ms", true, "N  fixed part of the time to first token in ms (4)"},
  {"prefill-ms-per-token", true, "X  prefill cost per prompt token (0.015)"},
  {"per-token-ms", true, "X  decode time per output token (2.0)"},
  {"tokenizer-dir", true,
   "D  exact tokenizer files (default ../shared/data/tokenizers, looked up "
   "from the working directory and from the executable)"},
  {"tokenizer-file", true, "F  also measure this tokenizer.json or .tiktoken"},
  {"tokenizer-mb", true,
   "N  mixed text for the tokenizer figures (16; quick "
   "1)"},
  {"only", true,
   "LIST  run only these sections: scenario,orchestration,tokenizers,rss,"
   "scaleout"},
  {"set", true, "KEY=VALUE  a configuration key of the measured jobs"},
};

constexpr std::string_view synopsis
  = "[--quick] [--json] [--runs N] [--only LIST] [options]";

/// The question of every scenario job; the facts answer it.
constexpr std::string_view question = "What is the secret passphrase?";

// -- the scenario -------------------------------------------------------------

/// Everything a bench run measures with; `docs/performance.md` documents the
/// values of the full and the quick scenario.
struct scenario {
  bool quick = false;
  uint32_t runs = 3;
  /// The scenario document and its facts.
  uint64_t doc_tokens = 1'000'000;
  uint64_t fact_every_tokens = 2'500;
  uint32_t budget = 4096;
  /// The simulated GPU server.
  uint32_t slots = 8;
  uint32_t ttft_ms = 4;
  double prefill_ms_per_token = 0.015;
  double per_token_ms = 2.0;
  /// Orchestration: the zero-latency run.
  uint64_t orchestration_tokens = 3'000'000;
  /// Tokenizers: mixed text.
  uint64_t tokenizer_mb = 16;
  /// Peak RSS: the streamed documents.
  std::vector<uint64_t> rss_tokens{10'000'000, 100'000'000};
  /// Scale-out: workers, each with its own simulator of `worker_slots`.
  uint32_t workers = 4;
  uint32_t worker_slots = 4;
  uint64_t scaleout_tokens = 1'000'000;
  /// Configuration overrides of the measured jobs (`--set`).
  std::vector<std::pair<std::string, std::string>> overrides;
  std::set<std::string> only;

  bool runs_section(const std::string& name) const {
    return only.empty() || only.count(name) > 0;
  }

  sim::latency_model latency() const {
    return {static_cast<double>(ttft_ms), prefill_ms_per_token, per_token_ms};
  }
};

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec)
           + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// A fact sentence the simulator's reader answers the question from: long
/// (about 150 tokens), so that the records of 1M tokens overflow one collapse
/// call several times over and need two rounds.
std::string fact_sentence(uint64_t n) {
  static constexpr std::string_view places[]
    = {"harbour archive", "northern granary",     "river customs house",
       "old observatory", "salt merchants' hall", "eastern lighthouse"};
  static constexpr std::string_view words[]
    = {"amber", "cobalt", "juniper", "saffron", "granite", "willow", "ember"};
  auto place = places[n % std::size(places)];
  auto word = words[(n / 7) % std::size(words)];
  return "According to ledger entry " + std::to_string(n) + " of the "
         + std::string{place}
         + ", copied by the night clerk from the water-damaged register in "
           "the tower, checked twice against the customs roll, the tide "
           "tables and the letters of the guild, and sealed by the warden "
           "before the council met in the spring, then read aloud at the "
           "harvest assembly, entered again in the second ledger by the "
           "deputy keeper, compared with the bishop's copy and the notes of "
           "the surveyor, and finally confirmed by the three guild masters "
           "under oath in the great hall, the secret passphrase of "
           "vault "
         + std::to_string(n) + " is " + std::string{word} + "-"
         + std::to_string(1000 + (n * 7919) % 9000) + ".";
}

/// The scenario document: filler prose of about `tokens` tokens with a fact
/// paragraph every `fact_every` tokens (so every chunk holds facts and the
/// map records force collapse rounds).
std::string scenario_document(uint64_t tokens, uint64_t fact_every,
                              uint64_t seed, const tokenizer& tok) {
  filler_text gen{seed};
  std::string out;
  uint64_t have = 0;
  uint64_t since_fact = 0;
  uint64_t facts = 0;
  while (have < tokens) {
    std::string para;
    if (since_fact >= fact_every) {
      para = fact_sentence(++facts);
      since_fact = 0;
    } else {
      para = gen.next_paragraph();
    }
    para += "\n\n";
    auto n = tok.count(para);
    have += n;
    since_fact += n;
    out += para;
  }
  return out;
}

/// Mixed text of about `bytes`: English prose, Chinese sentences and code,
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

/// The settings of a measured job against `url`: the built-in defaults (the
/// ones a user gets), the scenario's budget and task, then `--set`.
expected<settings> job_settings(const scenario& sc, const std::string& url,
                                uint32_t max_concurrency) {
  settings_sources src;
  src.overrides = {
    {"endpoints[0].url", url},
    {"endpoints[0].max_concurrency", std::to_string(max_concurrency)},
    {"job.budget", std::to_string(sc.budget)},
    {"job.task", "qa"},
    {"log.level", "error"},
  };
  for (const auto& kv : sc.overrides)
    src.overrides.push_back(kv);
  return load_settings(src);
}

/// A pipeline against one in-process simulator, its client wrapped in a
/// `call_recorder`.
struct bench_rig {
  std::unique_ptr<sim::sim_server> server;
  backend be;
  std::shared_ptr<call_recorder> recorder;
  /// Outlives `sys`, which keeps a reference to it.
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::optional<pipeline_handle> pipeline;
  std::optional<settings> cfg;

  ~bench_rig() {
    if (pipeline)
      pipeline->stop();
    pipeline.reset();
    sys.reset();
  }
};

expected<std::unique_ptr<bench_rig>> make_rig(const scenario& sc,
                                              sim::sim_options sopts,
                                              uint32_t concurrency,
                                              bool keep_map_requests) {
  auto rig = std::make_unique<bench_rig>();
  sopts.host = "127.0.0.1";
  sopts.port = 0;
  auto server = sim::sim_server::start(sopts);
  if (!server)
    return std::move(server.error());
  rig->server = std::move(*server);
  auto url = "http://127.0.0.1:" + std::to_string(rig->server->port()) + "/v1";
  auto cfg = job_settings(sc, url, concurrency);
  if (!cfg)
    return std::move(cfg.error());
  rig->cfg = std::move(*cfg);
  auto be = connect_backend(*rig->cfg);
  if (!be)
    return std::move(be.error());
  rig->be = std::move(*be);
  rig->recorder
    = std::make_shared<call_recorder>(rig->be.client, keep_map_requests);
  rig->sys_cfg = std::make_unique<caf::actor_system_config>();
  register_types(*rig->sys_cfg);
  rig->sys = std::make_unique<caf::actor_system>(*rig->sys_cfg);
  auto pipeline
    = spawn_pipeline(*rig->sys, to_pipeline_options(*rig->cfg), rig->recorder,
                     std::make_shared<approx_tokenizer>());
  if (!pipeline)
    return std::move(pipeline.error());
  rig->pipeline = std::move(*pipeline);
  return rig;
}

struct job_run {
  double makespan_ms = 0;
  job_result result;
  std::vector<recorded_call> calls;
  clock_type::time_point start;
};

/// Runs one job over `doc`, streamed in 64 KiB pieces.
expected<job_run> run_job(bench_rig& rig, const std::string& doc,
                          bool early_collapse) {
  auto spec = rig.cfg->to_job_spec(std::string{question});
  spec.early_collapse = early_collapse;
  auto source = [&doc](const std::function<error(std::string_view)>& consume) {
    std::string_view rest{doc};
    while (!rest.empty()) {
      auto n = std::min<size_t>(rest.size(), 64 * 1024);
      if (auto err = consume(rest.substr(0, n)))
        return err;
      rest.remove_prefix(n);
    }
    return error{};
  };
  static_cast<void>(rig.recorder->take_calls());
  job_run out;
  out.start = clock_type::now();
  auto outcome = run_streamed_job(*rig.sys, *rig.pipeline, std::move(spec),
                                  source, progress_mode::none);
  out.makespan_ms = ms_between(out.start, clock_type::now());
  if (!outcome.result)
    return std::move(outcome.result.error());
  out.result = std::move(*outcome.result);
  out.calls = rig.recorder->take_calls();
  return out;
}

/// Joins the calls of `run` with the simulator's call log.
expected<std::vector<timed_call>> timed_calls_of(const job_run& run,
                                                 const sim::sim_server& srv) {
  std::unordered_map<std::string, sim::call_record> by_id;
  for (auto& c : srv.calls())
    by_id.emplace(c.request_id, c);
  std::vector<timed_call> out;
  for (const auto& c : run.calls) {
    if (!c.ok)
      return make_error(error_kind::internal,
                        "call '" + c.label + "' failed during the bench");
    auto i = by_id.find(c.request_id);
    if (i == by_id.end())
      return make_error(error_kind::internal,
                        "call '" + c.label + "' (request id '" + c.request_id
                          + "') is missing from the simulator's call log");
    auto t = classify_label(c.label);
    t.service_ms = i->second.service_ms;
    t.start_ms = ms_between(run.start, i->second.started);
    t.finish_ms = ms_between(run.start, i->second.finished);
    out.push_back(t);
  }
  return out;
}

/// Calls, mean service time and the idle breakdown of one job, for the
/// details of the JSON output.
json describe_run(const job_run& run, const std::vector<timed_call>& calls,
                  const makespan_bound& b, uint32_t slots) {
  auto idle = break_down_idle(calls, slots, run.makespan_ms);
  auto n = static_cast<double>(slots);
  json stages = json::object();
  for (auto [stage, name] : {std::pair{call_stage::map, "map"},
                             std::pair{call_stage::collapse, "collapse"},
                             std::pair{call_stage::reduce, "reduce"}}) {
    size_t count = 0;
    double sum = 0;
    for (const auto& c : calls)
      if (c.stage == stage) {
        ++count;
        sum += c.service_ms;
      }
    stages[name]
      = {{"calls", count},
         {"mean_service_ms", count ? sum / static_cast<double>(count) : 0.0}};
  }
  return {{"makespan_ms", run.makespan_ms},
          {"bound_ms", b.bound_ms},
          {"work_ms", b.work_ms},
          {"chain_ms", b.chain_ms},
          {"total_service_ms", b.total_service_ms},
          {"stages", std::move(stages)},
          {"collapse_rounds", run.result.collapse_rounds},
          {"answer", run.result.answer},
          {"gap_ms",
           {{"startup", idle.startup_ms / n},
            {"map_idle", idle.map_ms / n},
            {"tail", idle.tail_ms / n},
            {"result", idle.end_ms / n}}}};
}

// -- figures ------------------------------------------------------------------

/// The JSON output: figures, the reasons of null figures, details.
struct report {
  json out = json::object();

  void figure(const std::string& name, double value) { out[name] = value; }

  void missing(const std::string& name, const std::string& reason) {
    out[name] = nullptr;
    out["null_reasons"][name] = reason;
  }
};

/// Scenario runs: makespan vs bound, speedup vs the stage-synchronous
/// schedule, and where the time above the bound went.
error bench_scenario(const scenario& sc, report& rep) {
  sim::sim_options sopts;
  sopts.slots = sc.slots;
  sopts.ttft_ms = sc.ttft_ms;
  sopts.prefill_ms_per_token = sc.prefill_ms_per_token;
  sopts.per_token_ms = sc.per_token_ms;
  sopts.record_calls = true;
  auto rig = make_rig(sc, sopts, sc.slots, false);
  if (!rig)
    return std::move(rig.error());
  approx_tokenizer tok;
  auto doc = scenario_document(sc.doc_tokens, sc.fact_every_tokens, 11, tok);
  std::vector<double> vs_bound, speedup, sync_vs_bound;
  json runs = json::array();
  std::vector<std::pair<double, json>> breakdowns;
  for (uint32_t i = 0; i < sc.runs; ++i) {
    // Alternate the order so that neither schedule always runs first.
    std::optional<job_run> ours, sync;
    for (int k = 0; k < 2; ++k) {
      bool early = (k == 0) == (i % 2 == 0);
      auto run = run_job(**rig, doc, early);
      if (!run)
        return std::move(run.error());
      (early ? ours : sync) = std::move(*run);
    }
    auto ours_calls = timed_calls_of(*ours, *(*rig)->server);
    if (!ours_calls)
      return std::move(ours_calls.error());
    auto sync_calls = timed_calls_of(*sync, *(*rig)->server);
    if (!sync_calls)
      return std::move(sync_calls.error());
    auto b = compute_bound(*ours_calls, sc.slots);
    auto bs = compute_bound(*sync_calls, sc.slots);
    double ratio = ours->makespan_ms / b.bound_ms;
    vs_bound.push_back(ratio);
    speedup.push_back(sync->makespan_ms / ours->makespan_ms);
    sync_vs_bound.push_back(sync->makespan_ms / bs.bound_ms);
    auto ours_json = describe_run(*ours, *ours_calls, b, sc.slots);
    breakdowns.emplace_back(ratio, ours_json);
    runs.push_back(
      {{"ours", std::move(ours_json)},
       {"stage_sync", describe_run(*sync, *sync_calls, bs, sc.slots)}});
  }
  rep.figure("makespan_vs_bound", median(vs_bound));
  rep.figure("speedup_vs_stage_sync", median(speedup));
  rep.figure("stage_sync_makespan_vs_bound", median(sync_vs_bound));
  // The breakdown of the run whose ratio is the median (closest to it).
  auto med = median(vs_bound);
  auto best = std::min_element(
    breakdowns.begin(), breakdowns.end(), [med](auto& x, auto& y) {
      return std::abs(x.first - med) < std::abs(y.first - med);
    });
  rep.out["details"]["scenario"]
    = {{"document_tokens", sc.doc_tokens},
       {"fact_every_tokens", sc.fact_every_tokens},
       {"budget", sc.budget},
       {"slots", sc.slots},
       {"ttft_ms", sopts.ttft_ms},
       {"prefill_ms_per_token", sc.prefill_ms_per_token},
       {"per_token_ms", sc.per_token_ms},
       {"runs", std::move(runs)},
       {"median_run", best->second}};
  return {};
}

/// The zero-latency run: pipeline vs bare HTTP client, and CPU per map call.
error bench_orchestration(const scenario& sc, report& rep) {
  sim::sim_options sopts;
  sopts.slots = 64;
  auto rig = make_rig(sc, sopts, sc.slots, true);
  if (!rig)
    return std::move(rig.error());
  approx_tokenizer tok;
  auto doc
    = scenario_document(sc.orchestration_tokens, sc.fact_every_tokens, 13, tok);
  auto& r = **rig;
  if (r.be.http_clients.empty())
    return make_error(error_kind::internal, "no HTTP client to compare with");
  auto& raw = r.be.http_clients.front();
  std::vector<double> ratios, cpu, raw_cpu, pipe_rates, raw_rates;
  for (uint32_t i = 0; i < sc.runs; ++i) {
    static_cast<void>(r.recorder->take_map_requests());
    auto cpu0 = process_cpu_seconds();
    auto sim0 = r.server->io_cpu_seconds();
    auto run = run_job(r, doc, true);
    if (!run)
      return std::move(run.error());
    auto cpu1 = process_cpu_seconds();
    auto sim1 = r.server->io_cpu_seconds();
    auto maps = run->result.calls.map;
    auto map_s = static_cast<double>(run->result.timings.map_us) / 1e6;
    if (maps == 0 || map_s <= 0)
      return make_error(error_kind::internal, "the zero-latency job made no "
                                              "map calls");
    double pipe_rate = maps / map_s;
    double sim_cpu = sim0 >= 0 && sim1 >= 0 ? sim1 - sim0 : 0;
    cpu.push_back((cpu1 - cpu0 - sim_cpu) * 1e6 / maps);
    // The same request bodies through the bare HTTP client, at most
    // `sc.slots` on the wire (its max_concurrency).
    auto reqs = r.recorder->take_map_requests();
    std::mutex mtx;
    std::condition_variable cv;
    size_t done = 0;
    size_t failed = 0;
    auto raw_cpu0 = process_cpu_seconds();
    auto raw_sim0 = r.server->io_cpu_seconds();
    auto t0 = clock_type::now();
    for (auto& req : reqs)
      raw->try_chat(std::move(req),
                    [&](expected<chat_reply> res, attempt_info) {
                      std::lock_guard guard{mtx};
                      ++done;
                      failed += res ? 0 : 1;
                      cv.notify_all();
                    });
    {
      std::unique_lock guard{mtx};
      cv.wait(guard, [&] { return done == reqs.size(); });
    }
    auto raw_s = seconds_since(t0);
    auto raw_sim_cpu = r.server->io_cpu_seconds() - raw_sim0;
    raw_cpu.push_back(
      (process_cpu_seconds() - raw_cpu0 - (raw_sim0 >= 0 ? raw_sim_cpu : 0))
      * 1e6 / static_cast<double>(reqs.size()));
    if (failed > 0)
      return make_error(error_kind::internal,
                        std::to_string(failed)
                          + " replayed map requests failed");
    double raw_rate = static_cast<double>(reqs.size()) / raw_s;
    pipe_rates.push_back(pipe_rate);
    raw_rates.push_back(raw_rate);
    ratios.push_back(pipe_rate / raw_rate);
  }
  rep.figure("orchestration_vs_raw_http", median(ratios));
  rep.figure("cpu_us_per_map_call", median(cpu));
  rep.out["details"]["orchestration"]
    = {{"document_tokens", sc.orchestration_tokens},
       {"concurrency", sc.slots},
       {"pipeline_map_calls_per_s", median(pipe_rates)},
       {"raw_http_calls_per_s", median(raw_rates)},
       {"raw_http_cpu_us_per_call", median(raw_cpu)},
       {"simulator_cpu_excluded", r.server->io_cpu_seconds() >= 0}};
  return {};
}

// -- tokenizers ---------------------------------------------------------------

/// Chunks `doc` for the scenario's job with `tok`; returns seconds and the
/// chunk (map call) count.
expected<std::pair<double, size_t>>
chunk_with(const scenario& sc, const std::string& doc, const tokenizer& tok) {
  job_spec spec;
  spec.question = std::string{question};
  spec.profile = task_profile::qa;
  spec.budget = sc.budget;
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

/// Finds the tokenizer directory: `--tokenizer-dir`, else
/// `../shared/data/tokenizers` from the working directory or from the
/// executable's build tree.
std::string find_tokenizer_dir(const parsed_args& args) {
  if (auto d = args.get("tokenizer-dir"))
    return *d;
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates{"../shared/data/tokenizers"};
  if (auto exe = self_executable()) {
    auto dir = fs::path{*exe}.parent_path();
    for (int up = 0; up < 4 && !dir.empty(); ++up) {
      candidates.push_back(dir / "../shared/data/tokenizers");
      dir = dir.parent_path();
    }
  }
  std::error_code ec;
  for (auto& c : candidates)
    if (fs::is_directory(c, ec))
      return fs::weakly_canonical(c, ec).string();
  return {};
}

expected<std::unique_ptr<exact_tokenizer>> load_exact(const std::string& file) {
  if (file.ends_with(".tiktoken")) {
    std::string encoding
      = file.find("o200k") != std::string::npos ? "o200k_base" : "cl100k_base";
    auto loaded = load_tiktoken(file, encoding);
    if (!loaded)
      return make_error(error_kind::config, loaded.error().message);
    return std::unique_ptr<exact_tokenizer>{std::move(*loaded)};
  }
  auto loaded = load_hf_tokenizer(file);
  if (!loaded)
    return make_error(error_kind::config, loaded.error().message);
  return std::unique_ptr<exact_tokenizer>{std::move(*loaded)};
}

error bench_tokenizers(const scenario& sc, const parsed_args& args,
                       report& rep) {
  std::vector<std::string> files;
  auto dir = find_tokenizer_dir(args);
  // A fixed order: the headline ratio uses the first exact tokenizer.
  for (auto name : {"llama3.tokenizer.json", "qwen3.tokenizer.json",
                    "cl100k_base.tiktoken", "o200k_base.tiktoken"}) {
    auto path = dir.empty() ? std::string{} : dir + "/" + name;
    if (!path.empty() && std::filesystem::exists(path))
      files.push_back(path);
  }
  for (auto& f : args.all("tokenizer-file"))
    files.push_back(f);
  auto doc = mixed_text(static_cast<size_t>(sc.tokenizer_mb) * 1'000'000);
  double mb = static_cast<double>(doc.size()) / 1e6;
  approx_tokenizer approx;
  auto base = chunk_with(sc, doc, approx);
  if (!base)
    return std::move(base.error());
  json speeds = json::object();
  json rows = json::array();
  speeds["approx"] = mb / base->first;
  rows.push_back({{"tokenizer", "approx"},
                  {"chunking_mb_per_s", mb / base->first},
                  {"map_calls", base->second}});
  std::optional<double> headline;
  std::string headline_name;
  for (const auto& file : files) {
    auto tok = load_exact(file);
    if (!tok)
      return std::move(tok.error());
    auto fig = chunk_with(sc, doc, **tok);
    if (!fig)
      return std::move(fig.error());
    auto ratio
      = static_cast<double>(fig->second) / static_cast<double>(base->second);
    speeds[(*tok)->name()] = mb / fig->first;
    rows.push_back({{"tokenizer", (*tok)->name()},
                    {"chunking_mb_per_s", mb / fig->first},
                    {"map_calls", fig->second},
                    {"calls_vs_approx", ratio}});
    if (!headline) {
      headline = ratio;
      headline_name = (*tok)->name();
    }
  }
  rep.out["chunking_mb_per_s"] = speeds;
  if (headline) {
    rep.figure("calls_exact_vs_approx", *headline);
    rep.out["details"]["calls_exact_vs_approx_tokenizer"] = headline_name;
  } else {
    rep.missing(
      "calls_exact_vs_approx",
      "no exact tokenizer file found (looked for "
        + (dir.empty() ? std::string{"../shared/data/tokenizers"} : dir)
        + "; give --tokenizer-dir or --tokenizer-file)");
  }
  rep.out["details"]["tokenizers"]
    = {{"text_mb", mb}, {"budget", sc.budget}, {"rows", std::move(rows)}};
  return {};
}

// -- child processes ----------------------------------------------------------

/// A scratch directory removed with everything in it.
struct scratch_dir {
  std::filesystem::path path;

  static expected<scratch_dir> make() {
    std::string tmpl
      = (std::filesystem::temp_directory_path() / "llmmr-bench-XXXXXX")
          .string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      return make_error(error_kind::internal,
                        "cannot make a scratch directory in "
                          + std::filesystem::temp_directory_path().string());
    return scratch_dir{tmpl};
  }

  scratch_dir(std::filesystem::path p) : path(std::move(p)) {}
  scratch_dir(scratch_dir&& other) noexcept
    : path(std::exchange(other.path, {})) {}
  ~scratch_dir() {
    std::error_code ec;
    if (!path.empty())
      std::filesystem::remove_all(path, ec);
  }

  std::string file(const std::string& name) const {
    return (path / name).string();
  }
};

/// A `llmmr sim` child with its port.
struct sim_child {
  child_process proc;
  uint16_t port = 0;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/v1";
  }
};

expected<sim_child> start_sim_child(const std::string& exe,
                                    const scratch_dir& dir,
                                    const std::string& name, uint32_t slots,
                                    const sim::latency_model& lat) {
  auto port_file = dir.file(name + ".port");
  child_options opts;
  opts.argv = {exe,
               "sim",
               "--port-file",
               port_file,
               "--slots",
               std::to_string(slots),
               "--ttft-ms",
               std::to_string(static_cast<uint32_t>(lat.ttft_ms)),
               "--prefill-ms-per-token",
               std::to_string(lat.prefill_ms_per_token),
               "--per-token-ms",
               std::to_string(lat.per_token_ms)};
  opts.stdout_file = dir.file(name + ".out");
  opts.stderr_file = dir.file(name + ".err");
  auto proc = child_process::spawn(opts);
  if (!proc)
    return std::move(proc.error());
  auto port = wait_for_port_file(port_file, *proc, std::chrono::seconds{20});
  if (!port)
    return std::move(port.error());
  return sim_child{std::move(*proc), *port};
}

std::vector<std::string> set_args(const scenario& sc) {
  std::vector<std::string> out;
  for (const auto& [k, v] : sc.overrides) {
    out.push_back("--set");
    out.push_back(k + "=" + v);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// Peak RSS of fresh `llmmr ask` children streaming documents of
/// `sc.rss_tokens` tokens from a pipe against a zero-latency `llmmr sim`.
error bench_rss(const scenario& sc, const std::string& exe, report& rep) {
  auto dir = scratch_dir::make();
  if (!dir)
    return std::move(dir.error());
  auto sim = start_sim_child(exe, *dir, "rss-sim", 16, {});
  if (!sim)
    return std::move(sim.error());
  approx_tokenizer tok;
  json sizes = json::object();
  std::map<uint64_t, double> mb_of;
  for (auto tokens : sc.rss_tokens) {
    child_options opts;
    opts.argv = {exe,          "ask",
                 "--doc",      "-",
                 "--question", std::string{question},
                 "--task",     "qa",
                 "--endpoint", sim->url(),
                 "--budget",   std::to_string(sc.budget),
                 "--quiet",    "--json",
                 "--set",      "endpoints[0].max_concurrency=16",
                 "--set",      "log.level=error"};
    for (auto& a : set_args(sc))
      opts.argv.push_back(a);
    opts.pipe_stdin = true;
    opts.stdout_file = dir->file("rss-ask.out");
    opts.stderr_file = dir->file("rss-ask.err");
    auto child = child_process::spawn(opts);
    if (!child)
      return std::move(child.error());
    // The document never exists whole: paragraphs go down the pipe as they
    // are made, and the pipe blocks while the child is busy.
    // The peak comes from the child's /proc VmHWM, read while it runs (it
    // only grows); wait4's ru_maxrss would include this process's peak.
    long peak_kib = -1;
    auto sample = [&] { peak_kib = std::max(peak_kib, child->peak_rss_kib()); };
    filler_text gen{tokens};
    uint64_t sent = 0;
    bool needle = false;
    std::string piece;
    error write_err;
    while (sent < tokens && !write_err) {
      piece.clear();
      while (piece.size() < 64 * 1024) {
        if (!needle && sent >= tokens / 2) {
          piece += "The secret passphrase is amber-4127.\n\n";
          needle = true;
        }
        auto para = gen.next_paragraph();
        para += "\n\n";
        sent += tok.count(para);
        piece += para;
      }
      write_err = child->write_stdin(piece);
      sample();
    }
    child->close_stdin();
    auto until = clock_type::now() + std::chrono::minutes{15};
    while (child->running() && clock_type::now() < until) {
      sample();
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    auto ended = child->wait(std::chrono::minutes{15});
    if (!ended)
      return std::move(ended.error());
    if (ended->status != 0 || write_err)
      return make_error(error_kind::internal,
                        "llmmr ask streaming " + std::to_string(tokens)
                          + " tokens exited with "
                          + std::to_string(ended->status) + ": "
                          + read_text(dir->file("rss-ask.err")));
    auto result
      = json::parse(read_text(dir->file("rss-ask.out")), nullptr, false);
    if (peak_kib <= 0)
      return make_error(error_kind::internal,
                        "cannot read the peak RSS of llmmr ask from /proc");
    double mb = static_cast<double>(peak_kib) / 1024.0;
    mb_of[tokens] = mb;
    sizes[std::to_string(tokens)]
      = {{"peak_rss_mb", mb},
         {"chunks", result.is_object() ? result.value("chunks", 0) : 0},
         {"answer", result.is_object() ? result.value("answer", "") : ""},
         {"child_cpu_s", ended->cpu_seconds},
         {"wait4_ru_maxrss_mb_includes_parent",
          static_cast<double>(ended->max_rss_kib) / 1024.0}};
  }
  rep.out["details"]["peak_rss"] = sizes;
  bool standard = sc.rss_tokens.size() == 2 && sc.rss_tokens[0] == 10'000'000
                  && sc.rss_tokens[1] == 100'000'000;
  if (standard) {
    rep.figure("peak_rss_mb_streamed_10m", mb_of[10'000'000]);
    rep.figure("peak_rss_mb_streamed_100m", mb_of[100'000'000]);
  } else {
    std::string what = "--quick streams ";
    for (auto t : sc.rss_tokens)
      what += std::to_string(t) + " ";
    what += "tokens instead (details.peak_rss)";
    rep.missing("peak_rss_mb_streamed_10m", what);
    rep.missing("peak_rss_mb_streamed_100m", what);
  }
  if (sc.rss_tokens.size() == 2)
    rep.figure("peak_rss_growth_large_vs_small",
               mb_of[sc.rss_tokens[1]] / mb_of[sc.rss_tokens[0]]);
  return {};
}

/// Map throughput of `workers` `llmmr worker` processes, each with its own
/// slot-capped `llmmr sim`, vs one of them.
error bench_scaleout(const scenario& sc, const std::string& exe, report& rep) {
  auto dir = scratch_dir::make();
  if (!dir)
    return std::move(dir.error());
  // The document as a file, read by every coordinator run.
  approx_tokenizer tok;
  auto doc_path = dir->file("scaleout.txt");
  {
    auto h = make_haystack({sc.scaleout_tokens, 0.5, 5}, tok);
    std::ofstream out{doc_path, std::ios::binary};
    out << h.text;
    if (!out)
      return make_error(error_kind::internal, "cannot write " + doc_path);
  }
  // The coordinator's own endpoint (collapse and reduce): zero latency.
  auto front_sim = start_sim_child(exe, *dir, "front-sim", 16, {});
  if (!front_sim)
    return std::move(front_sim.error());
  std::vector<sim_child> sims;
  std::vector<child_process> workers;
  std::vector<uint16_t> ports;
  for (uint32_t i = 0; i < sc.workers; ++i) {
    auto name = "worker-sim-" + std::to_string(i);
    auto s = start_sim_child(exe, *dir, name, sc.worker_slots, sc.latency());
    if (!s)
      return std::move(s.error());
    auto port_file = dir->file("worker-" + std::to_string(i) + ".port");
    child_options opts;
    opts.argv
      = {exe,
         "worker",
         "--port-file",
         port_file,
         "--endpoint",
         s->url(),
         "--set",
         "endpoints[0].max_concurrency=" + std::to_string(sc.worker_slots),
         "--set",
         "log.level=error"};
    for (auto& a : set_args(sc))
      opts.argv.push_back(a);
    opts.stdout_file = dir->file("worker-" + std::to_string(i) + ".out");
    opts.stderr_file = dir->file("worker-" + std::to_string(i) + ".err");
    auto w = child_process::spawn(opts);
    if (!w)
      return std::move(w.error());
    auto port = wait_for_port_file(port_file, *w, std::chrono::seconds{30});
    if (!port)
      return std::move(port.error());
    sims.push_back(std::move(*s));
    workers.push_back(std::move(*w));
    ports.push_back(*port);
  }
  auto throughput = [&](uint32_t n) -> expected<double> {
    std::string nodes;
    for (uint32_t i = 0; i < n; ++i)
      nodes += (i ? "," : "") + std::string{"127.0.0.1:"}
               + std::to_string(ports[i]);
    child_options opts;
    opts.argv = {exe,          "ask",
                 "--doc",      doc_path,
                 "--question", std::string{question},
                 "--task",     "qa",
                 "--endpoint", front_sim->url(),
                 "--budget",   std::to_string(sc.budget),
                 "--quiet",    "--json",
                 "--set",      "pipeline.mappers=0",
                 "--set",      "workers.nodes=" + nodes,
                 "--set",      "endpoints[0].max_concurrency=16",
                 "--set",      "log.level=error"};
    for (auto& a : set_args(sc))
      opts.argv.push_back(a);
    opts.stdout_file = dir->file("front.out");
    opts.stderr_file = dir->file("front.err");
    auto child = child_process::spawn(opts);
    if (!child)
      return std::move(child.error());
    auto ended = child->wait(std::chrono::minutes{10});
    if (!ended)
      return std::move(ended.error());
    if (ended->status != 0)
      return make_error(error_kind::internal,
                        "the coordinator with " + std::to_string(n)
                          + " workers exited with "
                          + std::to_string(ended->status) + ": "
                          + read_text(dir->file("front.err")));
    auto res = json::parse(read_text(dir->file("front.out")), nullptr, false);
    if (!res.is_object() || !res.contains("calls")
        || !res.contains("timings_ms"))
      return make_error(error_kind::internal,
                        "the coordinator printed no job result");
    auto maps = res["calls"].value("map", 0.0);
    auto map_ms = res["timings_ms"].value("map", 0.0);
    if (maps <= 0 || map_ms <= 0)
      return make_error(error_kind::internal,
                        "the coordinator made no map calls");
    return maps / (map_ms / 1000.0);
  };
  std::vector<double> ratios, one, all;
  for (uint32_t i = 0; i < sc.runs; ++i) {
    auto a = throughput(1);
    if (!a)
      return std::move(a.error());
    auto b = throughput(sc.workers);
    if (!b)
      return std::move(b.error());
    one.push_back(*a);
    all.push_back(*b);
    ratios.push_back(*b / *a);
  }
  for (auto& w : workers)
    static_cast<void>(w.terminate());
  rep.figure("scaleout_4_workers", median(ratios));
  rep.out["details"]["scaleout"]
    = {{"workers", sc.workers},
       {"slots_per_worker", sc.worker_slots},
       {"document_tokens", sc.scaleout_tokens},
       {"map_calls_per_s_1_worker", median(one)},
       {"map_calls_per_s_all_workers", median(all)}};
  return {};
}

// -- output -------------------------------------------------------------------

struct goal {
  std::string figure;
  std::string text;
  std::function<bool(const json&)> met;
};

std::vector<goal> goals() {
  auto num = [](const json& j, const char* k) -> std::optional<double> {
    if (!j.contains(k) || !j[k].is_number())
      return std::nullopt;
    return j[k].get<double>();
  };
  return {
    {"makespan_vs_bound", "makespan_vs_bound <= 1.05",
     [num](const json& j) { return num(j, "makespan_vs_bound") <= 1.05; }},
    {"speedup_vs_stage_sync", "speedup_vs_stage_sync >= 1.0",
     [num](const json& j) { return num(j, "speedup_vs_stage_sync") >= 1.0; }},
    {"orchestration_vs_raw_http", "orchestration_vs_raw_http >= 0.8",
     [num](const json& j) {
       return num(j, "orchestration_vs_raw_http") >= 0.8;
     }},
    {"peak_rss_mb_streamed_100m", "peak RSS <= 256 MB, 100M within 10% of 10M",
     [num](const json& j) {
       auto a = num(j, "peak_rss_mb_streamed_10m");
       auto b = num(j, "peak_rss_mb_streamed_100m");
       return a && b && *a <= 256 && *b <= 256 && *b <= *a * 1.1;
     }},
    {"scaleout_4_workers", "scaleout_4_workers >= 3.5",
     [num](const json& j) { return num(j, "scaleout_4_workers") >= 3.5; }},
  };
}

/// Adds the verdicts to the JSON and returns them as lines.
std::vector<std::string> verdicts(json& out) {
  std::vector<std::string> lines;
  for (const auto& g : goals()) {
    std::string verdict;
    if (!out.contains(g.figure) || out[g.figure].is_null())
      verdict = "NOT MEASURED";
    else
      verdict = g.met(out) ? "met" : "MISSED";
    out["verdicts"][g.figure] = verdict;
    lines.push_back("goal " + g.text + ": " + verdict);
  }
  return lines;
}

void print_table(const json& out, const std::vector<std::string>& lines) {
  static constexpr const char* order[] = {"makespan_vs_bound",
                                          "speedup_vs_stage_sync",
                                          "stage_sync_makespan_vs_bound",
                                          "orchestration_vs_raw_http",
                                          "cpu_us_per_map_call",
                                          "calls_exact_vs_approx",
                                          "peak_rss_mb_streamed_10m",
                                          "peak_rss_mb_streamed_100m",
                                          "peak_rss_growth_large_vs_small",
                                          "scaleout_4_workers"};
  std::printf("%-32s %s\n", "figure", "value");
  for (auto name : order) {
    if (!out.contains(name))
      continue;
    const auto& v = out[name];
    if (v.is_number())
      std::printf("%-32s %.3f\n", name, v.get<double>());
    else
      std::printf("%-32s null (%s)\n", name,
                  out["null_reasons"].value(name, "").c_str());
  }
  if (out.contains("chunking_mb_per_s"))
    for (auto& [name, v] : out["chunking_mb_per_s"].items())
      std::printf("%-32s %.1f\n", ("chunking_mb_per_s " + name).c_str(),
                  v.get<double>());
  if (out.contains("details") && out["details"].contains("scenario")) {
    const auto& r = out["details"]["scenario"]["median_run"];
    const auto& g = r["gap_ms"];
    std::printf("\nmedian scenario run: makespan %.0f ms = total service / "
                "slots %.0f ms + idle slot time / slots: startup %.0f, while "
                "mapping %.0f, collapse/reduce tail %.0f, result %.0f "
                "(chain %.0f ms)\n",
                r["makespan_ms"].get<double>(), r["work_ms"].get<double>(),
                g["startup"].get<double>(), g["map_idle"].get<double>(),
                g["tail"].get<double>(), g["result"].get<double>(),
                r["chain_ms"].get<double>());
  }
  std::printf("\n");
  for (const auto& l : lines)
    std::printf("%s\n", l.c_str());
}

int run_bench(arg_list raw_args) {
  auto parsed = parse_command_args("bench", raw_args, bench_options, synopsis);
  if (!parsed.args)
    return parsed.exit_code;
  auto& args = *parsed.args;
  scenario sc;
  sc.quick = args.has("quick");
  if (sc.quick) {
    sc.runs = 1;
    sc.doc_tokens = 120'000;
    sc.orchestration_tokens = 120'000;
    sc.tokenizer_mb = 1;
    sc.rss_tokens = {500'000, 1'500'000};
    sc.scaleout_tokens = 60'000;
  }
  try {
    auto uint_arg = [&](std::string_view name, auto& field, uint64_t min) {
      auto x = args.get_uint(name);
      if (!x)
        throw x.error();
      if (*x) {
        if (**x < min)
          throw make_error(error_kind::usage, "--" + std::string{name}
                                                + " must be at least "
                                                + std::to_string(min));
        field = static_cast<std::decay_t<decltype(field)>>(**x);
      }
    };
    auto double_arg = [&](std::string_view name, double& field) {
      auto x = args.get_double(name);
      if (!x)
        throw x.error();
      if (*x) {
        if (!(**x >= 0) || **x > 1e5)
          throw make_error(error_kind::usage, "--" + std::string{name}
                                                + " must be between 0 and "
                                                  "1e5");
        field = **x;
      }
    };
    uint_arg("runs", sc.runs, 1);
    uint_arg("doc-tokens", sc.doc_tokens, 1000);
    uint_arg("slots", sc.slots, 1);
    uint_arg("tokenizer-mb", sc.tokenizer_mb, 1);
    uint_arg("ttft-ms", sc.ttft_ms, 0);
    double_arg("prefill-ms-per-token", sc.prefill_ms_per_token);
    double_arg("per-token-ms", sc.per_token_ms);
    for (const auto& kv : args.all("set")) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw make_error(error_kind::usage,
                         "--set expects KEY=VALUE, got '" + kv + "'");
      sc.overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    static const std::set<std::string> sections{
      "scenario", "orchestration", "tokenizers", "rss", "scaleout"};
    if (auto only = args.get("only")) {
      size_t pos = 0;
      while (pos <= only->size()) {
        auto end = std::min(only->find(',', pos), only->size());
        auto name = only->substr(pos, end - pos);
        if (sections.count(name) == 0)
          throw make_error(error_kind::usage,
                           "--only: unknown section '" + name
                             + "' (scenario, orchestration, tokenizers, rss, "
                               "scaleout)");
        sc.only.insert(name);
        pos = end + 1;
      }
    }
  } catch (const error& err) {
    print_error("bench", err);
    return exit_usage;
  }
  // Check the settings once, before anything runs.
  if (auto cfg = job_settings(sc, "http://127.0.0.1:1/v1", sc.slots); !cfg) {
    print_error("bench", cfg.error());
    return exit_config;
  }
  auto exe = self_executable();
  if (!exe) {
    print_error("bench", exe.error());
    return exit_internal;
  }
  // A child that exits early must not kill the bench with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  set_log_level(spdlog::level::err);
  report rep;
  rep.out["scenario"] = sc.quick ? "quick" : "full";
  rep.out["runs"] = sc.runs;
  auto started = clock_type::now();
  struct section {
    const char* name;
    std::vector<const char*> figures;
    std::function<error()> run;
  };
  std::vector<section> all{
    {"scenario",
     {"makespan_vs_bound", "speedup_vs_stage_sync",
      "stage_sync_makespan_vs_bound"},
     [&] { return bench_scenario(sc, rep); }},
    {"orchestration",
     {"orchestration_vs_raw_http", "cpu_us_per_map_call"},
     [&] { return bench_orchestration(sc, rep); }},
    {"tokenizers",
     {"calls_exact_vs_approx", "chunking_mb_per_s"},
     [&] { return bench_tokenizers(sc, args, rep); }},
    {"rss",
     {"peak_rss_mb_streamed_10m", "peak_rss_mb_streamed_100m",
      "peak_rss_growth_large_vs_small"},
     [&] { return bench_rss(sc, *exe, rep); }},
    {"scaleout",
     {"scaleout_4_workers"},
     [&] { return bench_scaleout(sc, *exe, rep); }},
  };
  int code = exit_ok;
  for (auto& s : all) {
    auto t0 = clock_type::now();
    error err;
    if (sc.runs_section(s.name))
      err = s.run();
    else
      err = make_error(error_kind::usage, "not run (--only)");
    rep.out["details"]["seconds"][s.name] = seconds_since(t0);
    if (err) {
      // A failed section leaves its figures null with the reason; the
      // others still run.
      for (auto f : s.figures)
        if (!rep.out.contains(f) || rep.out[f].is_null())
          rep.missing(f, describe(err));
      if (sc.runs_section(s.name)) {
        print_error("bench", err);
        code = exit_internal;
      }
    }
  }
  rep.out["details"]["seconds"]["total"] = seconds_since(started);
  auto lines = verdicts(rep.out);
  if (auto path = args.get("json-file")) {
    std::ofstream file{*path};
    file << rep.out.dump(2) << '\n';
    if (!file) {
      print_error("bench",
                  make_error(error_kind::config, "cannot write " + *path));
      code = exit_config;
    }
  }
  if (args.has("json"))
    std::printf("%s\n", rep.out.dump(2).c_str());
  else
    print_table(rep.out, lines);
  return code;
}

const bool registered = register_command(
  {"bench",
   "performance figures: makespan vs bound, overlap, overhead, memory, "
   "scale-out",
   run_bench});

} // namespace

} // namespace llmmr::cli

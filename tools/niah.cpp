// `llmmr niah`: the needle-in-a-haystack grid. Every cell (a document
// length and a needle depth) generates a haystack, asks for each needle
// through the whole pipeline and judges the answers; results.json and
// heatmap.svg (and heatmap.png) go to the output directory, cell by cell, so
// an interrupted grid resumes where it stopped.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/answer_match.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/niah_grid.hpp"
#include "llmmr/core/niah_haystack.hpp"
#include "llmmr/core/svg_heatmap.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/local_sim.hpp"
#include "llmmr/tools/server_support.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

extern char** environ;

namespace llmmr::cli {

namespace {

using json = nlohmann::ordered_json;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr option_spec niah_options[] = {
  {"lengths", true,
   "LIST  document lengths in tokens, e.g. 64k,128k (default 64k to 1280k "
   "in 64k steps; k = 1000)"},
  {"depths", true,
   "LIST  needle depths in percent (default 0,10,...,100: 11 depths)"},
  {"needles", true,
   "N  needles per document, each asked for in its own job; a cell counts "
   "as found when all are (default 1, at most 24)"},
  {"seed", true, "S  seed of the filler text and the needles (default 1)"},
  {"out", true,
   "DIR  where results.json, heatmap.svg and heatmap.png go (default "
   "niah-results)"},
  {"parallel", true, "P  cells run at once (default 2)"},
  {"fresh", false, "start over even when DIR/results.json exists"},
  {"endpoint", true,
   "URL  server to test (repeat for several: endpoints[i].url); default: "
   "the built-in simulator"},
  job_option::model,
  job_option::api_key_env,
  job_option::config,
  job_option::budget,
  job_option::max_tokens,
  job_option::set,
  {"fault-rate", true,
   "X  fraction of the built-in simulator's replies that fail (0..1)"},
  {"json", false, "print results.json on stdout when done"},
  job_option::quiet,
};

constexpr std::string_view synopsis
  = "[--lengths 64k,128k,...] [--depths 0,10,...,100] [--needles N] "
    "[--seed S] [--out DIR] [--parallel P] [--fresh] [--endpoint URL ...] "
    "[--model M] [--config F] [--set KEY=VALUE ...] [--json] [--quiet]";

constexpr flag_key niah_flag_keys[] = {
  {"api-key-env", "endpoints[0].api_key_env"},
  {"model", "job.model"},
  {"budget", "job.budget"},
  {"max-tokens", "job.max_tokens"},
};

/// The description of `err` without its "kind: " prefix.
std::string error_text(const error& err) {
  auto text = describe(err);
  if (auto pos = text.find(": "); pos != std::string::npos)
    text = text.substr(pos + 2);
  return text;
}

double ms_of(uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

/// A cell's seed: the run's seed mixed with its coordinates, so that every
/// cell hides different passphrases (its filler is the shared corpus).
uint64_t cell_seed(uint64_t seed, uint64_t length, double depth) {
  auto d = static_cast<uint64_t>(std::llround(depth * 1000));
  return seed * 0x9E3779B97F4A7C15ull ^ length * 0xC2B2AE3D27D4EB4Full
         ^ (d + 1) * 0x165667B19E3779F9ull;
}

/// Runs `rsvg-convert` on the SVG; returns an empty string on success, else
/// why no PNG was written.
std::string convert_to_png(const std::string& svg, const std::string& png) {
  std::string found;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs{path};
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      auto candidate = (dir.empty() ? std::string{"."} : dir) + "/rsvg-convert";
      if (::access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
    }
  }
  if (found.empty())
    return "rsvg-convert is not installed (Debian package librsvg2-bin): "
           "no PNG written";
  std::vector<std::string> argv{found, "--format", "png", "--output", png, svg};
  std::vector<char*> cargv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, found.c_str(), nullptr, nullptr, cargv.data(), environ)
      != 0)
    return "cannot start " + found;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)
      || WEXITSTATUS(status) != 0)
    return found + " failed on " + svg;
  return {};
}

/// What the cells share while the grid runs.
struct grid_state {
  std::mutex mtx;
  /// Finished cells (kept ones first), sorted before every write.
  std::vector<json> cells;
  /// Cells of this run finished so far, and their tokens.
  size_t done = 0;
  uint64_t done_tokens = 0;
  /// Labels of the cells running now.
  std::vector<std::string> running;
  /// The first error that stopped the grid, if any, and its exit code.
  std::string stop_message;
  int stop_code = exit_ok;
  std::atomic<bool> stop{false};
};

void sort_cells(std::vector<json>& cells) {
  std::sort(cells.begin(), cells.end(), [](const json& x, const json& y) {
    auto lx = x["length_tokens"].get<uint64_t>();
    auto ly = y["length_tokens"].get<uint64_t>();
    if (lx != ly)
      return lx < ly;
    return x["depth_percent"].get<double>() < y["depth_percent"].get<double>();
  });
}

std::string cell_label(uint64_t length, double depth) {
  return niah_length_label(length) + " @ " + niah_depth_label(depth) + " %";
}

/// What every cell of a run shares.
struct cell_context {
  caf::actor_system& sys;
  const pipeline_handle& pipeline;
  /// The job settings; each needle's job asks its own question.
  const job_spec& base_spec;
  /// The filler every haystack is cut from.
  const niah_corpus& corpus;
  /// Counts the haystack's tokens.
  const tokenizer& tok;
  uint64_t seed;
  size_t needles;
};

/// One finished cell.
struct cell_outcome {
  /// Its object in results.json.
  json cell;
  /// Needles found and calls made.
  uint64_t found = 0;
  uint32_t calls = 0;
  /// The first failed job's error (empty when none) and its exit code.
  std::string error;
  int error_code = exit_ok;
  /// Wall time of the cell.
  uint64_t wall_us = 0;
};

/// Builds the haystack of the cell (`length`, `depth`) and asks for each of
/// its needles in a job of its own; judges the answers.
cell_outcome run_niah_cell(const cell_context& ctx, uint64_t length,
                           double depth) {
  auto cell_t0 = clock_type::now();
  auto needles
    = make_niah_needles(cell_seed(ctx.seed, length, depth), ctx.needles);
  auto depths = niah_needle_depths(depth, needles.size());
  auto hay = build_niah_haystack(ctx.corpus, length, needles, depths, ctx.tok);
  json per_needle = json::array();
  uint64_t found = 0;
  uint32_t map = 0, collapse = 0, reduce = 0, chunks = 0;
  uint64_t prompt = 0, completion = 0;
  bool partial = false;
  cell_outcome out;
  auto& error = out.error;
  std::string answers;
  for (size_t k = 0; k < needles.size(); ++k) {
    const auto& n = needles[k];
    const auto& place = hay.placements[k];
    auto spec = ctx.base_spec;
    spec.question = n.question;
    const std::string& text = hay.text;
    auto outcome
      = run_streamed_job(ctx.sys, ctx.pipeline, spec, text_source(text),
                         progress_mode::none, text.size());
    json entry{
      {"label", n.label},
      {"question", n.question},
      {"expected", n.answer},
      {"depth_percent", depths[k]},
      {"byte_offset", place.byte_offset},
      {"token_offset", place.token_offset},
    };
    if (!outcome.result) {
      if (error.empty()) {
        error = describe(outcome.result.error());
        out.error_code = exit_code_for(outcome);
      }
      entry["answer"] = nullptr;
      entry["found"] = false;
      entry["error"] = describe(outcome.result.error());
      per_needle.push_back(std::move(entry));
      continue;
    }
    const auto& res = *outcome.result;
    bool ok = answer_contains(res.answer, n.answer);
    found += ok ? 1 : 0;
    bool at_needle = false;
    for (const auto& ev : res.evidence)
      for (const auto& r : ev.ranges)
        at_needle
          = at_needle
            || (place.byte_offset >= r.begin && place.byte_offset < r.end);
    map += res.calls.map;
    collapse += res.calls.collapse;
    reduce += res.calls.reduce;
    chunks = std::max(chunks, res.chunks);
    prompt += res.usage.prompt_tokens;
    completion += res.usage.completion_tokens;
    partial = partial || res.partial;
    if (!answers.empty())
      answers += " | ";
    answers += res.answer;
    entry["answer"] = res.answer;
    entry["found"] = ok;
    entry["confidence"] = res.confidence;
    entry["evidence_at_needle"] = at_needle;
    entry["no_information"] = res.no_information;
    entry["calls"] = res.calls.map + res.calls.collapse + res.calls.reduce;
    entry["wall_ms"] = ms_of(outcome.wall_us);
    per_needle.push_back(std::move(entry));
  }
  out.wall_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - cell_t0)
      .count());
  out.found = found;
  out.calls = map + collapse + reduce;
  out.cell = json{
    {"length_tokens", length},
    {"depth_percent", depth},
    {"found", error.empty() && found == needles.size()},
    {"needles", needles.size()},
    {"needles_found", found},
    {"answer", answers},
    {"calls", map + collapse + reduce},
    {"calls_by_stage",
     {{"map", map}, {"collapse", collapse}, {"reduce", reduce}}},
    {"tokens",
     {{"document", hay.tokens},
      {"prompt", prompt},
      {"completion", completion}}},
    {"document_bytes", hay.text.size()},
    {"chunks", chunks},
    {"partial", partial},
    {"wall_ms", ms_of(out.wall_us)},
    {"needle_results", std::move(per_needle)},
  };
  if (!error.empty())
    out.cell["error"] = error;
  return out;
}

int run_niah(arg_list raw) {
  auto parsed = parse_command_args("niah", raw, niah_options, synopsis);
  if (!parsed.args)
    return parsed.exit_code;
  auto& args = parsed.args;
  auto grid = default_niah_grid();
  if (auto list = args->get("lengths")) {
    auto x = parse_niah_lengths(*list);
    if (!x) {
      print_error("niah", x.error());
      return exit_usage;
    }
    grid.lengths = std::move(*x);
  }
  if (auto list = args->get("depths")) {
    auto x = parse_niah_depths(*list);
    if (!x) {
      print_error("niah", x.error());
      return exit_usage;
    }
    grid.depths = std::move(*x);
  }
  auto needles_arg = args->get_uint("needles");
  auto seed_arg = args->get_uint("seed");
  auto parallel_arg = args->get_uint("parallel");
  auto fault_arg = args->get_double("fault-rate");
  for (const error* err : {needles_arg ? nullptr : &needles_arg.error(),
                           seed_arg ? nullptr : &seed_arg.error(),
                           parallel_arg ? nullptr : &parallel_arg.error(),
                           fault_arg ? nullptr : &fault_arg.error()})
    if (err != nullptr) {
      print_error("niah", *err);
      return exit_usage;
    }
  for (auto flag : {"budget", "max-tokens"})
    if (auto x = args->get_uint(flag); !x) {
      print_error("niah", x.error());
      return exit_usage;
    }
  auto needle_count = needles_arg->value_or(1);
  if (needle_count == 0 || needle_count > niah_max_needles)
    return usage_failure("niah", "--needles must be between 1 and "
                                   + std::to_string(niah_max_needles));
  auto seed = seed_arg->value_or(1);
  auto parallel = parallel_arg->value_or(2);
  if (parallel == 0 || parallel > 64)
    return usage_failure("niah", "--parallel must be between 1 and 64");
  auto fault_rate = fault_arg->value_or(0.0);
  if (fault_rate < 0 || fault_rate > 1)
    return usage_failure("niah", "--fault-rate must be between 0 and 1");
  bool quiet = args->has("quiet");
  fs::path out_dir = args->get("out").value_or("niah-results");

  // Settings: as `llmmr ask`, every --endpoint an endpoints[i].url below the
  // other flags and --set.
  auto src = settings_sources_from(*args, niah_flag_keys);
  if (!src) {
    print_error("niah", src.error());
    return exit_usage;
  }
  auto urls = args->all("endpoint");
  std::vector<std::pair<std::string, std::string>> endpoint_overrides;
  for (size_t i = 0; i < urls.size(); ++i)
    endpoint_overrides.emplace_back("endpoints[" + std::to_string(i) + "].url",
                                    urls[i]);
  src->overrides.insert(src->overrides.begin(), endpoint_overrides.begin(),
                        endpoint_overrides.end());
  auto cfg = load_settings(*src);
  if (!cfg) {
    print_error("niah", cfg.error());
    return exit_config;
  }
  // No endpoint anywhere (flag, --set, file, environment): the built-in
  // simulator.
  bool set_endpoint = false;
  for (const auto& kv : args->all("set"))
    set_endpoint = set_endpoint || kv.starts_with("endpoints");
  bool use_sim
    = urls.empty() && !set_endpoint && cfg->endpoints == settings{}.endpoints;
  if (args->has("fault-rate") && !use_sim)
    return usage_failure("niah",
                         "--fault-rate applies to the built-in simulator only "
                         "(no --endpoint)");
  std::optional<local_sim> sim;
  if (use_sim) {
    auto started = start_local_sim(seed, fault_rate);
    if (!started) {
      print_error("niah", started.error());
      return exit_endpoint;
    }
    sim = std::move(*started);
    auto overrides = sim->overrides;
    // The simulator counts four bytes a token; the estimate is close enough
    // and needs no request.
    overrides.emplace_back("tokenizer.kind", "approx");
    src->overrides.insert(src->overrides.begin(), overrides.begin(),
                          overrides.end());
    cfg = load_settings(*src);
    if (!cfg) {
      print_error("niah", cfg.error());
      return exit_config;
    }
  }
  if (auto err = configure_logging(*cfg)) {
    print_error("niah", err);
    return exit_config;
  }
  auto be = connect_backend(*cfg);
  if (!be) {
    print_error("niah", be.error());
    return exit_code_for(be.error());
  }
  auto base_spec = cfg->to_job_spec();
  if (auto note = fit_budget(base_spec, be->context_window);
      !note.empty() && !quiet)
    std::fprintf(stderr, "llmmr niah: %s\n", note.c_str());
  auto tok = choose_tokenizer(*cfg, &*be, quiet);
  if (!tok) {
    print_error("niah", tok.error());
    return exit_config;
  }
  // The haystack's lengths and depths are counted with the pipeline's
  // tokenizer, unless that is the server's: asking it for every sentence of
  // a million-token document is too slow, so the estimate counts instead.
  std::shared_ptr<const tokenizer> gen_tok = tok->tok;
  std::string gen_tok_name = tok->description;
  if (tok->server) {
    gen_tok = std::make_shared<approx_tokenizer>();
    gen_tok_name = "approx";
    if (!quiet)
      std::fprintf(stderr,
                   "llmmr niah: the haystacks are measured with the estimate "
                   "(approx), not the server's tokenizer; set tokenizer.kind "
                   "and tokenizer.file for exact lengths\n");
  }

  // What a result depends on; a results file written with other values is
  // not resumed.
  json targets = json::array();
  if (use_sim)
    targets.push_back("built-in simulator");
  else
    for (const auto& ep : be->endpoints)
      targets.push_back(ep.url);
  std::string model
    = !base_spec.model.empty()
        ? base_spec.model
        : (be->endpoints.empty() ? std::string{} : be->endpoints[0].model);
  json settings_doc{
    {"lengths", grid.lengths},
    {"depths", grid.depths},
    {"needles", needle_count},
    {"seed", seed},
    {"endpoints", targets},
    {"model", model},
    {"tokenizer", tok->description},
    {"haystack_tokenizer", gen_tok_name},
    {"strategy", to_string(base_spec.strategy)},
    {"task", to_string(base_spec.profile)},
    {"budget", base_spec.budget},
    {"max_tokens", base_spec.max_tokens},
  };
  if (use_sim)
    settings_doc["fault_rate"] = fault_rate;

  // The output directory and what a previous run left in it.
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    print_error("niah", make_error(error_kind::input, "cannot create "
                                                        + out_dir.string()
                                                        + ": " + ec.message()));
    return exit_input;
  }
  auto results_path = (out_dir / "results.json").string();
  auto svg_path = (out_dir / "heatmap.svg").string();
  auto png_path = (out_dir / "heatmap.png").string();
  grid_state state;
  if (!args->has("fresh") && fs::exists(results_path)) {
    std::ifstream in{results_path};
    auto old = json::parse(in, nullptr, false);
    if (old.is_discarded())
      return usage_failure(
        "niah", results_path
                  + " is not valid JSON: use --fresh to start over or "
                    "--out for another directory");
    auto kept = niah_resumable_cells(old, settings_doc, grid);
    if (!kept)
      return usage_failure(
        "niah", results_path + ": " + error_text(kept.error())
                  + "; use --fresh to start over or --out for another "
                    "directory");
    state.cells = std::move(*kept);
  }
  struct cell_coord {
    uint64_t length;
    double depth;
  };
  std::vector<cell_coord> todo;
  for (auto length : grid.lengths)
    for (auto depth : grid.depths) {
      auto have = std::any_of(
        state.cells.begin(), state.cells.end(), [&](const json& c) {
          return c["length_tokens"] == length && c["depth_percent"] == depth;
        });
      if (!have)
        todo.push_back({length, depth});
    }
  uint64_t todo_tokens = 0;
  uint64_t max_length = 0;
  for (const auto& c : todo) {
    todo_tokens += c.length;
    max_length = std::max(max_length, c.length);
  }
  if (!quiet) {
    std::string at_once;
    if (!todo.empty())
      at_once = ", " + std::to_string(std::min<uint64_t>(parallel, todo.size()))
                + " at once";
    std::fprintf(stderr,
                 "llmmr niah: %zu cells (%zu lengths x %zu depths), %llu "
                 "needle%s each, against %s; %zu kept from %s, %zu to run%s\n",
                 grid.cells(), grid.lengths.size(), grid.depths.size(),
                 static_cast<unsigned long long>(needle_count),
                 needle_count == 1 ? "" : "s",
                 use_sim ? "the built-in simulator" : targets.dump().c_str(),
                 state.cells.size(), results_path.c_str(), todo.size(),
                 at_once.c_str());
  }

  auto write_results = [&]() -> error {
    // Called with state.mtx held.
    sort_cells(state.cells);
    json doc{{"settings", settings_doc},
             {"cells", state.cells},
             {"summary", niah_summary(state.cells, grid.cells())}};
    return write_file_atomically(results_path, doc.dump(2) + "\n");
  };
  auto write_heatmap = [&]() -> error {
    // Called with state.mtx held, after write_results.
    auto sum = niah_summary(state.cells, grid.cells());
    std::string title = "Needle in a haystack: llmmr "
                        + to_string(base_spec.strategy) + " on "
                        + (use_sim ? "the built-in simulator" : model);
    char subtitle[256];
    std::snprintf(subtitle, sizeof(subtitle),
                  "%llu of %zu cells found; %llu needle%s per document; "
                  "%u-token calls; tokens counted with %s; seed %llu",
                  sum["cells_found"].get<unsigned long long>(), grid.cells(),
                  static_cast<unsigned long long>(needle_count),
                  needle_count == 1 ? "" : "s", base_spec.budget,
                  gen_tok_name.c_str(), static_cast<unsigned long long>(seed));
    auto svg = render_svg_heatmap(
      niah_heatmap(grid, state.cells, std::move(title), subtitle));
    return write_file_atomically(svg_path, svg);
  };

  auto t0 = clock_type::now();
  if (!todo.empty()) {
    // One shared corpus: every haystack is a prefix of it.
    auto gen_t0 = clock_type::now();
    niah_corpus corpus{seed, max_length + 64 * needle_count + 64, *gen_tok};
    if (!quiet)
      std::fprintf(
        stderr, "llmmr niah: filler corpus of %s tokens generated in %s\n",
        format_count(corpus.tokens()).c_str(),
        format_duration(static_cast<uint64_t>(
                          std::chrono::duration_cast<std::chrono::microseconds>(
                            clock_type::now() - gen_t0)
                            .count()))
          .c_str());
    caf::actor_system_config sys_cfg;
    register_types(sys_cfg);
    if (auto err = configure_middleman(sys_cfg, *cfg)) {
      print_error("niah", err);
      return exit_config;
    }
    caf::actor_system sys{sys_cfg};
    auto popts = to_pipeline_options(*cfg);
    popts.max_jobs
      = std::max(popts.max_jobs, static_cast<uint32_t>(parallel) + 1);
    auto pipeline = spawn_pipeline(sys, popts, be->client, tok->tok);
    if (!pipeline) {
      print_error("niah", pipeline.error());
      return exit_code_for(pipeline.error());
    }
    std::atomic<size_t> next{0};
    cell_context ctx{sys,      *pipeline, base_spec,   corpus,
                     *gen_tok, seed,      needle_count};
    auto run_cell = [&](const cell_coord& cc) {
      auto result = run_niah_cell(ctx, cc.length, cc.depth);
      const auto& error = result.error;
      auto found = result.found;
      auto needles_in_cell = ctx.needles;
      std::lock_guard guard{state.mtx};
      state.cells.push_back(std::move(result.cell));
      ++state.done;
      state.done_tokens += cc.length;
      auto label = cell_label(cc.length, cc.depth);
      state.running.erase(
        std::find(state.running.begin(), state.running.end(), label));
      if (!error.empty() && state.stop_message.empty()) {
        state.stop_message = error;
        state.stop_code = result.error_code;
        state.stop = true;
      }
      if (auto err = write_results())
        print_error("niah", err);
      else if (auto err = write_heatmap())
        print_error("niah", err);
      if (!quiet) {
        auto elapsed_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(
            clock_type::now() - t0)
            .count());
        std::string line = "llmmr niah: [" + std::to_string(state.done) + "/"
                           + std::to_string(todo.size()) + "] " + label + ": ";
        if (!error.empty())
          line += "ERROR " + error;
        else
          line += std::string{found == needles_in_cell ? "found" : "MISSED"}
                  + " (" + std::to_string(found) + "/"
                  + std::to_string(needles_in_cell) + " needles)";
        line += ", " + std::to_string(result.calls) + " calls, "
                + format_duration(result.wall_us);
        if (!state.running.empty()) {
          line += " | running";
          for (const auto& r : state.running)
            line += " " + r;
        }
        line += " | elapsed " + format_duration(elapsed_us);
        if (state.done < todo.size() && state.done_tokens > 0) {
          auto left = todo_tokens - state.done_tokens;
          auto eta = static_cast<double>(elapsed_us) * static_cast<double>(left)
                     / static_cast<double>(state.done_tokens);
          line += ", ETA " + format_duration(static_cast<uint64_t>(eta));
        }
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    };
    auto worker = [&] {
      for (;;) {
        if (state.stop)
          return;
        auto i = next.fetch_add(1);
        if (i >= todo.size())
          return;
        {
          std::lock_guard guard{state.mtx};
          state.running.push_back(cell_label(todo[i].length, todo[i].depth));
        }
        run_cell(todo[i]);
      }
    };
    std::vector<std::thread> threads;
    auto n_threads = std::min<uint64_t>(parallel, todo.size());
    for (uint64_t i = 0; i < n_threads; ++i)
      threads.emplace_back(worker);
    for (auto& t : threads)
      t.join();
    pipeline->stop();
  } else {
    std::lock_guard guard{state.mtx};
    if (auto err = write_results())
      print_error("niah", err);
  }
  auto total_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - t0)
      .count());

  // The heatmap of everything in results.json.
  std::lock_guard guard{state.mtx};
  sort_cells(state.cells);
  auto summary = niah_summary(state.cells, grid.cells());
  if (auto err = write_heatmap()) {
    print_error("niah", err);
    return exit_input;
  }
  auto png_note = convert_to_png(svg_path, png_path);
  if (!png_note.empty())
    std::fprintf(stderr, "llmmr niah: %s\n", png_note.c_str());
  if (args->has("json")) {
    json doc{
      {"settings", settings_doc}, {"cells", state.cells}, {"summary", summary}};
    std::printf("%s\n", doc.dump(2).c_str());
    std::fflush(stdout);
  }
  if (!quiet)
    std::fprintf(
      stderr,
      "llmmr niah: %llu of %zu cells found (%llu of %llu needles), %llu "
      "failed; %llu calls, %s prompt + %s completion tokens; this run %s; "
      "wrote %s and %s%s\n",
      summary["cells_found"].get<unsigned long long>(), grid.cells(),
      summary["needles_found"].get<unsigned long long>(),
      summary["needles"].get<unsigned long long>(),
      summary["cells_failed"].get<unsigned long long>(),
      summary["calls"].get<unsigned long long>(),
      format_count(summary["prompt_tokens"].get<uint64_t>()).c_str(),
      format_count(summary["completion_tokens"].get<uint64_t>()).c_str(),
      format_duration(total_us).c_str(), results_path.c_str(), svg_path.c_str(),
      png_note.empty() ? (" and " + png_path).c_str() : "");
  if (!state.stop_message.empty()) {
    std::fprintf(stderr,
                 "llmmr niah: stopped after a failed cell: %s (run again to "
                 "retry the failed and missing cells)\n",
                 state.stop_message.c_str());
    return state.stop_code == exit_ok ? exit_job_failed : state.stop_code;
  }
  if (!summary["all_found"].get<bool>()) {
    std::fprintf(stderr, "llmmr niah: not every needle was found\n");
    return exit_needle_missed;
  }
  return exit_ok;
}

const bool registered = register_command(
  {"niah", "needle-in-a-haystack grid with a heatmap", run_niah});

} // namespace

} // namespace llmmr::cli

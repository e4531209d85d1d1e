// `llmmr eval infinitebench`: runs a task's examples through the pipeline
// with resumable prediction files, and prints their scores, costs and
// calibration report side by side per strategy.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "llmmr/actors/job_runner.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/calibration_report.hpp"
#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/reliability_diagram.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/strategy.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/eval_commands.hpp"
#include "llmmr/tools/local_sim.hpp"
#include "llmmr/tools/prediction_file.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
using clock_type = std::chrono::steady_clock;

constexpr option_spec run_options[] = {
  {"data", true, "DIR  folder with the InfiniteBench files (<task>.jsonl)"},
  {"task", true, "NAME  the task, e.g. passkey or longbook_choice_eng"},
  {"limit", true, "N  only the first N examples of the file"},
  {"strategy", true,
   "S[,S...]  mapreduce, chain and/or direct (default mapreduce)"},
  {"scorer", true, "NAME  official (default) or llmxmapreduce"},
  {"out", true, "DIR  where predictions go (default llmmr-eval)"},
  {"parallel", true, "N  examples run at the same time (default 1)"},
  {"endpoint", true,
   "URL  an endpoint (repeatable); none: the in-process simulator"},
  job_option::model,
  job_option::api_key_env,
  job_option::config,
  job_option::budget,
  job_option::max_tokens,
  job_option::set,
  {"json", false, "print the report as one JSON object"},
  job_option::quiet,
};

constexpr std::string_view run_name = "eval infinitebench";

constexpr std::string_view run_synopsis
  = "--data DIR --task TASK [--limit N] [--strategy mapreduce|chain|direct[,"
    "...]] [--scorer official|llmxmapreduce] [--out DIR] [--parallel N] "
    "[--endpoint URL ...] [--config F] [--set KEY=VALUE ...] [--json] "
    "[--quiet]";

/// The flags that stand for configuration keys (the endpoints are added
/// separately, one key per `--endpoint`).
constexpr flag_key run_flag_keys[] = {
  {"api-key-env", "endpoints[0].api_key_env"},
  {"model", "job.model"},
  {"budget", "job.budget"},
  {"max-tokens", "job.max_tokens"},
};

expected<std::vector<strategy>> strategies_arg(const parsed_args& args) {
  std::vector<strategy> out;
  auto text = args.get("strategy").value_or("mapreduce");
  std::stringstream in{text};
  std::string name;
  while (std::getline(in, name, ',')) {
    strategy s;
    if (!from_string(name, s))
      return usage_error("--strategy: unknown strategy '" + name
                         + "' (mapreduce, chain or direct)");
    if (std::find(out.begin(), out.end(), s) == out.end())
      out.push_back(s);
  }
  if (out.empty())
    return usage_error("--strategy: no strategy given");
  return out;
}

/// Whether any setting could name an endpoint: a flag, a configuration file
/// or an environment variable. Without one, runs use the simulator.
bool endpoint_configured(const parsed_args& args) {
  if (args.has("endpoint") || args.has("config"))
    return true;
  for (const auto& kv : args.all("set"))
    if (kv.rfind("endpoints", 0) == 0)
      return true;
  for (const auto& [name, value] : current_environment())
    if (name == "LLMMR_CONFIG" || name == "OPENAI_BASE_URL"
        || name.rfind("LLMMR_ENDPOINTS_", 0) == 0)
      return true;
  return false;
}

/// `preds_<task>.jsonl` for mapreduce (the reference's name), else
/// `preds_<task>_<strategy>.jsonl`.
std::string preds_name(infinitebench_task task, strategy s) {
  auto name = "preds_" + to_string(task);
  if (s != strategy::mapreduce)
    name += "_" + to_string(s);
  return name + ".jsonl";
}

/// Reads a data file one example at a time, for several threads.
class example_reader {
public:
  example_reader(std::string path, std::optional<uint64_t> limit)
    : path_(std::move(path)), limit_(limit), in_(path_, std::ios::binary) {}

  bool is_open() const { return static_cast<bool>(in_); }

  /// The next example and its line number, nothing at the end (of the file
  /// or of the limit), or the first error; after an error always nothing.
  expected<std::optional<std::pair<infinitebench_example, size_t>>> next() {
    std::lock_guard guard{mtx_};
    if (stopped_)
      return std::nullopt;
    std::string line;
    while (!limit_ || taken_ < *limit_) {
      if (!std::getline(in_, line))
        break;
      ++line_no_;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos)
        continue;
      auto where = path_ + ":" + std::to_string(line_no_);
      auto ex = parse_infinitebench_example(line, where);
      if (!ex) {
        stopped_ = true;
        return ex.error();
      }
      auto key = id_key(ex->id);
      if (!selected_.insert(key).second) {
        stopped_ = true;
        return make_error(error_kind::input,
                          where + ": duplicate id " + key
                            + " (resuming needs unique ids)");
      }
      ++taken_;
      return std::make_optional(std::pair{std::move(*ex), line_no_});
    }
    stopped_ = true;
    return std::nullopt;
  }

  /// Stops handing out examples.
  void stop() {
    std::lock_guard guard{mtx_};
    stopped_ = true;
  }

  /// The ids handed out so far.
  std::set<std::string> selected() const {
    std::lock_guard guard{mtx_};
    return selected_;
  }

private:
  std::string path_;
  std::optional<uint64_t> limit_;
  std::ifstream in_;
  mutable std::mutex mtx_;
  size_t line_no_ = 0;
  uint64_t taken_ = 0;
  bool stopped_ = false;
  std::set<std::string> selected_;
};

/// What one strategy's pass over the examples did.
struct strategy_run {
  strategy which = strategy::mapreduce;
  std::string preds_path;
  std::string svg_path;
  size_t ran = 0;
  size_t resumed = 0;
  prediction_totals totals;
  calibration_report calibration;
  uint64_t wall_us = 0;
};

/// Everything one example's job needs.
struct run_context {
  caf::actor_system* sys = nullptr;
  const pipeline_handle* pipeline = nullptr;
  job_spec base_spec;
  infinitebench_task task = infinitebench_task::passkey;
  infinitebench_scorer scorer = infinitebench_scorer::official;
  bool quiet = false;
};

/// Runs one example and returns its prediction line.
ordered_json run_example(const run_context& ctx, strategy s,
                         const infinitebench_example& ex) {
  auto spec = ctx.base_spec;
  spec.question = build_question(ctx.task, ex);
  spec.profile = profile_of(ctx.task);
  spec.strategy = s;
  auto timeout = spec.deadline_ms > 0
                   ? std::chrono::milliseconds{spec.deadline_ms + 60'000}
                   : std::chrono::milliseconds{std::chrono::hours{24}};
  auto t0 = clock_type::now();
  auto res = run_job(*ctx.sys, *ctx.pipeline, spec, ex.context, timeout);
  auto wall_ms
    = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  ordered_json line;
  line["id"] = ex.id;
  if (!res) {
    line["prediction"] = "";
    line["ground_truth"] = ground_truth_json(ctx.task, ex);
    line["raw_prediction"] = "";
    line["confidence"] = nullptr;
    line["calls"] = 0;
    line["tokens"] = 0;
    line["wall_ms"] = wall_ms;
    line["strategy"] = to_string(s);
    line["error"] = describe(res.error());
    return line;
  }
  line["prediction"] = narrow_answer(res->answer, answer_kind_of(ctx.task));
  line["ground_truth"] = ground_truth_json(ctx.task, ex);
  line["raw_prediction"] = res->answer;
  line["rationale"] = res->rationale;
  bool has_confidence = uses_scores(spec.profile) && !res->no_information;
  line["confidence"] = has_confidence ? json(res->confidence) : json(nullptr);
  line["calls"] = res->calls.map + res->calls.collapse + res->calls.reduce;
  line["tokens"] = res->usage.prompt_tokens + res->usage.completion_tokens;
  line["prompt_tokens"] = res->usage.prompt_tokens;
  line["completion_tokens"] = res->usage.completion_tokens;
  line["wall_ms"] = wall_ms;
  line["strategy"] = to_string(s);
  line["chunks"] = res->chunks;
  line["no_information"] = res->no_information;
  line["partial"] = res->partial;
  return line;
}

/// Runs the examples of `reader` not yet in the prediction file of `run`
/// with `parallel` threads, appending each line as it finishes. Returns the
/// first data error.
error run_strategy(const run_context& ctx, strategy_run& run,
                   example_reader& reader, size_t parallel,
                   const std::set<std::string>& done) {
  std::ofstream out{run.preds_path, std::ios::binary | std::ios::app};
  if (!out)
    return make_error(error_kind::input,
                      "cannot write '" + run.preds_path + "'");
  std::mutex mtx;
  error first_error;
  std::atomic<size_t> started{0};
  auto worker = [&] {
    for (;;) {
      auto next = reader.next();
      if (!next) {
        std::lock_guard guard{mtx};
        if (!first_error)
          first_error = next.error();
        return;
      }
      if (!*next)
        return;
      auto& [ex, line_no] = **next;
      auto key = id_key(ex.id);
      if (done.count(key) > 0) {
        std::lock_guard guard{mtx};
        ++run.resumed;
        continue;
      }
      auto number = ++started;
      auto line = run_example(ctx, run.which, ex);
      auto text
        = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::lock_guard guard{mtx};
      out << text << '\n';
      out.flush();
      ++run.ran;
      if (!ctx.quiet) {
        auto score = score_prediction(ctx.task, ctx.scorer,
                                      line["prediction"].get<std::string>(),
                                      truth_strings(line["ground_truth"]));
        std::string what
          = line.contains("error")
              ? "FAILED: " + line["error"].get<std::string>()
              : "answer \""
                  + line["prediction"].get<std::string>().substr(0, 60) + "\""
                  + (score ? ", score " + fmt("%.2f", *score) : "");
        std::fprintf(stderr,
                     "llmmr eval: %s #%zu (id %s, line %zu): %s, %llu calls, "
                     "%s tokens, %s\n",
                     to_string(run.which).c_str(), number, key.c_str(), line_no,
                     what.c_str(),
                     static_cast<unsigned long long>(uint_field(line, "calls")),
                     format_count(uint_field(line, "tokens")).c_str(),
                     format_duration(static_cast<uint64_t>(
                                       line["wall_ms"].get<double>() * 1000))
                       .c_str());
      }
      if (!out) {
        if (!first_error)
          first_error = make_error(error_kind::input,
                                   "cannot write '" + run.preds_path + "'");
        reader.stop();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < parallel; ++i)
    threads.emplace_back(worker);
  worker();
  for (auto& t : threads)
    t.join();
  return first_error;
}

void print_runs(infinitebench_task task, infinitebench_scorer scorer,
                const std::string& data_path,
                const std::vector<strategy_run>& runs) {
  std::printf("%s (%.*s) from %s; scorer: %s\n", to_string(task).c_str(),
              static_cast<int>(table_name(task).size()),
              table_name(task).data(), data_path.c_str(),
              scorer_label(scorer).c_str());
  std::printf("%-22s", "");
  for (auto& r : runs)
    std::printf(" %20s", to_string(r.which).c_str());
  std::printf("\n");
  auto row = [&](const char* name, auto cell) {
    std::printf("%-22s", name);
    for (auto& r : runs)
      std::printf(" %20s", cell(r).c_str());
    std::printf("\n");
  };
  auto per_example = [](double total, size_t n) {
    return n == 0 ? 0.0 : total / static_cast<double>(n);
  };
  row("score (%)", [](const strategy_run& r) {
    if (r.totals.scored == 0)
      return std::string{"no rule"};
    return fmt("%.2f",
               100 * r.totals.score_sum / static_cast<double>(r.totals.scored));
  });
  row("examples", [](const strategy_run& r) {
    return std::to_string(r.totals.examples) + " (" + std::to_string(r.ran)
           + " run now)";
  });
  row("calls", [&](const strategy_run& r) {
    return std::to_string(r.totals.calls) + " ("
           + fmt("%.1f", per_example(static_cast<double>(r.totals.calls),
                                     r.totals.examples))
           + "/ex)";
  });
  row("tokens", [&](const strategy_run& r) {
    return format_count(r.totals.tokens) + " ("
           + format_count(static_cast<uint64_t>(per_example(
             static_cast<double>(r.totals.tokens), r.totals.examples)))
           + "/ex)";
  });
  row("wall time (sum)", [&](const strategy_run& r) {
    return format_duration(static_cast<uint64_t>(r.totals.wall_ms * 1000))
           + " ("
           + format_duration(static_cast<uint64_t>(
             per_example(r.totals.wall_ms, r.totals.examples) * 1000))
           + "/ex)";
  });
  row("wall time (this run)",
      [](const strategy_run& r) { return format_duration(r.wall_us); });
  row("failures",
      [](const strategy_run& r) { return std::to_string(r.totals.failures); });
  row("partial results",
      [](const strategy_run& r) { return std::to_string(r.totals.partial); });
  row("ECE", [](const strategy_run& r) {
    return r.calibration.samples == 0 ? std::string{"-"}
                                      : fmt("%.3f", r.calibration.ece);
  });
  row("Brier", [](const strategy_run& r) {
    return r.calibration.samples == 0 ? std::string{"-"}
                                      : fmt("%.3f", r.calibration.brier);
  });
  for (auto& r : runs) {
    std::printf("\n");
    print_calibration(stdout, r.calibration, " (" + to_string(r.which) + ")");
    std::printf("  predictions: %s\n", r.preds_path.c_str());
    if (!r.svg_path.empty())
      std::printf("  reliability diagram: %s\n", r.svg_path.c_str());
  }
  for (auto& r : runs)
    if (r.totals.failures > 0) {
      std::printf("\nnote: failed examples score 0 and their calls and tokens "
                  "are not counted\n");
      break;
    }
}

json run_json(infinitebench_task task, infinitebench_scorer scorer,
              const std::string& data_path,
              const std::vector<strategy_run>& runs) {
  auto list = json::array();
  for (auto& r : runs) {
    auto& t = r.totals;
    list.push_back(
      {{"strategy", to_string(r.which)},
       {"predictions", r.preds_path},
       {"reliability_svg", r.svg_path},
       {"score", t.scored == 0
                   ? json(nullptr)
                   : json(100 * t.score_sum / static_cast<double>(t.scored))},
       {"examples", t.examples},
       {"scored", t.scored},
       {"ran", r.ran},
       {"resumed", r.resumed},
       {"calls", t.calls},
       {"tokens", t.tokens},
       {"wall_ms", t.wall_ms},
       {"run_wall_ms", static_cast<double>(r.wall_us) / 1000.0},
       {"failures", t.failures},
       {"partial", t.partial},
       {"calibration", to_json(r.calibration)}});
  }
  return {{"task", to_string(task)},
          {"table_name", std::string{table_name(task)}},
          {"data", data_path},
          {"scorer", std::string{to_string(scorer)}},
          {"strategies", std::move(list)}};
}

int run_infinitebench(arg_list raw) {
  auto args = parse_args(run_name, raw, run_options);
  if (!args)
    return fail_with(run_name, args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(run_name, run_synopsis, run_options);
    std::printf("\nRuns every example of DIR/TASK.jsonl through the pipeline "
                "with the task's\nprofile, appends predictions to "
                "OUT/preds_TASK[_STRATEGY].jsonl as each example\nfinishes "
                "(examples already there are skipped: a run resumes), then "
                "scores\nthem and prints the calibration report; the "
                "reliability diagram goes to\nOUT/reliability_TASK_STRATEGY."
                "svg. Without --endpoint, --config or an endpoint\nin the "
                "environment the in-process simulator answers.\n");
    return exit_ok;
  }
  if (!args->positional.empty())
    return fail_with(
      run_name,
      usage_error("unexpected argument '" + args->positional.front() + "'"),
      exit_usage);
  auto task = task_arg(*args);
  if (!task)
    return fail_with(run_name, task.error(), exit_usage);
  auto data = args->get("data");
  if (!data || data->empty())
    return fail_with(run_name, usage_error("--data DIR is required"),
                     exit_usage);
  auto strategies = strategies_arg(*args);
  if (!strategies)
    return fail_with(run_name, strategies.error(), exit_usage);
  auto scorer = scorer_arg(*args);
  if (!scorer)
    return fail_with(run_name, scorer.error(), exit_usage);
  auto limit = args->get_uint("limit");
  auto parallel = args->get_uint("parallel");
  for (const error* err : {limit ? nullptr : &limit.error(),
                           parallel ? nullptr : &parallel.error()})
    if (err != nullptr)
      return fail_with(run_name, *err, exit_usage);
  for (auto flag : {"budget", "max-tokens"})
    if (auto x = args->get_uint(flag); !x)
      return fail_with(run_name, x.error(), exit_usage);
  auto threads = parallel->value_or(1);
  if (threads == 0 || threads > 256)
    return fail_with(run_name,
                     usage_error("--parallel must be between 1 and 256"),
                     exit_usage);
  bool quiet = args->has("quiet");
  bool as_json = args->has("json");
  auto data_path = (fs::path{*data} / (to_string(*task) + ".jsonl")).string();
  {
    std::ifstream probe{data_path, std::ios::binary};
    if (!probe)
      return fail_with(
        run_name,
        make_error(error_kind::input, "cannot open '" + data_path
                                        + "' (--data names the folder of the "
                                          "InfiniteBench files, <task>.jsonl)"),
        exit_input);
  }
  auto out_dir = args->get("out").value_or("llmmr-eval");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec)
    return fail_with(run_name,
                     make_error(error_kind::input, "cannot create '" + out_dir
                                                     + "': " + ec.message()),
                     exit_input);

  // Settings: the simulator's, or the layers of `llmmr ask`.
  std::optional<local_sim> sim;
  settings_sources src;
  if (endpoint_configured(*args)) {
    auto layers = settings_sources_from(*args, run_flag_keys);
    if (!layers)
      return fail_with(run_name, layers.error(), exit_usage);
    src = std::move(*layers);
    auto urls = args->all("endpoint");
    std::vector<std::pair<std::string, std::string>> first;
    for (size_t i = 0; i < urls.size(); ++i)
      first.emplace_back("endpoints[" + std::to_string(i) + "].url", urls[i]);
    src.overrides.insert(src.overrides.begin(), first.begin(), first.end());
  } else {
    auto started = start_local_sim(1);
    if (!started)
      return fail_with(run_name, started.error(), exit_endpoint);
    sim = std::move(*started);
    src.overrides = sim->overrides;
    for (const auto& [flag, key] : run_flag_keys)
      if (auto value = args->get(flag))
        src.overrides.emplace_back(std::string{key}, *value);
    if (auto err = add_set_overrides(*args, src.overrides))
      return fail_with(run_name, err, exit_usage);
    if (!quiet)
      std::fprintf(stderr,
                   "llmmr eval: no endpoint given; the in-process simulator "
                   "answers (%s)\n",
                   sim->url.c_str());
  }
  auto cfg = load_settings(src);
  if (!cfg)
    return fail_with(run_name, cfg.error(), exit_config);
  if (auto err = configure_logging(*cfg))
    return fail_with(run_name, err, exit_config);
  auto be = connect_backend(*cfg);
  if (!be)
    return fail_with(run_name, be.error(), exit_code_for(be.error()));
  auto base_spec = cfg->to_job_spec();
  if (auto note = fit_budget(base_spec, be->context_window);
      !note.empty() && !quiet)
    std::fprintf(stderr, "llmmr eval: %s\n", note.c_str());
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  if (auto err = configure_middleman(sys_cfg, *cfg))
    return fail_with(run_name, err, exit_config);
  caf::actor_system sys{sys_cfg};
  auto tok = choose_tokenizer(*cfg, &*be, quiet || sim.has_value());
  if (!tok)
    return fail_with(run_name, tok.error(), exit_config);
  auto pipeline
    = spawn_pipeline(sys, to_pipeline_options(*cfg), be->client, tok->tok);
  if (!pipeline)
    return fail_with(run_name, pipeline.error(),
                     exit_code_for(pipeline.error()));

  run_context ctx;
  ctx.sys = &sys;
  ctx.pipeline = &*pipeline;
  ctx.base_spec = base_spec;
  ctx.task = *task;
  ctx.scorer = *scorer;
  ctx.quiet = quiet;
  std::vector<strategy_run> runs;
  int code = exit_ok;
  for (auto s : *strategies) {
    strategy_run run;
    run.which = s;
    run.preds_path = (fs::path{out_dir} / preds_name(*task, s)).string();
    auto existing = read_predictions(run.preds_path, true, true);
    if (!existing) {
      code = exit_input;
      print_error(run_name, existing.error());
      break;
    }
    std::set<std::string> done;
    // A failed example runs again; its new line supersedes the old one.
    std::set<std::string> failed_before;
    for (auto& p : *existing)
      if (!p.doc.contains("error"))
        done.insert(p.key);
    for (auto& p : *existing)
      if (p.doc.contains("error") && done.count(p.key) == 0)
        failed_before.insert(p.key);
    if (!quiet && !done.empty())
      std::fprintf(stderr,
                   "llmmr eval: %s: %zu prediction%s already in %s; those "
                   "examples are skipped\n",
                   to_string(s).c_str(), done.size(),
                   done.size() == 1 ? "" : "s", run.preds_path.c_str());
    if (!quiet && !failed_before.empty())
      std::fprintf(stderr,
                   "llmmr eval: %s: %zu example%s failed before and run "
                   "again\n",
                   to_string(s).c_str(), failed_before.size(),
                   failed_before.size() == 1 ? "" : "s");
    example_reader reader{data_path, *limit};
    if (!reader.is_open()) {
      code = exit_input;
      print_error(run_name, make_error(error_kind::input,
                                       "cannot open '" + data_path + "'"));
      break;
    }
    auto t0 = clock_type::now();
    auto err = run_strategy(ctx, run, reader, threads, done);
    run.wall_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                            - t0)
        .count());
    if (err) {
      print_error(run_name, err);
      code = exit_input;
    }
    // Score what the file holds for the examples this run selected.
    auto lines = read_predictions(run.preds_path, true, false);
    if (!lines) {
      print_error(run_name, lines.error());
      code = exit_input;
      break;
    }
    auto selected = reader.selected();
    // The last line of an id counts (a failed example run again).
    std::map<std::string, size_t> last;
    for (size_t i = 0; i < lines->size(); ++i)
      if (selected.count((*lines)[i].key) > 0)
        last[(*lines)[i].key] = i;
    std::vector<const prediction_line*> chosen;
    for (size_t i = 0; i < lines->size(); ++i)
      if (auto it = last.find((*lines)[i].key);
          it != last.end() && it->second == i)
        chosen.push_back(&(*lines)[i]);
    run.totals = total_of(chosen, *task, *scorer);
    run.calibration = make_calibration_report(run.totals.samples);
    if (run.totals.scored > 0) {
      run.svg_path
        = (fs::path{out_dir}
           / ("reliability_" + to_string(*task) + "_" + to_string(s) + ".svg"))
            .string();
      auto title = "Reliability: " + to_string(*task) + ", " + to_string(s)
                   + ", scorer " + std::string{to_string(*scorer)};
      if (auto werr = write_text_file(run.svg_path,
                                      reliability_svg(run.calibration, title)))
        print_error(run_name, werr);
    }
    if (code == exit_ok && run.totals.failures > 0)
      code = exit_partial;
    runs.push_back(std::move(run));
    if (err)
      break;
  }
  pipeline->stop();
  if (as_json)
    std::printf("%s\n",
                run_json(*task, *scorer, data_path, runs).dump(2).c_str());
  else if (!runs.empty())
    print_runs(*task, *scorer, data_path, runs);
  std::fflush(stdout);
  return code;
}

} // namespace

int run_eval_infinitebench(arg_list args) {
  return run_infinitebench(args);
}

} // namespace llmmr::cli

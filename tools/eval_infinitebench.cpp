// `llmmr eval generate`, `llmmr eval infinitebench` and `llmmr eval
// calibration`: synthetic InfiniteBench data, runs of a task's examples
// through the pipeline with resumable prediction files, their scores side by
// side per strategy, and the calibration report of the confidence scores.

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

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/answer_extractor.hpp"
#include "llmmr/core/calibration_report.hpp"
#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/reliability_diagram.hpp"
#include "llmmr/core/synthetic_tasks.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/registration.hpp"
#include "llmmr/messages/strategy.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/eval_commands.hpp"
#include "llmmr/tools/local_sim.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
using clock_type = std::chrono::steady_clock;

int fail(std::string_view command, const caf::error& err, int code) {
  print_error(command, err);
  return code;
}

caf::error usage_error(std::string text) {
  return make_error(error_kind::usage, std::move(text));
}

// -- scoring ------------------------------------------------------------------

/// The scoring rules a run applies (`--scorer`).
enum class eval_scorer {
  /// InfiniteBench's own `compute_scores.py` rules.
  official,
  /// LLM×MapReduce's modified rules (digit runs, last option letter).
  llmxmapreduce,
};

std::string_view to_string(eval_scorer x) {
  return x == eval_scorer::official ? "official" : "llmxmapreduce";
}

caf::expected<eval_scorer> scorer_arg(const parsed_args& args) {
  auto name = args.get("scorer").value_or("official");
  if (name == "official")
    return eval_scorer::official;
  if (name == "llmxmapreduce")
    return eval_scorer::llmxmapreduce;
  return usage_error("--scorer: unknown scorer '" + name
                     + "' (official or llmxmapreduce)");
}

/// Scores one prediction. The one place that picks the rules: when
/// `score_prediction` (branch `scorers`) lands, this becomes a call to it.
std::optional<double> score_one(infinitebench_task task, eval_scorer scorer,
                                std::string_view prediction,
                                const std::vector<std::string>& truth) {
  return scorer == eval_scorer::official
           ? official_score(task, prediction, truth)
           : modified_score(task, prediction, truth);
}

/// The ground truth of a prediction line as scorer strings.
std::vector<std::string> truth_strings(const ordered_json& truth) {
  std::vector<std::string> out;
  auto add = [&out](const ordered_json& x) {
    out.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  };
  if (truth.is_array())
    for (auto& x : truth)
      add(x);
  else if (!truth.is_null())
    add(truth);
  return out;
}

// -- prediction files ---------------------------------------------------------

/// One line of a prediction file, parsed.
struct prediction_line {
  /// The line as read (key order kept).
  ordered_json doc;
  /// `id_key` of its id.
  std::string key;
  /// Line number in the file.
  size_t line = 0;
};

/// Reads a prediction file: one JSON object a line with `id`, a string
/// `prediction` and `ground_truth`. A missing file reads as empty when
/// `missing_ok`. A last line cut off by an interrupted run (no final line
/// break, not valid JSON) is dropped with a note when `repair` is set, and
/// the file is truncated to the lines before it.
caf::expected<std::vector<prediction_line>>
read_predictions(const std::string& path, bool missing_ok, bool repair) {
  std::vector<prediction_line> out;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    if (missing_ok && !fs::exists(path))
      return out;
    return make_error(error_kind::input, "cannot open '" + path + "'");
  }
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  in.close();
  size_t pos = 0;
  size_t number = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    bool last_unterminated = end == std::string::npos;
    if (last_unterminated)
      end = text.size();
    ++number;
    std::string_view line{text.data() + pos, end - pos};
    auto start = pos;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos)
      continue;
    auto where = path + ":" + std::to_string(number) + ": ";
    auto doc = ordered_json::parse(line, nullptr, false);
    if (doc.is_discarded() && last_unterminated && repair) {
      std::fprintf(stderr,
                   "llmmr eval: %s:%zu: dropping a cut-off last line (an "
                   "interrupted run); that example runs again\n",
                   path.c_str(), number);
      fs::resize_file(path, start);
      break;
    }
    if (doc.is_discarded())
      return make_error(error_kind::input, where + "not valid JSON");
    if (!doc.is_object())
      return make_error(error_kind::input, where + "not a JSON object");
    if (!doc.contains("id"))
      return make_error(error_kind::input, where + "no field 'id'");
    if (!doc.contains("prediction") || !doc["prediction"].is_string())
      return make_error(error_kind::input,
                        where + "no string field 'prediction'");
    if (!doc.contains("ground_truth"))
      return make_error(error_kind::input, where + "no field 'ground_truth'");
    if (doc.contains("confidence") && !doc["confidence"].is_null()
        && !doc["confidence"].is_number())
      return make_error(error_kind::input,
                        where + "'confidence' is neither a number nor null");
    prediction_line p;
    p.key = id_key(doc["id"]);
    p.line = number;
    p.doc = std::move(doc);
    out.push_back(std::move(p));
  }
  return out;
}

/// What the lines of one prediction file add up to.
struct prediction_totals {
  /// Lines counted.
  size_t examples = 0;
  /// Lines with a score (the task has a rule).
  size_t scored = 0;
  /// Sum of the scores.
  double score_sum = 0;
  /// Sums of the run statistics.
  uint64_t calls = 0;
  uint64_t tokens = 0;
  double wall_ms = 0;
  /// Examples whose job failed (an `error` field).
  size_t failures = 0;
  /// Examples answered from part of the document.
  size_t partial = 0;
  /// Confidence and correctness per scored example.
  std::vector<calibration_sample> samples;
};

uint64_t uint_field(const ordered_json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

prediction_totals total_of(const std::vector<const prediction_line*>& lines,
                           infinitebench_task task, eval_scorer scorer) {
  prediction_totals t;
  for (const auto* p : lines) {
    const auto& doc = p->doc;
    ++t.examples;
    t.calls += uint_field(doc, "calls");
    t.tokens += uint_field(doc, "tokens");
    if (auto it = doc.find("wall_ms"); it != doc.end() && it->is_number())
      t.wall_ms += it->get<double>();
    if (doc.contains("error"))
      ++t.failures;
    if (auto it = doc.find("partial");
        it != doc.end() && it->is_boolean() && it->get<bool>())
      ++t.partial;
    auto s = score_one(task, scorer, doc["prediction"].get<std::string>(),
                       truth_strings(doc["ground_truth"]));
    if (!s)
      continue;
    ++t.scored;
    t.score_sum += *s;
    calibration_sample sample;
    sample.correctness = *s;
    if (auto it = doc.find("confidence"); it != doc.end() && it->is_number())
      sample.confidence = it->get<double>();
    t.samples.push_back(sample);
  }
  return t;
}

// -- printing the calibration report ------------------------------------------

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

void print_calibration(FILE* out, const calibration_report& r,
                       std::string_view heading) {
  std::fprintf(out,
               "calibration%.*s: %zu example%s with a confidence, %zu "
               "without",
               static_cast<int>(heading.size()), heading.data(), r.samples,
               r.samples == 1 ? "" : "s", r.missing);
  if (r.missing > 0)
    std::fprintf(out, " (accuracy %.3f)", r.missing_accuracy);
  if (r.samples == 0) {
    std::fprintf(out, "; nothing to calibrate\n");
    return;
  }
  std::fprintf(out,
               "\n  ECE %.3f   Brier %.3f   accuracy %.3f   mean "
               "confidence/5 %.3f\n",
               r.ece, r.brier, r.accuracy, r.mean_probability);
  std::fprintf(out, "  %-10s %8s %9s %13s\n", "confidence", "examples",
               "accuracy", "confidence/5");
  for (const auto& b : r.buckets) {
    auto name = b.low == b.high
                  ? fmt("%.0f", b.low)
                  : fmt("%.0f", b.low) + " to <" + fmt("%.0f", b.high);
    if (b.count == 0)
      std::fprintf(out, "  %-10s %8zu %9s %13s\n", name.c_str(), b.count, "-",
                   "-");
    else
      std::fprintf(out, "  %-10s %8zu %9.3f %13.3f\n", name.c_str(), b.count,
                   b.accuracy, b.mean_probability);
  }
}

caf::error write_text_file(const std::string& path, const std::string& text) {
  std::ofstream file{path, std::ios::binary | std::ios::trunc};
  file << text;
  file.flush();
  if (!file)
    return make_error(error_kind::input, "cannot write '" + path + "'");
  return {};
}

// -- llmmr eval generate ------------------------------------------------------

constexpr option_spec generate_options[] = {
  {"task", true, "NAME  passkey, number_string, kv_retrieval or math_find"},
  {"out", true, "FILE  where to write the JSONL ('-' for standard output)"},
  {"count", true, "N  number of examples (default 10)"},
  {"length-tokens", true, "T  context length in tokens (default 128000)"},
  {"seed", true, "S  seed of every random choice (default 1)"},
  {"depth", true,
   "F  needle depth 0..1 for every example (default: spread evenly)"},
  {"config", true, "F  JSON configuration file (for tokenizer.*)"},
  {"set", true,
   "KEY=VALUE  e.g. tokenizer.file=F: count the length with that tokenizer"},
};

constexpr std::string_view generate_name = "eval generate";

int run_generate(arg_list raw) {
  auto args = parse_args(generate_name, raw, generate_options);
  if (!args)
    return fail(generate_name, args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(generate_name,
                "--task passkey|number_string|kv_retrieval|math_find --out "
                "FILE [--count N] [--length-tokens T] [--seed S] [--depth F] "
                "[--set tokenizer.file=F]",
                generate_options);
    std::printf("\nWrites synthetic examples in the InfiniteBench data format "
                "(id, context,\ninput, answer, options), deterministically "
                "from the seed. Lengths are\ncounted with the configured "
                "tokenizer (tokenizer.*; by default the approx\nestimate, "
                "which over-counts BPE tokens).\n");
    return exit_ok;
  }
  auto task = task_arg(*args);
  if (!task)
    return fail(generate_name, task.error(), exit_usage);
  if (!is_synthetic(*task))
    return fail(generate_name,
                usage_error("--task: '" + to_string(*task)
                            + "' is not synthetic (passkey, number_string, "
                              "kv_retrieval, math_find)"),
                exit_usage);
  auto out = args->get("out");
  if (!out || out->empty())
    return fail(generate_name, usage_error("--out FILE is required"),
                exit_usage);
  auto count = args->get_uint("count");
  auto length = args->get_uint("length-tokens");
  auto seed = args->get_uint("seed");
  auto depth = args->get_double("depth");
  for (const caf::error* err :
       {count ? nullptr : &count.error(), length ? nullptr : &length.error(),
        seed ? nullptr : &seed.error(), depth ? nullptr : &depth.error()})
    if (err != nullptr)
      return fail(generate_name, *err, exit_usage);
  synthetic_options opts;
  opts.length_tokens = length->value_or(128'000);
  opts.seed = seed->value_or(1);
  if (*depth) {
    if (!(**depth >= 0 && **depth <= 1))
      return fail(generate_name, usage_error("--depth must be between 0 and 1"),
                  exit_usage);
    opts.depth = **depth;
  }
  auto n = count->value_or(10);
  if (n == 0 || opts.length_tokens == 0)
    return fail(generate_name,
                usage_error("--count and --length-tokens must be at least 1"),
                exit_usage);
  std::ofstream file;
  std::FILE* sink = stdout;
  if (*out != "-") {
    file.open(*out, std::ios::binary | std::ios::trunc);
    if (!file)
      return fail(generate_name,
                  make_error(error_kind::input, "cannot write '" + *out + "'"),
                  exit_input);
  }
  auto src = settings_sources_from(*args, {});
  if (!src)
    return fail(generate_name, src.error(), exit_usage);
  auto cfg = load_settings(*src);
  if (!cfg)
    return fail(generate_name, cfg.error(), exit_config);
  auto chosen = choose_tokenizer(*cfg, nullptr, true);
  if (!chosen)
    return fail(generate_name, chosen.error(), exit_config);
  const tokenizer& tok = *chosen->tok;
  for (uint64_t i = 0; i < n; ++i) {
    auto ex = make_synthetic_example(*task, i, n, opts, tok);
    if (!ex)
      return fail(generate_name, ex.error(), exit_usage);
    auto line = to_jsonl_line(ex->example);
    line += '\n';
    if (file.is_open())
      file << line;
    else
      std::fwrite(line.data(), 1, line.size(), sink);
  }
  if (file.is_open()) {
    file.flush();
    if (!file)
      return fail(generate_name,
                  make_error(error_kind::input, "cannot write '" + *out + "'"),
                  exit_input);
    std::fprintf(stderr,
                 "llmmr eval generate: %llu %s example%s of about %llu tokens "
                 "(%s) written to %s\n",
                 static_cast<unsigned long long>(n), to_string(*task).c_str(),
                 n == 1 ? "" : "s",
                 static_cast<unsigned long long>(opts.length_tokens),
                 chosen->description.c_str(), out->c_str());
  }
  return exit_ok;
}

// -- llmmr eval infinitebench -------------------------------------------------

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
  {"model", true, "M  model name to request (job.model)"},
  {"api-key-env", true, "VAR  variable holding the API key"},
  {"config", true, "F  JSON configuration file"},
  {"budget", true, "N  token budget of one call (job.budget)"},
  {"max-tokens", true, "N  reserved output tokens (job.max_tokens)"},
  {"set", true, "KEY=VALUE  any configuration key"},
  {"json", false, "print the report as one JSON object"},
  {"quiet", false, "no progress on stderr"},
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

caf::expected<std::vector<strategy>> strategies_arg(const parsed_args& args) {
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
  caf::expected<std::optional<std::pair<infinitebench_example, size_t>>>
  next() {
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
  eval_scorer scorer = eval_scorer::official;
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
    line["error"] = to_string(res.error());
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
caf::error run_strategy(const run_context& ctx, strategy_run& run,
                        example_reader& reader, size_t parallel,
                        const std::set<std::string>& done) {
  std::ofstream out{run.preds_path, std::ios::binary | std::ios::app};
  if (!out)
    return make_error(error_kind::input,
                      "cannot write '" + run.preds_path + "'");
  std::mutex mtx;
  caf::error first_error;
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
        auto score = score_one(ctx.task, ctx.scorer,
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

/// The label of the scorer for reports.
std::string scorer_label(eval_scorer s) {
  return s == eval_scorer::official
           ? "official (InfiniteBench's rules)"
           : "llmxmapreduce (LLM×MapReduce's modified rules)";
}

void print_runs(infinitebench_task task, eval_scorer scorer,
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

json run_json(infinitebench_task task, eval_scorer scorer,
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
    return fail(run_name, args.error(), exit_usage);
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
    return fail(
      run_name,
      usage_error("unexpected argument '" + args->positional.front() + "'"),
      exit_usage);
  auto task = task_arg(*args);
  if (!task)
    return fail(run_name, task.error(), exit_usage);
  auto data = args->get("data");
  if (!data || data->empty())
    return fail(run_name, usage_error("--data DIR is required"), exit_usage);
  auto strategies = strategies_arg(*args);
  if (!strategies)
    return fail(run_name, strategies.error(), exit_usage);
  auto scorer = scorer_arg(*args);
  if (!scorer)
    return fail(run_name, scorer.error(), exit_usage);
  auto limit = args->get_uint("limit");
  auto parallel = args->get_uint("parallel");
  for (const caf::error* err : {limit ? nullptr : &limit.error(),
                                parallel ? nullptr : &parallel.error()})
    if (err != nullptr)
      return fail(run_name, *err, exit_usage);
  for (auto flag : {"budget", "max-tokens"})
    if (auto x = args->get_uint(flag); !x)
      return fail(run_name, x.error(), exit_usage);
  auto threads = parallel->value_or(1);
  if (threads == 0 || threads > 256)
    return fail(run_name, usage_error("--parallel must be between 1 and 256"),
                exit_usage);
  bool quiet = args->has("quiet");
  bool as_json = args->has("json");
  auto data_path = (fs::path{*data} / (to_string(*task) + ".jsonl")).string();
  {
    std::ifstream probe{data_path, std::ios::binary};
    if (!probe)
      return fail(
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
    return fail(run_name,
                make_error(error_kind::input,
                           "cannot create '" + out_dir + "': " + ec.message()),
                exit_input);

  // Settings: the simulator's, or the layers of `llmmr ask`.
  std::optional<local_sim> sim;
  settings_sources src;
  if (endpoint_configured(*args)) {
    auto layers = settings_sources_from(*args, run_flag_keys);
    if (!layers)
      return fail(run_name, layers.error(), exit_usage);
    src = std::move(*layers);
    auto urls = args->all("endpoint");
    std::vector<std::pair<std::string, std::string>> first;
    for (size_t i = 0; i < urls.size(); ++i)
      first.emplace_back("endpoints[" + std::to_string(i) + "].url", urls[i]);
    src.overrides.insert(src.overrides.begin(), first.begin(), first.end());
  } else {
    auto started = start_local_sim(1);
    if (!started)
      return fail(run_name, started.error(), exit_endpoint);
    sim = std::move(*started);
    src.overrides = sim->overrides;
    for (const auto& [flag, key] : run_flag_keys)
      if (auto value = args->get(flag))
        src.overrides.emplace_back(std::string{key}, *value);
    if (auto err = add_set_overrides(*args, src.overrides))
      return fail(run_name, err, exit_usage);
    if (!quiet)
      std::fprintf(stderr,
                   "llmmr eval: no endpoint given; the in-process simulator "
                   "answers (%s)\n",
                   sim->url.c_str());
  }
  auto cfg = load_settings(src);
  if (!cfg)
    return fail(run_name, cfg.error(), exit_config);
  if (auto err = configure_logging(*cfg))
    return fail(run_name, err, exit_config);
  auto be = connect_backend(*cfg);
  if (!be)
    return fail(run_name, be.error(), exit_code_for(be.error()));
  auto base_spec = cfg->to_job_spec();
  if (auto note = fit_budget(base_spec, be->context_window);
      !note.empty() && !quiet)
    std::fprintf(stderr, "llmmr eval: %s\n", note.c_str());
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  configure_middleman(sys_cfg, *cfg);
  caf::actor_system sys{sys_cfg};
  auto tok = choose_tokenizer(*cfg, &*be, quiet || sim.has_value());
  if (!tok)
    return fail(run_name, tok.error(), exit_config);
  auto pipeline
    = spawn_pipeline(sys, to_pipeline_options(*cfg), be->client, tok->tok);
  if (!pipeline)
    return fail(run_name, pipeline.error(), exit_code_for(pipeline.error()));

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
    for (auto& p : *existing)
      done.insert(p.key);
    if (!quiet && !done.empty())
      std::fprintf(stderr,
                   "llmmr eval: %s: %zu prediction%s already in %s; those "
                   "examples are skipped\n",
                   to_string(s).c_str(), done.size(),
                   done.size() == 1 ? "" : "s", run.preds_path.c_str());
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
    std::vector<const prediction_line*> chosen;
    std::set<std::string> seen;
    for (auto& p : *lines)
      if (selected.count(p.key) > 0 && seen.insert(p.key).second)
        chosen.push_back(&p);
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

// -- llmmr eval calibration ---------------------------------------------------

constexpr option_spec calibration_options[] = {
  {"preds", true, "FILE  predictions with 'confidence' (JSONL)"},
  {"task", true, "NAME  the task (default: read from preds_<task>*.jsonl)"},
  {"scorer", true, "NAME  official (default) or llmxmapreduce"},
  {"svg", true, "FILE  the reliability diagram (default: beside FILE)"},
  {"json", false, "print the report as one JSON object"},
};

constexpr std::string_view calibration_name = "eval calibration";

/// The task a prediction file name `preds_<task>[_<strategy>].jsonl` names.
std::optional<infinitebench_task> task_from_file_name(const std::string& path) {
  auto stem = fs::path{path}.stem().string();
  if (stem.rfind("preds_", 0) != 0)
    return std::nullopt;
  stem.erase(0, 6);
  std::optional<infinitebench_task> best;
  size_t best_len = 0;
  for (auto t : infinitebench_tasks) {
    auto name = to_string(t);
    if (stem.rfind(name, 0) == 0 && name.size() > best_len
        && (stem.size() == name.size() || stem[name.size()] == '_')) {
      best = t;
      best_len = name.size();
    }
  }
  return best;
}

int run_calibration(arg_list raw) {
  auto args = parse_args(calibration_name, raw, calibration_options);
  if (!args)
    return fail(calibration_name, args.error(), exit_usage);
  if (args->has("help")) {
    print_usage(calibration_name,
                "--preds FILE [--task TASK] [--scorer official|llmxmapreduce] "
                "[--svg FILE] [--json]",
                calibration_options);
    std::printf("\nScores each line, buckets the examples by their "
                "'confidence' (0-5; null or\nmissing counts as without) and "
                "prints accuracy per bucket, the expected\ncalibration error "
                "and the Brier score (docs/evaluation.md, "
                "\"Calibration\").\n");
    return exit_ok;
  }
  auto preds = args->get("preds");
  if (!preds || preds->empty())
    return fail(calibration_name, usage_error("--preds FILE is required"),
                exit_usage);
  infinitebench_task task;
  if (args->has("task")) {
    auto t = task_arg(*args);
    if (!t)
      return fail(calibration_name, t.error(), exit_usage);
    task = *t;
  } else if (auto t = task_from_file_name(*preds)) {
    task = *t;
  } else {
    return fail(calibration_name,
                usage_error("--task is required: the file name does not read "
                            "preds_<task>[_<strategy>].jsonl (tasks: "
                            + infinitebench_task_names() + ")"),
                exit_usage);
  }
  auto scorer = scorer_arg(*args);
  if (!scorer)
    return fail(calibration_name, scorer.error(), exit_usage);
  auto lines = read_predictions(*preds, false, false);
  if (!lines)
    return fail(calibration_name, lines.error(), exit_input);
  bool any_confidence
    = std::any_of(lines->begin(), lines->end(), [](const prediction_line& p) {
        return p.doc.contains("confidence");
      });
  if (!any_confidence)
    return fail(
      calibration_name,
      make_error(error_kind::input,
                 "'" + *preds + "' has no 'confidence' field on any line"),
      exit_input);
  std::vector<const prediction_line*> all;
  for (auto& p : *lines)
    all.push_back(&p);
  auto totals = total_of(all, task, *scorer);
  if (totals.scored == 0)
    return fail(
      calibration_name,
      make_error(error_kind::input, "no line of '" + *preds
                                      + "' could be scored: the task '"
                                      + to_string(task) + "' has no rule here"),
      exit_input);
  auto report = make_calibration_report(totals.samples);
  std::string svg_path;
  if (auto p = args->get("svg")) {
    svg_path = *p;
  } else {
    fs::path path{*preds};
    auto stem = path.stem().string();
    auto name = stem.rfind("preds_", 0) == 0
                  ? "reliability_" + stem.substr(6) + ".svg"
                  : stem + ".reliability.svg";
    svg_path = (path.parent_path() / name).string();
  }
  auto title = "Reliability: " + fs::path{*preds}.filename().string()
               + ", scorer " + std::string{to_string(*scorer)};
  if (auto err = write_text_file(svg_path, reliability_svg(report, title)))
    return fail(calibration_name, err, exit_input);
  if (args->has("json")) {
    auto doc = to_json(report);
    doc["task"] = to_string(task);
    doc["scorer"] = std::string{to_string(*scorer)};
    doc["score"] = 100 * totals.score_sum / static_cast<double>(totals.scored);
    doc["examples"] = totals.examples;
    doc["reliability_svg"] = svg_path;
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    std::printf("%s: %zu examples, score %.2f (scorer %s)\n", preds->c_str(),
                totals.examples,
                100 * totals.score_sum / static_cast<double>(totals.scored),
                scorer_label(*scorer).c_str());
    print_calibration(stdout, report, "");
    std::printf("  reliability diagram: %s\n", svg_path.c_str());
  }
  return exit_ok;
}

} // namespace

int run_eval_generate(arg_list args) {
  return run_generate(args);
}

int run_eval_infinitebench(arg_list args) {
  return run_infinitebench(args);
}

int run_eval_calibration(arg_list args) {
  return run_calibration(args);
}

} // namespace llmmr::cli

// `llmmr eval generate`: synthetic InfiniteBench data files (PassKey,
// Number, KV, Math.Find) in the official format.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "llmmr/config/settings.hpp"
#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/core/synthetic_tasks.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/eval_commands.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

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
    return fail_with(generate_name, args.error(), exit_usage);
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
    return fail_with(generate_name, task.error(), exit_usage);
  if (!is_synthetic(*task))
    return fail_with(
      generate_name,
      usage_error("--task: '" + to_string(*task)
                  + "' is not synthetic (passkey, number_string, "
                    "kv_retrieval, math_find)"),
      exit_usage);
  auto out = args->get("out");
  if (!out || out->empty())
    return fail_with(generate_name, usage_error("--out FILE is required"),
                     exit_usage);
  auto count = args->get_uint("count");
  auto length = args->get_uint("length-tokens");
  auto seed = args->get_uint("seed");
  auto depth = args->get_double("depth");
  for (const error* err :
       {count ? nullptr : &count.error(), length ? nullptr : &length.error(),
        seed ? nullptr : &seed.error(), depth ? nullptr : &depth.error()})
    if (err != nullptr)
      return fail_with(generate_name, *err, exit_usage);
  synthetic_options opts;
  opts.length_tokens = length->value_or(128'000);
  opts.seed = seed->value_or(1);
  if (*depth) {
    if (!(**depth >= 0 && **depth <= 1))
      return fail_with(generate_name,
                       usage_error("--depth must be between 0 and 1"),
                       exit_usage);
    opts.depth = **depth;
  }
  auto n = count->value_or(10);
  if (n == 0 || opts.length_tokens == 0)
    return fail_with(
      generate_name,
      usage_error("--count and --length-tokens must be at least 1"),
      exit_usage);
  std::ofstream file;
  std::FILE* sink = stdout;
  if (*out != "-") {
    // The folder of the file may not exist yet (e.g. a fresh data/).
    std::error_code ec;
    if (auto parent = std::filesystem::path{*out}.parent_path();
        !parent.empty())
      std::filesystem::create_directories(parent, ec);
    file.open(*out, std::ios::binary | std::ios::trunc);
    if (!file)
      return fail_with(
        generate_name,
        make_error(error_kind::input, "cannot write '" + *out + "'"),
        exit_input);
  }
  auto src = settings_sources_from(*args, {});
  if (!src)
    return fail_with(generate_name, src.error(), exit_usage);
  auto cfg = load_settings(*src);
  if (!cfg)
    return fail_with(generate_name, cfg.error(), exit_config);
  auto chosen = choose_tokenizer(*cfg, nullptr, true);
  if (!chosen)
    return fail_with(generate_name, chosen.error(), exit_config);
  const tokenizer& tok = *chosen->tok;
  for (uint64_t i = 0; i < n; ++i) {
    auto ex = make_synthetic_example(*task, i, n, opts, tok);
    if (!ex)
      return fail_with(generate_name, ex.error(), exit_usage);
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
      return fail_with(
        generate_name,
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

} // namespace

int run_eval_generate(arg_list args) {
  return run_generate(args);
}

} // namespace llmmr::cli

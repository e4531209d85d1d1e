// `llmmr ask`: answers a question over a document through the whole
// pipeline (map, collapse, reduce) against the configured endpoints.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/server_tokenizer.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/document_reader.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec ask_options[] = {
  {"doc", true, "FILE  the document; '-' reads standard input"},
  {"question", true, "TEXT  the question to answer"},
  {"task", true, "T  qa|qa_zh|code|math|retrieval|summary (job.task)"},
  {"strategy", true,
   "S  mapreduce|chain|direct (job.strategy): map/collapse/reduce, the "
   "Chain-of-Agents baseline (chunks in order, n+1 sequential calls) or one "
   "call with the document cut in the middle"},
  {"endpoint", true, "URL  base URL of the server (endpoints[0].url)"},
  job_option::model,
  job_option::api_key_env,
  job_option::config,
  job_option::budget,
  job_option::max_tokens,
  job_option::set,
  {"json", false, "print the result as one JSON object"},
  job_option::quiet,
};

constexpr std::string_view synopsis
  = "--doc FILE|- --question TEXT [--task qa] [--strategy mapreduce] "
    "[--endpoint URL] [--model M] "
    "[--api-key-env VAR] [--config F] [--budget N] [--max-tokens N] "
    "[--set KEY=VALUE ...] [--json] [--quiet]";

/// The flags that stand for configuration keys; `--set` comes after them.
constexpr flag_key ask_flag_keys[] = {
  {"endpoint", "endpoints[0].url"}, {"api-key-env", "endpoints[0].api_key_env"},
  {"model", "job.model"},           {"task", "job.task"},
  {"strategy", "job.strategy"},     {"budget", "job.budget"},
  {"max-tokens", "job.max_tokens"},
};

int run_ask(arg_list raw) {
  auto parsed = parse_command_args("ask", raw, ask_options, synopsis);
  if (!parsed.args)
    return parsed.exit_code;
  auto& args = parsed.args;
  auto doc = args->get("doc");
  if (!doc || doc->empty())
    return usage_failure("ask",
                         "--doc FILE (or '-' for standard input) is required");
  auto question = args->get("question");
  if (!question || question->empty())
    return usage_failure("ask", "--question TEXT is required");
  for (auto flag : {"budget", "max-tokens"})
    if (auto x = args->get_uint(flag); !x) {
      print_error("ask", x.error());
      return exit_usage;
    }
  auto src = settings_sources_from(*args, ask_flag_keys);
  if (!src) {
    print_error("ask", src.error());
    return exit_usage;
  }
  auto cfg = load_settings(*src);
  if (!cfg) {
    print_error("ask", cfg.error());
    return exit_config;
  }
  if (auto err = configure_logging(*cfg)) {
    print_error("ask", err);
    return exit_config;
  }
  // Input errors come before endpoint errors: check the file first.
  if (*doc != "-") {
    FILE* f = std::fopen(doc->c_str(), "rb");
    if (f == nullptr) {
      print_error("ask",
                  make_error(error_kind::input, "cannot open '" + *doc + "': "
                                                  + std::strerror(errno)));
      return exit_input;
    }
    std::fclose(f);
  }
  auto spec = cfg->to_job_spec(*question);
  auto be = connect_backend(*cfg);
  if (!be) {
    print_error("ask", be.error());
    return exit_code_for(be.error());
  }
  if (auto note = fit_budget(spec, be->context_window); !note.empty())
    std::fprintf(stderr, "llmmr ask: %s\n", note.c_str());
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  if (auto err = configure_middleman(sys_cfg, *cfg)) {
    print_error("ask", err);
    return exit_config;
  }
  caf::actor_system sys{sys_cfg};
  auto tok = choose_tokenizer(*cfg, &*be, args->has("quiet"));
  if (!tok) {
    print_error("ask", tok.error());
    return exit_config;
  }
  auto pipeline
    = spawn_pipeline(sys, to_pipeline_options(*cfg), be->client, tok->tok);
  if (!pipeline) {
    print_error("ask", pipeline.error());
    return exit_code_for(pipeline.error());
  }
  auto mode
    = args->has("quiet") ? progress_mode::none : default_progress_mode();
  auto path = *doc;
  uint64_t size_hint = 0;
  if (path != "-") {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      auto n = std::filesystem::file_size(path, ec);
      size_hint = ec ? 0 : n;
    }
  }
  auto outcome = run_streamed_job(
    sys, *pipeline, std::move(spec),
    [&path](const std::function<error(std::string_view)>& consume) {
      return read_document(path, consume);
    },
    mode, size_hint);
  pipeline->stop();
  auto code = exit_code_for(outcome);
  if (!outcome.result) {
    print_error("ask", outcome.result.error());
    const auto& last = outcome.last;
    if (last.chunks_total > 0)
      std::fprintf(stderr,
                   "llmmr ask: %u of %u chunks mapped, %u failed before the "
                   "job ended\n",
                   last.chunks_mapped, last.chunks_total, last.chunks_failed);
    return code;
  }
  const auto& res = *outcome.result;
  if (args->has("json")) {
    auto j = to_json(res);
    j["endpoints"] = endpoints_json(*be);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s\n", res.answer.c_str());
    if (mode != progress_mode::none)
      print_summary(stderr, res);
  }
  std::fflush(stdout);
  // Whatever the mode: anything lost, cut or guessed is said on stderr.
  print_outcome_flags(stderr, res);
  if (mode != progress_mode::none)
    print_limit_changes(stderr, *be);
  if (tok->server && mode != progress_mode::none)
    std::fprintf(stderr,
                 "llmmr: the server tokenizer made %llu tokenize requests "
                 "(%llu fell back to an estimate)\n",
                 static_cast<unsigned long long>(tok->server->requests()),
                 static_cast<unsigned long long>(tok->server->fallbacks()));
  return code;
}

const bool registered
  = register_command({"ask", "answer a question over a document", run_ask});

} // namespace

} // namespace llmmr::cli

// `llmmr plan`: a dry run that shows how a document would be chunked and
// what the job would cost, without calling any endpoint.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/budget.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/cost_estimate.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/document_reader.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec plan_options[] = {
  {"doc", true, "FILE|-   the document (- reads standard input)"},
  {"question", true, "TEXT   the question to answer"},
  {"task", true, "NAME   prompt profile: qa qa_zh code math retrieval summary"},
  {"budget", true, "N    per-call token budget L (default 4096)"},
  {"max-tokens", true, "N  reserved output R (default: profile's)"},
  {"prompts-dir", true, "DIR  directory overriding the prompt templates"},
  {"replace-invalid-utf8", false, "replace invalid UTF-8 instead of failing"},
  {"config", true, "F  JSON configuration file (for tokenizer.*)"},
  {"set", true, "KEY=VALUE  a configuration key, e.g. tokenizer.file=F"},
  {"endpoint", true,
   "URL  an endpoint whose /tokenize counts (tokenizer.kind server or auto)"},
  {"json", false, "       print the plan as one JSON object"},
};

struct chunk_row {
  uint32_t index;
  uint64_t begin;
  uint64_t end;
  uint32_t tokens;
};

int fail(const error& err, int code) {
  print_error("plan", err);
  return code;
}

int run_plan(arg_list raw_args) {
  auto args = parse_args("plan", raw_args, plan_options);
  if (!args)
    return fail(args.error(), exit_usage);
  if (args->has("help")) {
    print_usage("plan", "--doc FILE|- --question TEXT [options]", plan_options);
    return exit_ok;
  }
  auto doc = args->get("doc");
  auto question = args->get("question");
  if (!doc || !question)
    return fail(make_error(error_kind::usage,
                           "--doc and --question are required (see --help)"),
                exit_usage);
  job_spec spec;
  spec.question = *question;
  if (auto task = args->get("task"); task && !from_string(*task, spec.profile))
    return fail(make_error(error_kind::usage,
                           "--task: unknown profile '" + *task
                             + "' (qa, qa_zh, code, math, retrieval, summary)"),
                exit_usage);
  auto budget_arg = args->get_uint("budget");
  if (!budget_arg)
    return fail(budget_arg.error(), exit_usage);
  if (*budget_arg)
    spec.budget = static_cast<uint32_t>(**budget_arg);
  auto max_tokens_arg = args->get_uint("max-tokens");
  if (!max_tokens_arg)
    return fail(max_tokens_arg.error(), exit_usage);
  if (*max_tokens_arg)
    spec.max_tokens = static_cast<uint32_t>(**max_tokens_arg);
  auto prompts = args->has("prompts-dir")
                   ? prompt_library::load(*args->get("prompts-dir"))
                   : prompt_library::builtin();
  if (!prompts)
    return fail(prompts.error(), exit_config);
  // The tokenizer comes from the configuration (tokenizer.*); an endpoint
  // is only contacted when one is given.
  static constexpr flag_key plan_flag_keys[] = {
    {"endpoint", "endpoints[0].url"},
  };
  auto src = settings_sources_from(*args, plan_flag_keys);
  if (!src)
    return fail(src.error(), exit_usage);
  auto cfg = load_settings(*src);
  if (!cfg)
    return fail(cfg.error(), exit_config);
  std::optional<backend> be;
  if (args->has("endpoint")) {
    auto connected = connect_backend(*cfg);
    if (!connected)
      return fail(connected.error(), exit_code_for(connected.error()));
    be = std::move(*connected);
  }
  auto chosen = choose_tokenizer(*cfg, be ? &*be : nullptr, true);
  if (!chosen)
    return fail(chosen.error(), exit_config);
  const tokenizer& tok = *chosen->tok;
  auto budget = compute_budget(spec, *prompts, tok);
  if (!budget)
    return fail(budget.error(), exit_usage);
  chunker_options opts;
  opts.budget = budget->chunk_payload;
  opts.replace_invalid_utf8 = args->has("replace-invalid-utf8");
  chunker splitter{tok, opts};
  // The chain baseline cuts smaller chunks (its prompt holds the notes too):
  // count them with a second chunker over the same pieces.
  bool chain_fits = budget->chain_chunk_payload >= min_payload_tokens
                    && budget->chain_answer_payload >= min_payload_tokens;
  chunker_options chain_opts = opts;
  chain_opts.budget = chain_fits ? budget->chain_chunk_payload : 1;
  chunker chain_splitter{tok, chain_opts};
  uint64_t chain_chunks = 0;
  uint64_t document_tokens = 0;
  std::vector<chunk_row> rows;
  auto keep = [&rows](std::vector<chunk>& chunks) {
    for (auto& c : chunks)
      rows.push_back({c.index, c.range.begin, c.range.end, c.tokens});
  };
  auto err = read_document(*doc, [&](std::string_view piece) -> error {
    auto chunks = splitter.feed(piece);
    if (!chunks)
      return chunks.error();
    keep(*chunks);
    if (chain_fits) {
      auto more = chain_splitter.feed(piece);
      if (!more)
        return more.error();
      chain_chunks += more->size();
    }
    return error{};
  });
  if (err)
    return fail(err, exit_input);
  auto tail = splitter.finish();
  if (!tail)
    return fail(tail.error(), exit_input);
  keep(*tail);
  if (chain_fits) {
    auto more = chain_splitter.finish();
    if (!more)
      return fail(more.error(), exit_input);
    chain_chunks += more->size();
  }
  for (const auto& row : rows)
    document_tokens += row.tokens;
  bool direct_fits = budget->direct_payload >= min_payload_tokens;
  uint64_t direct_cut = direct_fits && document_tokens > budget->direct_payload
                          ? document_tokens - budget->direct_payload
                          : 0;
  std::vector<uint32_t> token_counts;
  token_counts.reserve(rows.size());
  for (const auto& row : rows)
    token_counts.push_back(row.tokens);
  record probe;
  probe.chunks = {0};
  auto overhead
    = static_cast<uint32_t>(tok.count(render_record(spec.profile, probe)));
  auto cost = estimate_cost(*budget, token_counts, overhead);
  if (args->has("json")) {
    nlohmann::json out;
    out["tokenizer"] = chosen->description;
    out["token_counts_estimated"] = chosen->estimate;
    out["task"] = to_string(spec.profile);
    out["budget"] = budget->total;
    out["reserved_output"] = budget->reserved_output;
    out["question_tokens"] = budget->question_tokens;
    out["chunk_budget"] = budget->chunk_payload;
    out["collapse_budget"] = budget->collapse_payload;
    out["document_bytes"] = splitter.bytes_seen();
    out["replacements"] = splitter.replacements();
    auto& chunks = out["chunks"] = nlohmann::json::array();
    for (const auto& row : rows)
      chunks.push_back({{"index", row.index},
                        {"begin", row.begin},
                        {"end", row.end},
                        {"tokens", row.tokens}});
    out["map_calls"] = cost.map_calls;
    out["worst_collapse_rounds"] = cost.worst_collapse_rounds;
    out["worst_collapse_calls"] = cost.worst_collapse_calls;
    out["collapse_needs_fallback"] = cost.collapse_needs_fallback;
    out["reduce_calls"] = cost.reduce_calls;
    out["estimated_prompt_tokens"] = cost.prompt_tokens;
    out["estimated_completion_tokens"] = cost.completion_tokens;
    // Calls per strategy (`--strategy` / job.strategy); null when the
    // budget cannot hold that strategy's prompts.
    auto& strategies = out["strategies"];
    strategies["mapreduce"] = {
      {"calls", cost.map_calls + cost.worst_collapse_calls + cost.reduce_calls},
      {"sequential", false}};
    if (chain_fits)
      strategies["chain"] = {{"chunk_budget", budget->chain_chunk_payload},
                             {"notes_budget", budget->chain_notes_tokens},
                             {"chunks", chain_chunks},
                             {"calls", chain_chunks + 1},
                             {"sequential", true}};
    else
      strategies["chain"] = nullptr;
    if (direct_fits)
      strategies["direct"] = {{"document_budget", budget->direct_payload},
                              {"document_tokens", document_tokens},
                              {"cut_tokens", direct_cut},
                              {"calls", 1}};
    else
      strategies["direct"] = nullptr;
    std::printf("%s\n", out.dump(2).c_str());
    return exit_ok;
  }
  std::printf("document        %llu bytes, tokenizer %s%s\n",
              static_cast<unsigned long long>(splitter.bytes_seen()),
              chosen->description.c_str(),
              chosen->estimate ? " (counts high on purpose; set "
                                 "tokenizer.file for exact counts)"
                               : " (exact)");
  if (splitter.replacements() > 0)
    std::printf("replaced        %zu invalid UTF-8 sequences\n",
                splitter.replacements());
  std::printf("budget          L=%u, reserved output R=%u, question %u "
              "tokens\n",
              budget->total, budget->reserved_output, budget->question_tokens);
  std::printf("chunk budget    %u tokens per chunk\n", budget->chunk_payload);
  std::printf("collapse budget %u tokens per collapse call\n",
              budget->collapse_payload);
  std::printf("\n%8s %14s %14s %8s\n", "chunk", "begin", "end", "tokens");
  for (const auto& row : rows)
    std::printf("%8u %14llu %14llu %8u\n", row.index,
                static_cast<unsigned long long>(row.begin),
                static_cast<unsigned long long>(row.end), row.tokens);
  std::printf("\nmap calls       %llu\n",
              static_cast<unsigned long long>(cost.map_calls));
  std::printf("collapse        at most %u rounds, %llu calls%s\n",
              cost.worst_collapse_rounds,
              static_cast<unsigned long long>(cost.worst_collapse_calls),
              cost.collapse_needs_fallback
                ? " (budget too small for two records: collapse would fall "
                  "back to truncating)"
                : "");
  std::printf("reduce calls    1\n");
  std::printf("estimated       %llu prompt + %llu completion tokens (worst "
              "case)\n",
              static_cast<unsigned long long>(cost.prompt_tokens),
              static_cast<unsigned long long>(cost.completion_tokens));
  std::printf("\nstrategy        calls (--strategy)\n");
  std::printf("mapreduce       %llu map + at most %llu collapse + 1 reduce "
              "(map and collapse calls in parallel)\n",
              static_cast<unsigned long long>(cost.map_calls),
              static_cast<unsigned long long>(cost.worst_collapse_calls));
  if (chain_fits)
    std::printf("chain           %llu sequential calls: %llu chunks of at "
                "most %u tokens (notes %u) + 1 manager\n",
                static_cast<unsigned long long>(chain_chunks + 1),
                static_cast<unsigned long long>(chain_chunks),
                budget->chain_chunk_payload, budget->chain_notes_tokens);
  else
    std::printf("chain           the budget cannot hold a chain prompt\n");
  if (direct_fits)
    std::printf("direct          1 call of at most %u document tokens; %llu "
                "of %llu tokens would be cut from the middle\n",
                budget->direct_payload,
                static_cast<unsigned long long>(direct_cut),
                static_cast<unsigned long long>(document_tokens));
  else
    std::printf("direct          the budget cannot hold a direct prompt\n");
  return exit_ok;
}

const bool registered = register_command(
  {"plan", "dry run: chunks, token counts, estimated calls and tokens",
   run_plan});

} // namespace

} // namespace llmmr::cli

// llmmr tokenize: count (and list) the tokens of a text with the tokenizer
// the configuration selects, e.g. to check counts against a reference.

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/backends/server_tokenizer.hpp"
#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/document_reader.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec tokenize_options[] = {
  {"file", true, "F|-  the text (default: standard input)"},
  {"config", true, "F  JSON configuration file (tokenizer.*)"},
  {"set", true, "KEY=VALUE  e.g. tokenizer.kind=hf, tokenizer.file=F"},
  {"endpoint", true, "URL  the endpoint for tokenizer.kind=server"},
  {"json", false, "print {\"count\": N, \"ids\": [...]}"},
  {"jsonl", false,
   "read one JSON object with a \"text\" field per line, write one object "
   "with \"count\" and \"ids\" per line"},
};

constexpr flag_key tokenize_flag_keys[] = {
  {"endpoint", "endpoints[0].url"},
};

/// The ids of `text`, when the tokenizer has them (not for approx).
expected<std::optional<std::vector<uint32_t>>> ids_of(const chosen_tokenizer& t,
                                                      std::string_view text) {
  if (t.exact)
    return std::optional<std::vector<uint32_t>>{t.exact->encode(text)};
  if (t.server) {
    auto ids = t.server->encode(text);
    if (!ids)
      return std::move(ids.error());
    return std::optional<std::vector<uint32_t>>{std::move(*ids)};
  }
  return std::optional<std::vector<uint32_t>>{};
}

expected<nlohmann::json> describe_text(const chosen_tokenizer& t,
                                       std::string_view text) {
  nlohmann::json out;
  auto ids = ids_of(t, text);
  if (!ids)
    return std::move(ids.error());
  if (*ids) {
    // The count is the number of ids, so the two always agree.
    out["count"] = (*ids)->size();
    out["ids"] = std::move(**ids);
  } else {
    out["count"] = t.tok->count(text);
  }
  return out;
}

int run_tokenize(arg_list raw) {
  auto args = parse_args("tokenize", raw, tokenize_options);
  if (!args) {
    print_error("tokenize", args.error());
    return exit_usage;
  }
  if (args->has("help")) {
    print_usage("tokenize",
                "[--file F|-] [--config F] [--set KEY=VALUE ...] "
                "[--json | --jsonl]",
                tokenize_options);
    return exit_ok;
  }
  auto src = settings_sources_from(*args, tokenize_flag_keys);
  if (!src) {
    print_error("tokenize", src.error());
    return exit_usage;
  }
  auto cfg = load_settings(*src);
  if (!cfg) {
    print_error("tokenize", cfg.error());
    return exit_config;
  }
  std::optional<backend> be;
  if (args->has("endpoint")) {
    auto connected = connect_backend(*cfg);
    if (!connected) {
      print_error("tokenize", connected.error());
      return exit_code_for(connected.error());
    }
    be = std::move(*connected);
  }
  auto chosen = choose_tokenizer(*cfg, be ? &*be : nullptr, true);
  if (!chosen) {
    print_error("tokenize", chosen.error());
    return exit_config;
  }
  std::string text;
  auto path = args->get("file").value_or("-");
  auto err = read_document(path, [&text](std::string_view piece) {
    text.append(piece);
    return error{};
  });
  if (err) {
    print_error("tokenize", err);
    return exit_input;
  }
  if (!args->has("jsonl")) {
    auto out = describe_text(*chosen, text);
    if (!out) {
      print_error("tokenize", out.error());
      return exit_code_for(out.error());
    }
    if (args->has("json"))
      std::printf("%s\n", out->dump().c_str());
    else
      std::printf("%llu\n", static_cast<unsigned long long>(
                              (*out)["count"].get<uint64_t>()));
    return exit_ok;
  }
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    auto line = std::string_view{text}.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("text")
        || !doc["text"].is_string()) {
      print_error("tokenize",
                  make_error(error_kind::input,
                             path + ":" + std::to_string(line_no)
                               + ": expected a JSON object with a string "
                                 "field \"text\""));
      return exit_input;
    }
    auto out = describe_text(*chosen, doc["text"].get<std::string>());
    if (!out) {
      print_error("tokenize", out.error());
      return exit_code_for(out.error());
    }
    std::printf("%s\n", out->dump().c_str());
  }
  return exit_ok;
}

const bool registered = register_command(
  {"tokenize", "count the tokens of a text with the configured tokenizer",
   run_tokenize});

} // namespace

} // namespace llmmr::cli

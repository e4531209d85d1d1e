#include "llmmr/tools/tokenizer_choice.hpp"

#include <cstdio>
#include <string_view>

#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/profile.hpp"
#include "llmmr/backends/server_tokenizer.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/exact_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/cli_support.hpp"

namespace llmmr::cli {

namespace {

chosen_tokenizer approx_choice() {
  chosen_tokenizer out;
  out.tok = std::make_shared<approx_tokenizer>();
  out.kind = "approx";
  out.description = "approx (an estimate)";
  out.estimate = true;
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.substr(s.size() - suffix.size()) == suffix;
}

expected<chosen_tokenizer> from_file(const std::string& kind,
                                     const tokenizer_settings& t) {
  if (t.file.empty())
    return make_error(error_kind::config,
                      "tokenizer.kind is '" + kind
                        + "' but tokenizer.file is not set");
  bool tiktoken
    = kind == "tiktoken" || (kind != "hf" && ends_with(t.file, ".tiktoken"));
  chosen_tokenizer out;
  if (tiktoken) {
    auto encoding = t.encoding;
    if (encoding.empty())
      for (std::string_view name : {"cl100k_base", "o200k_base"})
        if (t.file.find(name) != std::string::npos)
          encoding = std::string{name};
    if (encoding.empty())
      return make_error(error_kind::config,
                        "tokenizer.file '" + t.file
                          + "': set tokenizer.encoding (cl100k_base or "
                            "o200k_base); the file name does not say");
    auto loaded = load_tiktoken(t.file, encoding);
    if (!loaded)
      return make_error(error_kind::config,
                        "tokenizer.file: " + loaded.error().message);
    out.exact = std::shared_ptr<const exact_tokenizer>{std::move(*loaded)};
    out.kind = "tiktoken";
  } else {
    auto loaded = load_hf_tokenizer(t.file);
    if (!loaded)
      return make_error(error_kind::config,
                        "tokenizer.file: " + loaded.error().message);
    out.exact = std::shared_ptr<const exact_tokenizer>{std::move(*loaded)};
    out.kind = "hf";
  }
  out.tok = out.exact;
  out.description = out.exact->name();
  return out;
}

/// The first endpoint whose profile has a tokenize route, or null.
std::shared_ptr<http_client> tokenize_endpoint(const backend& be) {
  for (const auto& c : be.http_clients)
    if (!tokenize_path(c->profile()).empty())
      return c;
  return nullptr;
}

expected<chosen_tokenizer> from_server(const backend& be) {
  auto ep = tokenize_endpoint(be);
  if (!ep)
    return make_error(error_kind::config,
                      "tokenizer.kind is 'server' but no endpoint's profile "
                      "has a tokenize route (llamacpp, vllm, tgi)");
  auto tok = std::make_shared<server_tokenizer>(ep, ep->profile());
  if (auto err = tok->probe())
    return make_error(error_kind::config,
                      "tokenizer.kind 'server': " + ep->name()
                        + " did not count tokens: " + describe(err));
  chosen_tokenizer out;
  out.server = tok;
  out.tok = tok;
  out.kind = "server";
  out.description = "server (" + ep->name() + ")";
  return out;
}

} // namespace

expected<chosen_tokenizer> choose_tokenizer(const settings& s,
                                            const backend* be, bool quiet) {
  const auto& t = s.tokenizer;
  if (t.kind == "approx")
    return approx_choice();
  if (t.kind == "hf" || t.kind == "tiktoken")
    return from_file(t.kind, t);
  if (t.kind == "server") {
    if (be == nullptr)
      return make_error(error_kind::config,
                        "tokenizer.kind 'server' needs an endpoint");
    return from_server(*be);
  }
  // auto
  if (!t.file.empty())
    return from_file("auto", t);
  if (be != nullptr && tokenize_endpoint(*be) != nullptr)
    if (auto server = from_server(*be))
      return server;
  if (!quiet)
    std::fprintf(stderr,
                 "llmmr: counting tokens with the approximate tokenizer: "
                 "budgets are estimates (set tokenizer.file, or use a server "
                 "with /tokenize)\n");
  return approx_choice();
}

} // namespace llmmr::cli

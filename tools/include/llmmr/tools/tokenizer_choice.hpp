#pragma once

#include <memory>
#include <string>

#include "llmmr/messages/expected.hpp"

#include "llmmr/config/settings.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {
class http_client;
class exact_tokenizer;
class server_tokenizer;
} // namespace llmmr

namespace llmmr::cli {

struct backend;

/// The tokenizer a command counts with, and why.
struct chosen_tokenizer {
  /// The tokenizer.
  std::shared_ptr<const tokenizer> tok;
  /// Set when it is an in-process exact tokenizer (for ids).
  std::shared_ptr<const exact_tokenizer> exact;
  /// Set when it is the server's tokenizer.
  std::shared_ptr<const server_tokenizer> server;
  /// "approx", "hf", "tiktoken" or "server".
  std::string kind;
  /// For logs and `plan`, e.g. "hf:llama3.tokenizer.json".
  std::string description;
  /// True for `approx`: counts are estimates.
  bool estimate = false;
};

/// Chooses the tokenizer of `s.tokenizer` (docs/chunking.md, "Choosing a
/// tokenizer"). `be` may be null (no endpoint, e.g. `llmmr plan`); then
/// `server` is an error and `auto` never picks it. `auto` picks the
/// configured file, else the first endpoint's `/tokenize` when its profile
/// has one and it answers, else `approx` with a one-line warning on stderr
/// (unless `quiet`). Fails with `error_kind::config` naming the file or the
/// endpoint and the problem.
expected<chosen_tokenizer>
choose_tokenizer(const settings& s, const backend* be, bool quiet = false);

} // namespace llmmr::cli

#pragma once

// The common part of the pipeline actor tests' fixtures: a deterministic
// actor system, a scripted backend playing the model, the pipeline actor and
// the few calls tests make to it. Each suite derives its own fixture and
// sets `client` up with its own scripted model.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "deterministic_system.hpp"

namespace llmmr::test {

/// Returns whether `text` contains `needle`.
inline bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// Returns the text between `open` and the next `close` in `prompt` (empty
/// when either is missing).
inline std::string between(const std::string& prompt, const std::string& open,
                           const std::string& close) {
  auto b = prompt.find(open);
  if (b == std::string::npos)
    return {};
  b += open.size();
  auto e = prompt.find(close, b);
  return e == std::string::npos ? std::string{} : prompt.substr(b, e - b);
}

/// A pipeline actor driven from the test's thread. The derived fixture makes
/// `client`; `start` spawns the pipeline (`job` does so when not yet done).
struct pipeline_fixture : deterministic_system {
  /// The scripted backend every LLM call goes to.
  std::shared_ptr<scripted_client> client;
  /// The tokenizer the pipeline counts with.
  std::shared_ptr<const tokenizer> tok = std::make_shared<approx_tokenizer>();
  /// The pipeline under test (empty until `start`).
  pipeline_handle pipe;

  ~pipeline_fixture() {
    if (pipe.actor) {
      pipe.stop();
      run();
    }
    self.reset();
  }

  /// Spawns the pipeline with `opts` and lets it settle.
  void start(pipeline_options opts = {}) {
    auto p = spawn_pipeline(*sys, opts, client, tok);
    REQUIRE(p);
    pipe = *p;
    run();
  }

  /// Runs every actor until nothing is left to do; with a deferred backend
  /// also completes every LLM call.
  void run() {
    for (;;) {
      sched->run();
      if (client == nullptr || client->pending() == 0)
        return;
      client->complete_all();
    }
  }

  /// Runs the actors without completing deferred LLM calls.
  void run_actors() { sched->run(); }

  /// Sends a request and returns its handle (the answer is read later).
  template <class... Ts>
  auto request(Ts&&... xs) {
    return request_to(pipe.actor, std::forward<Ts>(xs)...);
  }

  /// Sends a request, runs everything and returns the answer.
  template <class T, class... Ts>
  llmmr::expected<T> ask(Ts&&... xs) {
    auto rh = request(std::forward<Ts>(xs)...);
    run();
    return read<T>(rh);
  }

  /// Runs a whole job and returns its result (or the submission's error).
  llmmr::expected<job_result> job(job_spec spec, std::string doc) {
    if (!pipe.actor)
      start();
    auto id
      = ask<uint64_t>(job_doc_atom::value, std::move(spec), std::move(doc));
    if (!id)
      return id.error();
    return ask<job_result>(job_result_atom::value, *id);
  }

  /// Returns the requests of one stage.
  std::vector<chat_request> requests_of(const std::string& stage) const {
    std::vector<chat_request> out;
    for (auto& r : client->requests())
      if (stage_of_label(r.label) == stage)
        out.push_back(r);
    return out;
  }
};

} // namespace llmmr::test

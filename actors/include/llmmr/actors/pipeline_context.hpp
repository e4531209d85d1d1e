#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// A worker node the pipeline is connected to.
struct worker_node {
  /// Where it was reached, "host:port".
  std::string name;
  /// Its published mapper interface (a proxy of the remote actor).
  caf::actor handle;
};

/// What every actor of one pipeline shares (read-only once the front has
/// spawned the calibrator).
struct pipeline_context {
  /// The options the pipeline was spawned with.
  pipeline_options opts;
  /// Where every LLM call goes.
  std::shared_ptr<llm_client> client;
  /// Counts tokens.
  std::shared_ptr<const tokenizer> tok;
  /// The prompt templates and rubrics.
  std::shared_ptr<const prompt_library> prompts;
  /// The pipeline's calibrator (mappers and collapsers ask it).
  calibrator_actor calibrator;
  /// The worker nodes reached when the pipeline started.
  std::vector<worker_node> workers;
};

} // namespace llmmr

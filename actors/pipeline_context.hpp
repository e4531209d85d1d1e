#pragma once

#include <memory>

#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

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
};

} // namespace llmmr

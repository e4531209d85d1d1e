#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/worker_actor.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/cancellation.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// A worker node handed to the mapper pool directly.
struct worker_node {
  /// A name for logs and errors, e.g. "host:port".
  std::string name;
  /// Its mapper interface.
  worker_actor handle;
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
  /// The job's cancellation flag, set on every request built from this
  /// context (`make_stage_request`). Null in the pipeline's shared context;
  /// each coordinator hands its stage actors a copy holding its job's flag.
  cancellation_ptr cancel;
  /// Worker nodes at hand when the pool starts (in-process stand-ins, e.g.
  /// in tests); the pool uses them next to the nodes of `opts.workers`, to
  /// which it connects itself.
  std::vector<worker_node> workers;
  /// True where the pipeline decides a job's fate, so the mapper pool stops
  /// a job at its first failure when the job allows none. False on a worker
  /// node: its coordinator decides (and may map a failed chunk elsewhere),
  /// so the node maps every chunk it is given.
  bool decides_jobs = true;
};

} // namespace llmmr

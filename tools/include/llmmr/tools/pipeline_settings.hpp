#pragma once

// Settings to pipeline options and the CAF middleman set-up for worker nodes.

#include <caf/fwd.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/config/settings.hpp"

namespace llmmr::cli {

/// Maps the `pipeline`, `input`, `prompts` and `workers` sections of `s` to
/// pipeline options.
pipeline_options to_pipeline_options(const settings& s);

/// Prepares `cfg` for worker nodes: loads the CAF middleman when
/// `workers.nodes` is not empty (or `always`) and sets its heartbeat interval
/// and connection timeout from the `workers` section when they are not 0.
/// Call it before creating the actor system.
void configure_middleman(caf::actor_system_config& cfg, const settings& s,
                         bool always = false);

} // namespace llmmr::cli

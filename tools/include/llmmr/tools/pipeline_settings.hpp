#pragma once

// Settings to pipeline options and the CAF middleman set-up for worker nodes.

#include <caf/fwd.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/messages/error.hpp"

namespace llmmr::cli {

/// Maps the `pipeline`, `input`, `prompts` and `workers` sections of `s` to
/// pipeline options.
pipeline_options to_pipeline_options(const settings& s);

/// Prepares `cfg` for worker nodes: loads the CAF middleman when
/// `workers.nodes` is not empty (or `always`), sets its heartbeat interval
/// and connection timeout from the `workers` section when they are not 0
/// and, when `workers.tls` is set, checks its files and loads CAF's OpenSSL
/// module with them (`configure_node_tls`). Fails with `error_kind::config`
/// naming a TLS file that cannot be used. Call it before creating the actor
/// system.
[[nodiscard]] error configure_middleman(caf::actor_system_config& cfg,
                                        const settings& s, bool always = false);

} // namespace llmmr::cli

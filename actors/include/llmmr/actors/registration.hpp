#pragma once

#include <caf/fwd.hpp>

namespace llmmr {

/// Announces every llmmr message type and the `llmmr` error category to
/// `cfg`. Every node of a distributed job must call this before it starts its
/// actor system; a node that lacks it cannot deserialize llmmr messages.
void register_types(caf::actor_system_config& cfg);

} // namespace llmmr

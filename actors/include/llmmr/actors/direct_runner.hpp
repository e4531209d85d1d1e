#pragma once

#include <cstdint>
#include <memory>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/direct_text.hpp"

namespace llmmr {

/// Coordinator to direct runner: the next piece of the document, in order:
/// `(direct_piece_atom, chunk)`.
using direct_piece_atom = caf::atom_constant<caf::atom("direct_pc")>;

/// Coordinator to direct runner once the document ended:
/// `(direct_text_atom, uint64_t budget) -> direct_text`.
using direct_text_atom = caf::atom_constant<caf::atom("direct_txt")>;

/// The document keeper of one `strategy::direct` job: holds the first and
/// the last tokens of the document as its pieces arrive (`head_tail_window`,
/// bounded memory) and answers the text for the one call.
///
/// - `direct_piece_atom, chunk`: adds a piece.
/// - `direct_text_atom, budget`: the document cut in the middle to `budget`
///   tokens (the first half and the last half), with what was cut. A budget
///   smaller than the one the runner was spawned with (after the server
///   rejected the prompt as too long) is served from the same pieces.
using direct_runner_actor = caf::typed_actor<
  caf::reacts_to<direct_piece_atom, chunk>,
  caf::replies_to<direct_text_atom, uint64_t>::with<direct_text>>;

/// Spawns the direct runner of a job that keeps `budget` document tokens.
direct_runner_actor
spawn_direct_runner(caf::actor_system& sys,
                    std::shared_ptr<const pipeline_context> ctx, size_t budget);

} // namespace llmmr

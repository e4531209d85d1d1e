// The direct runner: an actor shell around the pure `head_tail_window`.

#include "llmmr/actors/direct_runner.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <utility>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/core/direct_window.hpp"

namespace llmmr {

namespace {

struct direct_runner_state {
  std::shared_ptr<const pipeline_context> ctx;
  std::unique_ptr<head_tail_window> window;
};

direct_runner_actor::behavior_type direct_runner_behavior(
  direct_runner_actor::stateful_pointer<direct_runner_state> self,
  std::shared_ptr<const pipeline_context> ctx, size_t budget) {
  self->state.ctx = std::move(ctx);
  self->state.window
    = std::make_unique<head_tail_window>(*self->state.ctx->tok, budget);
  return {
    [self](direct_piece_atom, chunk& c) {
      self->state.window->add(std::move(c));
    },
    [self](direct_text_atom, uint64_t n) {
      return self->state.window->take(static_cast<size_t>(n));
    },
  };
}

} // namespace

direct_runner_actor
spawn_direct_runner(caf::actor_system& sys,
                    std::shared_ptr<const pipeline_context> ctx,
                    size_t budget) {
  return sys.spawn(direct_runner_behavior, std::move(ctx), budget);
}

} // namespace llmmr

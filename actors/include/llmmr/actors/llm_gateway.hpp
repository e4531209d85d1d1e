#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/cancellation.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/usage.hpp"

namespace llmmr {

/// An LLM call came back: `(llm_ok_atom, call_id, text, finish_reason,
/// usage)`.
using llm_ok_atom = caf::atom_constant<caf::atom("llm_ok")>;

/// An LLM call failed: `(llm_err_atom, call_id, caf::error)`.
using llm_err_atom = caf::atom_constant<caf::atom("llm_err")>;

/// An LLM call with a time limit did not come back in time:
/// `(llm_tout_atom, call_id)`.
using llm_tout_atom = caf::atom_constant<caf::atom("llm_tout")>;

/// The messages an actor that makes LLM calls through an `llm_gateway`
/// receives from it (outcomes of its own calls, never sent by other actors).
/// Typed actors add them to their interface with `extend_with`.
using llm_reply_actor = caf::typed_actor<
  caf::reacts_to<llm_ok_atom, uint64_t, std::string, std::string, usage>,
  caf::reacts_to<llm_err_atom, uint64_t, caf::error>,
  caf::reacts_to<llm_tout_atom, uint64_t>>;

/// Hands LLM calls from an actor to an `llm_client` and their outcomes back
/// to the actor. The client's reply handler runs on a foreign thread; it only
/// sends `llm_ok_atom`/`llm_err_atom` to the actor, whose behavior passes
/// them to `on_ok`/`on_err`, so continuations always run in the actor.
class llm_gateway {
public:
  /// Receives the outcome of one call, in the actor's context.
  using continuation = std::function<void(expected<chat_reply>)>;

  /// Creates a gateway for `self` (which must outlive it).
  llm_gateway(caf::local_actor* self, std::shared_ptr<llm_client> client)
    : self_(self), client_(std::move(client)) {
    // nop
  }

  /// Starts a call; `k` runs when its outcome reaches the actor.
  uint64_t call(chat_request req, continuation k) {
    return start(std::move(req), std::move(k), std::chrono::milliseconds{0});
  }

  /// Starts a call that ends with an `error_kind::timeout` error when its
  /// outcome has not arrived after `timeout`; the actor must pass
  /// `llm_tout_atom` messages to `on_timeout`. A late outcome is ignored.
  uint64_t call(chat_request req, std::chrono::milliseconds timeout,
                continuation k) {
    auto id = start(std::move(req), std::move(k), timeout);
    caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_), timeout,
                           llm_tout_atom::value, id);
    return id;
  }

  /// Delivers a successful outcome.
  void on_ok(uint64_t id, std::string text, std::string finish_reason,
             usage u) {
    chat_reply rep;
    rep.text = std::move(text);
    rep.finish_reason = std::move(finish_reason);
    rep.usage = u;
    complete(id, std::move(rep));
  }

  /// Delivers a failure.
  void on_err(uint64_t id, caf::error err) { complete(id, from_caf(err)); }

  /// Ends call `id` with an `error_kind::timeout` error if it is still
  /// pending.
  void on_timeout(uint64_t id) {
    auto i = pending_.find(id);
    if (i == pending_.end())
      return;
    auto what = "the LLM call '" + i->second.label
                + "' did not come back within "
                + std::to_string(i->second.timeout.count()) + " ms";
    complete(id, make_error(error_kind::timeout, std::move(what)));
  }

  /// Returns `Behavior` made of `handlers` and the three that pass this
  /// gateway's outcome messages (`llm_reply_actor`) to `on_ok`, `on_err` and
  /// `on_timeout`. The gateway must live as long as the behavior (a member
  /// of the actor).
  template <class Behavior, class... Handlers>
  Behavior behavior_with(Handlers... handlers) {
    return Behavior{
      std::move(handlers)...,
      [this](llm_ok_atom, uint64_t id, std::string& text, std::string& finish,
             usage u) { on_ok(id, std::move(text), std::move(finish), u); },
      [this](llm_err_atom, uint64_t id, caf::error& err) {
        on_err(id, std::move(err));
      },
      [this](llm_tout_atom, uint64_t id) { on_timeout(id); },
    };
  }

  /// Returns the number of calls whose outcome has not arrived.
  size_t in_flight() const noexcept { return pending_.size(); }

  /// Forgets every pending call (their outcomes are ignored when they come).
  void clear() {
    for (auto& kv : pending_)
      forget_cancel(kv.second);
    pending_.clear();
  }

private:
  struct pending_call {
    continuation k;
    std::string label;
    std::chrono::milliseconds timeout;
    /// The request's flag and the callback registered on it, if any.
    cancellation_ptr cancel;
    cancellation::callback_id on_cancel = 0;
  };

  static void forget_cancel(pending_call& pc) {
    if (pc.cancel && pc.on_cancel != 0)
      pc.cancel->remove(pc.on_cancel);
  }

  uint64_t start(chat_request req, continuation k,
                 std::chrono::milliseconds timeout) {
    auto id = ++next_id_;
    auto& pc = pending_[id];
    pc.k = std::move(k);
    pc.label = req.label;
    pc.timeout = timeout;
    auto addr = self_->address();
    if (req.cancel) {
      // The call ends for the actor as soon as its flag is set, whether or
      // not the client notices in time; a late outcome is ignored.
      auto label = req.label;
      auto on_cancel = [addr, id, label] {
        if (auto hdl = caf::actor_cast<caf::actor>(addr))
          caf::anon_send(
            hdl, llm_err_atom::value, id,
            make_caf_error(error_kind::cancelled,
                           "the LLM call '" + label + "' was cancelled"));
      };
      if (req.cancel->cancelled()) {
        on_cancel();
        return id;
      }
      pc.cancel = req.cancel;
      pc.on_cancel = req.cancel->on_cancel(std::move(on_cancel));
    }
    client_->chat(std::move(req), [addr, id](expected<chat_reply> res) {
      auto hdl = caf::actor_cast<caf::actor>(addr);
      if (!hdl)
        return;
      if (res)
        caf::anon_send(hdl, llm_ok_atom::value, id, std::move(res->text),
                       std::move(res->finish_reason), res->usage);
      else
        caf::anon_send(hdl, llm_err_atom::value, id, to_caf(res.error()));
    });
    return id;
  }

  void complete(uint64_t id, expected<chat_reply> res) {
    auto i = pending_.find(id);
    if (i == pending_.end())
      return;
    auto k = std::move(i->second.k);
    forget_cancel(i->second);
    pending_.erase(i);
    k(std::move(res));
  }

  caf::local_actor* self_;
  std::shared_ptr<llm_client> client_;
  std::unordered_map<uint64_t, pending_call> pending_;
  uint64_t next_id_ = 0;
};

} // namespace llmmr

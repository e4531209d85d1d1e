#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// Hands LLM calls from an actor to an `llm_client` and their outcomes back
/// to the actor. The client's reply handler runs on a foreign thread; it only
/// sends `llm_ok_atom`/`llm_err_atom` to the actor, whose behavior passes
/// them to `on_ok`/`on_err`, so continuations always run in the actor.
class llm_gateway {
public:
  /// Receives the outcome of one call, in the actor's context.
  using continuation = std::function<void(caf::expected<chat_reply>)>;

  /// Creates a gateway for `self` (which must outlive it).
  llm_gateway(caf::local_actor* self, std::shared_ptr<llm_client> client)
    : self_(self), client_(std::move(client)) {
    // nop
  }

  /// Starts a call; `k` runs when its outcome reaches the actor.
  void call(chat_request req, continuation k) {
    auto id = ++next_id_;
    pending_.emplace(id, std::move(k));
    auto addr = self_->address();
    client_->chat(std::move(req), [addr, id](caf::expected<chat_reply> res) {
      auto hdl = caf::actor_cast<caf::actor>(addr);
      if (!hdl)
        return;
      if (res)
        caf::anon_send(hdl, llm_ok_atom::value, id, std::move(res->text),
                       std::move(res->finish_reason), res->usage);
      else
        caf::anon_send(hdl, llm_err_atom::value, id, std::move(res.error()));
    });
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
  void on_err(uint64_t id, caf::error err) { complete(id, std::move(err)); }

  /// Returns the number of calls whose outcome has not arrived.
  size_t in_flight() const noexcept { return pending_.size(); }

  /// Forgets every pending call (their outcomes are ignored when they come).
  void clear() { pending_.clear(); }

private:
  void complete(uint64_t id, caf::expected<chat_reply> res) {
    auto i = pending_.find(id);
    if (i == pending_.end())
      return;
    auto k = std::move(i->second);
    pending_.erase(i);
    k(std::move(res));
  }

  caf::local_actor* self_;
  std::shared_ptr<llm_client> client_;
  std::unordered_map<uint64_t, continuation> pending_;
  uint64_t next_id_ = 0;
};

} // namespace llmmr

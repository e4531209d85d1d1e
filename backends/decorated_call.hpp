// Private to the backends layer: what a client decorator keeps of one call.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

#include "llmmr/backends/llm_client.hpp"
#include "llmmr/core/cancellation.hpp"

namespace llmmr {

/// One call a decorator (retrying, circuit breaker) forwards: the request,
/// the caller's handlers and a once-only delivery of the outcome.
struct decorated_call {
  chat_request req;
  attempt_handler done;
  delta_handler on_delta;
  std::atomic<bool> finished{false};
  /// The cancellation callback registered for this call, 0 when none.
  cancellation::callback_id cancel_id = 0;

  /// Hands the outcome to the caller unless that happened already: drops the
  /// cancellation callback and counts the call out of `outstanding`.
  void deliver(expected<chat_reply> res, attempt_info info,
               std::atomic<size_t>& outstanding) {
    if (finished.exchange(true))
      return;
    if (cancel_id != 0 && req.cancel)
      req.cancel->remove(cancel_id);
    --outstanding;
    auto handler = std::move(done);
    handler(std::move(res), std::move(info));
  }
};

} // namespace llmmr

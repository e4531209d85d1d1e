#include "llmmr/backends/retrying_client.hpp"
#include "llmmr/core/log.hpp"

#include <spdlog/spdlog.h>

namespace llmmr {

using std::chrono::milliseconds;

struct retrying_client::call {
  chat_request req;
  attempt_handler done;
  delta_handler on_delta;
  std::chrono::steady_clock::time_point start;
  uint32_t attempts = 0;
};

retrying_client::retrying_client(std::shared_ptr<llm_client> inner,
                                 retry_options opts, scheduler wait)
  : inner_(std::move(inner)), policy_(opts), wait_(std::move(wait)),
    clock_([] { return std::chrono::steady_clock::now(); }) {
  // nop
}

retrying_client::~retrying_client() {
  std::shared_ptr<llm_client> inner;
  {
    std::lock_guard guard{mtx_};
    closing_ = true;
    inner.swap(inner_);
  }
  inner.reset(); // cancels pending calls while this object is still alive
}

void retrying_client::set_clock(clock_fn fn) {
  clock_ = std::move(fn);
}

void retrying_client::chat(chat_request req, reply_handler done,
                           delta_handler on_delta) {
  try_chat(std::move(req), ignore_attempt_info(std::move(done)),
           std::move(on_delta));
}

void retrying_client::try_chat(chat_request req, attempt_handler done,
                               delta_handler on_delta) {
  auto c = std::make_shared<call>();
  c->req = std::move(req);
  c->done = std::move(done);
  c->on_delta = std::move(on_delta);
  c->start = clock_();
  ++outstanding_;
  attempt(std::move(c));
}

size_t retrying_client::outstanding() const {
  return outstanding_.load();
}

void retrying_client::attempt(std::shared_ptr<call> c) {
  if (closing_) {
    --outstanding_;
    attempt_info info;
    info.reason = "cancelled";
    c->done(make_error(error_kind::cancelled, "the client was shut down"),
            std::move(info));
    return;
  }
  ++c->attempts;
  auto req = c->req;
  std::shared_ptr<llm_client> inner;
  {
    std::lock_guard guard{mtx_};
    inner = inner_;
  }
  if (!inner) {
    --outstanding_;
    c->done(make_error(error_kind::cancelled, "the client was shut down"), {});
    return;
  }
  inner->try_chat(
    std::move(req),
    [this, c](expected<chat_reply> res, attempt_info info) {
      if (res || closing_) {
        if (res)
          res->attempts = c->attempts;
        --outstanding_;
        c->done(std::move(res), std::move(info));
        return;
      }
      retry_decision decision;
      decision.retry = info.retryable;
      decision.kind = kind_of(res.error());
      decision.reason = info.reason;
      if (info.retry_after_ms >= 0)
        decision.delay = milliseconds{info.retry_after_ms};
      auto elapsed
        = std::chrono::duration_cast<milliseconds>(clock_() - c->start);
      auto delay = policy_.next_delay(decision, c->attempts, elapsed);
      if (!delay) {
        if (decision.retry && c->attempts > 1)
          logger()->warn("llmmr: giving up on {} after {} attempts ({} ms): {}",
                         info.endpoint.empty() ? "endpoint" : info.endpoint,
                         c->attempts, elapsed.count(), info.reason);
        --outstanding_;
        c->done(std::move(res), std::move(info));
        return;
      }
      ++retries_;
      logger()->warn("llmmr: retry {} of {}{}{} on {} in {} ms: {}",
                     c->attempts + 1, policy_.options().max_attempts,
                     c->req.label.empty() ? "" : " for ", c->req.label,
                     info.endpoint.empty() ? "endpoint" : info.endpoint,
                     delay->count(), info.reason);
      wait_(*delay, [this, c] { attempt(c); });
    },
    c->on_delta);
}

} // namespace llmmr

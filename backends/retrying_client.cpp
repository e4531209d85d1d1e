#include "llmmr/backends/retrying_client.hpp"

#include "decorated_call.hpp"
#include "llmmr/core/log.hpp"

#include <spdlog/spdlog.h>

namespace llmmr {

using std::chrono::milliseconds;

struct retrying_client::call : decorated_call {
  std::chrono::steady_clock::time_point start;
  uint32_t attempts = 0;
};

struct retrying_client::state : std::enable_shared_from_this<state> {
  state(std::shared_ptr<llm_client> in, retry_options opts, scheduler w)
    : inner(std::move(in)), policy(opts), wait(std::move(w)),
      clock([] { return std::chrono::steady_clock::now(); }) {
    // nop
  }

  std::mutex mtx;
  std::shared_ptr<llm_client> inner; // guarded by mtx; null once closed
  retry_policy policy;
  scheduler wait;
  clock_fn clock;
  std::atomic<size_t> outstanding{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<bool> closing{false};

  /// Delivers the outcome of `c` unless it was delivered already.
  void finish(const std::shared_ptr<call>& c, expected<chat_reply> res,
              attempt_info info) {
    c->deliver(std::move(res), std::move(info), outstanding);
  }

  void finish_cancelled(const std::shared_ptr<call>& c, std::string what) {
    attempt_info info;
    info.reason = "cancelled";
    finish(c, make_error(error_kind::cancelled, std::move(what)),
           std::move(info));
  }

  void attempt(std::shared_ptr<call> c) {
    if (c->finished)
      return;
    if (closing) {
      finish_cancelled(c, "the client was shut down");
      return;
    }
    if (c->req.cancel && c->req.cancel->cancelled()) {
      finish_cancelled(c, "the call was cancelled");
      return;
    }
    std::shared_ptr<llm_client> in;
    {
      std::lock_guard guard{mtx};
      in = inner;
    }
    if (!in) {
      finish_cancelled(c, "the client was shut down");
      return;
    }
    ++c->attempts;
    auto req = c->req;
    // No attempt may outlive the call's total budget.
    auto elapsed = std::chrono::duration_cast<milliseconds>(clock() - c->start);
    auto left = policy.options().max_total - elapsed;
    if (left < milliseconds{1})
      left = milliseconds{1};
    auto until = std::chrono::steady_clock::now() + left;
    if (!req.deadline || until < *req.deadline)
      req.deadline = until;
    auto self = shared_from_this();
    in->try_chat(
      std::move(req),
      [self, c](expected<chat_reply> res, attempt_info info) {
        self->on_attempt(c, std::move(res), std::move(info));
      },
      c->on_delta);
  }

  void on_attempt(const std::shared_ptr<call>& c, expected<chat_reply> res,
                  attempt_info info) {
    if (res || closing || c->finished) {
      if (res)
        res->attempts = c->attempts;
      finish(c, std::move(res), std::move(info));
      return;
    }
    retry_decision decision;
    decision.retry = info.retryable;
    decision.kind = kind_of(res.error());
    decision.reason = info.reason;
    if (info.retry_after_ms >= 0)
      decision.delay = milliseconds{info.retry_after_ms};
    if (decision.kind == error_kind::cancelled)
      decision.retry = false;
    auto elapsed = std::chrono::duration_cast<milliseconds>(clock() - c->start);
    auto delay = policy.next_delay(decision, c->attempts, elapsed);
    if (!delay) {
      if (decision.retry && c->attempts > 1)
        logger()->warn("llmmr: giving up on {} after {} attempts ({} ms): {}",
                       info.endpoint.empty() ? "endpoint" : info.endpoint,
                       c->attempts, elapsed.count(), info.reason);
      finish(c, std::move(res), std::move(info));
      return;
    }
    ++retries;
    logger()->warn("llmmr: retry {} of {}{}{} on {} in {} ms: {}",
                   c->attempts + 1, policy.options().max_attempts,
                   c->req.label.empty() ? "" : " for ", c->req.label,
                   info.endpoint.empty() ? "endpoint" : info.endpoint,
                   delay->count(), info.reason);
    auto self = shared_from_this();
    wait(*delay, [self, c] { self->attempt(c); });
  }
};

retrying_client::retrying_client(std::shared_ptr<llm_client> inner,
                                 retry_options opts, scheduler wait)
  : st_(std::make_shared<state>(std::move(inner), opts, std::move(wait))) {
  // nop
}

retrying_client::~retrying_client() {
  std::shared_ptr<llm_client> inner;
  {
    std::lock_guard guard{st_->mtx};
    st_->closing = true;
    inner.swap(st_->inner);
  }
  inner.reset(); // cancels pending calls; their handlers hold the state
}

void retrying_client::set_clock(clock_fn fn) {
  st_->clock = std::move(fn);
}

retry_policy& retrying_client::policy() noexcept {
  return st_->policy;
}

size_t retrying_client::capacity() const {
  std::lock_guard guard{st_->mtx};
  return st_->inner ? st_->inner->capacity() : 0;
}

bool retrying_client::supports_json_schema() const {
  std::lock_guard guard{st_->mtx};
  return st_->inner && st_->inner->supports_json_schema();
}

uint64_t retrying_client::retries() const noexcept {
  return st_->retries;
}

void retrying_client::try_chat(chat_request req, attempt_handler done,
                               delta_handler on_delta) {
  auto c = std::make_shared<call>();
  c->req = std::move(req);
  c->done = std::move(done);
  c->on_delta = std::move(on_delta);
  c->start = st_->clock();
  ++st_->outstanding;
  if (c->req.cancel) {
    // A cancelled call ends at once, even in the middle of a backoff; the
    // attempt in flight (if any) closes its connection on its own.
    std::weak_ptr<state> weak = st_;
    c->cancel_id = c->req.cancel->on_cancel([weak, c] {
      if (auto s = weak.lock())
        s->finish_cancelled(c, "the call was cancelled"
                                 + (c->req.label.empty()
                                      ? std::string{}
                                      : " (" + c->req.label + ")"));
    });
    if (c->finished)
      return;
  }
  st_->attempt(std::move(c));
}

size_t retrying_client::outstanding() const {
  return st_->outstanding.load();
}

} // namespace llmmr

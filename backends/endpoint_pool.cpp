#include "llmmr/backends/endpoint_pool.hpp"
#include "llmmr/core/log.hpp"

#include <spdlog/spdlog.h>

namespace llmmr {

struct endpoint_pool::state {
  struct slot {
    member m;
    size_t outstanding = 0;
    uint32_t failures = 0;
    bool benched = false;
    std::chrono::steady_clock::time_point benched_at;
    std::chrono::steady_clock::time_point last_pick;
    uint64_t times_benched = 0;
    uint64_t routed = 0;
  };

  size_t pick(std::chrono::steady_clock::time_point now);
  void report(size_t index, bool ok, bool transient);

  routing_options opts_;
  clock_fn clock_;
  mutable std::mutex mtx_;
  std::vector<slot> slots_;
  size_t outstanding_ = 0;
  bool closing_ = false;
};

endpoint_pool::endpoint_pool(std::vector<member> members, routing_options opts,
                             clock_fn clock)
  : st_(std::make_shared<state>()) {
  auto& opts_ = st_->opts_;
  auto& clock_ = st_->clock_;
  auto& slots_ = st_->slots_;
  opts_ = opts;
  clock_ = std::move(clock);
  if (!clock_)
    clock_ = [] { return std::chrono::steady_clock::now(); };
  if (opts_.bench_after_failures == 0)
    opts_.bench_after_failures = 1;
  for (auto& m : members) {
    state::slot s;
    s.m = std::move(m);
    slots_.push_back(std::move(s));
  }
}

endpoint_pool::~endpoint_pool() {
  auto& mtx_ = st_->mtx_;
  auto& slots_ = st_->slots_;
  auto& closing_ = st_->closing_;
  std::vector<std::shared_ptr<llm_client>> clients;
  {
    std::lock_guard guard{mtx_};
    closing_ = true;
    for (auto& s : slots_)
      clients.push_back(std::move(s.m.client));
  }
  clients.clear(); // cancels the endpoints' calls; handlers hold the state
}

size_t endpoint_pool::state::pick(std::chrono::steady_clock::time_point now) {
  // Wake endpoints whose rest is over; one more failure benches them again.
  for (auto& s : slots_) {
    if (s.benched && now - s.benched_at >= opts_.bench_cooldown) {
      s.benched = false;
      s.failures = opts_.bench_after_failures - 1;
      logger()->info("llmmr: endpoint {} is back from its cool-down", s.m.name);
    }
  }
  size_t best = slots_.size();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const auto& s = slots_[i];
    if (s.benched)
      continue;
    if (best == slots_.size() || s.outstanding < slots_[best].outstanding
        || (s.outstanding == slots_[best].outstanding
            && s.last_pick < slots_[best].last_pick))
      best = i;
  }
  if (best == slots_.size()) {
    // Everything is benched: try the one benched least recently.
    best = 0;
    for (size_t i = 1; i < slots_.size(); ++i)
      if (slots_[i].benched_at < slots_[best].benched_at)
        best = i;
  }
  return best;
}

void endpoint_pool::try_chat(chat_request req, attempt_handler done,
                             delta_handler on_delta) {
  auto& mtx_ = st_->mtx_;
  auto& slots_ = st_->slots_;
  auto& closing_ = st_->closing_;
  std::shared_ptr<llm_client> client;
  size_t index = 0;
  {
    std::unique_lock guard{mtx_};
    if (closing_ || slots_.empty()) {
      guard.unlock();
      attempt_info info;
      info.reason = "cancelled";
      done(make_error(error_kind::cancelled, "the endpoint pool is closed"),
           std::move(info));
      return;
    }
    auto now = st_->clock_();
    index = st_->pick(now);
    auto& s = slots_[index];
    ++s.outstanding;
    ++s.routed;
    s.last_pick = now;
    ++st_->outstanding_;
    client = s.m.client;
  }
  client->try_chat(
    std::move(req),
    [st = st_, index, done = std::move(done)](expected<chat_reply> res,
                                              attempt_info info) {
      bool transient = !res && info.retryable;
      st->report(index, static_cast<bool>(res), transient);
      done(std::move(res), std::move(info));
    },
    std::move(on_delta));
}

void endpoint_pool::state::report(size_t index, bool ok, bool transient) {
  std::lock_guard guard{mtx_};
  --outstanding_;
  if (closing_)
    return;
  auto& s = slots_[index];
  --s.outstanding;
  if (ok || !transient) {
    // A non-transient failure (e.g. a bad request) says nothing about the
    // endpoint's health.
    if (ok)
      s.failures = 0;
    return;
  }
  if (++s.failures >= opts_.bench_after_failures && !s.benched) {
    s.benched = true;
    s.benched_at = clock_();
    ++s.times_benched;
    logger()->warn("llmmr: benching endpoint {} for {} ms after {} failures "
                   "in a row",
                   s.m.name, opts_.bench_cooldown.count(), s.failures);
  }
}

bool endpoint_pool::supports_json_schema() const {
  std::lock_guard<std::mutex> guard{st_->mtx_};
  for (const auto& s : st_->slots_)
    if (!s.m.client || !s.m.client->supports_json_schema())
      return false;
  return !st_->slots_.empty();
}

size_t endpoint_pool::capacity() const {
  std::vector<std::shared_ptr<llm_client>> clients;
  {
    std::lock_guard guard{st_->mtx_};
    for (const auto& s : st_->slots_)
      if (s.m.client)
        clients.push_back(s.m.client);
  }
  size_t sum = 0;
  for (const auto& c : clients)
    sum += c->capacity();
  return sum;
}

size_t endpoint_pool::outstanding() const {
  std::lock_guard guard{st_->mtx_};
  return st_->outstanding_;
}

std::vector<pool_member_status> endpoint_pool::status() const {
  std::lock_guard guard{st_->mtx_};
  std::vector<pool_member_status> result;
  for (const auto& s : st_->slots_)
    result.push_back(pool_member_status{s.m.name, s.outstanding, s.failures,
                                        s.benched, s.times_benched, s.routed});
  return result;
}

} // namespace llmmr

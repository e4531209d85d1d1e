#include "llmmr/core/cancellation.hpp"

#include <utility>
#include <vector>

namespace llmmr {

void cancellation::cancel() {
  std::map<callback_id, std::function<void()>> to_run;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (cancelled_)
      return;
    cancelled_ = true;
    to_run.swap(callbacks_);
  }
  for (auto& [id, f] : to_run)
    f();
}

bool cancellation::cancelled() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return cancelled_;
}

cancellation::callback_id cancellation::on_cancel(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!cancelled_) {
      auto id = next_id_++;
      callbacks_.emplace(id, std::move(f));
      return id;
    }
  }
  f();
  return 0;
}

void cancellation::remove(callback_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  callbacks_.erase(id);
}

} // namespace llmmr

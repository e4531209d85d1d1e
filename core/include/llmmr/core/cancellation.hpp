#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace llmmr {

/// A flag shared by a job and the calls it starts. Cancelling it runs every
/// registered callback once, so an HTTP call in flight can close its socket
/// and a queued call can be dropped. Thread-safe: the job cancels from its
/// actor, the callbacks run on the thread that cancels.
class cancellation {
public:
  /// Identifies one registered callback.
  using callback_id = uint64_t;

  /// Sets the flag and runs the registered callbacks (outside the lock).
  /// Later calls do nothing.
  void cancel();

  /// Returns whether `cancel` was called.
  bool cancelled() const;

  /// Registers `f` to run on `cancel`; runs it at once (and returns 0) when
  /// already cancelled.
  callback_id on_cancel(std::function<void()> f);

  /// Removes a callback that has not run yet; does nothing otherwise.
  void remove(callback_id id);

private:
  mutable std::mutex mtx_;
  bool cancelled_ = false;
  callback_id next_id_ = 1;
  std::map<callback_id, std::function<void()>> callbacks_;
};

/// Shared ownership of a cancellation; a null pointer means "never cancelled".
using cancellation_ptr = std::shared_ptr<cancellation>;

/// Creates a fresh, not yet cancelled flag.
inline cancellation_ptr make_cancellation() {
  return std::make_shared<cancellation>();
}

} // namespace llmmr

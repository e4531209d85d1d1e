#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// A test double for `llm_client`: answers each request through a function
/// supplied by the test, either at once on the caller's thread (synchronous)
/// or when the test says so (deferred). Counts calls, outstanding calls and
/// the highest number of calls that were in flight at once. Thread-safe.
/// Honours `chat_request::cancel`: a deferred call is dropped when it fires
/// and an already cancelled call is not run; either way the handler receives
/// `error_kind::cancelled` once.
class scripted_client : public llm_client {
public:
  /// Computes the outcome of one request.
  using script = std::function<expected<chat_reply>(const chat_request&)>;

  /// When replies are delivered.
  enum class mode {
    /// `chat` calls the reply handler before it returns.
    synchronous,
    /// Calls wait until `complete` or `complete_all` runs them.
    deferred,
  };

  /// Creates a client that answers with `fn`.
  explicit scripted_client(script fn, mode m = mode::synchronous);

  /// Forgets the deferred calls (their handlers never run).
  ~scripted_client() override;

  /// Starts a call (see `llm_client::chat`).
  void chat(chat_request req, reply_handler done,
            delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not yet completed.
  size_t outstanding() const override;

  /// Returns what `set_supports_json_schema` set (false by default).
  bool supports_json_schema() const override { return schema_support_; }

  /// Makes the client claim (or deny) JSON-schema support.
  void set_supports_json_schema(bool value) { schema_support_ = value; }

  /// Returns what `set_capacity` set (0, unknown, by default).
  size_t capacity() const override { return capacity_.load(); }

  /// Makes the client report `value` as its capacity, as an endpoint whose
  /// concurrency limit is `value` would.
  void set_capacity(size_t value) { capacity_ = value; }

  /// Returns the highest value `outstanding()` ever had.
  size_t max_in_flight() const;

  /// Sorts requests into classes (e.g. by pipeline stage) for the per-class
  /// counts below; set it before the first call.
  void set_classifier(std::function<std::string(const chat_request&)> fn);

  /// Returns the highest number of calls of class `cls` in flight at once.
  size_t max_in_flight(const std::string& cls) const;

  /// Returns the number of calls started so far.
  size_t calls() const;

  /// Returns copies of every request received so far, in order.
  std::vector<chat_request> requests() const;

  /// Returns the number of deferred calls waiting to be completed.
  size_t pending() const;

  /// Completes up to `n` of the oldest deferred calls on the calling thread
  /// and returns how many it completed.
  size_t complete(size_t n = 1);

  /// Completes the deferred call at position `index` of the pending ones
  /// (0 is the oldest); returns false when there is no such call. Lets a
  /// test complete calls out of order.
  bool complete_at(size_t index);

  /// Completes every deferred call that is pending now (not those started
  /// while completing) and returns how many it completed.
  size_t complete_all();

  /// Replaces the script.
  void set_script(script fn);

  /// Builds a reply with `text`; the usage is estimated from the sizes when
  /// the script leaves it empty.
  static chat_reply reply(std::string text, std::string finish_reason = "stop");

  /// Returns the text of the last user message of `req` (the prompt).
  static const std::string& prompt_of(const chat_request& req);

private:
  struct call {
    chat_request req;
    reply_handler done;
    std::string cls;
    uint64_t id = 0;
    cancellation::callback_id cancel_id = 0;
  };

  void run(call c);
  void finish(call c, expected<chat_reply> res);
  void cancel_pending(uint64_t id);

  mutable std::mutex mtx_;
  script script_;
  mode mode_;
  std::deque<call> pending_;
  std::vector<chat_request> log_;
  size_t outstanding_ = 0;
  size_t max_in_flight_ = 0;
  size_t calls_ = 0;
  uint64_t next_id_ = 0;
  std::function<std::string(const chat_request&)> classifier_;
  std::map<std::string, size_t> class_outstanding_;
  std::map<std::string, size_t> class_max_;
  std::atomic<bool> schema_support_{false};
  std::atomic<size_t> capacity_{0};
};

} // namespace llmmr

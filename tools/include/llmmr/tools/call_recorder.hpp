#pragma once

// An llm_client decorator for `llmmr bench`: it notes which call got which
// server request id, so the simulator's call log can be joined with the
// pipeline's stages, and can keep copies of the map requests to replay them
// through the bare HTTP client.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llmmr/backends/llm_client.hpp"

namespace llmmr::cli {

/// One call that went through a `call_recorder`.
struct recorded_call {
  /// The request's label, e.g. `job 3 map 17`.
  std::string label;
  /// The server's request id (`x-request-id`), empty when none came back.
  std::string request_id;
  /// Whether the call succeeded.
  bool ok = false;
};

/// Forwards every call to an inner client and records its label and
/// request id when it ends.
class call_recorder final : public llm_client {
public:
  /// Wraps `inner`; with `keep_map_requests`, also keeps a copy of every map
  /// request (label `job N map ...`), without its cancellation token.
  explicit call_recorder(std::shared_ptr<llm_client> inner,
                         bool keep_map_requests = false);

  void chat(chat_request req, reply_handler done,
            delta_handler on_delta = {}) override;

  void try_chat(chat_request req, attempt_handler done,
                delta_handler on_delta = {}) override;

  size_t outstanding() const override;

  bool supports_json_schema() const override;

  /// Forwards to the recorded client.
  size_t capacity() const override { return inner_->capacity(); }

  /// Returns the calls ended so far and forgets them.
  std::vector<recorded_call> take_calls();

  /// Returns the map requests kept so far and forgets them.
  std::vector<chat_request> take_map_requests();

private:
  struct state {
    std::mutex mtx;
    std::vector<recorded_call> calls;
    std::vector<chat_request> map_requests;
  };

  void keep(const chat_request& req);

  std::shared_ptr<llm_client> inner_;
  bool keep_map_requests_;
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

} // namespace llmmr::cli

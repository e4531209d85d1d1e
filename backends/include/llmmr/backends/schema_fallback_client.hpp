#pragma once

#include <atomic>
#include <memory>

#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// A decorator that serves text to a server that rejected a JSON-schema
/// request. The first call whose schema request fails with
/// `error_kind::bad_request` is sent again without the schema; from then on
/// every request loses its schema before it is sent, and the fact is logged
/// once (not per call). Thread-safe.
class schema_fallback_client final : public llm_client {
public:
  /// Wraps `inner`.
  explicit schema_fallback_client(std::shared_ptr<llm_client> inner);

  /// Starts a call, without its schema once a schema was rejected.
  void chat(chat_request req, reply_handler done,
            delta_handler on_delta = {}) override;

  /// Returns the number of calls started but not completed.
  size_t outstanding() const override;

  /// Returns false once a schema request was rejected, else what the inner
  /// client says.
  bool supports_json_schema() const override;

  /// Forwards to the inner client.
  size_t capacity() const override { return inner_->capacity(); }

  /// Returns whether a schema request was rejected.
  bool schema_rejected() const noexcept { return rejected_->load(); }

private:
  std::shared_ptr<llm_client> inner_;
  std::shared_ptr<std::atomic<bool>> rejected_;
  std::shared_ptr<std::atomic<size_t>> outstanding_;
};

} // namespace llmmr

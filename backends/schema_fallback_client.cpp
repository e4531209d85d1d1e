#include "llmmr/backends/schema_fallback_client.hpp"
#include "llmmr/core/log.hpp"

#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

schema_fallback_client::schema_fallback_client(
  std::shared_ptr<llm_client> inner)
  : inner_(std::move(inner)),
    rejected_(std::make_shared<std::atomic<bool>>(false)),
    outstanding_(std::make_shared<std::atomic<size_t>>(0)) {
  // nop
}

void schema_fallback_client::chat(chat_request req, reply_handler done,
                                  delta_handler on_delta) {
  if (req.json_schema.empty() || rejected_->load()) {
    req.json_schema.clear();
    ++*outstanding_;
    inner_->chat(
      std::move(req),
      [count = outstanding_,
       done = std::move(done)](expected<chat_reply> res) mutable {
        --*count;
        done(std::move(res));
      },
      std::move(on_delta));
    return;
  }
  // Keep a text-only copy in case the server rejects the schema.
  auto retry = std::make_shared<chat_request>(req);
  retry->json_schema.clear();
  ++*outstanding_;
  // The inner client outlives its calls; the flag and counter are shared.
  auto inner = inner_;
  auto flag = rejected_;
  auto count = outstanding_;
  inner_->chat(
    std::move(req),
    [inner, flag, count, retry, done = std::move(done),
     on_delta](expected<chat_reply> res) mutable {
      if (res || kind_of(res.error()) != error_kind::bad_request) {
        --*count;
        done(std::move(res));
        return;
      }
      if (retry->cancel && retry->cancel->cancelled()) {
        --*count;
        done(make_error(error_kind::cancelled, "the call was cancelled"));
        return;
      }
      if (!flag->exchange(true))
        logger()->warn("llmmr: the endpoint rejected a JSON-schema request "
                       "({}); using text output from now on",
                       describe(res.error()));
      inner->chat(
        std::move(*retry),
        [count, done = std::move(done)](expected<chat_reply> again) mutable {
          --*count;
          done(std::move(again));
        },
        std::move(on_delta));
    },
    on_delta);
}

size_t schema_fallback_client::outstanding() const {
  return outstanding_->load();
}

bool schema_fallback_client::supports_json_schema() const {
  return !rejected_->load() && inner_->supports_json_schema();
}

} // namespace llmmr

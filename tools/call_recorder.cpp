#include "llmmr/tools/call_recorder.hpp"

#include <utility>

namespace llmmr::cli {

call_recorder::call_recorder(std::shared_ptr<llm_client> inner,
                             bool keep_map_requests)
  : inner_(std::move(inner)), keep_map_requests_(keep_map_requests) {
  // nop
}

void call_recorder::keep(const chat_request& req) {
  if (!keep_map_requests_ || req.label.find(" map ") == std::string::npos)
    return;
  auto copy = req;
  copy.cancel = nullptr;
  copy.deadline.reset();
  std::lock_guard guard{state_->mtx};
  state_->map_requests.push_back(std::move(copy));
}

void call_recorder::chat(chat_request req, reply_handler done,
                         delta_handler on_delta) {
  keep(req);
  auto label = req.label;
  inner_->chat(
    std::move(req),
    [st = state_, label = std::move(label),
     done = std::move(done)](expected<chat_reply> res) mutable {
      {
        std::lock_guard guard{st->mtx};
        st->calls.push_back(recorded_call{
          std::move(label), res ? res->request_id : std::string{}, !!res});
      }
      done(std::move(res));
    },
    std::move(on_delta));
}

void call_recorder::try_chat(chat_request req, attempt_handler done,
                             delta_handler on_delta) {
  keep(req);
  auto label = req.label;
  inner_->try_chat(
    std::move(req),
    [st = state_, label = std::move(label), done = std::move(done)](
      expected<chat_reply> res, attempt_info info) mutable {
      {
        std::lock_guard guard{st->mtx};
        st->calls.push_back(recorded_call{
          std::move(label), res ? res->request_id : std::string{}, !!res});
      }
      done(std::move(res), std::move(info));
    },
    std::move(on_delta));
}

size_t call_recorder::outstanding() const {
  return inner_->outstanding();
}

bool call_recorder::supports_json_schema() const {
  return inner_->supports_json_schema();
}

std::vector<recorded_call> call_recorder::take_calls() {
  std::lock_guard guard{state_->mtx};
  return std::exchange(state_->calls, {});
}

std::vector<chat_request> call_recorder::take_map_requests() {
  std::lock_guard guard{state_->mtx};
  return std::exchange(state_->map_requests, {});
}

} // namespace llmmr::cli

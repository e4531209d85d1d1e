#include "llmmr/backends/scripted_client.hpp"

#include <algorithm>
#include <utility>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

scripted_client::scripted_client(script fn, mode m)
  : script_(std::move(fn)), mode_(m) {
  // nop
}

void scripted_client::chat(chat_request req, reply_handler done,
                           delta_handler) {
  std::string cls;
  {
    std::unique_lock<std::mutex> guard{mtx_};
    ++calls_;
    ++outstanding_;
    if (outstanding_ > max_in_flight_)
      max_in_flight_ = outstanding_;
    log_.push_back(req);
    if (classifier_) {
      cls = classifier_(req);
      auto n = ++class_outstanding_[cls];
      auto& hwm = class_max_[cls];
      if (n > hwm)
        hwm = n;
    }
    if (mode_ == mode::deferred) {
      auto id = ++next_id_;
      auto flag = req.cancel;
      pending_.push_back(
        call{std::move(req), std::move(done), std::move(cls), id, 0});
      if (flag) {
        // Registered outside the lock: it runs at once when already
        // cancelled.
        guard.unlock();
        auto cid = flag->on_cancel([this, id] { cancel_pending(id); });
        std::lock_guard<std::mutex> again{mtx_};
        for (auto& p : pending_)
          if (p.id == id)
            p.cancel_id = cid;
      }
      return;
    }
  }
  if (req.cancel && req.cancel->cancelled()) {
    finish(call{std::move(req), std::move(done), std::move(cls), 0, 0},
           make_error(error_kind::cancelled, "the call was cancelled"));
    return;
  }
  run(call{std::move(req), std::move(done), std::move(cls), 0, 0});
}

void scripted_client::cancel_pending(uint64_t id) {
  call c;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = std::find_if(pending_.begin(), pending_.end(),
                          [id](const call& x) { return x.id == id; });
    if (i == pending_.end())
      return;
    c = std::move(*i);
    pending_.erase(i);
    c.cancel_id = 0; // running now; nothing to remove
  }
  finish(std::move(c),
         make_error(error_kind::cancelled, "the call was cancelled"));
}

scripted_client::~scripted_client() {
  std::deque<call> left;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    left.swap(pending_);
  }
  for (auto& c : left)
    if (c.cancel_id != 0 && c.req.cancel)
      c.req.cancel->remove(c.cancel_id);
}

void scripted_client::finish(call c, expected<chat_reply> res) {
  if (c.cancel_id != 0 && c.req.cancel)
    c.req.cancel->remove(c.cancel_id);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    --outstanding_;
    if (auto i = class_outstanding_.find(c.cls);
        i != class_outstanding_.end() && i->second > 0)
      --i->second;
  }
  c.done(std::move(res));
}

void scripted_client::run(call c) {
  if (c.req.cancel && c.req.cancel->cancelled()) {
    finish(std::move(c),
           make_error(error_kind::cancelled, "the call was cancelled"));
    return;
  }
  script fn;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    fn = script_;
  }
  expected<chat_reply> res
    = fn ? fn(c.req)
         : expected<chat_reply>{
           make_error(error_kind::internal, "scripted_client has no script")};
  if (res && res->usage.prompt_tokens == 0
      && res->usage.completion_tokens == 0) {
    size_t bytes = 0;
    for (auto& m : c.req.messages)
      bytes += m.content.size();
    res->usage.prompt_tokens = bytes / 4 + 1;
    res->usage.completion_tokens = res->text.size() / 4 + 1;
    res->usage_estimated = true;
  }
  finish(std::move(c), std::move(res));
}

size_t scripted_client::outstanding() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return outstanding_;
}

size_t scripted_client::max_in_flight() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return max_in_flight_;
}

size_t scripted_client::calls() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return calls_;
}

std::vector<chat_request> scripted_client::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return log_;
}

size_t scripted_client::pending() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pending_.size();
}

size_t scripted_client::complete(size_t n) {
  size_t done = 0;
  while (done < n) {
    call c;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (pending_.empty())
        break;
      c = std::move(pending_.front());
      pending_.pop_front();
    }
    run(std::move(c));
    ++done;
  }
  return done;
}

bool scripted_client::complete_at(size_t index) {
  call c;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (index >= pending_.size())
      return false;
    auto i = pending_.begin() + static_cast<std::ptrdiff_t>(index);
    c = std::move(*i);
    pending_.erase(i);
  }
  run(std::move(c));
  return true;
}

size_t scripted_client::complete_all() {
  return complete(pending());
}

void scripted_client::set_classifier(
  std::function<std::string(const chat_request&)> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  classifier_ = std::move(fn);
}

size_t scripted_client::max_in_flight(const std::string& cls) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = class_max_.find(cls);
  return i != class_max_.end() ? i->second : 0;
}

void scripted_client::set_script(script fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  script_ = std::move(fn);
}

chat_reply scripted_client::reply(std::string text, std::string finish_reason) {
  chat_reply out;
  out.text = std::move(text);
  out.finish_reason = std::move(finish_reason);
  out.endpoint = "scripted";
  return out;
}

const std::string& scripted_client::prompt_of(const chat_request& req) {
  static const std::string empty;
  for (auto i = req.messages.rbegin(); i != req.messages.rend(); ++i)
    if (i->role == "user")
      return i->content;
  return req.messages.empty() ? empty : req.messages.back().content;
}

} // namespace llmmr

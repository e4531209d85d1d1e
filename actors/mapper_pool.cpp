// The mapper pool and its mappers. Each mapper takes at most `map_window`
// chunks at a time; the pool queues chunks per job and hands free slots to
// jobs in round-robin order, so that concurrent jobs share the mappers fairly.

#include "llmmr/actors/mapper_pool.hpp"

#include <deque>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/core/record_parser.hpp"
#include "llmmr/messages/calibration_request.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/map_task.hpp"

namespace llmmr {

namespace {

// -- mapper -------------------------------------------------------------------

/// One piece of a chunk still to map (the whole chunk unless the endpoint
/// rejected it as too long and it was split).
struct map_piece {
  std::string text;
  uint32_t depth = 0;
  uint32_t reasks = 0;
};

/// The state of one chunk in a mapper.
struct map_work {
  map_task task;
  caf::response_promise rp;
  map_outcome out;
  std::deque<map_piece> todo;

  map_work(map_task t, caf::response_promise p)
    : task(std::move(t)), rp(std::move(p)) {
    out.job_id = task.chunk.job_id;
    out.index = task.chunk.index;
  }
};

using map_work_ptr = std::shared_ptr<map_work>;

/// Splits `text` in two halves at a line break, a space or at least a UTF-8
/// character boundary near the middle.
std::vector<std::string> halve(std::string_view text) {
  if (text.size() < 2)
    return {std::string{text}};
  auto mid = text.size() / 2;
  auto pos = text.rfind('\n', mid);
  if (pos == std::string_view::npos || pos < text.size() / 4)
    pos = text.rfind(' ', mid);
  if (pos == std::string_view::npos || pos < text.size() / 4) {
    pos = mid;
    while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80)
      --pos;
  } else {
    ++pos; // keep the separator with the first half
  }
  if (pos == 0 || pos >= text.size())
    return {std::string{text}};
  return {std::string{text.substr(0, pos)}, std::string{text.substr(pos)}};
}

class mapper : public caf::event_based_actor {
public:
  mapper(caf::actor_config& cfg, std::shared_ptr<const pipeline_context> ctx)
    : caf::event_based_actor(cfg), ctx_(std::move(ctx)),
      gw_(this, ctx_->client) {
    // nop
  }

  caf::behavior make_behavior() override {
    return {
      [this](map_atom, map_task& task) {
        auto rp = make_response_promise();
        auto w = std::make_shared<map_work>(std::move(task), rp);
        w->todo.push_back(map_piece{w->task.chunk.text, 0, 0});
        next(w);
        return rp;
      },
      [this](llm_ok_atom, uint64_t id, std::string& text, std::string& finish,
             usage u) { gw_.on_ok(id, std::move(text), std::move(finish), u); },
      [this](llm_err_atom, uint64_t id, caf::error& err) {
        gw_.on_err(id, std::move(err));
      },
    };
  }

private:
  void fail(const map_work_ptr& w, error_kind kind, std::string reason) {
    w->out.records.clear();
    w->out.failed = true;
    w->out.failure.index = w->task.chunk.index;
    w->out.failure.range = w->task.chunk.range;
    w->out.failure.kind = kind;
    w->out.failure.reason = std::move(reason);
    w->rp.deliver(std::move(w->out));
  }

  void next(const map_work_ptr& w) {
    if (w->todo.empty()) {
      w->rp.deliver(std::move(w->out));
      return;
    }
    auto prompt
      = render_map_prompt(*ctx_->prompts, w->task.spec, w->todo.front().text);
    if (!prompt) {
      fail(w, kind_of(prompt.error()), describe(prompt.error()));
      return;
    }
    chat_request req;
    req.messages.push_back(chat_message{"user", std::move(*prompt)});
    req.model = w->task.spec.model;
    req.max_tokens = reserved_output(w->task.spec);
    req.temperature = w->task.spec.temperature;
    req.stream = ctx_->opts.stream;
    req.label = "job " + std::to_string(w->task.chunk.job_id) + " map "
                + std::to_string(w->task.chunk.index);
    ++w->out.calls;
    gw_.call(std::move(req), [this, w](caf::expected<chat_reply> res) {
      on_reply(w, std::move(res));
    });
  }

  void on_reply(const map_work_ptr& w, caf::expected<chat_reply> res) {
    auto& piece = w->todo.front();
    if (!res) {
      auto kind = kind_of(res.error());
      if (kind == error_kind::context_length_exceeded
          && piece.depth < ctx_->opts.max_resplits) {
        resplit(w);
        next(w);
        return;
      }
      auto reason = describe(res.error());
      if (w->todo.size() > 1 || piece.depth > 0)
        reason += " (in a part of the chunk split after "
                  "context_length_exceeded)";
      fail(w, kind, std::move(reason));
      return;
    }
    w->out.usage += res->usage;
    // Parsing is the mapper's job; the calibrator actor judges the record.
    calibration_request req;
    req.profile = w->task.spec.profile;
    req.record = parse_record(res->text, w->task.spec.profile);
    req.record.chunks = {w->task.chunk.index};
    req.record.usage = res->usage;
    req.finish_reason = std::move(res->finish_reason);
    req.source_text = piece.text;
    auto asked = piece.reasks;
    auto limit = w->task.spec.reask_unparsable;
    req.reasks_left = asked < limit ? limit - asked : 0;
    request(ctx_->calibrator, ctx_->opts.call_timeout, calibrate_atom::value,
            std::move(req))
      .then(
        [this, w](calibration_verdict& v) {
          if (v.reask) {
            ++w->todo.front().reasks;
            next(w);
            return;
          }
          w->out.records.push_back(std::move(v.record));
          w->todo.pop_front();
          next(w);
        },
        [this, w](caf::error& err) {
          fail(w,
               err == caf::sec::request_timeout ? error_kind::timeout
                                                : kind_of(err),
               "calibrator: " + describe(err));
        });
  }

  /// Replaces the front piece with smaller pieces (half the budget).
  void resplit(const map_work_ptr& w) {
    auto piece = std::move(w->todo.front());
    w->todo.pop_front();
    uint32_t budget = w->task.payload_budget >> (piece.depth + 1);
    std::vector<std::string> parts;
    if (budget > 0) {
      chunker_options opts;
      opts.budget = budget;
      opts.job_id = w->task.chunk.job_id;
      opts.replace_invalid_utf8 = true;
      if (auto xs = chunk_text(piece.text, *ctx_->tok, opts);
          xs && xs->size() > 1)
        for (auto& x : *xs)
          parts.push_back(std::move(x.text));
    }
    if (parts.empty())
      parts = halve(piece.text);
    for (auto i = parts.rbegin(); i != parts.rend(); ++i)
      w->todo.push_front(map_piece{std::move(*i), piece.depth + 1, 0});
  }

  std::shared_ptr<const pipeline_context> ctx_;
  llm_gateway gw_;
};

// -- pool ---------------------------------------------------------------------

class mapper_pool : public caf::event_based_actor {
public:
  mapper_pool(caf::actor_config& cfg,
              std::shared_ptr<const pipeline_context> ctx)
    : caf::event_based_actor(cfg), ctx_(std::move(ctx)) {
    // nop
  }

  caf::behavior make_behavior() override {
    for (uint32_t i = 0; i < ctx_->opts.mappers; ++i) {
      mappers_.push_back(spawn<mapper, caf::linked>(ctx_));
      load_.push_back(0);
    }
    return {
      [this](map_atom, map_task& task) {
        // make_response_promise takes the sender out of the current message,
        // so read it first.
        auto coordinator = caf::actor_cast<caf::actor>(current_sender());
        auto rp = make_response_promise();
        auto job = task.chunk.job_id;
        queues_[job].push_back(
          queued{std::move(task), rp, std::move(coordinator)});
        dispatch();
        return rp;
      },
      [this](map_drop_atom, uint64_t job) {
        auto i = queues_.find(job);
        if (i == queues_.end())
          return;
        for (auto& q : i->second)
          q.rp.deliver(
            make_error(error_kind::cancelled,
                       "job " + std::to_string(job) + " ended before chunk "
                         + std::to_string(q.task.chunk.index) + " was mapped"));
        queues_.erase(i);
      },
    };
  }

private:
  struct queued {
    map_task task;
    caf::response_promise rp;
    caf::actor coordinator;
  };

  /// Returns the mapper with the fewest chunks, or -1 when all are full.
  int free_mapper() const {
    int best = -1;
    for (size_t i = 0; i < load_.size(); ++i)
      if (load_[i] < ctx_->opts.map_window
          && (best < 0 || load_[i] < load_[static_cast<size_t>(best)]))
        best = static_cast<int>(i);
    return best;
  }

  /// Returns the queue of the job after the one served last (round-robin).
  std::map<uint64_t, std::deque<queued>>::iterator next_queue() {
    auto i = queues_.upper_bound(last_job_);
    if (i == queues_.end())
      i = queues_.begin();
    return i;
  }

  void dispatch() {
    while (!queues_.empty()) {
      auto m = free_mapper();
      if (m < 0)
        return;
      auto qi = next_queue();
      auto job = qi->first;
      auto item = std::move(qi->second.front());
      qi->second.pop_front();
      if (qi->second.empty())
        queues_.erase(qi);
      last_job_ = job;
      auto slot = static_cast<size_t>(m);
      ++load_[slot];
      auto index = item.task.chunk.index;
      auto range = item.task.chunk.range;
      if (item.coordinator)
        send(item.coordinator, map_started_atom::value, index);
      auto rp = item.rp;
      request(mappers_[slot], ctx_->opts.map_timeout, map_atom::value,
              std::move(item.task))
        .then(
          [this, slot, rp](map_outcome& out) mutable {
            --load_[slot];
            rp.deliver(std::move(out));
            dispatch();
          },
          [this, slot, rp, job, index, range](caf::error& err) mutable {
            --load_[slot];
            map_outcome out;
            out.job_id = job;
            out.index = index;
            out.failed = true;
            out.failure.index = index;
            out.failure.range = range;
            out.failure.kind = err == caf::sec::request_timeout
                                 ? error_kind::timeout
                                 : kind_of(err);
            out.failure.reason = "mapper: " + describe(err);
            rp.deliver(std::move(out));
            dispatch();
          });
    }
  }

  std::shared_ptr<const pipeline_context> ctx_;
  std::vector<caf::actor> mappers_;
  std::vector<uint32_t> load_;
  std::map<uint64_t, std::deque<queued>> queues_;
  uint64_t last_job_ = 0;
};

} // namespace

caf::actor spawn_mapper_pool(caf::actor_system& sys,
                             std::shared_ptr<const pipeline_context> ctx) {
  return sys.spawn<mapper_pool>(std::move(ctx));
}

} // namespace llmmr

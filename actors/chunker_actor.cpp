// The chunker actor: the core chunker behind a credit-based window.

#include "llmmr/actors/chunker_actor.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <algorithm>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

class chunker_impl : public chunker_actor::base {
public:
  chunker_impl(caf::actor_config& cfg, std::shared_ptr<const tokenizer> tok,
               chunker_options opts, uint32_t window, chunk_sink_actor sink)
    : chunker_actor::base(cfg), tok_(std::move(tok)), chunker_(*tok_, opts),
      window_(std::max<uint32_t>(1, window)), sink_(std::move(sink)) {
    stats_.job_id = opts.job_id;
  }

  behavior_type make_behavior() override {
    set_exit_handler([this](caf::exit_msg& msg) {
      // Links to the coordinator deliver normal exits too: ignore those.
      if (msg.reason)
        stop(std::move(msg.reason));
    });
    return {
      [this](job_piece_atom, std::string& text) {
        auto rp = make_response_promise<uint64_t>();
        if (end_requested_) {
          rp.deliver(make_caf_error(error_kind::usage,
                                    "job " + std::to_string(stats_.job_id)
                                      + ": a piece arrived after the end of "
                                        "the document"));
          return rp;
        }
        pieces_.push_back(piece{std::move(text), 0, rp});
        stats_.pieces_held_hwm = std::max(
          stats_.pieces_held_hwm, static_cast<uint32_t>(pieces_.size()));
        pump();
        return rp;
      },
      [this](job_doc_atom, std::string& text) {
        if (end_requested_)
          return;
        pieces_.push_back(piece{std::move(text), 0, {}});
        end_requested_ = true;
        pump();
      },
      [this](job_end_atom) {
        auto rp = make_response_promise<uint32_t>();
        if (end_requested_) {
          rp.deliver(make_caf_error(error_kind::usage,
                                    "job " + std::to_string(stats_.job_id)
                                      + ": the document was already ended"));
          return rp;
        }
        end_requested_ = true;
        end_rp_ = rp;
        pump();
        return rp;
      },
      [this](chunk_credit_atom, uint32_t index) {
        auto i = outstanding_.find(index);
        if (i == outstanding_.end())
          return;
        outstanding_bytes_ -= i->second;
        outstanding_.erase(i);
        pump();
      },
    };
  }

  void on_exit() override {
    // Promises are not broken automatically: answer whoever still waits.
    auto err = reason_ ? reason_
                       : make_caf_error(error_kind::cancelled,
                                        "job " + std::to_string(stats_.job_id)
                                          + ": the chunker stopped");
    for (auto& p : pieces_)
      if (p.rp.pending())
        p.rp.deliver(err);
    pieces_.clear();
    if (end_rp_.pending())
      end_rp_.deliver(err);
  }

private:
  struct piece {
    std::string text;
    size_t offset = 0;
    caf::typed_response_promise<uint64_t> rp;
  };

  /// Ends the actor with `reason`, answering every waiting request with it.
  void stop(caf::error reason) {
    reason_ = reason;
    quit(std::move(reason));
  }

  /// Feeds held pieces to the core chunker while fewer than `window_` chunks
  /// are outstanding; acks a piece once all of it went in.
  void pump() {
    if (complete_)
      return;
    bool changed = false;
    while (!pieces_.empty() && outstanding_.size() < window_) {
      auto& p = pieces_.front();
      // A slice small enough to yield about as many chunks as there is room
      // for: a full chunk holds at least half the payload budget's worth of
      // bytes (a token is at least one byte).
      size_t room = window_ - outstanding_.size();
      size_t per_chunk = std::max<size_t>(16, chunker_.options().budget / 2);
      size_t slice = std::min(p.text.size() - p.offset, room * per_chunk);
      auto res
        = chunker_.feed(std::string_view{p.text}.substr(p.offset, slice));
      if (!res) {
        stop(to_caf(res.error()));
        return;
      }
      p.offset += slice;
      stats_.bytes_received += slice;
      take(std::move(*res));
      changed = true;
      if (p.offset == p.text.size()) {
        if (p.rp.pending())
          p.rp.deliver(stats_.bytes_received);
        pieces_.pop_front();
      }
    }
    if (pieces_.empty() && end_requested_) {
      auto res = chunker_.finish();
      if (!res) {
        stop(to_caf(res.error()));
        return;
      }
      take(std::move(*res));
      complete_ = true;
      changed = true;
      if (end_rp_.pending())
        end_rp_.deliver(next_index_);
    }
    if (changed || stats_ != sent_stats_)
      report();
  }

  /// Adds freshly cut chunks to the outstanding ones and the next batch.
  void take(std::vector<chunk> xs) {
    for (auto& c : xs) {
      c.index = next_index_++;
      c.job_id = stats_.job_id;
      outstanding_.emplace(c.index, c.text.size());
      outstanding_bytes_ += c.text.size();
      batch_.push_back(std::move(c));
    }
    stats_.chunks_buffered_hwm = std::max(
      stats_.chunks_buffered_hwm, static_cast<uint32_t>(outstanding_.size()));
    stats_.bytes_buffered_hwm
      = std::max<uint64_t>(stats_.bytes_buffered_hwm,
                           outstanding_bytes_ + chunker_.buffered_bytes());
  }

  void report() {
    chunk_batch b;
    b.chunks = std::move(batch_);
    batch_.clear();
    b.complete = complete_;
    b.stats = stats_;
    sent_stats_ = stats_;
    send(sink_, chunks_atom::value, std::move(b));
  }

  std::shared_ptr<const tokenizer> tok_;
  chunker chunker_;
  uint32_t window_;
  chunk_sink_actor sink_;
  job_stats stats_;
  job_stats sent_stats_;
  std::deque<piece> pieces_;
  bool end_requested_ = false;
  bool complete_ = false;
  caf::typed_response_promise<uint32_t> end_rp_;
  uint32_t next_index_ = 0;
  std::unordered_map<uint32_t, uint64_t> outstanding_;
  uint64_t outstanding_bytes_ = 0;
  std::vector<chunk> batch_;
  caf::error reason_;
};

} // namespace

chunker_actor spawn_chunker(caf::actor_system& sys,
                            std::shared_ptr<const tokenizer> tok,
                            chunker_options opts, uint32_t window,
                            chunk_sink_actor sink) {
  return sys.spawn<chunker_impl>(std::move(tok), opts, window, std::move(sink));
}

} // namespace llmmr

// The pipeline's front actor, the per-job coordinator, `spawn_pipeline` and
// `run_job`. The mappers live in mapper_pool.cpp; the pure logic (chunking,
// prompts, parsing, calibration, collapse planning) lives in core/.

#include "llmmr/actors/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/calibration.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/collapse_plan.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/core/record_parser.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/map_task.hpp"

namespace llmmr {

namespace {

using clock_type = std::chrono::steady_clock;

uint64_t micros_since(clock_type::time_point t0) {
  auto d = clock_type::now() - t0;
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string join_indices(const std::vector<uint32_t>& xs, size_t max = 50) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i == max) {
      out += ", ... (" + std::to_string(xs.size() - max) + " more)";
      break;
    }
    if (i > 0)
      out += ", ";
    out += std::to_string(xs[i]);
  }
  return out;
}

// -- job coordinator ----------------------------------------------------------

/// The life of one job: feeds the chunker under the chunk window, hands
/// chunks to the mapper pool, accounts for every chunk, then collapses and
/// reduces.
class job_coordinator : public caf::event_based_actor {
public:
  job_coordinator(caf::actor_config& cfg,
                  std::shared_ptr<const pipeline_context> ctx, uint64_t id,
                  job_spec spec, call_budget budget, caf::actor pool,
                  caf::actor front)
    : caf::event_based_actor(cfg), ctx_(std::move(ctx)), id_(id),
      spec_(std::move(spec)), budget_(budget), pool_(std::move(pool)),
      front_(std::move(front)), cal_(spec_.profile), gw_(this, ctx_->client),
      chunker_(*ctx_->tok, make_chunker_options(
                             budget_, id, ctx_->opts.replace_invalid_utf8)) {
    stats_.job_id = id;
  }

  caf::behavior make_behavior() override {
    started_ = clock_type::now();
    if (spec_.deadline_ms > 0)
      delayed_send(caf::actor_cast<caf::actor>(this),
                   std::chrono::milliseconds{spec_.deadline_ms},
                   deadline_atom::value);
    return {
      [this](job_piece_atom, std::string& text) {
        auto rp = make_response_promise();
        if (end_requested_) {
          rp.deliver(make_error(error_kind::usage,
                                "job " + std::to_string(id_)
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
        pieces_.push_back(piece{std::move(text), 0, {}});
        end_requested_ = true;
        pump();
      },
      [this](job_end_atom) {
        auto rp = make_response_promise();
        if (end_requested_) {
          rp.deliver(make_error(error_kind::usage,
                                "job " + std::to_string(id_)
                                  + ": the document was already ended"));
          return rp;
        }
        end_requested_ = true;
        end_rp_ = rp;
        pump();
        return rp;
      },
      [this](job_watch_atom, caf::actor& sub) {
        watchers_.push_back(std::move(sub));
        publish(true);
      },
      [this](job_cancel_atom) {
        fail(make_error(error_kind::cancelled, "job " + std::to_string(id_)
                                                 + " was cancelled"
                                                 + outstanding_note()));
      },
      [this](job_stats_atom) { return stats_; },
      [this](deadline_atom) {
        fail(make_error(
          error_kind::deadline,
          "job " + std::to_string(id_) + " missed its deadline of "
            + std::to_string(spec_.deadline_ms) + " ms" + outstanding_note()));
      },
      [this](map_started_atom, uint32_t index) { on_started(index); },
      [this](llm_ok_atom, uint64_t id, std::string& text, std::string& finish,
             usage u) { gw_.on_ok(id, std::move(text), std::move(finish), u); },
      [this](llm_err_atom, uint64_t id, caf::error& err) {
        gw_.on_err(id, std::move(err));
      },
    };
  }

private:
  struct piece {
    std::string text;
    size_t offset = 0;
    caf::response_promise rp;
  };

  enum class chunk_state : uint8_t { waiting, running, mapped, failed };

  static chunker_options make_chunker_options(const call_budget& b, uint64_t id,
                                              bool replace_invalid) {
    chunker_options opts;
    opts.budget = b.chunk_payload;
    opts.job_id = id;
    opts.replace_invalid_utf8 = replace_invalid;
    return opts;
  }

  // -- input ------------------------------------------------------------------

  /// Feeds held pieces to the chunker while fewer than `chunk_window` chunks
  /// wait for a mapper; acks a piece once all of it went into the chunker.
  void pump() {
    if (finished_)
      return;
    auto window = ctx_->opts.chunk_window;
    while (!pieces_.empty() && waiting_ < window) {
      auto& p = pieces_.front();
      if (!chunking_started_) {
        chunking_started_ = true;
        chunk_t0_ = clock_type::now();
      }
      // Feed a slice small enough that it yields about as many chunks as
      // there is room for (a full chunk holds at least half the payload
      // budget's worth of bytes, a token being at least one byte).
      size_t room = window - waiting_;
      size_t per_chunk = std::max<size_t>(16, budget_.chunk_payload / 2);
      size_t slice = std::min(p.text.size() - p.offset, room * per_chunk);
      auto res
        = chunker_.feed(std::string_view{p.text}.substr(p.offset, slice));
      if (!res) {
        fail(res.error());
        return;
      }
      p.offset += slice;
      stats_.bytes_received += slice;
      emit(std::move(*res));
      if (finished_)
        return;
      if (p.offset == p.text.size()) {
        if (p.rp.pending())
          p.rp.deliver(stats_.bytes_received);
        pieces_.pop_front();
      }
    }
    if (pieces_.empty() && end_requested_ && !document_complete_) {
      auto res = chunker_.finish();
      if (!res) {
        fail(res.error());
        return;
      }
      emit(std::move(*res));
      document_complete_ = true;
      timings_.chunk_us = chunking_started_ ? micros_since(chunk_t0_) : 0;
      if (end_rp_.pending())
        end_rp_.deliver(static_cast<uint32_t>(states_.size()));
      if (states_.empty()) {
        fail(
          make_error(error_kind::empty_document,
                     "job " + std::to_string(id_) + ": the document is empty"));
        return;
      }
      publish(true);
      maybe_mapped();
    }
  }

  /// Hands freshly cut chunks to the mapper pool.
  void emit(std::vector<chunk> chunks) {
    for (auto& c : chunks) {
      auto index = static_cast<uint32_t>(states_.size());
      c.index = index;
      c.job_id = id_;
      ranges_.push_back(c.range);
      states_.push_back(chunk_state::waiting);
      waiting_bytes_[index] = c.text.size();
      ++waiting_;
      buffered_bytes_ += c.text.size();
      if (!map_started_) {
        map_started_ = true;
        map_t0_ = clock_type::now();
      }
      map_task task{std::move(c), spec_, budget_.chunk_payload};
      request(pool_, ctx_->opts.map_timeout * 2, map_atom::value,
              std::move(task))
        .then([this](map_outcome& out) { on_outcome(std::move(out)); },
              [this, index](caf::error& err) {
                map_outcome out;
                out.job_id = id_;
                out.index = index;
                out.failed = true;
                out.failure.index = index;
                out.failure.range = ranges_[index];
                out.failure.kind = err == caf::sec::request_timeout
                                     ? error_kind::timeout
                                     : kind_of(err);
                out.failure.reason = "map request: " + describe(err);
                on_outcome(std::move(out));
              });
    }
    update_hwm();
  }

  void update_hwm() {
    stats_.chunks_buffered_hwm = std::max(stats_.chunks_buffered_hwm, waiting_);
    stats_.bytes_buffered_hwm = std::max<uint64_t>(
      stats_.bytes_buffered_hwm, buffered_bytes_ + chunker_.buffered_bytes());
  }

  void leave_waiting(uint32_t index) {
    auto i = waiting_bytes_.find(index);
    if (i == waiting_bytes_.end())
      return;
    buffered_bytes_ -= i->second;
    waiting_bytes_.erase(i);
    --waiting_;
  }

  void on_started(uint32_t index) {
    if (finished_ || index >= states_.size()
        || states_[index] != chunk_state::waiting)
      return;
    states_[index] = chunk_state::running;
    leave_waiting(index);
    ++running_;
    stats_.map_in_flight_hwm = std::max(stats_.map_in_flight_hwm, running_);
    pump();
  }

  // -- mapping ----------------------------------------------------------------

  void on_outcome(map_outcome out) {
    auto index = out.index;
    if (finished_ || index >= states_.size())
      return;
    auto& st = states_[index];
    if (st == chunk_state::mapped || st == chunk_state::failed)
      return;
    if (st == chunk_state::running)
      --running_;
    else
      leave_waiting(index);
    calls_.map += out.calls;
    usage_ += out.usage;
    std::vector<record> kept;
    if (out.failed) {
      st = chunk_state::failed;
      out.failure.index = index;
      out.failure.range = ranges_[index];
      failures_.push_back(std::move(out.failure));
    } else {
      st = chunk_state::mapped;
      ++mapped_;
      for (auto& r : out.records)
        if (!r.no_information && r.status != record_status::unparsable)
          kept.push_back(std::move(r));
    }
    ++done_chunks_;
    accept(index, std::move(kept));
    publish(false);
    pump();
    maybe_mapped();
  }

  /// Keeps the records of a finished chunk. With early collapse, records
  /// join the settled prefix (every chunk before them finished) in document
  /// order, and full groups of that prefix are collapsed at once.
  void accept(uint32_t index, std::vector<record> xs) {
    if (!spec_.early_collapse) {
      for (auto& r : xs)
        records_.push_back(std::move(r));
      return;
    }
    by_chunk_[index] = std::move(xs);
    for (auto i = by_chunk_.find(frontier_); i != by_chunk_.end();
         i = by_chunk_.find(frontier_)) {
      for (auto& r : i->second)
        settled_.push_back(std::move(r));
      by_chunk_.erase(i);
      ++frontier_;
    }
    early_collapse();
  }

  /// Collapses every full group of the settled prefix (all groups but the
  /// last, which may still grow) while later chunks are being mapped.
  void early_collapse() {
    if (finished_ || stage_ != job_stage::chunking)
      return;
    auto budget = collapse_budget();
    std::vector<size_t> sizes;
    sizes.reserve(settled_.size());
    for (auto& r : settled_)
      sizes.push_back(measure(r));
    if (fits(sizes, budget))
      return;
    auto groups = pack_groups(sizes, budget);
    if (groups.size() < 2)
      return;
    auto cut = static_cast<std::ptrdiff_t>(groups[groups.size() - 2].last);
    std::vector<record> head(std::make_move_iterator(settled_.begin()),
                             std::make_move_iterator(settled_.begin() + cut));
    settled_.erase(settled_.begin(), settled_.begin() + cut);
    for (size_t gi = 0; gi + 1 < groups.size(); ++gi) {
      auto& g = groups[gi];
      auto first = head.begin() + static_cast<std::ptrdiff_t>(g.first);
      auto last = head.begin() + static_cast<std::ptrdiff_t>(g.last);
      std::vector<record> group(std::make_move_iterator(first),
                                std::make_move_iterator(last));
      auto slot = early_slots_.size();
      // The inputs stay in the slot until (and unless) the call succeeds.
      early_slots_.push_back(group);
      if (group.size() < 2)
        continue;
      auto prompt = render_collapse_prompt(*ctx_->prompts, spec_, group);
      if (!prompt)
        continue;
      ++calls_.collapse;
      ++early_open_;
      gw_.call(make_request(std::move(*prompt), "collapse 0"),
               [this, slot](caf::expected<chat_reply> res) {
                 --early_open_;
                 if (res) {
                   usage_ += res->usage;
                   auto& inputs = early_slots_[slot];
                   if (auto rec = collapse_output(inputs, *res))
                     early_slots_[slot] = {std::move(*rec)};
                 }
                 maybe_mapped();
               });
    }
  }

  /// Moves on to collapse once every chunk of a complete document ended.
  void maybe_mapped() {
    if (finished_ || !document_complete_ || stage_ != job_stage::chunking
        || done_chunks_ < states_.size() || early_open_ > 0)
      return;
    timings_.map_us = map_started_ ? micros_since(map_t0_) : 0;
    auto total = states_.size();
    if (!failures_.empty()) {
      std::sort(failures_.begin(), failures_.end(),
                [](auto& x, auto& y) { return x.index < y.index; });
      double allowed = spec_.max_failed_fraction * static_cast<double>(total);
      if (static_cast<double>(failures_.size()) > allowed) {
        std::vector<uint32_t> idx;
        for (auto& f : failures_)
          idx.push_back(f.index);
        fail(make_error(error_kind::too_many_failures,
                        std::to_string(failures_.size()) + " of "
                          + std::to_string(total)
                          + " chunks failed (allowed fraction "
                          + std::to_string(spec_.max_failed_fraction)
                          + "): chunks " + join_indices(idx)
                          + "; first reason: " + failures_.front().reason));
        return;
      }
    }
    start_collapse();
  }

  // -- collapse ---------------------------------------------------------------

  size_t measure(const record& r) const {
    // +2 for the blank line between records.
    return ctx_->tok->count(render_record(spec_.profile, r)) + 2;
  }

  size_t collapse_budget() const {
    return std::min(budget_.collapse_payload, budget_.reduce_payload);
  }

  /// Turns a collapse reply into a record covering `group`, or nothing when
  /// the output is unparsable.
  std::optional<record> collapse_output(const std::vector<record>& group,
                                        const chat_reply& rep) {
    auto rec = parse_record(rep.text, spec_.profile);
    rec = cal_.calibrate(std::move(rec), rep.finish_reason,
                         render_records(spec_.profile, group));
    if (rec.status == record_status::unparsable)
      return std::nullopt;
    rec.chunks = merge_provenance(group);
    rec.usage = rep.usage;
    for (auto& in : group)
      rec.usage += in.usage;
    return rec;
  }

  void start_collapse() {
    stage_ = job_stage::collapsing;
    collapse_t0_ = clock_type::now();
    if (spec_.early_collapse) {
      for (auto& slot : early_slots_)
        for (auto& r : slot)
          records_.push_back(std::move(r));
      for (auto& r : settled_)
        records_.push_back(std::move(r));
      early_slots_.clear();
      settled_.clear();
    }
    std::stable_sort(records_.begin(), records_.end(),
                     [](const record& x, const record& y) {
                       auto a = x.chunks.empty() ? 0u : x.chunks.front();
                       auto b = y.chunks.empty() ? 0u : y.chunks.front();
                       return a < b;
                     });
    collapse_options opts;
    opts.budget = collapse_budget();
    opts.max_rounds = ctx_->opts.max_collapse_rounds;
    planner_.emplace(
      opts, [this](const record& r) { return measure(r); },
      [this](std::vector<record> xs) { return cal_.select(std::move(xs)); });
    run_round(planner_->begin(std::move(records_)));
  }

  void run_round(collapse_planner::round groups) {
    if (finished_)
      return;
    if (groups.empty()) {
      timings_.collapse_us = micros_since(collapse_t0_);
      reduce();
      return;
    }
    publish(true);
    round_groups_ = std::move(groups);
    round_outputs_.assign(round_groups_.size(), std::nullopt);
    round_next_ = 0;
    round_open_ = round_groups_.size();
    launch_collapse_calls();
  }

  void launch_collapse_calls() {
    auto window = ctx_->opts.collapse_window != 0
                    ? ctx_->opts.collapse_window
                    : ctx_->opts.mappers * ctx_->opts.map_window;
    while (round_next_ < round_groups_.size() && gw_.in_flight() < window) {
      auto g = round_next_++;
      auto& group = round_groups_[g];
      auto prompt = render_collapse_prompt(*ctx_->prompts, spec_, group);
      if (!prompt) {
        group_done(g, std::nullopt);
        continue;
      }
      auto req = make_request(std::move(*prompt),
                              "collapse " + std::to_string(planner_->rounds()));
      ++calls_.collapse;
      gw_.call(std::move(req), [this, g](caf::expected<chat_reply> res) {
        if (!res) {
          group_done(g, std::nullopt);
          return;
        }
        usage_ += res->usage;
        group_done(g, collapse_output(round_groups_[g], *res));
      });
    }
  }

  void group_done(size_t g, std::optional<record> out) {
    round_outputs_[g] = std::move(out);
    if (--round_open_ > 0) {
      launch_collapse_calls();
      return;
    }
    auto outputs = std::move(round_outputs_);
    round_groups_.clear();
    run_round(planner_->advance(std::move(outputs)));
  }

  // -- reduce -----------------------------------------------------------------

  chat_request make_request(std::string prompt, const std::string& what) {
    chat_request req;
    req.messages.push_back(chat_message{"user", std::move(prompt)});
    req.model = spec_.model;
    req.max_tokens = reserved_output(spec_);
    req.label = "job " + std::to_string(id_) + " " + what;
    return req;
  }

  void reduce() {
    stage_ = job_stage::reducing;
    publish(true);
    reduce_t0_ = clock_type::now();
    final_records_ = planner_->take_records();
    auto prompt = render_reduce_prompt(*ctx_->prompts, spec_, final_records_);
    if (!prompt) {
      fail(prompt.error());
      return;
    }
    ++calls_.reduce;
    gw_.call(
      make_request(std::move(*prompt), "reduce"),
      [this](caf::expected<chat_reply> res) {
        if (!res) {
          fail(make_error(kind_of(res.error()), "job " + std::to_string(id_)
                                                  + ": the reduce call failed: "
                                                  + describe(res.error())));
          return;
        }
        usage_ += res->usage;
        finish(std::move(*res));
      });
  }

  void finish(chat_reply rep) {
    auto fa = parse_final_answer(rep.text, spec_.profile);
    job_result res;
    res.job_id = id_;
    res.answer = std::move(fa.answer);
    res.rationale = std::move(fa.rationale);
    res.confidence
      = uses_scores(spec_.profile) ? normalise_confidence(fa.confidence) : 0.0;
    if (rep.finish_reason == "length")
      res.confidence = 0;
    for (auto& r : final_records_) {
      evidence ev;
      for (auto c : r.chunks)
        if (c < ranges_.size())
          ev.ranges.push_back(ranges_[c]);
      ev.record = std::move(r);
      res.evidence.push_back(std::move(ev));
    }
    res.calls = calls_;
    res.collapse_rounds = planner_->rounds();
    res.collapse_fallback = planner_->fallback();
    res.fallback_note = planner_->note();
    res.usage = usage_;
    timings_.reduce_us = micros_since(reduce_t0_);
    timings_.total_us = micros_since(started_);
    res.timings = timings_;
    res.chunks = static_cast<uint32_t>(states_.size());
    res.failures = failures_;
    res.partial = !failures_.empty();
    stage_ = job_stage::done;
    finished_ = true;
    publish(true);
    send(front_, job_done_atom::value, id_, std::move(res), stats_);
    quit();
  }

  // -- failure ----------------------------------------------------------------

  std::string outstanding_note() const {
    std::vector<uint32_t> open;
    for (size_t i = 0; i < states_.size(); ++i)
      if (states_[i] == chunk_state::waiting
          || states_[i] == chunk_state::running)
        open.push_back(static_cast<uint32_t>(i));
    std::string out = " (stage " + to_string(stage_);
    if (!document_complete_)
      out += ", document incomplete after "
             + std::to_string(stats_.bytes_received) + " bytes";
    if (!open.empty())
      out += ", chunks still outstanding: " + join_indices(open);
    out += ")";
    return out;
  }

  void fail(caf::error err) {
    if (finished_)
      return;
    finished_ = true;
    stage_ = job_stage::failed;
    for (auto& p : pieces_)
      if (p.rp.pending())
        p.rp.deliver(err);
    pieces_.clear();
    if (end_rp_.pending())
      end_rp_.deliver(err);
    send(pool_, map_drop_atom::value, id_);
    gw_.clear();
    publish(true);
    send(front_, job_failed_atom::value, id_, std::move(err), stats_);
    quit();
  }

  // -- progress ---------------------------------------------------------------

  void publish(bool force) {
    if (watchers_.empty())
      return;
    // Per-chunk events are sent at most for every 1/200 of the document.
    auto step = std::max<size_t>(1, states_.size() / 200);
    if (!force && done_chunks_ % step != 0)
      return;
    progress_event ev;
    ev.job_id = id_;
    ev.stage = stage_ == job_stage::chunking && !states_.empty()
                 ? job_stage::mapping
                 : stage_;
    ev.chunks_total = static_cast<uint32_t>(states_.size());
    ev.document_complete = document_complete_;
    ev.chunks_mapped = mapped_;
    ev.chunks_failed = static_cast<uint32_t>(failures_.size());
    ev.collapse_round = planner_ ? planner_->rounds() : 0;
    ev.usage = usage_;
    ev.elapsed_us = micros_since(started_);
    if (document_complete_ && done_chunks_ > 0 && done_chunks_ < states_.size())
      ev.eta_us
        = ev.elapsed_us / done_chunks_ * (states_.size() - done_chunks_);
    for (auto& w : watchers_)
      send(w, ev);
  }

  // -- state ------------------------------------------------------------------

  std::shared_ptr<const pipeline_context> ctx_;
  uint64_t id_;
  job_spec spec_;
  call_budget budget_;
  caf::actor pool_;
  caf::actor front_;
  calibrator cal_;
  llm_gateway gw_;
  chunker chunker_;
  std::vector<caf::actor> watchers_;
  job_stats stats_;
  job_stage stage_ = job_stage::chunking;
  bool finished_ = false;

  // Input.
  std::deque<piece> pieces_;
  bool end_requested_ = false;
  caf::response_promise end_rp_;
  bool document_complete_ = false;

  // Chunks: one state and range per chunk; byte sizes of those waiting.
  std::vector<chunk_state> states_;
  std::vector<byte_range> ranges_;
  std::unordered_map<uint32_t, uint64_t> waiting_bytes_;
  uint32_t waiting_ = 0;
  uint32_t running_ = 0;
  uint64_t buffered_bytes_ = 0;
  size_t done_chunks_ = 0;
  uint32_t mapped_ = 0;
  std::vector<record> records_;

  // Early collapse: records of finished chunks past the first unfinished one,
  // the settled prefix not yet collapsed, and the early groups in order.
  std::map<uint32_t, std::vector<record>> by_chunk_;
  uint32_t frontier_ = 0;
  std::vector<record> settled_;
  std::vector<std::vector<record>> early_slots_;
  size_t early_open_ = 0;
  std::vector<chunk_failure> failures_;

  // Collapse and reduce.
  std::optional<collapse_planner> planner_;
  collapse_planner::round round_groups_;
  std::vector<std::optional<record>> round_outputs_;
  size_t round_next_ = 0;
  size_t round_open_ = 0;
  std::vector<record> final_records_;

  // Accounting.
  call_counts calls_;
  usage usage_;
  stage_timings timings_;
  clock_type::time_point started_;
  clock_type::time_point chunk_t0_;
  clock_type::time_point map_t0_;
  clock_type::time_point collapse_t0_;
  clock_type::time_point reduce_t0_;
  bool chunking_started_ = false;
  bool map_started_ = false;
};

// -- front --------------------------------------------------------------------

/// Admits jobs, routes their messages to their coordinators and keeps the
/// results of finished jobs.
class pipeline_front : public caf::event_based_actor {
public:
  pipeline_front(caf::actor_config& cfg,
                 std::shared_ptr<const pipeline_context> ctx)
    : caf::event_based_actor(cfg), ctx_(std::move(ctx)) {
    // nop
  }

  caf::behavior make_behavior() override {
    pool_ = spawn_mapper_pool(system(), ctx_);
    link_to(pool_);
    set_exit_handler([this](caf::exit_msg& msg) {
      // A coordinator's end is handled by the down handler; anything else
      // (the pool, a stop request) ends the pipeline.
      for (auto& kv : running_)
        if (kv.second.coordinator.address() == msg.source)
          return;
      if (msg.reason)
        quit(msg.reason);
    });
    set_down_handler([this](caf::down_msg& dm) {
      for (auto& [id, job] : running_)
        if (job.coordinator.address() == dm.source) {
          auto jid = id;
          complete(
            jid,
            make_error(error_kind::internal,
                       "job " + std::to_string(jid)
                         + ": its coordinator died: " + to_string(dm.reason)),
            job_stats{});
          return;
        }
    });
    return {
      [this](job_start_atom, job_spec& spec) -> caf::result<uint64_t> {
        auto id = start(std::move(spec));
        if (!id)
          return id.error();
        return *id;
      },
      [this](job_doc_atom, job_spec& spec,
             std::string& doc) -> caf::result<uint64_t> {
        auto id = start(std::move(spec));
        if (!id)
          return id.error();
        send(running_[*id].coordinator, job_doc_atom::value, std::move(doc));
        return *id;
      },
      [this](job_piece_atom, uint64_t id,
             std::string& text) -> caf::result<caf::message> {
        if (auto c = coordinator(id))
          return delegate(c, job_piece_atom::value, std::move(text));
        return unknown(id);
      },
      [this](job_end_atom, uint64_t id) -> caf::result<caf::message> {
        if (auto c = coordinator(id))
          return delegate(c, job_end_atom::value);
        return unknown(id);
      },
      [this](job_stats_atom, uint64_t id) -> caf::result<caf::message> {
        if (auto c = coordinator(id))
          return delegate(c, job_stats_atom::value);
        if (auto i = finished_.find(id); i != finished_.end())
          return caf::make_message(i->second.stats);
        return unknown(id);
      },
      [this](job_result_atom, uint64_t id) -> caf::result<caf::message> {
        if (auto i = finished_.find(id); i != finished_.end()) {
          if (i->second.result)
            return caf::make_message(*i->second.result);
          return i->second.result.error();
        }
        if (auto i = running_.find(id); i != running_.end()) {
          auto rp = make_response_promise();
          i->second.awaiting.push_back(rp);
          return rp;
        }
        return unknown(id);
      },
      [this](job_watch_atom, uint64_t id,
             caf::actor& sub) -> caf::result<bool> {
        if (id == 0) {
          global_watchers_.push_back(sub);
          for (auto& kv : running_)
            send(kv.second.coordinator, job_watch_atom::value, sub);
          return true;
        }
        if (auto c = coordinator(id)) {
          send(c, job_watch_atom::value, sub);
          return true;
        }
        if (finished_.count(id) > 0)
          return false;
        return unknown(id);
      },
      [this](job_cancel_atom, uint64_t id) -> caf::result<bool> {
        if (auto c = coordinator(id)) {
          send(c, job_cancel_atom::value);
          return true;
        }
        if (finished_.count(id) > 0)
          return false;
        return unknown(id);
      },
      [this](job_done_atom, uint64_t id, job_result& res, job_stats& st) {
        complete(id, std::move(res), st);
      },
      [this](job_failed_atom, uint64_t id, caf::error& err, job_stats& st) {
        complete(id, std::move(err), st);
      },
    };
  }

  void on_exit() override {
    // Promises are not broken automatically: tell every awaiter.
    for (auto& kv : running_)
      for (auto& rp : kv.second.awaiting)
        rp.deliver(
          make_error(error_kind::cancelled, "job " + std::to_string(kv.first)
                                              + ": the pipeline stopped"));
    running_.clear();
  }

private:
  struct running_job {
    caf::actor coordinator;
    std::vector<caf::response_promise> awaiting;
  };

  struct finished_job {
    caf::expected<job_result> result;
    job_stats stats;
  };

  caf::error unknown(uint64_t id) const {
    return make_error(error_kind::usage, "unknown job " + std::to_string(id));
  }

  caf::actor coordinator(uint64_t id) const {
    auto i = running_.find(id);
    return i != running_.end() ? i->second.coordinator : caf::actor{};
  }

  caf::expected<uint64_t> start(job_spec spec) {
    if (running_.size() >= ctx_->opts.max_jobs)
      return make_error(error_kind::usage, "the pipeline already runs "
                                             + std::to_string(running_.size())
                                             + " jobs (max_jobs)");
    auto budget = compute_budget(spec, *ctx_->prompts, *ctx_->tok);
    if (!budget)
      return budget.error();
    auto id = ++next_id_;
    // Linked: coordinators end with the front (stop). Monitored: the front
    // learns when a coordinator dies without reporting.
    auto coord = spawn<job_coordinator, caf::monitored + caf::linked>(
      ctx_, id, std::move(spec), *budget, pool_,
      caf::actor_cast<caf::actor>(this));
    for (auto& w : global_watchers_)
      send(coord, job_watch_atom::value, w);
    running_.emplace(id, running_job{coord, {}});
    return id;
  }

  void complete(uint64_t id, caf::expected<job_result> res, job_stats st) {
    auto i = running_.find(id);
    if (i == running_.end())
      return;
    for (auto& rp : i->second.awaiting) {
      if (res)
        rp.deliver(*res);
      else
        rp.deliver(res.error());
    }
    running_.erase(i);
    finished_.emplace(id, finished_job{std::move(res), st});
    finished_order_.push_back(id);
    while (finished_order_.size() > ctx_->opts.retain_results) {
      finished_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
  }

  std::shared_ptr<const pipeline_context> ctx_;
  caf::actor pool_;
  uint64_t next_id_ = 0;
  std::map<uint64_t, running_job> running_;
  std::map<uint64_t, finished_job> finished_;
  std::deque<uint64_t> finished_order_;
  std::vector<caf::actor> global_watchers_;
};

} // namespace

void pipeline_handle::stop() const {
  if (actor)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}

caf::expected<pipeline_handle>
spawn_pipeline(caf::actor_system& sys, pipeline_options opts,
               std::shared_ptr<llm_client> client,
               std::shared_ptr<const tokenizer> tok) {
  if (opts.mappers == 0 || opts.map_window == 0 || opts.chunk_window == 0
      || opts.max_jobs == 0)
    return make_error(error_kind::config,
                      "pipeline: mappers, map_window, chunk_window and "
                      "max_jobs must be at least 1");
  if (!client || !tok)
    return make_error(error_kind::config,
                      "pipeline: an llm_client and a tokenizer are required");
  auto lib = prompt_library::load(opts.prompts_dir);
  if (!lib)
    return lib.error();
  auto ctx = std::make_shared<pipeline_context>();
  ctx->opts = std::move(opts);
  ctx->client = std::move(client);
  ctx->tok = std::move(tok);
  ctx->prompts = std::make_shared<const prompt_library>(std::move(*lib));
  auto front = sys.spawn<pipeline_front>(
    std::shared_ptr<const pipeline_context>{std::move(ctx)});
  return pipeline_handle{caf::actor_cast<pipeline_actor>(front)};
}

caf::expected<job_result> run_job(caf::actor_system& sys,
                                  const pipeline_handle& pipeline,
                                  job_spec spec, std::string document,
                                  std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys};
  caf::expected<job_result> out{
    make_error(error_kind::internal, "run_job: no answer")};
  uint64_t id = 0;
  auto on_error = [&](caf::error& err) {
    if (err == caf::sec::request_timeout)
      out = make_error(error_kind::timeout,
                       "job " + std::to_string(id) + " took longer than "
                         + std::to_string(timeout.count()) + " ms");
    else
      out = std::move(err);
  };
  self
    ->request(pipeline.actor, timeout, job_doc_atom::value, std::move(spec),
              std::move(document))
    .receive([&](uint64_t x) { id = x; }, on_error);
  if (id == 0)
    return out;
  self->request(pipeline.actor, timeout, job_result_atom::value, id)
    .receive([&](job_result& res) { out = std::move(res); }, on_error);
  if (!out && kind_of(out.error()) == error_kind::timeout)
    self->send(pipeline.actor, job_cancel_atom::value, id);
  return out;
}

std::string stage_of_label(const std::string& label) {
  // "job <id> <stage> ..."
  if (label.rfind("job ", 0) != 0)
    return {};
  auto sp = label.find(' ', 4);
  if (sp == std::string::npos)
    return {};
  auto rest = label.substr(sp + 1);
  auto end = rest.find(' ');
  auto word = rest.substr(0, end);
  if (word == "map" || word == "collapse" || word == "reduce")
    return word;
  return {};
}

} // namespace llmmr

// The pipeline's front actor, the per-job coordinator and `spawn_pipeline`
// (the blocking runner is job_runner.cpp). The mappers live in mapper_pool.cpp,
// the chunker actor in chunker_actor.cpp, the calibrator, collapser and reducer
// actors in stage_actors.cpp; the pure logic (chunking, prompts, parsing,
// calibration, collapse planning) lives in core/.

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/caf_error.hpp"
#include "llmmr/core/log.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/chain_runner.hpp"
#include "llmmr/actors/chunker_actor.hpp"
#include "llmmr/actors/collapser_actor.hpp"
#include "llmmr/actors/direct_runner.hpp"
#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/actors/reducer_actor.hpp"
#include "llmmr/backends/schema_fallback_client.hpp"
#include "llmmr/core/ascii.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/chain_protocol.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/direct_window.hpp"
#include "llmmr/core/network_address.hpp"
#include "llmmr/core/token_cut.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/map_task.hpp"

#include <spdlog/spdlog.h>

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

/// Maps a failed request between actors to an error kind (a request that
/// timed out is `error_kind::timeout`).
error_kind request_error_kind(const caf::error& err) {
  return err == caf::sec::request_timeout ? error_kind::timeout : kind_of(err);
}

/// What the front understands beyond its public interface: the reports of
/// its coordinators.
using front_actor = pipeline_actor::extend<
  caf::reacts_to<job_done_atom, uint64_t, job_result, job_stats>,
  caf::reacts_to<job_failed_atom, uint64_t, caf::error, job_stats>>;

/// What a job coordinator understands: input and queries routed by the
/// front, admission, and the reports of its chunker (`chunk_sink_actor`),
/// collapser (`collapse_observer_actor`), chain runner and the mapper pool
/// (`chain_sink_actor`), plus its own deadline.
using coordinator_actor = caf::typed_actor<
  caf::replies_to<job_piece_atom, std::string>::with<uint64_t>,
  caf::reacts_to<job_doc_atom, std::string>,
  caf::replies_to<job_end_atom>::with<uint32_t>, caf::reacts_to<job_admit_atom>,
  caf::reacts_to<chunks_atom, chunk_batch>,
  caf::reacts_to<collapse_prog_atom, collapse_progress>,
  caf::reacts_to<job_watch_atom, caf::actor>,
  caf::reacts_to<job_unwatch_atom, caf::actor>, caf::reacts_to<job_cancel_atom>,
  caf::replies_to<job_stats_atom>::with<job_stats>,
  caf::reacts_to<deadline_atom>, caf::reacts_to<map_started_atom, uint32_t>,
  caf::reacts_to<chain_done_atom, map_outcome>>;

/// The life of one job. The coordinator only wires the job's stage actors
/// (document -> chunker actor -> map work to the pool -> records ->
/// collapser -> reducer -> job_result) and keeps what spans them: the state
/// of every chunk, the failure rule, cancellation, the deadline and progress
/// events. The stage actors are linked to it and ended with it.
class job_coordinator : public coordinator_actor::base {
public:
  job_coordinator(caf::actor_config& cfg,
                  std::shared_ptr<const pipeline_context> ctx, uint64_t id,
                  job_spec spec, call_budget budget, mapper_pool_actor pool,
                  front_actor front)
    : coordinator_actor::base(cfg), ctx_(std::move(ctx)), id_(id),
      spec_(std::move(spec)), budget_(budget), pool_(std::move(pool)),
      front_(std::move(front)), cancel_(make_cancellation()) {
    stats_.job_id = id;
    // The stage actors' requests carry the job's flag.
    auto job_ctx = std::make_shared<pipeline_context>(*ctx_);
    job_ctx->cancel = cancel_;
    job_ctx_ = std::move(job_ctx);
  }

  void on_exit() override {
    // However the job ends, none of its calls is left running.
    cancel_->cancel();
  }

  behavior_type make_behavior() override {
    started_ = clock_type::now();
    spawn_stages();
    set_exit_handler([this](caf::exit_msg& msg) { on_exit_msg(msg); });
    set_down_handler([this](caf::down_msg& dm) { drop_watcher(dm.source); });
    if (spec_.deadline_ms > 0)
      delayed_send(coordinator_actor{this},
                   std::chrono::milliseconds{spec_.deadline_ms},
                   deadline_atom::value);
    return {
      // Input goes straight to the chunker actor; delegation lets it answer
      // the sender (the ack is held back until it has room).
      [this](job_piece_atom, std::string& text) {
        start_chunk_clock();
        return delegate(chunker_, job_piece_atom::value, std::move(text));
      },
      [this](job_doc_atom, std::string& text) {
        start_chunk_clock();
        send(chunker_, job_doc_atom::value, std::move(text));
      },
      [this](job_end_atom) { return delegate(chunker_, job_end_atom::value); },
      [this](job_admit_atom) { admit(); },
      [this](chunks_atom, chunk_batch& batch) { on_batch(std::move(batch)); },
      [this](collapse_prog_atom, collapse_progress& p) {
        on_collapse_progress(p);
      },
      [this](job_watch_atom, caf::actor& sub) {
        if (std::find(watchers_.begin(), watchers_.end(), sub)
            != watchers_.end())
          return;
        // Monitored, so that a subscriber that ends is dropped.
        monitor(sub);
        watchers_.push_back(std::move(sub));
        publish(true);
      },
      [this](job_unwatch_atom, caf::actor& sub) {
        drop_watcher(sub.address());
      },
      [this](job_cancel_atom) {
        fail(make_caf_error(error_kind::cancelled, "job " + std::to_string(id_)
                                                     + " was cancelled"
                                                     + outstanding_note()));
      },
      [this](job_stats_atom) { return stats_; },
      [this](deadline_atom) {
        fail(make_caf_error(
          error_kind::deadline,
          "job " + std::to_string(id_) + " missed its deadline of "
            + std::to_string(spec_.deadline_ms) + " ms" + outstanding_note()));
      },
      [this](map_started_atom, uint32_t index) { on_started(index); },
      [this](chain_done_atom, map_outcome& out) { on_outcome(std::move(out)); },
    };
  }

private:
  enum class chunk_state : uint8_t { waiting, running, mapped, failed };

  // -- stage actors -----------------------------------------------------------

  void spawn_stages() {
    coordinator_actor self{this};
    chunker_options copts;
    copts.budget = budget_.chunk_payload;
    copts.job_id = id_;
    copts.replace_invalid_utf8 = ctx_->opts.replace_invalid_utf8;
    chunker_ = spawn_chunker(system(), ctx_->tok, copts,
                             ctx_->opts.chunk_window, self);
    link_to(chunker_);
    reducer_ = spawn_reducer(system(), job_ctx_, id_, spec_);
    link_to(reducer_);
    switch (spec_.strategy) {
    case strategy::chain:
      chain_
        = spawn_chain_runner(system(), job_ctx_, id_, spec_, budget_, self);
      link_to(chain_);
      final_budget_ = budget_.chain_answer_payload;
      break;
    case strategy::direct:
      direct_ = spawn_direct_runner(system(), job_ctx_, budget_.direct_payload);
      link_to(direct_);
      final_budget_ = budget_.direct_payload;
      break;
    default:
      reduce_budget_
        = std::min(budget_.collapse_payload, budget_.reduce_payload);
      collapser_
        = spawn_collapser(system(), job_ctx_, id_, spec_, reduce_budget_, self);
      link_to(collapser_);
    }
  }

  bool is_stage(const caf::actor_addr& x) const {
    return x == chunker_.address() || x == reducer_.address()
           || (collapser_ && x == collapser_.address())
           || (chain_ && x == chain_.address())
           || (direct_ && x == direct_.address());
  }

  /// Ends the stage actors with `reason`; the chunker answers its held acks
  /// and the end-of-document request with it.
  void stop_stages(const caf::error& reason) {
    send_exit(chunker_, reason);
    send_exit(reducer_, reason);
    if (collapser_)
      send_exit(collapser_, reason);
    if (chain_)
      send_exit(chain_, reason);
    if (direct_)
      send_exit(direct_, reason);
  }

  void on_exit_msg(caf::exit_msg& msg) {
    if (!is_stage(msg.source)) {
      // The front stopped the pipeline (or another link broke).
      if (msg.reason) {
        stop_stages(msg.reason);
        quit(msg.reason);
      }
      return;
    }
    if (!msg.reason || finished_)
      return;
    if (msg.source == chunker_.address()) {
      // The chunker's own error, e.g. invalid UTF-8 in the document.
      fail(std::move(msg.reason));
      return;
    }
    fail(make_caf_error(error_kind::internal,
                        "job " + std::to_string(id_)
                          + ": a stage actor died: " + to_string(msg.reason)));
  }

  // -- input ------------------------------------------------------------------

  void start_chunk_clock() {
    if (!chunking_started_) {
      chunking_started_ = true;
      chunk_t0_ = clock_type::now();
    }
  }

  /// The front admitted the job (`max_jobs`): the chunks that waited go to
  /// the mapper pool.
  void admit() {
    if (admitted_ || finished_)
      return;
    admitted_ = true;
    started_ = clock_type::now();
    auto held = std::move(held_);
    held_.clear();
    for (auto& b : held)
      on_batch(std::move(b));
  }

  /// Takes the chunker's statistics and hands its chunks to the mapper pool.
  /// Until the job is admitted they wait here; they keep their chunk credit,
  /// so the chunker holds the input acks once `chunk_window` chunks wait.
  void on_batch(chunk_batch batch) {
    if (finished_)
      return;
    if (!admitted_) {
      held_.push_back(std::move(batch));
      return;
    }
    stats_.chunks_buffered_hwm = batch.stats.chunks_buffered_hwm;
    stats_.bytes_buffered_hwm = batch.stats.bytes_buffered_hwm;
    stats_.pieces_held_hwm = batch.stats.pieces_held_hwm;
    stats_.bytes_received = batch.stats.bytes_received;
    for (auto& c : batch.chunks)
      dispatch(std::move(c));
    if (batch.complete && !document_complete_) {
      document_complete_ = true;
      timings_.chunk_us = chunking_started_ ? micros_since(chunk_t0_) : 0;
      if (states_.empty()) {
        fail(make_caf_error(error_kind::empty_document,
                            "job " + std::to_string(id_)
                              + ": the document is empty"));
        return;
      }
      if (!has_text_) {
        fail(make_caf_error(error_kind::empty_document,
                            "job " + std::to_string(id_)
                              + ": the document holds nothing but white space ("
                              + std::to_string(stats_.bytes_received)
                              + " bytes)"));
        return;
      }
      if (fail_fast())
        return;
      publish(true);
      maybe_mapped();
    }
  }

  /// Sends one chunk to the mapper pool.
  void dispatch(chunk c) {
    auto index = static_cast<uint32_t>(states_.size());
    c.index = index;
    c.job_id = id_;
    ranges_.push_back(c.range);
    document_tokens_ += c.tokens;
    states_.push_back(chunk_state::waiting);
    if (spec_.strategy == strategy::direct) {
      // No call per chunk: the direct runner keeps the head and the tail,
      // and the chunk leaves the window at once.
      if (!ascii::trim(c.text).empty())
        has_text_ = true;
      send(direct_, direct_piece_atom::value, std::move(c));
      states_.back() = chunk_state::mapped;
      ++mapped_;
      ++done_chunks_;
      credit(index);
      publish(false);
      maybe_mapped();
      return;
    }
    if (!map_started_) {
      map_started_ = true;
      map_t0_ = clock_type::now();
    }
    if (ascii::trim(c.text).empty()) {
      // Only white space: nothing to read, so no call. The chunk counts as
      // mapped with no record.
      states_.back() = chunk_state::mapped;
      ++mapped_;
      ++done_chunks_;
      credit(index);
      accept(index, {});
      publish(false);
      maybe_mapped();
      return;
    }
    has_text_ = true;
    if (spec_.strategy == strategy::chain) {
      // The chain runner reads the chunks one after another, in the order
      // they are sent, and reports each start and end.
      send(chain_, chain_step_atom::value, std::move(c));
      return;
    }
    map_task task{std::move(c), spec_, budget_.chunk_payload};
    request(pool_, ctx_->opts.map_timeout * 2, map_atom::value, std::move(task))
      .then([this](map_outcome& out) { on_outcome(std::move(out)); },
            [this, index](caf::error& err) {
              map_outcome out;
              out.job_id = id_;
              out.index = index;
              out.failed = true;
              out.failure.index = index;
              out.failure.range = ranges_[index];
              out.failure.kind = request_error_kind(err);
              out.failure.reason = "map request: " + describe(err);
              on_outcome(std::move(out));
            });
  }

  /// A chunk left the chunk window: return its credit to the chunker.
  void credit(uint32_t index) {
    send(chunker_, chunk_credit_atom::value, index);
  }

  void on_started(uint32_t index) {
    if (finished_ || index >= states_.size()
        || states_[index] != chunk_state::waiting)
      return;
    states_[index] = chunk_state::running;
    credit(index);
    ++running_;
    stats_.map_in_flight_hwm = std::max(stats_.map_in_flight_hwm, running_);
    // The first calls are news against a slow server: say so at once.
    if (!first_call_reported_) {
      first_call_reported_ = true;
      publish(true);
    }
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
      credit(index);
    calls_.map += out.calls;
    reasks_.map += out.reasks;
    usage_ += out.usage;
    for (const auto& n : out.nodes)
      add_node_stats(nodes_, n);
    std::vector<record> kept;
    if (!out.failed)
      judge_outputs(out);
    if (out.failed) {
      st = chunk_state::failed;
      out.failure.index = index;
      out.failure.range = ranges_[index];
      failures_.push_back(std::move(out.failure));
    } else {
      st = chunk_state::mapped;
      ++mapped_;
      for (auto& r : out.records)
        if (r.kind != record_kind::empty)
          kept.push_back(std::move(r));
    }
    // A chunk that failed before any call: no mapper can take any chunk.
    bool no_mapper = out.failed && out.calls == 0
                     && (out.failure.kind == error_kind::node_down
                         || out.failure.kind == error_kind::unreachable);
    ++done_chunks_;
    accept(index, std::move(kept));
    if (fail_fast(no_mapper))
      return;
    publish(false);
    maybe_mapped();
  }

  /// Ends the job as soon as it is lost: at a failure whose error every
  /// further call would get as well (`is_recurring`, or no mapper left: the
  /// chunk failed unreachable or node_down before any call was made), and
  /// once more chunks failed than `max_failed_fraction` allows (with a
  /// fraction above 0 that is known only when the document is complete).
  /// Returns whether the job failed.
  bool fail_fast(bool no_mapper = false) {
    if (failures_.empty())
      return false;
    const auto& last = failures_.back();
    if (is_recurring(last.kind) || no_mapper) {
      fail(make_caf_error(last.kind,
                          "job " + std::to_string(id_) + " stopped at chunk "
                            + std::to_string(last.index)
                            + ", whose error every other call would get too: "
                            + last.reason));
      return true;
    }
    if (!document_complete_ && spec_.max_failed_fraction > 0)
      return false;
    return too_many_failures();
  }

  /// Fails the job when more chunks failed than `max_failed_fraction`
  /// allows of those known so far; returns whether it did.
  bool too_many_failures() {
    if (failures_.empty())
      return false;
    auto total = states_.size();
    double allowed = spec_.max_failed_fraction * static_cast<double>(total);
    if (static_cast<double>(failures_.size()) <= allowed)
      return false;
    auto sorted = failures_;
    std::sort(sorted.begin(), sorted.end(),
              [](auto& x, auto& y) { return x.index < y.index; });
    std::vector<uint32_t> idx;
    for (auto& f : sorted)
      idx.push_back(f.index);
    // When every failure is an unusable output, the endpoint worked but
    // the model's outputs could not be read: say so in the kind.
    auto unusable = [](const chunk_failure& f) {
      return f.kind == error_kind::truncated
             || f.kind == error_kind::unparsable;
    };
    auto kind = std::all_of(sorted.begin(), sorted.end(), unusable)
                  ? sorted.front().kind
                  : error_kind::too_many_failures;
    fail(make_caf_error(
      kind,
      std::to_string(sorted.size()) + " of " + std::to_string(total) + " chunks"
        + (document_complete_ ? "" : " so far") + " failed (allowed fraction "
        + std::to_string(spec_.max_failed_fraction) + "): chunks "
        + join_indices(idx) + "; first reason: " + sorted.front().reason));
    return true;
  }

  /// Sorts out map outputs that stayed unusable after their re-asks: when
  /// every output of the chunk is unusable the chunk fails (it counts
  /// against `max_failed_fraction` like a failed call); a single unusable
  /// piece, or an output cut at `max_tokens` whose fields were kept, is a
  /// loss of evidence.
  void judge_outputs(map_outcome& out) {
    size_t unusable = 0;
    output_problem first = output_problem::none;
    for (auto& r : out.records) {
      auto problem = diagnose_record(r, {});
      if (problem != output_problem::none) {
        ++unusable;
        if (first == output_problem::none)
          first = problem;
      } else if (r.status == record_status::truncated) {
        losses_.push_back(evidence_loss{
          {out.index},
          {},
          r.confidence,
          "map output cut at max_tokens; its usable fields were kept"});
      }
    }
    if (unusable == 0)
      return;
    auto what
      = "map output " + to_string(first) + " after "
        + std::to_string(out.reasks)
        + (out.reasks == 1 ? " corrective re-ask" : " corrective re-asks");
    if (unusable == out.records.size()) {
      out.failed = true;
      out.failure.kind = first == output_problem::truncated
                           ? error_kind::truncated
                           : error_kind::unparsable;
      out.failure.reason = std::move(what);
      out.records.clear();
      return;
    }
    losses_.push_back(evidence_loss{
      {out.index}, {}, 0, what + " (one part of a re-split chunk)"});
  }

  /// Keeps the records of a finished chunk. With early collapse, records go
  /// to the collapser as soon as every chunk before them finished (a settled
  /// prefix, in document order); the collapser collapses full groups at once.
  void accept(uint32_t index, std::vector<record> xs) {
    // The baselines keep no records here (chain: the runner holds the notes).
    if (spec_.strategy != strategy::mapreduce)
      return;
    if (!spec_.early_collapse) {
      for (auto& r : xs)
        records_.push_back(std::move(r));
      return;
    }
    by_chunk_[index] = std::move(xs);
    std::vector<record> settled;
    for (auto i = by_chunk_.find(frontier_); i != by_chunk_.end();
         i = by_chunk_.find(frontier_)) {
      for (auto& r : i->second)
        settled.push_back(std::move(r));
      by_chunk_.erase(i);
      ++frontier_;
    }
    if (settled.empty())
      return;
    handed_ += settled.size();
    send(collapser_, collapse_add_atom::value, std::move(settled));
  }

  /// Moves on to collapse once every chunk of a complete document ended.
  void maybe_mapped() {
    if (finished_ || !document_complete_ || stage_ != job_stage::chunking
        || done_chunks_ < states_.size())
      return;
    timings_.map_us = map_started_ ? micros_since(map_t0_) : 0;
    std::sort(failures_.begin(), failures_.end(),
              [](auto& x, auto& y) { return x.index < y.index; });
    if (too_many_failures())
      return;
    switch (spec_.strategy) {
    case strategy::chain:
      chain_answer();
      break;
    case strategy::direct:
      direct_answer();
      break;
    default:
      collapse();
    }
  }

  // -- the baselines ----------------------------------------------------------

  /// Chain: takes the last notes from the runner and asks the manager.
  void chain_answer() {
    stage_ = job_stage::reducing;
    publish(true);
    request(chain_, ctx_->opts.call_timeout, chain_notes_atom::value)
      .then(
        [this](chain_notes& notes) {
          for (auto& l : notes.losses)
            losses_.push_back(std::move(l));
          notes.losses.clear();
          chain_notes_ = std::move(notes);
          manager_call();
        },
        [this](caf::error& err) {
          fail(make_caf_error(request_error_kind(err),
                              "job " + std::to_string(id_)
                                + ": the chain runner did not hand over its "
                                  "notes: "
                                + describe(err)));
        });
  }

  /// Renders the manager prompt over the last notes, cut to `final_budget_`
  /// when they are longer, and makes the final call.
  void manager_call() {
    auto notes = chain_notes_.text;
    auto have = ctx_->tok->count(notes);
    if (have > final_budget_) {
      notes.resize(prefix_within(notes, final_budget_, *ctx_->tok));
      losses_.push_back(evidence_loss{
        {},
        {},
        0,
        "chain: the last notes were cut from " + std::to_string(have) + " to "
          + std::to_string(final_budget_) + " tokens to fit the manager call"});
    }
    final_notes_ = notes;
    auto prompt = render_chain_answer_prompt(*ctx_->prompts, spec_, notes);
    if (!prompt) {
      fail(std::move(prompt.error()));
      return;
    }
    final_call("manager", std::move(*prompt));
  }

  /// Direct: takes the document's head and tail from the runner and makes
  /// the one call.
  void direct_answer() {
    stage_ = job_stage::reducing;
    publish(true);
    request(direct_, ctx_->opts.call_timeout, direct_text_atom::value,
            uint64_t{final_budget_})
      .then(
        [this](direct_text& dt) {
          auto prompt = render_direct_prompt(*ctx_->prompts, spec_, dt.text);
          if (!prompt) {
            fail(std::move(prompt.error()));
            return;
          }
          direct_text_ = std::move(dt);
          direct_text_.text.clear();
          if (direct_text_.truncated)
            logger()->debug("job {}: direct: {} of {} document tokens cut from "
                            "the middle to fit the budget",
                            id_, direct_text_.cut_tokens,
                            direct_text_.document_tokens);
          final_call("direct", std::move(*prompt));
        },
        [this](caf::error& err) {
          fail(make_caf_error(request_error_kind(err),
                              "job " + std::to_string(id_)
                                + ": the direct runner did not hand over the "
                                  "document: "
                                + describe(err)));
        });
  }

  /// The final-answer call of a baseline through the reducer (same re-asks
  /// and outcome rules as the reduce). A prompt the server rejects as too
  /// long is built again with a smaller budget, up to 8 times.
  void final_call(std::string stage, std::string prompt) {
    reduce_t0_ = clock_type::now();
    auto timeout = ctx_->opts.call_timeout * (2 + spec_.reask_unparsable);
    request(reducer_, timeout, reduce_prompt_atom::value, stage,
            std::move(prompt))
      .then([this](reduce_result& res) { finish(std::move(res)); },
            [this, timeout, stage](caf::error& err) {
              if (kind_of(err) == error_kind::context_length_exceeded) {
                auto next = shrink_after_overflow(final_budget_, describe(err));
                if (next >= min_payload_tokens && next < final_budget_
                    && ++recollapses_ <= 8) {
                  logger()->info("job {}: the {} prompt was too long for the "
                                 "server; building it again for {} tokens",
                                 id_, stage, next);
                  final_budget_ = static_cast<uint32_t>(next);
                  ++calls_.reduce;
                  if (spec_.strategy == strategy::chain)
                    manager_call();
                  else
                    direct_answer();
                  return;
                }
              }
              if (err == caf::sec::request_timeout)
                fail(make_caf_error(error_kind::timeout,
                                    "job " + std::to_string(id_) + ": the "
                                      + stage + " call did not answer within "
                                      + std::to_string(timeout.count())
                                      + " ms"));
              else
                fail(std::move(err));
            });
  }

  // -- collapse ---------------------------------------------------------------

  /// A finite bound for the whole collapse of `n` records: every round (at
  /// most `max_collapse_rounds`, plus the early calls) makes at most
  /// `ceil(n / collapse_window)` waves of calls, each wave a call and a
  /// calibration limited to `call_timeout`, plus one selection.
  std::chrono::milliseconds collapse_timeout(size_t n) const {
    uint64_t window = collapse_window_of(ctx_->opts, ctx_->client->capacity());
    uint64_t waves = (n + window - 1) / window + 1;
    uint64_t rounds = uint64_t{ctx_->opts.max_collapse_rounds} + 2;
    uint64_t factor = std::min<uint64_t>(rounds * (2 * waves + 1), 1000000000);
    return ctx_->opts.call_timeout * static_cast<int64_t>(factor);
  }

  void collapse() {
    stage_ = job_stage::collapsing;
    collapse_t0_ = clock_type::now();
    auto timeout = collapse_timeout(handed_ + records_.size());
    request(collapser_, timeout, collapse_atom::value, std::move(records_))
      .then([this](collapse_result& res) { on_collapsed(std::move(res)); },
            [this, timeout](caf::error& err) {
              if (err == caf::sec::request_timeout)
                fail(make_caf_error(error_kind::timeout,
                                    "job " + std::to_string(id_)
                                      + ": the collapser did not answer within "
                                      + std::to_string(timeout.count())
                                      + " ms"));
              else
                fail(std::move(err));
            });
  }

  void on_collapse_progress(const collapse_progress& p) {
    if (finished_)
      return;
    bool new_round = p.round > collapse_live_.round;
    collapse_live_ = p;
    if (new_round && stage_ == job_stage::collapsing)
      publish(true);
  }

  void on_collapsed(collapse_result res) {
    timings_.collapse_us = micros_since(collapse_t0_);
    calls_.collapse += res.calls;
    usage_ += res.usage;
    collapse_live_ = collapse_progress{};
    collapse_rounds_ += res.rounds;
    collapse_fallback_ = res.fallback;
    fallback_note_ = std::move(res.fallback_note);
    reasks_.collapse += res.reasks;
    for (auto& l : res.losses)
      losses_.push_back(std::move(l));
    final_records_ = std::move(res.records);
    reduce();
  }

  // -- reduce -----------------------------------------------------------------

  void reduce() {
    stage_ = job_stage::reducing;
    publish(true);
    reduce_t0_ = clock_type::now();
    // Render, one call (limited to call_timeout) and parsing.
    auto timeout = ctx_->opts.call_timeout * (2 + spec_.reask_unparsable);
    request(reducer_, timeout, reduce_atom::value, final_records_)
      .then([this](reduce_result& res) { finish(std::move(res)); },
            [this, timeout](caf::error& err) {
              if (kind_of(err) == error_kind::context_length_exceeded
                  && recollapse(describe(err)))
                return;
              if (err == caf::sec::request_timeout)
                fail(make_caf_error(error_kind::timeout,
                                    "job " + std::to_string(id_)
                                      + ": the reducer did not answer within "
                                      + std::to_string(timeout.count())
                                      + " ms"));
              else
                fail(std::move(err));
            });
  }

  /// The reduce prompt was too long for the server: collapse the records
  /// again into a smaller budget and reduce once more. Returns false when
  /// the budget cannot shrink any further (the job then fails).
  bool recollapse(const std::string& what) {
    auto next = shrink_after_overflow(reduce_budget_, what);
    if (next < min_payload_tokens || next >= reduce_budget_
        || ++recollapses_ > 8)
      return false;
    reduce_budget_ = next;
    logger()->info("job {}: the reduce prompt was too long for the server; "
                   "collapsing again into {} tokens",
                   id_, next);
    ++calls_.reduce;
    stage_ = job_stage::collapsing;
    auto timeout = collapse_timeout(final_records_.size());
    request(collapser_, timeout, recollapse_atom::value,
            std::move(final_records_), uint64_t{next})
      .then([this](collapse_result& res) { on_collapsed(std::move(res)); },
            [this](caf::error& err) { fail(std::move(err)); });
    return true;
  }

  void finish(reduce_result rr) {
    calls_.reduce += rr.calls;
    reasks_.reduce = rr.reasks;
    usage_ += rr.usage;
    job_result res;
    res.job_id = id_;
    res.strategy = spec_.strategy;
    res.answer = std::move(rr.answer);
    res.rationale = std::move(rr.rationale);
    res.confidence = rr.confidence;
    res.no_information = rr.no_information;
    if (rr.cut)
      losses_.push_back(evidence_loss{
        {},
        {},
        0,
        "reduce output cut at max_tokens after its answer; the rationale may "
        "be incomplete"});
    if (spec_.strategy == strategy::chain) {
      // The evidence is the last notes, written from the chunks whose
      // worker call succeeded.
      record r;
      r.extracted = std::move(final_notes_);
      r.answer = res.answer;
      r.confidence = res.confidence;
      r.has_confidence = rr.confidence > 0;
      r.kind = record_kind::evidence;
      r.chunks = std::move(chain_notes_.chunks);
      final_records_.push_back(std::move(r));
    }
    for (auto& r : final_records_) {
      evidence ev;
      for (auto c : r.chunks)
        if (c < ranges_.size())
          ev.ranges.push_back(ranges_[c]);
      ev.record = std::move(r);
      res.evidence.push_back(std::move(ev));
    }
    if (spec_.strategy == strategy::direct) {
      // The evidence is the document bytes the call saw.
      evidence ev;
      ev.record.answer = res.answer;
      ev.record.confidence = res.confidence;
      ev.record.rationale = direct_text_.truncated
                              ? "the head and the tail of the document"
                              : "the whole document";
      ev.ranges = direct_text_.kept;
      res.evidence.push_back(std::move(ev));
      res.cut_tokens = direct_text_.cut_tokens;
      if (direct_text_.truncated)
        losses_.push_back(evidence_loss{
          {},
          {direct_text_.cut},
          0,
          "direct: " + std::to_string(direct_text_.cut_tokens) + " of "
            + std::to_string(direct_text_.document_tokens)
            + " document tokens (bytes "
            + std::to_string(direct_text_.cut.begin) + "-"
            + std::to_string(direct_text_.cut.end)
            + ") cut from the middle to fit the per-call budget"});
    }
    res.calls = calls_;
    res.nodes = nodes_;
    res.collapse_rounds = collapse_rounds_;
    res.collapse_fallback = collapse_fallback_;
    res.fallback_note = fallback_note_;
    res.usage = usage_;
    timings_.reduce_us = micros_since(reduce_t0_);
    timings_.total_us = micros_since(started_);
    res.timings = timings_;
    res.chunks = static_cast<uint32_t>(states_.size());
    res.document_tokens = document_tokens_;
    res.failures = failures_;
    res.reasks = reasks_;
    res.tokenizer = ctx_->tok->name();
    res.token_counts_estimated = res.tokenizer.starts_with("approx");
    for (auto& l : losses_) {
      if (l.chunks.empty())
        continue; // ranges of their own (direct's cut)
      l.ranges.clear();
      for (auto c : l.chunks)
        if (c < ranges_.size())
          l.ranges.push_back(ranges_[c]);
    }
    res.losses = std::move(losses_);
    res.partial = !failures_.empty() || !res.losses.empty();
    stage_ = job_stage::done;
    finished_ = true;
    publish(true);
    stop_stages(caf::exit_reason::user_shutdown);
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

  void fail(const error& err) { fail(to_caf(err)); }

  void fail(caf::error err) {
    if (finished_)
      return;
    finished_ = true;
    stage_ = job_stage::failed;
    // Calls in flight end, queued chunks are dropped, the mappers and worker
    // nodes stop the job's calls.
    cancel_->cancel();
    stop_stages(err);
    send(pool_, map_drop_atom::value, id_);
    publish(true);
    send(front_, job_failed_atom::value, id_, std::move(err), stats_);
    quit();
  }

  // -- progress ---------------------------------------------------------------

  void drop_watcher(const caf::actor_addr& who) {
    watchers_.erase(
      std::remove_if(watchers_.begin(), watchers_.end(),
                     [&](const caf::actor& w) { return w.address() == who; }),
      watchers_.end());
  }

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
    ev.chunks_in_flight = static_cast<uint32_t>(running_);
    ev.collapse_round = stage_ == job_stage::collapsing ? collapse_live_.round
                                                        : collapse_rounds_;
    ev.usage = usage_;
    ev.usage += collapse_live_.usage;
    ev.elapsed_us = micros_since(started_);
    if (document_complete_ && done_chunks_ > 0 && done_chunks_ < states_.size())
      ev.eta_us
        = ev.elapsed_us / done_chunks_ * (states_.size() - done_chunks_);
    // Subscribers are untyped (any actor that handles `progress_event`); a
    // typed actor may only reach them anonymously, so none of them can
    // reflect an error back at the coordinator.
    for (auto& w : watchers_)
      caf::anon_send(w, ev);
  }

  // -- state ------------------------------------------------------------------

  std::shared_ptr<const pipeline_context> ctx_;
  uint64_t id_;
  job_spec spec_;
  call_budget budget_;
  mapper_pool_actor pool_;
  front_actor front_;
  /// The job's flag: set when the job ends, on every request it makes.
  cancellation_ptr cancel_;
  /// `ctx_` with `cancel_`, for the stage actors.
  std::shared_ptr<const pipeline_context> job_ctx_;
  /// Whether the front let the job start; until then chunks wait in
  /// `held_`.
  bool admitted_ = false;
  std::vector<chunk_batch> held_;
  chunker_actor chunker_;
  collapser_actor collapser_;
  reducer_actor reducer_;
  chain_runner_actor chain_;
  direct_runner_actor direct_;
  std::vector<caf::actor> watchers_;
  job_stats stats_;
  job_stage stage_ = job_stage::chunking;
  bool finished_ = false;
  bool document_complete_ = false;

  // Chunks: one state and range per chunk.
  std::vector<chunk_state> states_;
  std::vector<byte_range> ranges_;
  uint64_t document_tokens_ = 0;
  uint32_t running_ = 0;
  size_t done_chunks_ = 0;
  uint32_t mapped_ = 0;
  std::vector<chunk_failure> failures_;

  // Records: kept here until the collapse, or (early collapse) handed to the
  // collapser as a settled prefix; records of finished chunks past the first
  // unfinished one wait in `by_chunk_`.
  std::vector<record> records_;
  std::map<uint32_t, std::vector<record>> by_chunk_;
  uint32_t frontier_ = 0;
  size_t handed_ = 0;

  // Collapse and reduce.
  collapse_progress collapse_live_;
  uint32_t collapse_rounds_ = 0;
  bool collapse_fallback_ = false;
  std::string fallback_note_;
  std::vector<record> final_records_;

  // The baselines: the payload budget of the final call (chain: the notes,
  // direct: the document), the chain's last notes and what direct kept.
  uint32_t final_budget_ = 0;
  chain_notes chain_notes_;
  std::string final_notes_;
  direct_text direct_text_;

  // Accounting.
  call_counts calls_;
  call_counts reasks_;
  /// What each node did for the map stage.
  std::vector<node_stats> nodes_;
  size_t reduce_budget_ = 0;
  bool first_call_reported_ = false;
  uint32_t recollapses_ = 0;
  std::vector<evidence_loss> losses_;
  bool has_text_ = false;
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
class pipeline_front : public front_actor::base {
public:
  pipeline_front(caf::actor_config& cfg, std::shared_ptr<pipeline_context> ctx)
    : front_actor::base(cfg), init_ctx_(std::move(ctx)) {
    // nop
  }

  behavior_type make_behavior() override {
    // One calibrator for the whole pipeline (see calibrator_actor.hpp); the
    // context is read-only from here on.
    init_ctx_->calibrator = spawn_calibrator(system(), init_ctx_->prompts);
    link_to(init_ctx_->calibrator);
    ctx_ = std::move(init_ctx_);
    pool_ = spawn_mapper_pool(system(), ctx_);
    link_to(pool_);
    set_exit_handler([this](caf::exit_msg& msg) {
      // A coordinator's end is handled by the down handler; anything else
      // (the pool, the calibrator, a stop request) ends the pipeline.
      for (auto& kv : running_)
        if (kv.second.coordinator.address() == msg.source)
          return;
      if (msg.reason)
        quit(msg.reason);
    });
    // A stray error message (e.g. from a subscriber that could not handle
    // the reply to a plain `send` and reflected it) must not take down every
    // job: CAF's default error handler would quit the front.
    set_error_handler([this](caf::error& err) {
      logger()->warn("pipeline: ignoring a stray error message: {}",
                     describe(err));
    });
    set_down_handler([this](caf::down_msg& dm) {
      // A global subscriber that ended.
      if (drop_global_watcher(dm.source))
        return;
      for (auto& [id, job] : running_)
        if (job.coordinator.address() == dm.source) {
          auto jid = id;
          complete(
            jid,
            make_caf_error(error_kind::internal, "job " + std::to_string(jid)
                                                   + ": its coordinator died: "
                                                   + to_string(dm.reason)),
            job_stats{});
          return;
        }
    });
    return {
      [this](job_start_atom, job_spec& spec) -> caf::result<uint64_t> {
        auto id = start(std::move(spec));
        if (!id)
          return to_caf(id.error());
        return *id;
      },
      [this](job_doc_atom, job_spec& spec,
             std::string& doc) -> caf::result<uint64_t> {
        auto id = start(std::move(spec));
        if (!id)
          return to_caf(id.error());
        send(running_[*id].coordinator, job_doc_atom::value, std::move(doc));
        return *id;
      },
      [this](job_piece_atom, uint64_t id,
             std::string& text) -> caf::result<uint64_t> {
        if (auto c = coordinator(id))
          return delegate(c, job_piece_atom::value, std::move(text));
        return unknown(id);
      },
      [this](job_end_atom, uint64_t id) -> caf::result<uint32_t> {
        if (auto c = coordinator(id))
          return delegate(c, job_end_atom::value);
        return unknown(id);
      },
      [this](job_stats_atom, uint64_t id) -> caf::result<job_stats> {
        if (auto c = coordinator(id))
          return delegate(c, job_stats_atom::value);
        if (auto i = finished_.find(id); i != finished_.end())
          return i->second.stats;
        return unknown(id);
      },
      [this](job_result_atom, uint64_t id) -> caf::result<job_result> {
        if (auto i = finished_.find(id); i != finished_.end()) {
          if (i->second.result)
            return *i->second.result;
          return i->second.result.error();
        }
        if (auto i = running_.find(id); i != running_.end()) {
          auto rp = make_response_promise<job_result>();
          i->second.awaiting.push_back(rp);
          return rp;
        }
        return unknown(id);
      },
      [this](job_watch_atom, uint64_t id,
             caf::actor& sub) -> caf::result<bool> {
        if (id == 0) {
          if (std::find(global_watchers_.begin(), global_watchers_.end(), sub)
              == global_watchers_.end()) {
            monitor(sub);
            global_watchers_.push_back(sub);
          }
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
      [this](job_unwatch_atom, uint64_t id,
             caf::actor& sub) -> caf::result<bool> {
        if (id == 0) {
          if (!drop_global_watcher(sub.address()))
            return false;
          demonitor(sub);
          for (auto& kv : running_)
            send(kv.second.coordinator, job_unwatch_atom::value, sub);
          return true;
        }
        if (auto c = coordinator(id)) {
          send(c, job_unwatch_atom::value, sub);
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
        rp.deliver(make_caf_error(error_kind::cancelled,
                                  "job " + std::to_string(kv.first)
                                    + ": the pipeline stopped"));
    running_.clear();
  }

private:
  struct running_job {
    coordinator_actor coordinator;
    std::vector<caf::typed_response_promise<job_result>> awaiting;
  };

  struct finished_job {
    caf::expected<job_result> result;
    job_stats stats;
    /// `footprint` of the result.
    size_t bytes = 0;
  };

  caf::error unknown(uint64_t id) const {
    return make_caf_error(error_kind::usage,
                          "unknown job " + std::to_string(id));
  }

  /// Removes a subscriber to every job; true when it was one.
  bool drop_global_watcher(const caf::actor_addr& who) {
    auto i
      = std::find_if(global_watchers_.begin(), global_watchers_.end(),
                     [&](const caf::actor& w) { return w.address() == who; });
    if (i == global_watchers_.end())
      return false;
    global_watchers_.erase(i);
    return true;
  }

  coordinator_actor coordinator(uint64_t id) const {
    auto i = running_.find(id);
    return i != running_.end() ? i->second.coordinator : coordinator_actor{};
  }

  expected<uint64_t> start(job_spec spec) {
    auto active = running_.size() - waiting_.size();
    if (active >= ctx_->opts.max_jobs
        && waiting_.size() >= ctx_->opts.max_queued_jobs)
      return make_error(
        error_kind::usage,
        "the pipeline runs " + std::to_string(active) + " jobs (max_jobs) and "
          + std::to_string(waiting_.size()) + " more wait (max_queued_jobs)");
    if (ascii::trim(spec.question).empty())
      return make_error(error_kind::input,
                        "the question is blank: ask something");
    auto budget = compute_budget(spec, *ctx_->prompts, *ctx_->tok);
    if (!budget)
      return budget.error();
    auto id = ++next_id_;
    // Linked: coordinators end with the front (stop). Monitored: the front
    // learns when a coordinator dies without reporting.
    auto coord = spawn<job_coordinator, caf::monitored + caf::linked>(
      ctx_, id, std::move(spec), *budget, pool_, front_actor{this});
    for (auto& w : global_watchers_)
      send(coord, job_watch_atom::value, w);
    running_.emplace(id, running_job{coord, {}});
    // Jobs beyond max_jobs wait in submission order; their coordinators
    // already take input, up to the chunk window.
    if (active < ctx_->opts.max_jobs)
      send(coord, job_admit_atom::value);
    else
      waiting_.push_back(id);
    return id;
  }

  /// Admits waiting jobs while fewer than `max_jobs` run.
  void admit_waiting() {
    while (!waiting_.empty()
           && running_.size() - waiting_.size() < ctx_->opts.max_jobs) {
      auto id = waiting_.front();
      waiting_.pop_front();
      if (auto c = coordinator(id))
        send(c, job_admit_atom::value);
    }
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
    // A job cancelled (or failed) while waiting leaves the queue.
    if (auto w = std::find(waiting_.begin(), waiting_.end(), id);
        w != waiting_.end())
      waiting_.erase(w);
    admit_waiting();
    // Results are kept by count and by size: the oldest go first, and the
    // newest always stays so that a late `job_result` still finds it.
    size_t bytes = res ? footprint(*res) : sizeof(finished_job);
    finished_.emplace(id, finished_job{std::move(res), st, bytes});
    finished_order_.push_back(id);
    finished_bytes_ += bytes;
    while (finished_order_.size() > 1
           && (finished_order_.size() > ctx_->opts.retain_results
               || finished_bytes_ > ctx_->opts.retain_results_bytes)) {
      auto oldest = finished_.find(finished_order_.front());
      finished_bytes_ -= oldest->second.bytes;
      finished_.erase(oldest);
      finished_order_.pop_front();
    }
  }

  std::shared_ptr<pipeline_context> init_ctx_;
  std::shared_ptr<const pipeline_context> ctx_;
  mapper_pool_actor pool_;
  uint64_t next_id_ = 0;
  /// Jobs with a coordinator, admitted or waiting.
  std::map<uint64_t, running_job> running_;
  /// Jobs waiting for admission, in submission order.
  std::deque<uint64_t> waiting_;
  std::map<uint64_t, finished_job> finished_;
  std::deque<uint64_t> finished_order_;
  /// Sum of the retained results' `bytes`.
  size_t finished_bytes_ = 0;
  std::vector<caf::actor> global_watchers_;
};

} // namespace

void pipeline_handle::stop() const {
  if (actor)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}

expected<pipeline_handle> spawn_pipeline(caf::actor_system& sys,
                                         pipeline_options opts,
                                         std::shared_ptr<llm_client> client,
                                         std::shared_ptr<const tokenizer> tok) {
  if ((opts.mappers == 0 && opts.workers.empty()) || opts.map_window == 0
      || opts.chunk_window == 0 || opts.max_jobs == 0)
    return make_error(error_kind::config,
                      "pipeline: mappers (unless there are workers), "
                      "map_window, chunk_window and max_jobs must be at least "
                      "1");
  if (!client || !tok)
    return make_error(error_kind::config,
                      "pipeline: an llm_client and a tokenizer are required");
  if (!opts.workers.empty() && !sys.has_middleman())
    return make_error(error_kind::config,
                      "pipeline: worker nodes need the CAF middleman (load "
                      "caf::io::middleman in the actor system's config)");
  auto lib = prompt_library::load(opts.prompts_dir);
  if (!lib)
    return lib.error();
  auto ctx = std::make_shared<pipeline_context>();
  ctx->opts = std::move(opts);
  // Every call goes through the schema fallback, so that a server that
  // rejects JSON-schema requests is served text for the rest of its life.
  ctx->client = std::make_shared<schema_fallback_client>(std::move(client));
  ctx->tok = std::move(tok);
  ctx->prompts = std::make_shared<const prompt_library>(std::move(*lib));
  // The mapper pool connects to the worker nodes in the background.
  auto front = sys.spawn<pipeline_front>(std::move(ctx));
  // The public handle hides the front's private messages.
  return pipeline_handle{pipeline_actor{front}};
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
  if (word == "map" || word == "collapse" || word == "reduce" || word == "chain"
      || word == "manager" || word == "direct")
    return word;
  return {};
}

} // namespace llmmr

// The calibrator, collapser and reducer actors: thin shells around the pure
// calibration, collapse planning, prompt rendering and parsing in core/.
// (The chunker actor lives in chunker_actor.cpp.)

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/collapser_actor.hpp"
#include "llmmr/actors/reducer_actor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/actors/map_credit.hpp"
#include "llmmr/actors/stage_request.hpp"
#include "llmmr/core/ascii.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/calibration.hpp"
#include "llmmr/core/collapse_plan.hpp"
#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/core/record_parser.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// Maps a failed request between actors to an error kind (a request that
/// timed out is `error_kind::timeout`).
error_kind request_error_kind(const caf::error& err) {
  return err == caf::sec::request_timeout ? error_kind::timeout : kind_of(err);
}

// -- calibrator ---------------------------------------------------------------

calibrator_actor::behavior_type
calibrator_behavior(std::shared_ptr<const prompt_library> prompts) {
  return {
    [](calibrate_atom, calibration_request& req) {
      calibrator cal{req.profile};
      calibration_verdict out;
      out.record = cal.calibrate(std::move(req.record), req.finish_reason,
                                 req.source_text);
      out.reask = req.reasks_left > 0
                  && diagnose_record(out.record, req.finish_reason)
                       != output_problem::none;
      return out;
    },
    [](select_atom, task_profile profile, std::vector<record>& xs) {
      return calibrator{profile}.select(std::move(xs));
    },
    [prompts](rubric_atom, task_profile profile) {
      return prompts->rubric(profile);
    },
  };
}

// -- collapser ----------------------------------------------------------------

class collapser_impl : public collapser_actor::base {
public:
  collapser_impl(caf::actor_config& cfg,
                 std::shared_ptr<const pipeline_context> ctx, uint64_t job_id,
                 job_spec spec, size_t budget, collapse_observer_actor observer)
    : collapser_actor::base(cfg), ctx_(std::move(ctx)), id_(job_id),
      spec_(std::move(spec)), budget_(budget), observer_(std::move(observer)),
      gw_(this, ctx_->client),
      window_(collapse_window_of(ctx_->opts, ctx_->client->capacity())) {
    // nop
  }

  behavior_type make_behavior() override {
    return gw_.behavior_with<behavior_type>(
      [this](collapse_add_atom, std::vector<record>& xs) {
        if (closed_)
          return;
        for (auto& r : xs)
          held_.push_back(std::move(r));
        if (early_applies())
          early_collapse();
      },
      [this](collapse_atom, std::vector<record>& xs) {
        auto rp = make_response_promise<collapse_result>();
        if (closed_) {
          rp.deliver(make_caf_error(
            error_kind::usage, "job " + std::to_string(id_)
                                 + ": the collapse was already requested"));
          return rp;
        }
        closed_ = true;
        rp_ = rp;
        for (auto& r : xs)
          held_.push_back(std::move(r));
        maybe_start();
        return rp;
      },
      [this](recollapse_atom, std::vector<record>& xs, uint64_t budget) {
        auto rp = make_response_promise<collapse_result>();
        if (!closed_ || rp_.pending()) {
          rp.deliver(make_caf_error(
            error_kind::usage, "job " + std::to_string(id_)
                                 + ": recollapse before the collapse ended"));
          return rp;
        }
        rp_ = rp;
        budget_ = static_cast<size_t>(budget);
        started_ = false;
        planner_.reset();
        calls_ = 0;
        reasks_ = 0;
        usage_ = usage{};
        held_ = std::move(xs);
        maybe_start();
        return rp;
      });
  }

  void on_exit() override {
    if (rp_.pending())
      rp_.deliver(
        make_caf_error(error_kind::cancelled, "job " + std::to_string(id_)
                                                + ": the collapser stopped"));
  }

private:
  /// One collapse call: of an early group (`early_[index]`) or of a group
  /// of the current round (`round_groups_[index]`).
  struct call_item {
    bool early = false;
    size_t index = 0;
    /// Corrective re-asks made for this call so far.
    uint32_t reasks = 0;
    /// What was wrong with the last output.
    output_problem problem = output_problem::none;
  };

  size_t measure(const record& r) const {
    // +2 for the blank line between records.
    return ctx_->tok->count(render_record(spec_.profile, r)) + 2;
  }

  const std::vector<record>& inputs_of(const call_item& c) const {
    return c.early ? early_[c.index].inputs : round_groups_[c.index];
  }

  void report() {
    if (!observer_)
      return;
    collapse_progress p;
    p.round = planner_ ? planner_->rounds() : 0;
    p.calls = calls_;
    p.usage = usage_;
    send(observer_, collapse_prog_atom::value, p);
  }

  // -- early collapse ---------------------------------------------------------

  /// Whether full groups may be collapsed before the document ends. The
  /// records that reach the first round must be the same either way, so the
  /// selection before it must judge each record alone: retrieval keeps only
  /// the top answers when there are any, which only the whole set can tell.
  bool early_applies() const {
    return spec_.early_collapse && spec_.profile != task_profile::retrieval
           && ctx_->opts.max_collapse_rounds > 0;
  }

  /// Collapses every full group of the held records but the last one (which
  /// may still grow) while later chunks are being mapped. The groups are the
  /// ones the first round would form over all records: the held records are
  /// selected the way the round's selection will select them, and greedy
  /// packing from a group boundary reproduces the later boundaries.
  void early_collapse() {
    held_ = calibrator{spec_.profile}.select(std::move(held_));
    std::vector<size_t> sizes;
    sizes.reserve(held_.size());
    for (auto& r : held_)
      sizes.push_back(measure(r));
    // Held alone above the budget implies all records above it: the first
    // round will run and form these groups too.
    if (fits(sizes, budget_))
      return;
    auto groups = pack_groups(sizes, budget_);
    if (groups.size() < 2)
      return;
    auto cut = static_cast<std::ptrdiff_t>(groups[groups.size() - 2].last);
    std::vector<record> head(std::make_move_iterator(held_.begin()),
                             std::make_move_iterator(held_.begin() + cut));
    held_.erase(held_.begin(), held_.begin() + cut);
    for (size_t gi = 0; gi + 1 < groups.size(); ++gi) {
      auto& g = groups[gi];
      auto first = head.begin() + static_cast<std::ptrdiff_t>(g.first);
      auto last = head.begin() + static_cast<std::ptrdiff_t>(g.last);
      early_group eg;
      eg.inputs.assign(std::make_move_iterator(first),
                       std::make_move_iterator(last));
      eg.input_tokens = g.tokens;
      early_.push_back(std::move(eg));
      // An oversized record is cut by the planner first: left to the round.
      if (g.oversized)
        continue;
      ++early_open_;
      queue_.push_back(call_item{true, early_.size() - 1});
    }
    launch_calls();
  }

  // -- calls ------------------------------------------------------------------

  /// Starts queued calls while fewer than `window_` are in flight.
  void launch_calls() {
    while (!queue_.empty() && gw_.in_flight() < window_) {
      auto item = queue_.front();
      queue_.pop_front();
      auto prompt
        = render_collapse_prompt(*ctx_->prompts, spec_, inputs_of(item));
      if (!prompt) {
        resolve(item, std::nullopt);
        continue;
      }
      // Early groups belong to the first round.
      auto round = item.early ? 1u : planner_->rounds();
      if (item.reasks > 0)
        *prompt = corrective_prompt(spec_.profile, prompt_stage::collapse,
                                    item.problem, *prompt);
      auto req = make_stage_request(
        *ctx_, spec_, prompt_stage::collapse, std::move(*prompt),
        "job " + std::to_string(id_) + " collapse " + std::to_string(round)
          + (item.reasks > 0 ? " (corrective re-ask)" : ""));
      ++calls_;
      gw_.call(std::move(req), ctx_->opts.call_timeout,
               [this, item](expected<chat_reply> res) {
                 if (!res) {
                   if (kind_of(res.error())
                       == error_kind::context_length_exceeded)
                     shrink(describe(res.error()));
                   resolve(item, std::nullopt);
                   launch_calls();
                   return;
                 }
                 usage_ += res->usage;
                 report();
                 calibrate(item, std::move(*res));
                 launch_calls();
               });
    }
  }

  /// Asks the calibrator to judge a collapse output; an unparsable output
  /// (or no answer) keeps the group's inputs.
  void calibrate(call_item item, chat_reply rep) {
    auto& inputs = inputs_of(item);
    calibration_request req;
    req.profile = spec_.profile;
    req.record = parse_record(rep.text, spec_.profile);
    req.finish_reason = rep.finish_reason;
    req.source_text = render_records(spec_.profile, inputs);
    auto limit = spec_.reask_unparsable;
    req.reasks_left = item.reasks < limit ? limit - item.reasks : 0;
    auto call_usage = rep.usage;
    request(ctx_->calibrator, ctx_->opts.call_timeout, calibrate_atom::value,
            std::move(req))
      .then(
        [this, item, call_usage,
         finish = std::move(rep.finish_reason)](calibration_verdict& v) {
          auto problem = diagnose_record(v.record, finish);
          if (v.reask) {
            auto again = item;
            ++again.reasks;
            again.problem = problem;
            ++reasks_;
            queue_.push_front(again);
            launch_calls();
            return;
          }
          if (problem != output_problem::none) {
            // Unusable even after the re-asks: the group's inputs stay.
            resolve(item, std::nullopt);
            return;
          }
          auto& inputs = inputs_of(item);
          v.record.chunks = merge_provenance(inputs);
          v.record.usage = call_usage;
          for (const auto& in : inputs)
            v.record.usage += in.usage;
          resolve(item, std::move(v.record));
        },
        [this, item](caf::error&) { resolve(item, std::nullopt); });
  }

  /// Records the outcome of one call.
  void resolve(call_item item, std::optional<record> out) {
    if (item.early) {
      auto& eg = early_[item.index];
      if (out) {
        // The output stands for the group from now on: the first round
        // only needs the inputs' total size.
        std::vector<record>{}.swap(eg.inputs);
      }
      eg.output = std::move(out);
      --early_open_;
      maybe_start();
      return;
    }
    round_outputs_[item.index] = std::move(out);
    if (--round_open_ == 0)
      end_round();
  }

  /// A collapse prompt was too long for the server: plan the next round
  /// with a smaller budget while it can still shrink.
  void shrink(const std::string& what) {
    auto next = shrink_after_overflow(budget_, what);
    if (next < min_payload_tokens || next >= budget_)
      return;
    budget_ = next;
    budget_changed_ = true;
  }

  // -- rounds -----------------------------------------------------------------

  void maybe_start() {
    if (!closed_ || started_ || early_open_ > 0)
      return;
    started_ = true;
    collapse_options opts;
    opts.budget = budget_;
    opts.max_rounds = ctx_->opts.max_collapse_rounds;
    // No planner filter: the calibrator selects between the rounds.
    planner_.emplace(opts, [this](const record& r) { return measure(r); });
    if (!early_.empty()) {
      start_after_early();
      return;
    }
    std::vector<record> all = std::move(held_);
    held_.clear();
    by_first_chunk(all);
    select(std::move(all), [this](std::vector<record> xs) {
      run_round(planner_->begin(std::move(xs)));
    });
  }

  /// Sorts `xs` into document order (records arrive in the order their
  /// chunks finished).
  static void by_first_chunk(std::vector<record>& xs) {
    std::stable_sort(xs.begin(), xs.end(),
                     [](const record& x, const record& y) {
                       auto a = x.chunks.empty() ? 0u : x.chunks.front();
                       auto b = y.chunks.empty() ? 0u : y.chunks.front();
                       return a < b;
                     });
  }

  /// Starts the first round after early collapse: the early groups are the
  /// first round's groups over the records they hold, because greedy
  /// packing restarted at a group boundary forms the boundaries packing
  /// from the start forms, and early collapse only ran while the held
  /// records alone exceeded the budget (so the first round runs). The
  /// early outputs take their groups' places; groups whose call failed, or
  /// oversized records, and the records held since are grouped as parts of
  /// their own. Only those records stay in memory, not every map record.
  void start_after_early() {
    by_first_chunk(held_);
    select(std::move(held_), [this](std::vector<record> tail) {
      held_.clear();
      std::vector<first_round_part> parts;
      std::vector<record> outputs;
      for (auto& eg : early_) {
        first_round_part p;
        if (eg.output) {
          p.collapsed = true;
          p.input_tokens = eg.input_tokens;
          outputs.push_back(std::move(*eg.output));
        } else {
          p.records = std::move(eg.inputs);
        }
        parts.push_back(std::move(p));
      }
      early_.clear();
      if (!tail.empty()) {
        first_round_part p;
        p.records = std::move(tail);
        parts.push_back(std::move(p));
      }
      auto groups = planner_->begin(std::move(parts));
      run_round(std::move(groups), std::move(outputs));
    });
  }

  /// Starts a round over `groups`. In the first round after early collapse,
  /// each empty group takes the next of `collapsed` (early outputs, in
  /// document order) instead of a call.
  void run_round(collapse_planner::round groups,
                 std::vector<record> collapsed = {}) {
    if (groups.empty()) {
      collapse_result res;
      res.records = planner_->take_records();
      res.rounds = planner_->rounds();
      res.fallback = planner_->fallback();
      res.fallback_note = planner_->note();
      res.losses = planner_->losses();
      res.reasks = reasks_;
      res.calls = calls_;
      res.usage = usage_;
      rp_.deliver(std::move(res));
      return;
    }
    report();
    round_groups_ = std::move(groups);
    round_outputs_.assign(round_groups_.size(), std::nullopt);
    round_open_ = 0;
    size_t next_collapsed = 0;
    for (size_t g = 0; g < round_groups_.size(); ++g) {
      if (round_groups_[g].empty() && next_collapsed < collapsed.size()) {
        round_outputs_[g] = std::move(collapsed[next_collapsed++]);
        continue;
      }
      ++round_open_;
      queue_.push_back(call_item{false, g});
    }
    if (round_open_ == 0) {
      end_round();
      return;
    }
    launch_calls();
  }

  void end_round() {
    if (budget_changed_) {
      planner_->set_budget(budget_);
      budget_changed_ = false;
    }
    auto merged = planner_->merge_round(std::move(round_outputs_));
    round_outputs_.clear();
    round_groups_.clear();
    select(std::move(merged), [this](std::vector<record> xs) {
      run_round(planner_->next_round(std::move(xs)));
    });
  }

  /// Asks the calibrator which records go on, then continues with `k`.
  template <class F>
  void select(std::vector<record> xs, F k) {
    request(ctx_->calibrator, ctx_->opts.call_timeout, select_atom::value,
            spec_.profile, std::move(xs))
      .then([k](std::vector<record>& kept) mutable { k(std::move(kept)); },
            [this](caf::error& err) {
              rp_.deliver(
                make_caf_error(request_error_kind(err),
                               "job " + std::to_string(id_)
                                 + ": collapse: the calibrator did not "
                                   "select: "
                                 + describe(err)));
            });
  }

  std::shared_ptr<const pipeline_context> ctx_;
  uint64_t id_;
  job_spec spec_;
  size_t budget_;
  collapse_observer_actor observer_;
  llm_gateway gw_;
  uint32_t window_;
  caf::typed_response_promise<collapse_result> rp_;
  bool closed_ = false;
  bool started_ = false;
  uint32_t calls_ = 0;
  uint32_t reasks_ = 0;
  bool budget_changed_ = false;
  usage usage_;
  std::deque<call_item> queue_;

  // Early collapse: records held (not yet grouped) and the early groups in
  // document order, each one record once its call succeeded.
  std::vector<record> held_;
  /// A group collapsed early: its inputs and, once its call succeeded, its
  /// output.
  struct early_group {
    /// Emptied once the output is there.
    std::vector<record> inputs;
    /// The sum of the inputs' sizes.
    size_t input_tokens = 0;
    std::optional<record> output;
  };
  std::vector<early_group> early_;
  size_t early_open_ = 0;

  // Rounds.
  std::optional<collapse_planner> planner_;
  collapse_planner::round round_groups_;
  std::vector<std::optional<record>> round_outputs_;
  size_t round_open_ = 0;
};

// -- reducer ------------------------------------------------------------------

class reducer_impl : public reducer_actor::base {
public:
  reducer_impl(caf::actor_config& cfg,
               std::shared_ptr<const pipeline_context> ctx, uint64_t job_id,
               job_spec spec)
    : reducer_actor::base(cfg), ctx_(std::move(ctx)), id_(job_id),
      spec_(std::move(spec)), gw_(this, ctx_->client) {
    // nop
  }

  behavior_type make_behavior() override {
    return gw_.behavior_with<behavior_type>(
      [this](reduce_atom, std::vector<record>& xs) {
        auto rp = make_response_promise<reduce_result>();
        if (xs.empty()) {
          // Nothing to reduce: no call, the profile's no-information answer,
          // flagged as such.
          reduce_result out;
          out.no_information = true;
          out.answer = std::string{labels_for(spec_.profile).no_information};
          out.status = record_status::ok;
          rp.deliver(std::move(out));
          return rp;
        }
        auto prompt = render_reduce_prompt(*ctx_->prompts, spec_, xs);
        if (!prompt) {
          rp.deliver(to_caf(prompt.error()));
          return rp;
        }
        pending_.push_back(rp);
        auto state = std::make_shared<reduce_state>();
        state->rp = rp;
        state->prompt = std::move(*prompt);
        attempt(state);
        return rp;
      },
      [this](reduce_prompt_atom, std::string& stage, std::string& prompt) {
        auto rp = make_response_promise<reduce_result>();
        pending_.push_back(rp);
        auto state = std::make_shared<reduce_state>();
        state->rp = rp;
        state->stage = std::move(stage);
        state->prompt = std::move(prompt);
        attempt(state);
        return rp;
      });
  }

  void on_exit() override {
    for (auto& rp : pending_)
      if (rp.pending())
        rp.deliver(
          make_caf_error(error_kind::cancelled, "job " + std::to_string(id_)
                                                  + ": the reducer stopped"));
  }

private:
  /// One reduce, over its attempts.
  struct reduce_state {
    caf::typed_response_promise<reduce_result> rp;
    /// The call's name in labels and errors.
    std::string stage = "reduce";
    std::string prompt;
    uint32_t calls = 0;
    uint32_t reasks = 0;
    output_problem problem = output_problem::none;
    usage spent;
  };
  using reduce_state_ptr = std::shared_ptr<reduce_state>;

  void attempt(const reduce_state_ptr& st) {
    auto prompt = st->reasks == 0
                    ? st->prompt
                    : corrective_prompt(spec_.profile, prompt_stage::reduce,
                                        st->problem, st->prompt);
    auto req = make_stage_request(
      *ctx_, spec_, prompt_stage::reduce, std::move(prompt),
      "job " + std::to_string(id_) + " " + st->stage
        + (st->reasks > 0 ? " (corrective re-ask)" : ""));
    ++st->calls;
    gw_.call(std::move(req), ctx_->opts.call_timeout,
             [this, st](expected<chat_reply> res) mutable {
               if (!res) {
                 st->rp.deliver(make_caf_error(
                   kind_of(res.error()),
                   "job " + std::to_string(id_) + ": the " + st->stage
                     + " call failed: " + describe(res.error())));
                 return;
               }
               st->spent += res->usage;
               on_reply(st, *res);
             });
  }

  /// What is wrong with a reduce output, if anything. On the last attempt a
  /// reply cut off after a complete answer field (another field followed it)
  /// is accepted, flagged as cut.
  static output_problem diagnose(const final_answer& fa, const chat_reply& rep,
                                 bool last, task_profile profile) {
    bool cut = rep.finish_reason == "length";
    if (ascii::trim(rep.text).empty())
      return cut ? output_problem::truncated : output_problem::empty;
    if (fa.status == record_status::unparsable)
      return cut ? output_problem::truncated : output_problem::unparsable;
    if (ascii::trim(fa.answer).empty())
      return cut ? output_problem::truncated : output_problem::missing_answer;
    if (!cut)
      return output_problem::none;
    if (!last)
      return output_problem::truncated;
    bool answer_closed = uses_scores(profile)
                           ? !fa.rationale.empty() || fa.has_confidence
                           : true;
    return answer_closed ? output_problem::none : output_problem::truncated;
  }

  void on_reply(const reduce_state_ptr& st, const chat_reply& rep) {
    auto fa = parse_final_answer(rep.text, spec_.profile);
    bool last = st->reasks >= spec_.reask_unparsable;
    auto problem = diagnose(fa, rep, last, spec_.profile);
    if (problem != output_problem::none && !last) {
      st->problem = problem;
      ++st->reasks;
      attempt(st);
      return;
    }
    if (problem != output_problem::none) {
      auto excerpt = std::string{ascii::trim(rep.text).substr(0, 160)};
      auto kind = problem == output_problem::truncated ? error_kind::truncated
                                                       : error_kind::unparsable;
      st->rp.deliver(make_caf_error(
        kind,
        "job " + std::to_string(id_) + ": the " + st->stage + " output was "
          + to_string(problem) + " after " + std::to_string(st->calls)
          + (st->calls == 1 ? " call" : " calls") + " (max_tokens "
          + std::to_string(reduce_reserved_output(spec_)) + "); last reply: "
          + (excerpt.empty() ? std::string{"(nothing)"}
                             : "\"" + excerpt + "\"")));
      return;
    }
    reduce_result out;
    out.answer = std::move(fa.answer);
    out.rationale = std::move(fa.rationale);
    out.confidence = uses_scores(spec_.profile) && fa.has_confidence
                       ? normalise_confidence(fa.confidence)
                       : 0.0;
    out.cut = rep.finish_reason == "length";
    if (out.cut)
      out.confidence = 0;
    out.status = out.cut ? record_status::truncated : fa.status;
    out.calls = st->calls;
    out.reasks = st->reasks;
    out.usage = st->spent;
    st->rp.deliver(std::move(out));
  }

  std::shared_ptr<const pipeline_context> ctx_;
  uint64_t id_;
  job_spec spec_;
  llm_gateway gw_;
  std::vector<caf::typed_response_promise<reduce_result>> pending_;
};

} // namespace

uint32_t collapse_window_of(const pipeline_options& opts,
                            size_t capacity) noexcept {
  if (opts.collapse_window != 0)
    return opts.collapse_window;
  if (capacity == 0)
    return std::max<uint32_t>(1, std::max<uint32_t>(1, opts.mappers)
                                   * opts.map_window);
  return static_cast<uint32_t>(
    std::min<uint64_t>(with_credit_headroom(capacity), UINT32_MAX));
}

calibrator_actor
spawn_calibrator(caf::actor_system& sys,
                 std::shared_ptr<const prompt_library> prompts) {
  return sys.spawn(calibrator_behavior, std::move(prompts));
}

collapser_actor spawn_collapser(caf::actor_system& sys,
                                std::shared_ptr<const pipeline_context> ctx,
                                uint64_t job_id, job_spec spec, size_t budget,
                                collapse_observer_actor observer) {
  return sys.spawn<collapser_impl>(std::move(ctx), job_id, std::move(spec),
                                   budget, std::move(observer));
}

reducer_actor spawn_reducer(caf::actor_system& sys,
                            std::shared_ptr<const pipeline_context> ctx,
                            uint64_t job_id, job_spec spec) {
  return sys.spawn<reducer_impl>(std::move(ctx), job_id, std::move(spec));
}

} // namespace llmmr

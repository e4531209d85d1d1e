// The chain runner: Chain-of-Agents workers, one chunk after another. The
// prompts, the notes' cleaning and the budget arithmetic live in core/
// (chain_protocol, budget, token_cut).

#include "llmmr/actors/chain_runner.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/actors/stage_request.hpp"
#include "llmmr/core/chain_protocol.hpp"
#include "llmmr/core/token_cut.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

class chain_runner_impl : public chain_runner_actor::base {
public:
  chain_runner_impl(caf::actor_config& cfg,
                    std::shared_ptr<const pipeline_context> ctx,
                    uint64_t job_id, job_spec spec, call_budget budget,
                    chain_sink_actor sink)
    : chain_runner_actor::base(cfg), ctx_(std::move(ctx)), id_(job_id),
      spec_(std::move(spec)), budget_(budget), sink_(std::move(sink)),
      gw_(this, ctx_->client),
      notes_(std::string{chain_initial_notes(spec_.profile)}) {
    // nop
  }

  behavior_type make_behavior() override {
    return gw_.behavior_with<behavior_type>(
      [this](chain_step_atom, chunk& c) {
        queue_.push_back(std::move(c));
        next();
      },
      [this](chain_notes_atom) {
        chain_notes out;
        out.text = notes_;
        out.chunks = contributors_;
        out.losses = losses_;
        return out;
      });
  }

private:
  /// One chunk's worker call, over its attempts.
  struct step_state {
    chunk c;
    std::string notes; // the notes this step was given (cut to fit)
    uint32_t calls = 0;
    uint32_t reasks = 0;
    output_problem problem = output_problem::none;
    usage spent;
  };
  using step_ptr = std::shared_ptr<step_state>;

  void next() {
    if (busy_ || queue_.empty())
      return;
    busy_ = true;
    auto st = std::make_shared<step_state>();
    st->c = std::move(queue_.front());
    queue_.pop_front();
    send(sink_, map_started_atom::value, st->c.index);
    // The chunk and the notes share B_chain + R: notes longer than what the
    // chunk leaves (our tokenizer may count more than the model's) are cut
    // from the end, and the cut is reported.
    uint64_t room_total
      = uint64_t{budget_.chain_chunk_payload} + budget_.chain_notes_tokens;
    uint64_t room = st->c.tokens < room_total ? room_total - st->c.tokens : 0;
    st->notes = notes_;
    auto have = ctx_->tok->count(st->notes);
    if (have > room) {
      auto keep
        = prefix_within(st->notes, static_cast<size_t>(room), *ctx_->tok);
      st->notes.resize(keep);
      losses_.push_back(
        evidence_loss{{st->c.index},
                      {},
                      0,
                      "chain: the notes passed to this chunk were cut from "
                        + std::to_string(have) + " to " + std::to_string(room)
                        + " tokens to fit the call"});
    }
    attempt(st);
  }

  void attempt(const step_ptr& st) {
    auto prompt
      = render_chain_step_prompt(*ctx_->prompts, spec_, st->notes, st->c.text);
    if (!prompt) {
      end_step(st, kind_of(prompt.error()),
               "chain worker prompt: " + describe(prompt.error()));
      return;
    }
    if (st->reasks > 0)
      *prompt = chain_corrective_prompt(spec_.profile, st->problem, *prompt);
    auto req = make_stage_request(
      *ctx_, spec_, prompt_stage::map, std::move(*prompt),
      "job " + std::to_string(id_) + " chain " + std::to_string(st->c.index)
        + (st->reasks > 0 ? " (corrective re-ask)" : ""));
    // Notes are free text: no schema.
    req.json_schema.clear();
    // Each step waits for the one before: the whole chain is critical path.
    req.priority = call_priority::collapse;
    ++st->calls;
    gw_.call(std::move(req), ctx_->opts.call_timeout,
             [this, st](expected<chat_reply> res) {
               if (!res) {
                 end_step(st, kind_of(res.error()),
                          "chain worker call: " + describe(res.error()));
                 return;
               }
               st->spent += res->usage;
               on_reply(st, *res);
             });
  }

  void on_reply(const step_ptr& st, const chat_reply& rep) {
    auto problem = diagnose_chain_notes(rep.text, rep.finish_reason);
    if (problem != output_problem::none) {
      if (st->reasks < spec_.reask_unparsable) {
        st->problem = problem;
        ++st->reasks;
        attempt(st);
        return;
      }
      end_step(
        st,
        problem == output_problem::truncated ? error_kind::truncated
                                             : error_kind::unparsable,
        "chain worker output " + to_string(problem) + " after "
          + std::to_string(st->reasks)
          + (st->reasks == 1 ? " corrective re-ask" : " corrective re-asks")
          + "; the chain went on with the previous notes");
      return;
    }
    notes_ = clean_chain_notes(rep.text);
    contributors_.push_back(st->c.index);
    if (rep.finish_reason == "length")
      losses_.push_back(evidence_loss{
        {st->c.index},
        {},
        0,
        "chain worker output cut at max_tokens; the notes passed on may be "
        "incomplete"});
    end_step(st, error_kind::none, {});
  }

  /// Reports the step's outcome and starts the next one.
  void end_step(const step_ptr& st, error_kind kind, std::string reason) {
    map_outcome out;
    out.job_id = id_;
    out.index = st->c.index;
    out.calls = st->calls;
    out.reasks = st->reasks;
    out.usage = st->spent;
    if (kind != error_kind::none) {
      out.failed = true;
      out.failure.index = st->c.index;
      out.failure.range = st->c.range;
      out.failure.kind = kind;
      out.failure.reason = std::move(reason);
    }
    send(sink_, chain_done_atom::value, std::move(out));
    busy_ = false;
    next();
  }

  std::shared_ptr<const pipeline_context> ctx_;
  uint64_t id_;
  job_spec spec_;
  call_budget budget_;
  chain_sink_actor sink_;
  llm_gateway gw_;
  std::string notes_;
  std::deque<chunk> queue_;
  bool busy_ = false;
  std::vector<uint32_t> contributors_;
  std::vector<evidence_loss> losses_;
};

} // namespace

chain_runner_actor
spawn_chain_runner(caf::actor_system& sys,
                   std::shared_ptr<const pipeline_context> ctx, uint64_t job_id,
                   job_spec spec, call_budget budget, chain_sink_actor sink) {
  return sys.spawn<chain_runner_impl>(std::move(ctx), job_id, std::move(spec),
                                      budget, std::move(sink));
}

} // namespace llmmr

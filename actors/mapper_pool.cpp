// The mapper pool and its mappers. The local mappers together take at most
// their map credit (the client's capacity plus headroom, see map_credit.hpp),
// each at most `map_window`; each worker node takes the capacity it
// advertises (or `worker_window`). The pool queues chunks per job and hands
// free slots to jobs in round-robin order, so that concurrent jobs share the
// mappers fairly; it reconnects worker nodes that went down. Also what a
// worker node serves.

#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/caf_error.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/core/network_address.hpp"
#include "llmmr/core/utf8.hpp"

#include <charconv>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "llmmr/actors/llm_gateway.hpp"
#include "llmmr/actors/map_credit.hpp"
#include "llmmr/actors/node_handshake.hpp"
#include "llmmr/actors/node_tls.hpp"
#include "llmmr/actors/stage_request.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/core/record_parser.hpp"
#include "llmmr/core/worker_policy.hpp"
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
  /// What was wrong with the last output, for the corrective re-ask.
  output_problem problem = output_problem::none;
};

/// The state of one chunk in a mapper.
struct map_work {
  map_task task;
  caf::response_promise rp;
  map_outcome out;
  std::deque<map_piece> todo;
  /// Set when the chunk's job ended; its calls carry it.
  cancellation_ptr cancel;

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
    pos = utf8::floor_boundary(text, mid);
  } else {
    ++pos; // keep the separator with the first half
  }
  if (pos == 0 || pos >= text.size())
    return {std::string{text}};
  return {std::string{text.substr(0, pos)}, std::string{text.substr(pos)}};
}

/// A mapper: a worker node's interface plus the outcomes of its own calls.
using mapper_actor = worker_actor::extend_with<llm_reply_actor>;

class mapper : public mapper_actor::base {
public:
  mapper(caf::actor_config& cfg, std::shared_ptr<const pipeline_context> ctx)
    : mapper_actor::base(cfg), ctx_(std::move(ctx)), gw_(this, ctx_->client) {
    // nop
  }

  behavior_type make_behavior() override {
    return gw_.behavior_with<behavior_type>(
      [this](map_atom, map_task& task) -> caf::result<map_outcome> {
        auto rp = make_response_promise();
        auto w = std::make_shared<map_work>(std::move(task), rp);
        auto& flag = jobs_[w->task.chunk.job_id];
        if (!flag.cancel)
          flag.cancel = make_cancellation();
        ++flag.works;
        w->cancel = flag.cancel;
        w->todo.push_back(map_piece{w->task.chunk.text, 0, 0});
        next(w);
        return rp;
      },
      [this](map_drop_atom, uint64_t job) {
        // The job ended: its calls in flight end now and no piece of its
        // chunks is sent again.
        auto i = jobs_.find(job);
        if (i == jobs_.end())
          return;
        auto flag = std::move(i->second.cancel);
        jobs_.erase(i);
        flag->cancel();
      });
  }

private:
  /// The per-job flag of the chunks this mapper is working on.
  struct job_flag {
    cancellation_ptr cancel;
    size_t works = 0;
  };

  /// Answers the chunk's request and forgets its job's flag with its last
  /// chunk.
  void deliver(const map_work_ptr& w) {
    w->rp.deliver(std::move(w->out));
    auto i = jobs_.find(w->task.chunk.job_id);
    if (i != jobs_.end() && i->second.cancel == w->cancel
        && --i->second.works == 0)
      jobs_.erase(i);
  }

  void fail(const map_work_ptr& w, error_kind kind, std::string reason) {
    w->out.records.clear();
    w->out.failed = true;
    w->out.failure.index = w->task.chunk.index;
    w->out.failure.range = w->task.chunk.range;
    w->out.failure.kind = kind;
    w->out.failure.reason = std::move(reason);
    deliver(w);
  }

  void next(const map_work_ptr& w) {
    if (w->todo.empty()) {
      deliver(w);
      return;
    }
    if (w->cancel->cancelled()) {
      fail(w, error_kind::cancelled,
           "job " + std::to_string(w->task.chunk.job_id)
             + " ended before chunk " + std::to_string(w->task.chunk.index)
             + " was mapped");
      return;
    }
    auto& piece = w->todo.front();
    auto prompt = render_map_prompt(*ctx_->prompts, w->task.spec, piece.text);
    if (!prompt) {
      fail(w, kind_of(prompt.error()), describe(prompt.error()));
      return;
    }
    if (piece.reasks > 0)
      *prompt = corrective_prompt(w->task.spec.profile, prompt_stage::map,
                                  piece.problem, *prompt);
    auto req = make_stage_request(
      *ctx_, w->task.spec, prompt_stage::map, std::move(*prompt),
      "job " + std::to_string(w->task.chunk.job_id) + " map "
        + std::to_string(w->task.chunk.index)
        + (piece.reasks > 0 ? " (corrective re-ask)" : ""));
    req.cancel = w->cancel;
    ++w->out.calls;
    gw_.call(std::move(req), [this, w](expected<chat_reply> res) {
      on_reply(w, std::move(res));
    });
  }

  void on_reply(const map_work_ptr& w, expected<chat_reply> res) {
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
    req.finish_reason = res->finish_reason;
    req.source_text = piece.text;
    auto asked = piece.reasks;
    auto limit = w->task.spec.reask_unparsable;
    req.reasks_left = asked < limit ? limit - asked : 0;
    request(ctx_->calibrator, ctx_->opts.call_timeout, calibrate_atom::value,
            std::move(req))
      .then(
        [this, w,
         finish = std::move(res->finish_reason)](calibration_verdict& v) {
          if (v.reask) {
            auto& front = w->todo.front();
            ++front.reasks;
            ++w->out.reasks;
            front.problem = diagnose_record(v.record, finish);
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
  std::map<uint64_t, job_flag> jobs_;
};

// -- pool ---------------------------------------------------------------------

/// Pool to itself: try to reconnect the worker node of slot
/// `(reconnect_atom, slot)`.
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;

/// Pool to itself: the wait for a node to come back, armed as
/// `(rejoin_wait_atom, epoch)`, is over.
using rejoin_wait_atom = caf::atom_constant<caf::atom("rejoinwait")>;

/// The pool's own interface: the mapper pool plus its timers.
using mapper_pool_impl_actor
  = mapper_pool_actor::extend<caf::reacts_to<reconnect_atom, uint64_t>,
                              caf::reacts_to<rejoin_wait_atom, uint64_t>>;

class mapper_pool : public mapper_pool_impl_actor::base {
public:
  mapper_pool(caf::actor_config& cfg,
              std::shared_ptr<const pipeline_context> ctx)
    : mapper_pool_impl_actor::base(cfg), ctx_(std::move(ctx)) {
    // nop
  }

  behavior_type make_behavior() override {
    for (uint32_t i = 0; i < ctx_->opts.mappers; ++i)
      slots_.push_back(
        slot{spawn<mapper, caf::linked>(ctx_), {}, ctx_->opts.map_window});
    for (const auto& w : ctx_->workers) {
      monitor(w.handle);
      slots_.push_back(slot{w.handle, w.name, remote_window(0)});
    }
    for (const auto& name : ctx_->opts.workers)
      connect(name, std::nullopt);
    set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
    return {
      [this](map_atom, map_task& task) -> caf::result<map_outcome> {
        // make_response_promise takes the sender out of the current message,
        // so read it first. It is told of starts with a plain message (a
        // coordinator, or a worker node's front).
        auto coordinator = caf::actor_cast<caf::actor>(current_sender());
        auto rp = make_response_promise();
        auto job = task.chunk.job_id;
        if (failed_jobs_.count(job) > 0) {
          // The job failed here already; its coordinator drops it soon.
          rp.deliver(cancelled(job, task.chunk.index));
          return rp;
        }
        queues_[job].push_back(
          queued{std::move(task), rp, std::move(coordinator), carried{}});
        serve();
        return rp;
      },
      [this](map_drop_atom, uint64_t job) {
        failed_jobs_.erase(job);
        drop(job);
      },
      [this](reconnect_atom, uint64_t sid) {
        if (sid < slots_.size() && slots_[sid].rejoining)
          connect(slots_[sid].worker, static_cast<size_t>(sid));
      },
      [this](rejoin_wait_atom, uint64_t epoch) {
        if (!rejoin_wait_armed_ || epoch != rejoin_epoch_)
          return;
        rejoin_wait_armed_ = false;
        if (!any_alive())
          fail_queued(true);
      },
    };
  }

private:
  using clock_type = std::chrono::steady_clock;

  /// What a chunk carries from nodes that gave it back.
  struct carried {
    /// The nodes that gave it back, with their calls and tokens.
    std::vector<node_stats> history;
    /// How often it was given back after a failure.
    uint32_t requeues = 0;
    /// Their calls and tokens, added to the final outcome.
    uint32_t calls = 0;
    usage spent;
  };

  /// A chunk waiting for a slot.
  struct queued {
    map_task task;
    caf::response_promise rp;
    caf::actor coordinator;
    carried before;
  };

  /// A local mapper or a worker node with its window.
  struct slot {
    worker_actor handle;
    /// "host:port" of a worker node; empty for a local mapper.
    std::string worker;
    uint32_t window = 0;
    uint32_t load = 0;
    bool alive = true;
    /// Chunks given back in a row.
    uint32_t given_back = 0;
    /// No chunk goes here before this while another node can take it.
    clock_type::time_point benched_until{};
    /// Connected by name (from `opts.workers`): reconnected when it goes
    /// down.
    bool reconnectable = false;
    /// Down and being reconnected.
    bool rejoining = false;
    /// Failed reconnection attempts since it went down.
    uint32_t attempts = 0;

    /// The node's name in `node_stats`.
    std::string name() const {
      return worker.empty() ? std::string{"local"} : worker;
    }
  };

  /// A chunk being mapped. Only chunks on a worker node keep their task, so
  /// that they can go back to the queue when the node dies.
  struct running {
    size_t slot = 0;
    uint64_t job = 0;
    uint32_t index = 0;
    byte_range range;
    caf::response_promise rp;
    caf::actor coordinator;
    map_task task;
    bool dropped = false;
    /// The job fails at its first failed chunk (max_failed_fraction 0).
    bool fail_fast = false;
    carried before;
  };

  static caf::error cancelled(uint64_t job, uint32_t index) {
    return make_caf_error(error_kind::cancelled,
                          "job " + std::to_string(job) + " ended before chunk "
                            + std::to_string(index) + " was mapped");
  }

  bool any_alive() const {
    for (const auto& s : slots_)
      if (s.alive)
        return true;
    return false;
  }

  /// The window of a worker node that advertises `capacity` chunks.
  uint32_t remote_window(uint32_t capacity) const {
    if (ctx_->opts.worker_window != 0)
      return ctx_->opts.worker_window;
    // A node that tells nothing gets what one local mapper may hold.
    return capacity != 0 ? capacity : ctx_->opts.map_window;
  }

  /// The chunks the local mappers may hold together now.
  uint32_t local_credit() const {
    return ctx_->opts.mappers > 0
             ? map_credit(ctx_->client->capacity(), ctx_->opts)
             : 0;
  }

  /// Returns the live slot with the most room, or -1 when all are full.
  /// The local mappers share `local_credit`; benched nodes only take chunks
  /// when every live node is benched.
  int free_slot(uint32_t local_credit) const {
    auto now = clock_type::now();
    bool all_benched = true;
    for (const auto& s : slots_)
      if (s.alive && s.benched_until <= now)
        all_benched = false;
    int best = -1;
    uint32_t best_room = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const auto& s = slots_[i];
      if (!s.alive || s.load >= s.window)
        continue;
      if (!all_benched && s.benched_until > now)
        continue;
      auto room = s.window - s.load;
      if (s.worker.empty()) {
        if (local_load_ >= local_credit)
          continue;
        room = std::min(room, local_credit - local_load_);
      }
      if (best < 0 || room > best_room) {
        best = static_cast<int>(i);
        best_room = room;
      }
    }
    return best;
  }

  /// Returns the queue of the job after the one served last (round-robin).
  std::map<uint64_t, std::deque<queued>>::iterator next_queue() {
    auto i = queues_.upper_bound(last_job_);
    if (i == queues_.end())
      i = queues_.begin();
    return i;
  }

  /// Connects to worker node `name` ("host:port") in the background; the
  /// node becomes a slot when it answers with llmmr's mapper interface.
  /// With `rejoin`, the node is the one of that slot, which went down: a
  /// failed attempt schedules the next one.
  void connect(const std::string& name, std::optional<size_t> rejoin) {
    auto address = parse_host_port(name);
    if (!address) {
      unusable(name, address.error().what());
      return;
    }
    auto host = std::move(address->host);
    auto port = address->port;
    if (!rejoin)
      ++connecting_;
    auto timeout = ctx_->opts.worker_connect_timeout;
    // With TLS, CAF's OpenSSL module makes the connection: it refuses a
    // worker whose certificate does not chain to workers.tls.ca_file.
    auto mm = uses_node_tls(system())
                ? system().openssl_manager().actor_handle()
                : system().middleman().actor_handle();
    request(mm, timeout, caf::connect_atom::value, std::move(host),
            static_cast<uint16_t>(port))
      .then(
        [this, name, rejoin](caf::node_id&, caf::strong_actor_ptr& ptr,
                             std::set<std::string>& ifs) {
          if (!ptr) {
            connect_failed(name, rejoin, "nothing is published on that port");
          } else if (ifs != system().message_types<worker_node_actor>()) {
            connect_failed(name, rejoin,
                           "it does not serve llmmr's worker interface (not an "
                           "`llmmr worker`, or one of another llmmr version)",
                           true);
          } else {
            // The interface was checked above: this is how a remote actor
            // gets its typed handle.
            greet(name, caf::actor_cast<worker_node_actor>(std::move(ptr)),
                  rejoin);
          }
        },
        [this, name, rejoin, timeout](caf::error& err) {
          if (err == caf::sec::request_timeout)
            connect_failed(name, rejoin,
                           "no connection after "
                             + std::to_string(timeout.count()) + " ms");
          else
            connect_failed(name, rejoin, connect_problem(err));
        });
  }

  /// A connection to `name` failed for `why`. A first connection makes the
  /// node unusable; a reconnection tries again later unless `final` (the
  /// node answers, but as something this pool cannot use).
  void connect_failed(const std::string& name, std::optional<size_t> rejoin,
                      const std::string& why, bool final = false) {
    if (!rejoin) {
      --connecting_;
      unusable(name, why);
    } else if (final) {
      slots_[*rejoin].rejoining = false;
      unusable(name, "it came back, but " + why + "; not reconnecting");
    } else {
      auto& s = slots_[*rejoin];
      ++s.attempts;
      logger()->debug("pipeline: worker {} not back yet (attempt {}): {}", name,
                      s.attempts, why);
      schedule_rejoin(*rejoin);
      return;
    }
    serve();
  }

  /// Schedules the next reconnection attempt of slot `sid`: the first after
  /// `worker_reconnect_backoff`, each further one after twice the wait of
  /// the one before, at most `worker_reconnect_max`.
  void schedule_rejoin(size_t sid) {
    auto& s = slots_[sid];
    auto base = ctx_->opts.worker_reconnect_backoff;
    if (!s.reconnectable || base.count() <= 0) {
      s.rejoining = false;
      return;
    }
    s.rejoining = true;
    auto limit = std::max(ctx_->opts.worker_reconnect_max, base);
    auto delay = base;
    for (uint32_t i = 0; i < s.attempts && delay < limit; ++i)
      delay *= 2;
    delay = std::min(delay, limit);
    delayed_send(this, delay, reconnect_atom::value, uint64_t{sid});
  }

  /// Explains a failed connect; with TLS, a closed connection is most often
  /// a refused handshake (CAF does not tell why).
  std::string connect_problem(const caf::error& err) {
    auto text = describe(err);
    if (uses_node_tls(system()))
      text += " (with TLS: the worker may not use TLS, or one side's "
              "certificate does not chain to the other side's "
              "workers.tls.ca_file)";
    else if (err == caf::sec::disconnect_during_handshake)
      text += " (the worker may require TLS: set workers.tls on this node)";
    return text;
  }

  /// Sends the handshake to worker node `name`, then asks for its capacity,
  /// and makes it a slot (or revives slot `rejoin`) when its protocol
  /// version and message types match this node's.
  void greet(const std::string& name, worker_node_actor node,
             std::optional<size_t> rejoin) {
    auto timeout = ctx_->opts.worker_connect_timeout;
    request(node, timeout, hello_atom::value, node_protocol_version,
            node_types_fingerprint(system()))
      .then(
        [this, name, node, rejoin, timeout](uint32_t version, uint64_t types) {
          auto problem
            = handshake_problem(system(), "worker " + name, version, types);
          if (!problem.empty()) {
            connect_failed(name, rejoin, problem, true);
            return;
          }
          request(node, timeout, capacity_atom::value)
            .then([this, name, node, rejoin](
                    uint32_t capacity) { join(name, node, rejoin, capacity); },
                  [this, name, rejoin](caf::error& err) {
                    connect_failed(name, rejoin,
                                   "no capacity after the handshake: "
                                     + describe(err));
                  });
        },
        [this, name, rejoin](caf::error& err) {
          connect_failed(name, rejoin, "handshake failed: " + describe(err));
        });
  }

  /// Makes the node that passed the handshake a slot, or revives slot
  /// `rejoin` with it, and serves the queues.
  void join(const std::string& name, const worker_node_actor& node,
            std::optional<size_t> rejoin, uint32_t capacity) {
    auto hdl = caf::actor_cast<worker_actor>(node);
    monitor(hdl);
    if (!rejoin) {
      --connecting_;
      slot s{hdl, name, remote_window(capacity)};
      s.reconnectable = true;
      slots_.push_back(std::move(s));
      logger()->info("pipeline: connected to worker {}{}, capacity {}", name,
                     uses_node_tls(system()) ? " (TLS)" : "", capacity);
    } else {
      auto& s = slots_[*rejoin];
      auto attempts = s.attempts;
      s.handle = hdl;
      s.window = remote_window(capacity);
      s.load = 0;
      s.alive = true;
      s.rejoining = false;
      s.attempts = 0;
      s.given_back = 0;
      s.benched_until = {};
      rejoin_wait_armed_ = false;
      logger()->info("pipeline: worker {} rejoined after {} attempt(s), "
                     "capacity {}",
                     name, attempts + 1, capacity);
    }
    serve();
  }

  /// Stops job `job` here: chunks in flight are not sent anywhere else, every
  /// mapper and worker node stops the job's calls and queued chunks end as
  /// cancelled.
  void drop(uint64_t job) {
    bool remote = false;
    for (auto& kv : in_flight_)
      if (kv.second.job == job) {
        kv.second.dropped = true;
        remote = remote || !slots_[kv.second.slot].worker.empty();
      }
    for (auto& s : slots_)
      if (s.alive && (s.worker.empty() || remote))
        send(s.handle, map_drop_atom::value, job);
    auto i = queues_.find(job);
    if (i == queues_.end())
      return;
    for (auto& q : i->second)
      q.rp.deliver(cancelled(job, q.task.chunk.index));
    queues_.erase(i);
  }

  /// Notes that worker node `name` cannot be used.
  void unusable(const std::string& name, const std::string& why) {
    logger()->warn("pipeline: cannot use worker {}: {}", name, why);
    problems_ += (problems_.empty() ? "" : "; ") + name + ": " + why;
  }

  /// Serves the queues; when no mapper is alive, lets them wait for nodes
  /// being connected or reconnected (the latter at most
  /// `worker_rejoin_wait`), or fails them when none can come.
  void serve() {
    if (any_alive()) {
      dispatch();
      return;
    }
    if (connecting_ > 0 || queues_.empty())
      return;
    bool rejoining = false;
    for (const auto& s : slots_)
      rejoining = rejoining || s.rejoining;
    if (rejoining && ctx_->opts.worker_rejoin_wait.count() > 0) {
      if (!rejoin_wait_armed_) {
        rejoin_wait_armed_ = true;
        delayed_send(this, ctx_->opts.worker_rejoin_wait,
                     rejoin_wait_atom::value, ++rejoin_epoch_);
      }
      return;
    }
    fail_queued();
  }

  /// Answers every queued chunk with a failure: no mapper is left (after
  /// waiting `worker_rejoin_wait` for a node to come back when
  /// `waited_for_rejoin`).
  void fail_queued(bool waited_for_rejoin = false) {
    bool never = true;
    for (const auto& s : slots_)
      never = never && s.worker.empty();
    for (auto& [job, q] : queues_)
      for (auto& item : q) {
        map_outcome out;
        out.job_id = job;
        out.index = item.task.chunk.index;
        out.failed = true;
        out.failure.index = out.index;
        out.failure.range = item.task.chunk.range;
        if (never) {
          out.failure.kind = error_kind::unreachable;
          out.failure.reason = "no worker node can be used and there are no "
                               "local mappers: "
                               + problems_;
        } else {
          out.failure.kind = error_kind::node_down;
          out.failure.reason = "no mapper left: every worker node is down";
          if (waited_for_rejoin)
            out.failure.reason
              += " and none came back within "
                 + std::to_string(ctx_->opts.worker_rejoin_wait.count())
                 + " ms";
        }
        item.rp.deliver(std::move(out));
      }
    queues_.clear();
  }

  void dispatch() {
    // Read once per pass: the client's capacity takes its decorators' locks.
    auto credit = local_credit();
    while (!queues_.empty()) {
      auto m = free_slot(credit);
      if (m < 0)
        return;
      auto qi = next_queue();
      auto job = qi->first;
      auto item = std::move(qi->second.front());
      qi->second.pop_front();
      if (qi->second.empty())
        queues_.erase(qi);
      last_job_ = job;
      auto sid = static_cast<size_t>(m);
      auto& s = slots_[sid];
      ++s.load;
      auto remote = !s.worker.empty();
      if (!remote)
        ++local_load_;
      auto key = next_key_++;
      auto& r = in_flight_[key];
      r.slot = sid;
      r.job = job;
      r.index = item.task.chunk.index;
      r.range = item.task.chunk.range;
      r.rp = item.rp;
      r.coordinator = item.coordinator;
      r.fail_fast = item.task.spec.max_failed_fraction <= 0;
      r.before = std::move(item.before);
      // The requester is not statically typed here (a coordinator or a
      // worker node's front), hence an anonymous note.
      if (item.coordinator)
        caf::anon_send(item.coordinator, map_started_atom::value, r.index);
      map_task task;
      if (remote) {
        r.task = item.task;
        task = std::move(item.task);
      } else {
        task = std::move(item.task);
      }
      auto timeout
        = remote ? ctx_->opts.worker_timeout : ctx_->opts.map_timeout;
      request(s.handle, timeout, map_atom::value, std::move(task))
        .then(
          [this, key](map_outcome& out) {
            auto i = in_flight_.find(key);
            if (i == in_flight_.end())
              return; // the worker died and the chunk went elsewhere
            release(i->second.slot);
            auto& s = slots_[i->second.slot];
            if (!s.worker.empty() && out.node_capacity != 0)
              s.window = remote_window(out.node_capacity);
            if (out.failed
                && give_back(i->second, out.failure, out.calls, out.usage)) {
              in_flight_.erase(i);
              dispatch();
              return;
            }
            finish(i, std::move(out));
            dispatch();
          },
          [this, key](caf::error& err) {
            auto i = in_flight_.find(key);
            if (i == in_flight_.end())
              return;
            auto& r = i->second;
            const auto& s = slots_[r.slot];
            map_outcome out;
            out.job_id = r.job;
            out.index = r.index;
            out.failed = true;
            out.failure.index = r.index;
            out.failure.range = r.range;
            out.failure.kind = err == caf::sec::request_timeout
                                 ? error_kind::timeout
                                 : kind_of(err);
            out.failure.reason
              = s.worker.empty() ? "mapper: " + describe(err) : describe(err);
            release(r.slot);
            if (give_back(r, out.failure, 0, usage{})) {
              in_flight_.erase(i);
              dispatch();
              return;
            }
            finish(i, std::move(out));
            dispatch();
          });
    }
  }

  /// A chunk of slot `sid` ended.
  void release(size_t sid) {
    auto& s = slots_[sid];
    if (s.load > 0)
      --s.load;
    if (s.worker.empty() && local_load_ > 0)
      --local_load_;
  }

  /// Whether a chunk that failed on a worker node with `kind` may succeed on
  /// another: the node's endpoint, credentials or link failed, not the
  /// chunk.
  static bool not_the_chunks_fault(error_kind kind) {
    // Transient errors, and the node's own credentials or link.
    return is_transient(kind) || kind == error_kind::tls
           || kind == error_kind::auth || kind == error_kind::quota;
  }

  /// Puts a chunk that failed on a worker node back in its job's queue for
  /// another node, if the failure was not the chunk's own, it has requeues
  /// left and another live node exists. Benches the node after
  /// `worker_bench_after` such chunks in a row.
  bool give_back(running& r, const chunk_failure& failure, uint32_t calls,
                 const usage& spent) {
    auto& s = slots_[r.slot];
    if (s.worker.empty() || r.dropped || !not_the_chunks_fault(failure.kind)
        || r.before.requeues >= ctx_->opts.worker_max_requeues)
      return false;
    bool other = false;
    for (size_t i = 0; i < slots_.size(); ++i)
      other = other || (i != r.slot && slots_[i].alive);
    if (!other)
      return false;
    node_stats ns;
    ns.node = s.name();
    ns.requeued = 1;
    ns.calls = calls;
    ns.tokens = spent.prompt_tokens + spent.completion_tokens;
    add_node_stats(r.before.history, ns);
    ++r.before.requeues;
    r.before.calls += calls;
    r.before.spent += spent;
    logger()->warn("pipeline: chunk {} of job {} failed on worker {} ({}: "
                   "{}); mapping it on another node",
                   r.index, r.job, s.worker, to_string(failure.kind),
                   failure.reason);
    if (++s.given_back >= ctx_->opts.worker_bench_after
        && s.benched_until <= clock_type::now()) {
      s.benched_until = clock_type::now() + ctx_->opts.worker_bench;
      s.given_back = 0;
      logger()->warn("pipeline: worker {} gave back {} chunks in a row; "
                     "benched for {} ms",
                     s.worker, ctx_->opts.worker_bench_after,
                     ctx_->opts.worker_bench.count());
    }
    queues_[r.job].push_front(queued{std::move(r.task), std::move(r.rp),
                                     std::move(r.coordinator),
                                     std::move(r.before)});
    return true;
  }

  /// Delivers the outcome of the chunk at `i` with the figures of every
  /// node that worked on it, and fails its job fast when it must.
  void finish(std::map<uint64_t, running>::iterator i, map_outcome out) {
    auto& r = i->second;
    auto& s = slots_[r.slot];
    if (!out.failed)
      s.given_back = 0;
    node_stats ns;
    ns.node = s.name();
    ns.chunks_mapped = out.failed ? 0 : 1;
    ns.failures = out.failed ? 1 : 0;
    ns.calls = out.calls;
    ns.tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    // A worker's own pool listed itself as "local": this pool knows better.
    out.nodes = std::move(r.before.history);
    add_node_stats(out.nodes, ns);
    out.calls += r.before.calls;
    out.usage += r.before.spent;
    if (out.failed && !s.worker.empty())
      out.failure.reason = "worker " + s.worker + ": " + out.failure.reason;
    auto job = r.job;
    bool stop = ctx_->decides_jobs && out.failed
                && (r.fail_fast || is_recurring(out.failure.kind));
    auto rp = std::move(r.rp);
    in_flight_.erase(i);
    rp.deliver(std::move(out));
    if (stop) {
      // Fail fast without waiting for the coordinator's drop: no further
      // chunk of the job goes out from here.
      failed_jobs_.insert(job);
      drop(job);
    }
  }

  /// A worker node went down: put its chunks back at the front of their
  /// jobs' queues (in their original order) and stop using it.
  void on_down(const caf::down_msg& dm) {
    size_t sid = slots_.size();
    for (size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i].worker.empty() && slots_[i].alive
          && slots_[i].handle.address() == dm.source)
        sid = i;
    if (sid == slots_.size())
      return;
    auto& s = slots_[sid];
    s.alive = false;
    s.load = 0;
    std::vector<running> back;
    for (auto i = in_flight_.begin(); i != in_flight_.end();) {
      if (i->second.slot == sid) {
        back.push_back(std::move(i->second));
        i = in_flight_.erase(i);
      } else {
        ++i;
      }
    }
    logger()->warn(
      "worker {} went down ({}); mapping its {} chunk(s) elsewhere", s.worker,
      to_string(dm.reason), back.size());
    // `back` is in dispatch order; push the last one first.
    for (auto i = back.rbegin(); i != back.rend(); ++i) {
      if (i->dropped) {
        i->rp.deliver(cancelled(i->job, i->index));
        continue;
      }
      node_stats ns;
      ns.node = s.name();
      ns.requeued = 1;
      add_node_stats(i->before.history, ns);
      queues_[i->job].push_front(queued{std::move(i->task), std::move(i->rp),
                                        std::move(i->coordinator),
                                        std::move(i->before)});
    }
    if (s.reconnectable) {
      s.attempts = 0;
      schedule_rejoin(sid);
    }
    serve();
  }

  std::shared_ptr<const pipeline_context> ctx_;
  std::vector<slot> slots_;
  std::map<uint64_t, std::deque<queued>> queues_;
  /// Chunks being mapped, by dispatch order.
  std::map<uint64_t, running> in_flight_;
  uint64_t next_key_ = 1;
  uint64_t last_job_ = 0;
  /// Jobs whose failure this pool saw before their coordinator's drop.
  std::set<uint64_t> failed_jobs_;
  /// Worker connections still being made.
  size_t connecting_ = 0;
  /// Chunks on the local mappers, against their shared map credit.
  uint32_t local_load_ = 0;
  /// Set while queued chunks wait for a node to come back.
  bool rejoin_wait_armed_ = false;
  /// Tells the current wait from earlier ones.
  uint64_t rejoin_epoch_ = 0;
  /// Why worker nodes could not be used, "host:port: reason; ...".
  std::string problems_;
};

// -- worker node --------------------------------------------------------------

/// A worker node's front: `worker_node_actor` (what it publishes) plus the
/// start notes of its own pool.
using worker_front_actor
  = worker_node_actor::extend<caf::reacts_to<map_started_atom, uint32_t>>;

/// What a worker node publishes (as a `worker_node_actor`): answers the
/// handshake, then hands each chunk its policy allows to the node's pool and
/// answers with its outcome. Pipelines number their jobs on their own, so
/// the front gives each (pipeline, job) pair a job id of this node, which a
/// `map_drop_atom` of that pipeline reaches.
class worker_front : public worker_front_actor::base {
public:
  /// Returns the node's capacity now (its map credit).
  using capacity_fn = std::function<uint32_t()>;

  worker_front(caf::actor_config& cfg, mapper_pool_actor pool,
               calibrator_actor calibrator, std::chrono::milliseconds timeout,
               worker_policy policy, capacity_fn capacity)
    : worker_front_actor::base(cfg), pool_(std::move(pool)),
      calibrator_(std::move(calibrator)), timeout_(timeout),
      policy_(std::move(policy)), capacity_(std::move(capacity)) {
    // nop
  }

  behavior_type make_behavior() override {
    link_to(pool_);
    link_to(calibrator_);
    set_down_handler([this](caf::down_msg& dm) {
      auto i = peers_.find(dm.source);
      if (i == peers_.end())
        return;
      // Nobody is left to receive the outcomes of its jobs: stop them.
      size_t dropped = 0;
      for (auto& [key, job] : jobs_)
        if (key.first == dm.source) {
          send(pool_, map_drop_atom::value, job.local);
          ++dropped;
        }
      logger()->info("worker: coordinator {} disconnected{}", i->second,
                     dropped == 0 ? std::string{}
                                  : "; dropping its " + std::to_string(dropped)
                                      + " job(s)");
      peers_.erase(i);
    });
    return {
      [this](hello_atom, uint32_t version,
             uint64_t types) -> caf::result<uint32_t, uint64_t> {
        auto sender = current_sender();
        auto rp = make_response_promise<uint32_t, uint64_t>();
        with_peer_name(
          sender, [this, rp, sender, version, types](std::string name) mutable {
            auto problem = handshake_problem(system(), "coordinator " + name,
                                             version, types);
            if (!problem.empty()) {
              logger()->warn("worker: refused the handshake: {}", problem);
              rp.deliver(make_caf_error(error_kind::policy, problem));
              return;
            }
            auto addr = caf::actor_cast<caf::actor_addr>(sender);
            if (peers_.count(addr) == 0)
              monitor(addr);
            peers_[addr] = name;
            logger()->info(
              "worker: coordinator {} connected ({})", name,
              uses_node_tls(system())
                ? "TLS; its certificate chains to workers.tls.ca_file"
                : "plain text, no authentication");
            rp.deliver(node_protocol_version, node_types_fingerprint(system()));
          });
        return rp;
      },
      [this](map_atom, map_task& task) -> caf::result<map_outcome> {
        auto addr = caf::actor_cast<caf::actor_addr>(current_sender());
        auto peer = peers_.find(addr);
        if (peer == peers_.end()) {
          logger()->warn("worker: refused chunk {} of job {} from a peer "
                         "without a handshake",
                         task.chunk.index, task.chunk.job_id);
          return make_caf_error(error_kind::policy,
                                "this worker maps chunks only for peers that "
                                "passed its handshake");
        }
        if (auto why = policy_refusal(policy_, task.spec); !why.empty())
          return refuse(peer->second, std::move(task), std::move(why));
        auto key = job_key{addr, task.chunk.job_id};
        auto& job = jobs_[key];
        if (job.local == 0)
          job.local = ++next_local_;
        ++job.chunks;
        auto remote_id = task.chunk.job_id;
        task.chunk.job_id = job.local;
        auto rp = make_response_promise();
        request(pool_, timeout_, map_atom::value, std::move(task))
          .then(
            [this, rp, key, remote_id](map_outcome& out) mutable {
              out.job_id = remote_id;
              out.node_capacity = capacity_();
              done(key);
              rp.deliver(std::move(out));
            },
            [this, rp, key](caf::error& err) mutable {
              done(key);
              rp.deliver(std::move(err));
            });
        return rp;
      },
      [this](map_drop_atom, uint64_t job) {
        auto addr = caf::actor_cast<caf::actor_addr>(current_sender());
        refused_.erase(job_key{addr, job});
        auto i = jobs_.find(job_key{addr, job});
        if (i != jobs_.end()) {
          logger()->info("worker: job {} of coordinator {} ended there; "
                         "dropping its {} chunk(s) here",
                         job, peer_name(addr), i->second.chunks);
          send(pool_, map_drop_atom::value, i->second.local);
        }
      },
      [this](capacity_atom) -> caf::result<uint32_t> {
        if (peers_.count(caf::actor_cast<caf::actor_addr>(current_sender()))
            == 0)
          return make_caf_error(error_kind::policy,
                                "this worker tells its capacity only to peers "
                                "that passed its handshake");
        return capacity_();
      },
      [](map_started_atom, uint32_t) {
        // The remote coordinator's pool tracks starts itself.
      },
    };
  }

private:
  using job_key = std::pair<caf::actor_addr, uint64_t>;

  struct local_job {
    uint64_t local = 0;
    size_t chunks = 0;
  };

  /// Answers a chunk outside the policy with a failure; logs the first
  /// refusal of each job.
  map_outcome refuse(const std::string& peer, map_task task, std::string why) {
    auto key = job_key{caf::actor_cast<caf::actor_addr>(current_sender()),
                       task.chunk.job_id};
    if (refused_.insert(key).second)
      logger()->warn("worker: refused job {} of coordinator {}: {}",
                     task.chunk.job_id, peer, why);
    map_outcome out;
    out.job_id = task.chunk.job_id;
    out.index = task.chunk.index;
    out.failed = true;
    out.failure.index = task.chunk.index;
    out.failure.range = task.chunk.range;
    out.failure.kind = error_kind::policy;
    out.failure.reason = "refused by the worker's policy: " + why;
    return out;
  }

  /// Calls `f` with "host:port" of the node `sender` lives on as the
  /// middleman sees its connection (CAF does not expose the peer's
  /// certificate), or a description of the node when that is unknown.
  template <class F>
  void with_peer_name(const caf::strong_actor_ptr& sender, F f) {
    if (!sender) {
      f(std::string{"(anonymous sender)"});
      return;
    }
    auto node = sender->node();
    if (node == system().node() || !system().has_middleman()) {
      f(std::string{"(this process)"});
      return;
    }
    request(system().middleman().actor_handle(), timeout_, caf::get_atom::value,
            node)
      .then(
        [f, node](caf::node_id&, std::string& host, uint16_t port) mutable {
          if (host.empty())
            f("node " + caf::to_string(node));
          else
            f(host + ":" + std::to_string(port));
        },
        [f, node](caf::error&) mutable { f("node " + caf::to_string(node)); });
  }

  /// The name of peer `addr` for logs.
  std::string peer_name(const caf::actor_addr& addr) const {
    auto i = peers_.find(addr);
    return i == peers_.end() ? std::string{"(unknown)"} : i->second;
  }

  void done(const job_key& key) {
    auto i = jobs_.find(key);
    if (i != jobs_.end() && --i->second.chunks == 0)
      jobs_.erase(i);
  }

  mapper_pool_actor pool_;
  calibrator_actor calibrator_;
  std::chrono::milliseconds timeout_;
  worker_policy policy_;
  capacity_fn capacity_;
  std::map<job_key, local_job> jobs_;
  uint64_t next_local_ = 0;
  /// Coordinators that passed the handshake, with their address.
  std::map<caf::actor_addr, std::string> peers_;
  /// Jobs whose refusal was logged.
  std::set<job_key> refused_;
};

} // namespace

mapper_pool_actor
spawn_mapper_pool(caf::actor_system& sys,
                  std::shared_ptr<const pipeline_context> ctx) {
  return sys.spawn<mapper_pool>(std::move(ctx));
}

expected<worker_node_actor>
spawn_worker_mappers(caf::actor_system& sys, pipeline_options opts,
                     std::shared_ptr<llm_client> client,
                     std::shared_ptr<const tokenizer> tok,
                     worker_policy policy) {
  if (opts.mappers == 0 || opts.map_window == 0)
    return make_error(error_kind::config,
                      "worker: mappers and map_window must be at least 1");
  if (!client || !tok)
    return make_error(error_kind::config,
                      "worker: an llm_client and a tokenizer are required");
  auto lib = prompt_library::load(opts.prompts_dir);
  if (!lib)
    return lib.error();
  opts.workers.clear();
  auto ctx = std::make_shared<pipeline_context>();
  ctx->opts = std::move(opts);
  ctx->client = std::move(client);
  ctx->tok = std::move(tok);
  ctx->prompts = std::make_shared<const prompt_library>(std::move(*lib));
  ctx->calibrator = spawn_calibrator(sys, ctx->prompts);
  ctx->decides_jobs = false;
  auto timeout = ctx->opts.map_timeout;
  auto calibrator = ctx->calibrator;
  // What the node advertises is what its own pool lets its mappers hold.
  auto capacity = [client = ctx->client, opts = ctx->opts] {
    return map_credit(client->capacity(), opts);
  };
  auto pool = spawn_mapper_pool(sys, std::move(ctx));
  auto front
    = sys.spawn<worker_front>(std::move(pool), std::move(calibrator), timeout,
                              std::move(policy), std::move(capacity));
  // The front's own start notes are not part of what it publishes.
  return worker_node_actor{std::move(front)};
}

} // namespace llmmr

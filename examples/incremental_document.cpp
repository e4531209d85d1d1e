// Feeds a document to the llmmr pipeline piece by piece, as it arrives (say,
// from a socket or an upload), and prints the job's progress events and its
// result. Each piece is sent only after the pipeline acknowledged the one
// before: the acks are held back while the pipeline's chunk window is full,
// so a fast producer is slowed down to the pace of the model and memory
// stays bounded.
//
// Usage: incremental_document [URL]
//   Without URL the example starts the simulator in this process on loopback
//   and checks the answer; with URL it asks that server.

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/core/haystack.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"

#include "example_backend.hpp"

namespace {

/// Sent to the waiting main thread: `(finished_atom, answer, ok)`.
using finished_atom = caf::atom_constant<caf::atom("finished")>;

/// Prints the progress events of the job it watches: every change of stage
/// and every 25 mapped chunks.
caf::behavior progress_logger(caf::event_based_actor*) {
  auto last_stage = std::make_shared<int>(-1);
  auto last_mapped = std::make_shared<uint32_t>(0);
  return {
    [last_stage, last_mapped](const llmmr::progress_event& ev) {
      auto stage = static_cast<int>(ev.stage);
      if (stage == *last_stage && ev.chunks_mapped < *last_mapped + 25)
        return;
      *last_stage = stage;
      *last_mapped = ev.chunks_mapped;
      std::printf("progress: %-10s %u/%u%s chunks mapped, %u failed, "
                  "collapse round %u, %llu tokens\n",
                  llmmr::to_string(ev.stage).c_str(), ev.chunks_mapped,
                  ev.chunks_total, ev.document_complete ? "" : "+",
                  ev.chunks_failed, ev.collapse_round,
                  static_cast<unsigned long long>(
                    ev.usage.prompt_tokens + ev.usage.completion_tokens));
    },
  };
}

/// Produces the document in pieces (here: generated paragraphs, one of them
/// holding the fact asked for) and sends each to the job once the previous
/// one was acknowledged.
class feeder : public caf::event_based_actor {
public:
  feeder(caf::actor_config& cfg, llmmr::pipeline_handle pipeline,
         caf::actor logger, caf::actor waiter)
    : caf::event_based_actor(cfg), pipeline_(std::move(pipeline)),
      logger_(std::move(logger)), waiter_(std::move(waiter)), filler_(2024) {
    // nop
  }

  caf::behavior make_behavior() override {
    llmmr::job_spec spec;
    spec.question = "What is the code name of the relay station?";
    spec.budget = 1536;
    request(pipeline_.actor, caf::infinite, llmmr::job_start_atom::value,
            std::move(spec))
      .then(
        [this](uint64_t id) {
          job_ = id;
          // Subscribe the logger; answered with true (ignored here). Use
          // request, not send: the answer must come back as a response.
          request(pipeline_.actor, caf::infinite, llmmr::job_watch_atom::value,
                  id, logger_)
            .then([](bool) {});
          next_piece();
        },
        [this](caf::error& err) { finish(err); });
    return {
      [](finished_atom) {
        // Nothing to do: the feeder reacts to the responses of its own
        // requests; this handler only keeps it alive.
      },
    };
  }

private:
  static constexpr size_t total_pieces = 40;

  void next_piece() {
    if (sent_ == total_pieces) {
      end_document();
      return;
    }
    // A piece of about two kilobytes; one of them carries the fact.
    std::string piece;
    while (piece.size() < 2048) {
      piece += filler_.next_paragraph();
      piece += "\n\n";
    }
    if (sent_ == 27)
      piece += "The code name of the relay station is Blue Heron.\n\n";
    ++sent_;
    request(pipeline_.actor, caf::infinite, llmmr::job_piece_atom::value, job_,
            std::move(piece))
      .then(
        [this](uint64_t bytes) {
          if (sent_ % 10 == 0)
            std::printf("fed %zu pieces, %llu bytes acknowledged\n", sent_,
                        static_cast<unsigned long long>(bytes));
          next_piece();
        },
        [this](caf::error& err) {
          await_result();
          (void)err;
        });
  }

  void end_document() {
    request(pipeline_.actor, caf::infinite, llmmr::job_end_atom::value, job_)
      .then(
        [this](uint32_t chunks) {
          std::printf("document complete: %u chunks\n", chunks);
          await_result();
        },
        [this](caf::error&) { await_result(); });
  }

  void await_result() {
    request(pipeline_.actor, caf::infinite, llmmr::job_result_atom::value, job_)
      .then(
        [this](llmmr::job_result& res) {
          request(pipeline_.actor, caf::infinite, llmmr::job_stats_atom::value,
                  job_)
            .then(
              [this, res](const llmmr::job_stats& st) {
                std::printf("high-water marks: %u chunks buffered, %u pieces "
                            "held, %u map calls in flight\n",
                            st.chunks_buffered_hwm, st.pieces_held_hwm,
                            st.map_in_flight_hwm);
                done(res);
              },
              [this, res](caf::error&) { done(res); });
        },
        [this](caf::error& err) { finish(err); });
  }

  void done(const llmmr::job_result& res) {
    std::printf("answer: %s (confidence %.1f, %u chunks, %u map calls, "
                "%u collapse rounds)\n",
                res.answer.c_str(), res.confidence, res.chunks, res.calls.map,
                res.collapse_rounds);
    send(waiter_, finished_atom::value, res.answer, true);
    quit();
  }

  void finish(const caf::error& err) {
    send(waiter_, finished_atom::value, llmmr::describe(err), false);
    quit();
  }

  llmmr::pipeline_handle pipeline_;
  caf::actor logger_;
  caf::actor waiter_;
  llmmr::filler_text filler_;
  uint64_t job_ = 0;
  size_t sent_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  llmmr::register_types(cfg);
  llmmr::sim::sim_options sim_opts;
  sim_opts.slots = 2;
  sim_opts.ttft_ms = 5; // a slow-ish model, so the acks visibly throttle input
  auto be = example::open_backend(argc, argv, sim_opts, 2);
  if (!be)
    return 1;
  // With the simulator the example knows the answers and checks them.
  bool checked = be->sim != nullptr;
  caf::actor_system sys{cfg};
  llmmr::pipeline_options popts;
  popts.mappers = 1;
  popts.map_window = 2;
  popts.chunk_window = 2;
  auto pipeline = example::open_pipeline(sys, popts, be->client);
  if (!pipeline)
    return 1;
  caf::scoped_actor self{sys};
  auto logger = sys.spawn(progress_logger);
  sys.spawn<feeder>(*pipeline, logger, caf::actor_cast<caf::actor>(self));
  int code = 1;
  self->receive([&](finished_atom, const std::string& text, bool ok) {
    if (!ok)
      std::fprintf(stderr, "the job failed: %s\n", text.c_str());
    else if (!checked || text.find("Blue Heron") != std::string::npos)
      code = 0;
    else
      std::fprintf(stderr, "unexpected answer: %s\n", text.c_str());
  });
  self->send_exit(logger, caf::exit_reason::user_shutdown);
  pipeline->stop();
  return code;
}

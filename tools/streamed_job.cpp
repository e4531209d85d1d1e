// Feeds a document into a job piece by piece and draws its progress.

#include "llmmr/tools/streamed_job.hpp"
#include "llmmr/actors/caf_error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/tools/human_format.hpp"

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

uint64_t micros_since(clock_type::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - t0)
      .count());
}

// -- progress printer ---------------------------------------------------------

using progress_tick_atom = caf::atom_constant<caf::atom("prog_tick")>;
using progress_done_atom = caf::atom_constant<caf::atom("prog_done")>;
using progress_bytes_atom = caf::atom_constant<caf::atom("prog_bytes")>;

/// Receives a job's progress events and draws them on stderr. Answers
/// `progress_done_atom` with the last event and quits.
class progress_printer : public caf::event_based_actor {
public:
  progress_printer(caf::actor_config& cfg, progress_mode mode,
                   uint64_t size_hint)
    : caf::event_based_actor(cfg), mode_(mode), size_hint_(size_hint) {
    // nop
  }

  caf::behavior make_behavior() override {
    started_ = clock_type::now();
    schedule_tick();
    return {
      [this](progress_event& ev) {
        bool changed = !have_ || ev.stage != last_.stage
                       || ev.collapse_round != last_.collapse_round;
        last_ = ev;
        have_ = true;
        dirty_ = true;
        if (changed)
          draw();
      },
      [this](progress_bytes_atom, uint64_t bytes) {
        bytes_acked_ = bytes;
        dirty_ = true;
      },
      [this](progress_tick_atom) {
        // Redraw on every tick, also without news: the elapsed time moves
        // and a quiet stage (a long reduce call) still shows signs of life.
        auto final_stage
          = last_.stage == job_stage::done || last_.stage == job_stage::failed;
        if (dirty_ || (have_ && !final_stage))
          draw();
        schedule_tick();
      },
      [this](progress_done_atom) {
        if (dirty_)
          draw();
        if (mode_ == progress_mode::bar && drawn_) {
          std::fputs("\n", stderr);
          std::fflush(stderr);
        }
        quit();
        return last_;
      },
    };
  }

private:
  void schedule_tick() {
    if (mode_ == progress_mode::none)
      return;
    auto period = mode_ == progress_mode::bar ? 200ms : 2000ms;
    delayed_send(caf::actor_cast<caf::actor>(this), period,
                 progress_tick_atom::value);
  }

  void draw() {
    dirty_ = false;
    if (mode_ == progress_mode::none || !have_)
      return;
    const auto& ev = last_;
    auto done = ev.chunks_mapped + ev.chunks_failed;
    // Before the chunk count is final, the share of the input consumed is
    // the better measure of progress.
    double fraction = 0;
    bool by_bytes = !ev.document_complete && size_hint_ > 0;
    if (ev.stage == job_stage::done)
      fraction = 1;
    else if (ev.document_complete && ev.chunks_total > 0)
      fraction = static_cast<double>(done) / ev.chunks_total;
    double read = 0;
    if (by_bytes)
      read = std::min(1.0, static_cast<double>(bytes_acked_)
                             / static_cast<double>(size_hint_));
    if (by_bytes && read > 0 && ev.chunks_total > 0) {
      // Extrapolate the final chunk count from the share already read.
      auto expected = static_cast<double>(ev.chunks_total) / read;
      fraction = std::min(1.0, static_cast<double>(done) / expected);
    }
    auto finished
      = ev.stage == job_stage::done || ev.stage == job_stage::failed;
    auto elapsed = finished ? ev.elapsed_us
                            : std::max(ev.elapsed_us, micros_since(started_));
    auto eta = ev.eta_us;
    if (eta == 0 && by_bytes && fraction > 0.01)
      eta = static_cast<uint64_t>(static_cast<double>(elapsed) * (1 - fraction)
                                  / fraction);
    std::string total = std::to_string(ev.chunks_total);
    if (!ev.document_complete)
      total += "+";
    std::string line;
    if (mode_ == progress_mode::bar) {
      constexpr size_t width = 24;
      auto filled = std::min(
        width, static_cast<size_t>(fraction * static_cast<double>(width)));
      line = "\r\x1b[K[" + std::string(filled, '#')
             + std::string(width - filled, '.') + "] " + to_string(ev.stage)
             + " " + std::to_string(ev.chunks_mapped) + "/" + total + " chunks";
      if (ev.chunks_failed > 0)
        line += " (" + std::to_string(ev.chunks_failed) + " failed)";
      if (ev.chunks_in_flight > 0)
        line += " | " + std::to_string(ev.chunks_in_flight) + " in flight";
      if (ev.collapse_round > 0)
        line += " | collapse round " + std::to_string(ev.collapse_round);
      line
        += " | "
           + format_count(ev.usage.prompt_tokens + ev.usage.completion_tokens)
           + " tok | " + format_duration(elapsed);
      if (by_bytes)
        line += " | " + std::to_string(static_cast<int>(read * 100)) + "% read";
      if (eta > 0)
        line += " | ETA " + format_duration(eta);
    } else {
      line = "llmmr: " + to_string(ev.stage) + ": "
             + std::to_string(ev.chunks_mapped) + "/" + total
             + " chunks mapped, " + std::to_string(ev.chunks_failed)
             + " failed";
      if (ev.chunks_in_flight > 0)
        line += ", " + std::to_string(ev.chunks_in_flight) + " in flight";
      if (ev.collapse_round > 0)
        line += ", collapse round " + std::to_string(ev.collapse_round);
      line
        += ", "
           + std::to_string(ev.usage.prompt_tokens + ev.usage.completion_tokens)
           + " tokens, " + format_duration(elapsed) + " elapsed";
      if (by_bytes)
        line += ", " + std::to_string(static_cast<int>(read * 100))
                + " % of the input read";
      if (eta > 0)
        line += ", ETA " + format_duration(eta);
      line += "\n";
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  progress_mode mode_;
  uint64_t size_hint_;
  clock_type::time_point started_;
  uint64_t bytes_acked_ = 0;
  progress_event last_;
  bool have_ = false;
  bool dirty_ = false;
  bool drawn_ = false;
};

} // namespace

// -- running a job ------------------------------------------------------------

progress_mode default_progress_mode() {
  return ::isatty(STDERR_FILENO) ? progress_mode::bar : progress_mode::lines;
}

job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source, progress_mode mode,
                             uint64_t size_hint) {
  auto printer = sys.spawn<progress_printer>(mode, size_hint);
  job_watchers watchers;
  watchers.progress = caf::actor_cast<caf::actor>(printer);
  watchers.on_ack = [&](uint64_t bytes) {
    caf::anon_send(printer, progress_bytes_atom::value, bytes);
  };
  auto res
    = llmmr::run_streamed_job(sys, pipeline, std::move(spec), source,
                              std::chrono::milliseconds::max(), watchers);
  job_outcome out;
  out.result = std::move(res.result);
  out.job_id = res.job_id;
  out.wall_us = res.wall_us;
  caf::scoped_actor self{sys};
  self->request(printer, caf::infinite, progress_done_atom::value)
    .receive([&](progress_event& ev) { out.last = std::move(ev); },
             [](caf::error&) {});
  return out;
}

} // namespace llmmr::cli

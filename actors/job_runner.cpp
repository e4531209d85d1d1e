#include "llmmr/actors/job_runner.hpp"

#include <algorithm>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "llmmr/actors/caf_error.hpp"

namespace llmmr {

document_source text_source(std::string_view text, size_t piece) {
  return [text, piece](const std::function<error(std::string_view)>& consume) {
    for (size_t pos = 0; pos < text.size(); pos += piece)
      if (auto err = consume(text.substr(pos, piece)))
        return err;
    return error{};
  };
}

namespace {

using clock_type = std::chrono::steady_clock;

/// The time left until `deadline` as a CAF request timeout.
caf::duration remaining(clock_type::time_point deadline, bool forever) {
  if (forever)
    return caf::infinite;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  return caf::duration{std::max(left, std::chrono::milliseconds{1})};
}

} // namespace

job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source,
                             std::chrono::milliseconds timeout,
                             const job_watchers& watchers) {
  job_outcome out;
  auto t0 = clock_type::now();
  bool forever = timeout == std::chrono::milliseconds::max();
  auto deadline = forever ? clock_type::time_point::max() : t0 + timeout;
  caf::scoped_actor self{sys};
  error err;
  bool timed_out = false;
  auto keep_error = [&](caf::error& x) {
    if (x == caf::sec::request_timeout) {
      timed_out = true;
      err
        = make_error(error_kind::timeout,
                     "job " + std::to_string(out.job_id) + " took longer than "
                       + std::to_string(timeout.count()) + " ms");
    } else if (!err) {
      err = from_caf(x);
    }
  };
  self
    ->request(pipeline.actor, remaining(deadline, forever),
              job_start_atom::value, std::move(spec))
    .receive([&](uint64_t id) { out.job_id = id; }, keep_error);
  if (err) {
    out.result = std::move(err);
    return out;
  }
  auto id = out.job_id;
  if (watchers.progress)
    self
      ->request(pipeline.actor, remaining(deadline, forever),
                job_watch_atom::value, id, watchers.progress)
      .receive([](bool) {}, keep_error);
  // Feed the document, one acknowledged piece at a time.
  bool job_refused = false;
  if (!err) {
    auto source_err = source([&](std::string_view piece) -> error {
      error piece_err;
      self
        ->request(pipeline.actor, remaining(deadline, forever),
                  job_piece_atom::value, id, std::string{piece})
        .receive(
          [&](uint64_t bytes) {
            if (watchers.on_ack)
              watchers.on_ack(bytes);
          },
          [&](caf::error& x) {
            if (x == caf::sec::request_timeout)
              keep_error(x);
            else
              piece_err = from_caf(x);
          });
      if (piece_err || timed_out)
        job_refused = !timed_out;
      return timed_out ? err : piece_err;
    });
    if (source_err && !job_refused && !err)
      err = std::move(source_err); // An unreadable file: the job cannot go on.
  }
  if (!err && !job_refused)
    self
      ->request(pipeline.actor, remaining(deadline, forever),
                job_end_atom::value, id)
      .receive([](uint32_t) {},
               [&](caf::error& x) {
                 // The job's own error arrives with its result.
                 if (x == caf::sec::request_timeout)
                   keep_error(x);
               });
  if (err) {
    // The input failed or the time is up: the job cannot go on.
    self
      ->request(pipeline.actor, std::chrono::seconds{10},
                job_cancel_atom::value, id)
      .receive([](bool) {}, [](caf::error&) {});
  }
  // The result (or the job's error, also when a piece was refused).
  if (!timed_out)
    self
      ->request(pipeline.actor, remaining(deadline, forever),
                job_result_atom::value, id)
      .receive([&](job_result& res) { out.result = std::move(res); },
               [&](caf::error& x) {
                 if (x == caf::sec::request_timeout) {
                   keep_error(x);
                   self->send(pipeline.actor, job_cancel_atom::value, id);
                 } else {
                   out.result = from_caf(x);
                 }
               });
  if (err)
    out.result = std::move(err);
  out.wall_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - t0)
      .count());
  return out;
}

expected<job_result> run_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             std::string document,
                             std::chrono::milliseconds timeout) {
  // The whole document in one piece, as a job_doc request would send it.
  auto piece = std::max<size_t>(1, document.size());
  return run_streamed_job(sys, pipeline, std::move(spec),
                          text_source(document, piece), timeout)
    .result;
}

} // namespace llmmr

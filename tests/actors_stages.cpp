// Deterministic tests of the pipeline's stage actors (chunker, calibrator,
// collapser, reducer), each driven through its typed interface on CAF's test
// coordinator with a scripted backend.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/calibrator_actor.hpp"
#include "llmmr/actors/chunker_actor.hpp"
#include "llmmr/actors/collapser_actor.hpp"
#include "llmmr/actors/pipeline_context.hpp"
#include "llmmr/actors/reducer_actor.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/calibration.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "deterministic_system.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

/// A map/collapse output in the labelled format of the built-in prompts.
std::string note_text(const std::string& info, const std::string& answer,
                      double confidence,
                      const std::string& rationale = "It says so.") {
  auto c = std::to_string(confidence);
  return "Extracted information: " + info + "\nRationale: " + rationale
         + "\nAnswer: " + answer
         + "\nConfidence score: " + c.substr(0, c.find('.') + 2) + "\n";
}

record make_record(uint32_t chunk, const std::string& info,
                   const std::string& answer = "Oslo", double conf = 3) {
  record r;
  r.chunks = {chunk};
  r.extracted = info;
  r.rationale = "The part names it.";
  r.answer = answer;
  r.confidence = conf;
  r.usage = {10, 5};
  return r;
}

/// Records of `n` chunks whose extracted information is about `bytes` long.
std::vector<record> clue_records(uint32_t n, size_t bytes = 120) {
  std::vector<record> out;
  for (uint32_t i = 0; i < n; ++i) {
    std::string info = "Clue " + std::to_string(i) + " points north to Oslo.";
    while (info.size() < bytes)
      info += " More detail about the route.";
    out.push_back(make_record(i, info));
  }
  return out;
}

struct fixture : llmmr::test::deterministic_system {
  std::shared_ptr<scripted_client> client;
  std::shared_ptr<const tokenizer> tok = std::make_shared<approx_tokenizer>();
  std::shared_ptr<pipeline_context> ctx;
  std::vector<caf::actor> spawned;

  explicit fixture(scripted_client::script model = {},
                   scripted_client::mode mode
                   = scripted_client::mode::synchronous,
                   pipeline_options opts = {}) {
    if (!model)
      model = [](const chat_request&) -> llmmr::expected<chat_reply> {
        return make_error(error_kind::bad_request, "no script");
      };
    client = std::make_shared<scripted_client>(std::move(model), mode);
    client->set_classifier(
      [](const chat_request& req) { return stage_of_label(req.label); });
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    ctx = std::make_shared<pipeline_context>();
    ctx->opts = opts;
    ctx->client = client;
    ctx->tok = tok;
    ctx->prompts = std::make_shared<const prompt_library>(std::move(*lib));
    ctx->calibrator = spawn_calibrator(*sys, ctx->prompts);
    keep(ctx->calibrator);
    run();
  }

  ~fixture() {
    for (auto& a : spawned)
      (*self)->send_exit(a, caf::exit_reason::user_shutdown);
    run();
    self.reset();
  }

  /// Ends `hdl` with the fixture.
  template <class Handle>
  Handle keep(Handle hdl) {
    spawned.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  /// Runs every actor until nothing is left to do; in deferred mode also
  /// completes every LLM call.
  void run() {
    for (;;) {
      sched->run();
      if (client->pending() == 0)
        return;
      client->complete_all();
    }
  }

  template <class Handle, class... Ts>
  auto request(const Handle& dest, Ts&&... xs) {
    return request_to(dest, std::forward<Ts>(xs)...);
  }

  template <class T, class Handle, class... Ts>
  llmmr::expected<T> ask(const Handle& dest, Ts&&... xs) {
    auto rh = request(dest, std::forward<Ts>(xs)...);
    run();
    return read<T>(rh);
  }

  job_spec spec(task_profile profile = task_profile::qa) {
    job_spec s;
    s.question = "Where is the treasure?";
    s.profile = profile;
    return s;
  }

  /// The tokens `xs` take together in a collapse prompt.
  size_t measure(const std::vector<record>& xs, task_profile profile) const {
    size_t n = 0;
    for (auto& r : xs)
      n += tok->count(render_record(profile, r)) + 2;
    return n;
  }
};

/// Collects what a chunker actor sends to its sink.
struct sink_log {
  std::vector<chunk_batch> batches;
  std::vector<chunk> chunks;
  bool complete = false;
};

chunk_sink_actor spawn_sink(fixture& fx, std::shared_ptr<sink_log> log) {
  return fx.keep(fx.sys->spawn([log]() -> chunk_sink_actor::behavior_type {
    return {
      [log](chunks_atom, chunk_batch& b) {
        for (auto& c : b.chunks)
          log->chunks.push_back(c);
        log->complete = log->complete || b.complete;
        log->batches.push_back(std::move(b));
      },
    };
  }));
}

/// Collects a collapser's progress reports.
collapse_observer_actor
spawn_observer(fixture& fx,
               std::shared_ptr<std::vector<collapse_progress>> log) {
  return fx.keep(
    fx.sys->spawn([log]() -> collapse_observer_actor::behavior_type {
      return {
        [log](collapse_prog_atom, collapse_progress& p) { log->push_back(p); },
      };
    }));
}

std::string filler(size_t lines) {
  std::string out;
  for (size_t i = 0; i < lines; ++i)
    out += "Line " + std::to_string(i)
           + " of the filler text talks about the weather and nothing else.\n";
  return out;
}

} // namespace

TEST_SUITE("actors") {

  // -- calibrator -------------------------------------------------------------

  TEST_CASE("calibrator actor: retrieval rule against the source text") {
    fixture fx;
    auto cal = fx.ctx->calibrator;
    calibration_request req;
    req.profile = task_profile::retrieval;
    req.record = make_record(0, "The code is K-7731.", "K-7731", 5);
    req.finish_reason = "stop";
    req.source_text = "... the access code is K-7731, keep it safe ...";
    auto literal = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(literal);
    CHECK(literal->record.confidence == 5);
    CHECK_FALSE(literal->reask);
    // Not a literal copy of the text: capped below 5.
    req.source_text = "... the access code is hidden somewhere ...";
    auto guessed = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(guessed);
    CHECK(guessed->record.confidence == retrieval_nonliteral_cap);
    // Scores are normalised to 0-5 in halves.
    req.profile = task_profile::qa;
    req.record.confidence = 7.3;
    auto clamped = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(clamped);
    CHECK(clamped->record.confidence == 5);
  }

  TEST_CASE("calibrator actor: truncated and unparsable outputs") {
    fixture fx;
    auto cal = fx.ctx->calibrator;
    calibration_request req;
    req.profile = task_profile::qa;
    // Cut before any usable field.
    req.record = make_record(0, "", "", 4);
    req.record.raw = "Extracted inform";
    req.finish_reason = "length";
    req.reasks_left = 1;
    auto cut = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(cut);
    CHECK(cut->record.status == record_status::truncated);
    CHECK(cut->record.confidence == 0);
    CHECK(cut->reask);
    // No re-ask left: the record is kept as it is.
    req.reasks_left = 0;
    auto kept = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(kept);
    CHECK(kept->record.status == record_status::truncated);
    CHECK_FALSE(kept->reask);
    req.record = record{};
    req.record.status = record_status::unparsable;
    req.record.confidence = 3;
    req.finish_reason = "stop";
    req.reasks_left = 2;
    auto junk = fx.ask<calibration_verdict>(cal, calibrate_atom::value, req);
    REQUIRE(junk);
    CHECK(junk->record.confidence == 0);
    CHECK(junk->reask);
  }

  TEST_CASE("calibrator actor: selection by field and the 5-point rule") {
    fixture fx;
    auto cal = fx.ctx->calibrator;
    std::vector<record> xs{
      make_record(0, "a", "K-1", 5), make_record(1, "b", "K-2", 4),
      make_record(2, "c", "", 0), make_record(3, "d", "K-3", 5)};
    xs[2].no_information = true;
    xs[2].extracted = "Nothing relevant.";
    // The rationale mentions "no information", the answer field does not.
    xs[1].rationale = "Other parts have no information, this one does.";
    auto ret = fx.ask<std::vector<record>>(cal, select_atom::value,
                                           task_profile::retrieval, xs);
    REQUIRE(ret);
    REQUIRE(ret->size() == 2);
    CHECK(ret->at(0).chunks == std::vector<uint32_t>{0});
    CHECK(ret->at(1).chunks == std::vector<uint32_t>{3});
    auto qa = fx.ask<std::vector<record>>(cal, select_atom::value,
                                          task_profile::qa, xs);
    REQUIRE(qa);
    REQUIRE(qa->size() == 3);
    CHECK(qa->at(1).chunks == std::vector<uint32_t>{1});
    // A no-information record with extracted facts is evidence: it stays.
    xs[2].extracted = "The vault is in Oslo.";
    auto with_evidence = fx.ask<std::vector<record>>(cal, select_atom::value,
                                                     task_profile::qa, xs);
    REQUIRE(with_evidence);
    REQUIRE(with_evidence->size() == 4);
    CHECK(with_evidence->at(2).kind == record_kind::evidence);
    // The rubric comes from the pipeline's prompt library.
    auto rubric
      = fx.ask<std::string>(cal, rubric_atom::value, task_profile::qa);
    REQUIRE(rubric);
    CHECK_FALSE(rubric->empty());
    CHECK(*rubric == fx.ctx->prompts->rubric(task_profile::qa));
  }

  // -- chunker ----------------------------------------------------------------

  TEST_CASE("chunker actor: acks wait for credit when the window is full") {
    fixture fx;
    auto log = std::make_shared<sink_log>();
    chunker_options opts;
    opts.budget = 100;
    opts.job_id = 7;
    uint32_t window = 3;
    auto ch = fx.keep(
      spawn_chunker(*fx.sys, fx.tok, opts, window, spawn_sink(fx, log)));
    auto doc = filler(400);
    auto ack = fx.request(ch, job_piece_atom::value, doc);
    fx.run();
    CHECK_FALSE(fx.has_reply()); // held back: the window is full
    REQUIRE_FALSE(log->chunks.empty());
    CHECK(log->chunks.size() <= 2 * window);
    for (size_t i = 0; i < log->chunks.size(); ++i) {
      CHECK(log->chunks[i].index == i);
      CHECK(log->chunks[i].job_id == 7);
    }
    // Returning credit releases more chunks, one window at a time.
    size_t credited = 0;
    while (!fx.has_reply()) {
      REQUIRE(credited < log->chunks.size());
      auto before = log->chunks.size();
      for (; credited < before; ++credited)
        (*fx.self)->send(ch, chunk_credit_atom::value,
                         log->chunks[credited].index);
      fx.run();
      CHECK(log->chunks.size() - credited <= 2 * window);
    }
    auto bytes = fx.read<uint64_t>(ack);
    REQUIRE(bytes);
    CHECK(*bytes == doc.size());
    CHECK_FALSE(log->complete);
    auto end = fx.ask<uint32_t>(ch, job_end_atom::value);
    REQUIRE(end);
    CHECK(log->complete);
    CHECK(*end == log->chunks.size());
    CHECK(log->chunks.size() > 10 * window);
    // The chunks cover the document in order, without gaps.
    std::string joined;
    for (auto& c : log->chunks)
      joined += c.text;
    CHECK(joined == doc);
    auto& st = log->batches.back().stats;
    CHECK(st.bytes_received == doc.size());
    CHECK(st.pieces_held_hwm == 1);
    CHECK(st.chunks_buffered_hwm <= 2 * window);
    CHECK(st.bytes_buffered_hwm < doc.size() / 4);
    // Nothing is accepted after the end.
    auto late = fx.ask<uint64_t>(ch, job_piece_atom::value, std::string{"x"});
    REQUIRE_FALSE(late);
    CHECK(kind_of(late.error()) == error_kind::usage);
  }

  TEST_CASE("chunker actor: an exit answers held acks with its reason") {
    fixture fx;
    auto log = std::make_shared<sink_log>();
    chunker_options opts;
    opts.budget = 100;
    auto ch
      = fx.keep(spawn_chunker(*fx.sys, fx.tok, opts, 2, spawn_sink(fx, log)));
    auto ack = fx.request(ch, job_piece_atom::value, filler(200));
    auto end = fx.request(ch, job_end_atom::value);
    fx.run();
    CHECK_FALSE(fx.has_reply());
    (*fx.self)->send_exit(ch,
                          make_caf_error(error_kind::cancelled, "job gone"));
    fx.run();
    auto a = fx.read<uint64_t>(ack);
    REQUIRE_FALSE(a);
    CHECK(kind_of(a.error()) == error_kind::cancelled);
    auto e = fx.read<uint32_t>(end);
    REQUIRE_FALSE(e);
    CHECK(describe(e.error()).find("job gone") != std::string::npos);
  }

  // -- collapser --------------------------------------------------------------

  TEST_CASE("collapser actor: rounds until the records fit, provenance kept") {
    fixture fx{[](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply(
        note_text("Clues point to Oslo.", "Oslo", 4));
    }};
    auto progress = std::make_shared<std::vector<collapse_progress>>();
    auto xs = clue_records(12);
    auto spec = fx.spec();
    size_t budget = fx.measure(xs, spec.profile) / 4;
    auto col = fx.keep(spawn_collapser(*fx.sys, fx.ctx, 3, spec, budget,
                                       spawn_observer(fx, progress)));
    auto res = fx.ask<collapse_result>(col, collapse_atom::value, xs);
    REQUIRE(res);
    CHECK_FALSE(res->fallback);
    CHECK(res->fallback_note.empty());
    CHECK(res->rounds >= 1);
    CHECK(res->calls >= 2);
    CHECK(res->calls == fx.client->calls());
    CHECK(res->usage.prompt_tokens > 0);
    CHECK(fx.measure(res->records, spec.profile) <= budget);
    std::set<uint32_t> covered;
    for (auto& r : res->records)
      covered.insert(r.chunks.begin(), r.chunks.end());
    CHECK(covered.size() == 12);
    for (auto& req : fx.client->requests())
      CHECK(req.label.rfind("job 3 collapse ", 0) == 0);
    REQUIRE_FALSE(progress->empty());
    CHECK(progress->back().round == res->rounds);
    // A second request is refused.
    auto again = fx.ask<collapse_result>(col, collapse_atom::value,
                                         std::vector<record>{});
    REQUIRE_FALSE(again);
    CHECK(kind_of(again.error()) == error_kind::usage);
  }

  TEST_CASE("collapser actor: never-shrinking outputs end in the fallback") {
    fixture fx{[](const chat_request& req) -> llmmr::expected<chat_reply> {
      // As many words as the whole prompt: never smaller than the inputs.
      auto& prompt = scripted_client::prompt_of(req);
      std::string info;
      while (info.size() < prompt.size())
        info += "more words ";
      return scripted_client::reply(note_text(info, "Oslo", 3));
    }};
    auto xs = clue_records(10);
    auto spec = fx.spec();
    size_t budget = fx.measure(xs, spec.profile) / 3;
    auto col = fx.keep(spawn_collapser(*fx.sys, fx.ctx, 1, spec, budget, {}));
    auto res = fx.ask<collapse_result>(col, collapse_atom::value, xs);
    REQUIRE(res);
    CHECK(res->fallback);
    CHECK(res->fallback_note.find("did not shrink") != std::string::npos);
    CHECK(res->rounds <= fx.ctx->opts.max_collapse_rounds);
    CHECK_FALSE(res->records.empty());
    CHECK(fx.measure(res->records, spec.profile) <= budget);
  }

  TEST_CASE("collapser actor: early groups and the collapse window") {
    pipeline_options opts;
    opts.collapse_window = 2;
    fixture fx{[](const chat_request&) -> llmmr::expected<chat_reply> {
                 return scripted_client::reply(
                   note_text("Clues point to Oslo.", "Oslo", 4));
               },
               scripted_client::mode::deferred, opts};
    auto xs = clue_records(24);
    auto spec = fx.spec();
    spec.early_collapse = true;
    size_t budget = fx.measure(xs, spec.profile) / 6;
    auto col = fx.keep(spawn_collapser(*fx.sys, fx.ctx, 5, spec, budget, {}));
    // The first 16 records arrive while "mapping" goes on: full groups are
    // collapsed at once, never more than two calls at a time.
    std::vector<record> head(xs.begin(), xs.begin() + 16);
    (*fx.self)->send(col, collapse_add_atom::value, head);
    fx.sched->run();
    CHECK(fx.client->calls() > 0);
    auto early_calls = fx.client->calls();
    size_t max_seen = 0;
    while (fx.client->pending() > 0) {
      max_seen = std::max(max_seen, fx.client->outstanding());
      fx.client->complete(1);
      fx.sched->run();
    }
    CHECK(max_seen <= 2);
    CHECK(fx.client->calls() >= early_calls);
    for (auto& req : fx.client->requests())
      CHECK(req.label == "job 5 collapse 1");
    std::vector<record> tail(xs.begin() + 16, xs.end());
    auto rh = fx.request(col, collapse_atom::value, tail);
    for (int guard = 0; guard < 10000 && !fx.has_reply(); ++guard) {
      fx.sched->run();
      max_seen = std::max(max_seen, fx.client->outstanding());
      fx.client->complete(1);
    }
    auto res = fx.read<collapse_result>(rh);
    REQUIRE(res);
    CHECK(fx.client->max_in_flight() <= 2);
    CHECK(res->calls == fx.client->calls());
    CHECK(fx.measure(res->records, spec.profile) <= budget);
    std::set<uint32_t> covered;
    for (auto& r : res->records)
      covered.insert(r.chunks.begin(), r.chunks.end());
    CHECK(covered.size() == 24);
    CHECK(std::is_sorted(res->records.begin(), res->records.end(),
                         [](const record& a, const record& b) {
                           return a.chunks.front() < b.chunks.front();
                         }));
  }

  // -- reducer ----------------------------------------------------------------

  TEST_CASE("reducer actor: a clean answer from the reduce call") {
    fixture fx{[](const chat_request& req) -> llmmr::expected<chat_reply> {
      CHECK(req.label == "job 9 reduce");
      CHECK(scripted_client::prompt_of(req).find("Clue 1 points")
            != std::string::npos);
      return scripted_client::reply("Rationale: two clues agree.\n"
                                    "Answer: **Oslo.**\n"
                                    "Confidence score: 4/5\n");
    }};
    auto red = fx.keep(spawn_reducer(*fx.sys, fx.ctx, 9, fx.spec()));
    auto res = fx.ask<reduce_result>(red, reduce_atom::value, clue_records(2));
    REQUIRE(res);
    CHECK(res->answer.find("Oslo") == 0);
    CHECK(res->answer.find("**") == std::string::npos);
    CHECK(res->answer.find("Confidence") == std::string::npos);
    CHECK(res->rationale == "two clues agree.");
    CHECK(res->confidence == 4);
    CHECK(res->calls == 1);
    CHECK(res->usage.prompt_tokens > 0);
  }

  TEST_CASE("reducer actor: a truncated answer has confidence 0") {
    fixture fx{[](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply("Rationale: both clues.\nAnswer: Oslo\n"
                                    "Confidence score: 5",
                                    "length");
    }};
    auto red = fx.keep(spawn_reducer(*fx.sys, fx.ctx, 1, fx.spec()));
    auto res = fx.ask<reduce_result>(red, reduce_atom::value, clue_records(1));
    REQUIRE(res);
    CHECK(res->answer == "Oslo");
    CHECK(res->confidence == 0);
  }

  TEST_CASE("reducer actor: failed and timed-out calls are errors") {
    SUBCASE("the call fails") {
      fixture fx{[](const chat_request&) -> llmmr::expected<chat_reply> {
        return make_error(error_kind::server_error, "scripted 503");
      }};
      auto red = fx.keep(spawn_reducer(*fx.sys, fx.ctx, 4, fx.spec()));
      auto res
        = fx.ask<reduce_result>(red, reduce_atom::value, clue_records(1));
      REQUIRE_FALSE(res);
      CHECK(kind_of(res.error()) == error_kind::server_error);
      auto text = describe(res.error());
      CHECK(text.find("job 4: the reduce call failed") != std::string::npos);
      CHECK(text.find("scripted 503") != std::string::npos);
    }
    SUBCASE("the call never comes back") {
      pipeline_options opts;
      opts.call_timeout = 5s;
      fixture fx{[](const chat_request&) -> llmmr::expected<chat_reply> {
                   return scripted_client::reply("Answer: late");
                 },
                 scripted_client::mode::deferred, opts};
      auto red = fx.keep(spawn_reducer(*fx.sys, fx.ctx, 4, fx.spec()));
      auto rh = fx.request(red, reduce_atom::value, clue_records(1));
      fx.sched->run();
      CHECK(fx.client->pending() == 1);
      CHECK_FALSE(fx.has_reply());
      fx.sched->advance_time(6s);
      fx.sched->run();
      auto res = fx.read<reduce_result>(rh);
      REQUIRE_FALSE(res);
      CHECK(kind_of(res.error()) == error_kind::timeout);
      // The late reply is ignored.
      fx.client->complete_all();
      fx.sched->run();
    }
  }

} // TEST_SUITE

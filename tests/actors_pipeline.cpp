// Deterministic tests of the pipeline's actors: CAF's test coordinator runs
// every actor on the test's thread, and a scripted backend answers the LLM
// calls (at once or when the test completes them).

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/actors/job_runner.hpp"
#include "llmmr/actors/map_credit.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "pipeline_fixture.hpp"

using namespace llmmr;
using namespace std::chrono_literals;

namespace {

// -- a scripted model ---------------------------------------------------------

// Documents carry facts as markers
// `@@answer|confidence|information|rationale@@` (rationale optional);
// `@@FAIL@@` makes every map call of its chunk fail. The scripted model answers
// a map call with the first marker in the chunk (or "No information"), a
// collapse call with the highest-scored note of the group (its information
// joined with the others'), and a reduce call with the highest-scored note.

struct note {
  std::string info;
  std::string rationale;
  std::string answer;
  double confidence = 0;
};

std::string render_note(const note& n) {
  std::string out;
  out += "Extracted information: " + n.info + "\n";
  out += "Rationale: " + n.rationale + "\n";
  out += "Answer: " + n.answer + "\n";
  auto c = std::to_string(n.confidence);
  out += "Confidence score: " + c.substr(0, c.find('.') + 2) + "\n";
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    auto next = s.find(sep, pos);
    out.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos)
      return out;
    pos = next + 1;
  }
}

std::optional<note> first_marker(const std::string& text) {
  auto b = text.find("@@");
  if (b == std::string::npos)
    return std::nullopt;
  auto e = text.find("@@", b + 2);
  if (e == std::string::npos)
    return std::nullopt;
  auto fields = split(text.substr(b + 2, e - b - 2), '|');
  if (fields.size() < 3)
    return std::nullopt;
  note n;
  n.answer = fields[0];
  n.confidence = std::stod(fields[1]);
  n.info = fields[2];
  n.rationale = fields.size() > 3 ? fields[3] : "The part says so.";
  return n;
}

/// Parses the notes rendered under "[Part" headers in a collapse or reduce
/// prompt.
std::vector<note> notes_in(const std::string& prompt) {
  std::vector<note> out;
  auto lines = split(prompt, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("[Part", 0) != 0)
      continue;
    note n;
    for (size_t j = i + 1; j < lines.size() && j <= i + 4; ++j) {
      auto& l = lines[j];
      auto value
        = [&](std::string_view label) { return l.substr(label.size()); };
      if (l.rfind("Extracted information: ", 0) == 0)
        n.info = value("Extracted information: ");
      else if (l.rfind("Rationale: ", 0) == 0)
        n.rationale = value("Rationale: ");
      else if (l.rfind("Answer: ", 0) == 0)
        n.answer = value("Answer: ");
      else if (l.rfind("Confidence score: ", 0) == 0)
        n.confidence = std::stod(value("Confidence score: "));
    }
    out.push_back(std::move(n));
  }
  return out;
}

const note* best(const std::vector<note>& xs) {
  const note* top = nullptr;
  for (auto& x : xs)
    if (!top || x.confidence > top->confidence)
      top = &x;
  return top;
}

struct model_options {
  /// Collapse outputs hold this many bytes of joined information at most.
  size_t collapse_info_bytes = 120;
  /// Collapse outputs never shrink: they repeat all inputs and add padding.
  bool never_shrink = false;
  /// Map calls on chunks longer than this fail with context_length_exceeded.
  size_t max_chunk_bytes = 0;
};

scripted_client::script make_model(model_options opts = {}) {
  return [opts](const chat_request& req) -> llmmr::expected<chat_reply> {
    auto stage = stage_of_label(req.label);
    auto& prompt = scripted_client::prompt_of(req);
    if (stage == "map") {
      if (prompt.find("@@FAIL@@") != std::string::npos)
        return make_error(error_kind::server_error, "scripted 503");
      if (opts.max_chunk_bytes > 0) {
        auto b = prompt.find("<part>\n");
        auto e = prompt.find("\n</part>");
        if (b != std::string::npos && e != std::string::npos
            && e - b - 7 > opts.max_chunk_bytes)
          return make_error(error_kind::context_length_exceeded,
                            "scripted: prompt too long");
      }
      if (auto n = first_marker(prompt))
        return scripted_client::reply(render_note(*n));
      return scripted_client::reply(render_note(
        note{"Nothing relevant.", "The part is filler.", "No information", 0}));
    }
    auto notes = notes_in(prompt);
    if (stage == "collapse") {
      note out;
      if (auto top = best(notes))
        out = *top;
      else
        out = note{"", "", "No information", 0};
      std::string joined;
      for (auto& n : notes)
        joined += (joined.empty() ? "" : "; ") + n.info;
      if (opts.never_shrink) {
        out.info = joined + " " + std::string(200, 'x');
        out.rationale = std::string(200, 'y');
      } else {
        out.info = joined.substr(0, opts.collapse_info_bytes);
        out.rationale = "Merged.";
      }
      return scripted_client::reply(render_note(out));
    }
    if (stage == "reduce") {
      auto top = best(notes);
      std::string text
        = "Rationale: weighed " + std::to_string(notes.size()) + " notes.\n";
      text += "Answer: " + (top ? top->answer : std::string{"unknown"}) + "\n";
      auto c = top ? top->confidence : 0.0;
      text += "Confidence score: " + std::to_string(static_cast<int>(c)) + "\n";
      return scripted_client::reply(text);
    }
    return make_error(error_kind::bad_request, "unknown label " + req.label);
  };
}

// -- documents ----------------------------------------------------------------

/// Builds a document of `lines` filler lines with `facts` inserted before the
/// given line numbers.
std::string make_document(size_t lines,
                          const std::map<size_t, std::string>& facts) {
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    if (auto f = facts.find(i); f != facts.end())
      out += f->second + "\n";
    out += "Line " + std::to_string(i)
           + " of the filler text talks about the weather and nothing else.\n";
  }
  return out;
}

// -- fixture ------------------------------------------------------------------

struct fixture : llmmr::test::pipeline_fixture {
  explicit fixture(scripted_client::script model,
                   scripted_client::mode mode
                   = scripted_client::mode::synchronous,
                   pipeline_options opts = {}) {
    client = std::make_shared<scripted_client>(std::move(model), mode);
    client->set_classifier(
      [](const chat_request& req) { return stage_of_label(req.label); });
    start(opts);
  }

  /// Returns a spec whose chunk payload is about `chunk_tokens` and whose
  /// collapse payload is about `collapse_tokens` (whichever needs the larger
  /// budget wins).
  job_spec spec_for(uint32_t chunk_tokens, uint32_t collapse_tokens = 0) {
    job_spec spec;
    spec.question = "Where is the treasure?";
    spec.budget = 100000;
    // The same reserved output in every stage keeps the arithmetic simple.
    spec.reduce_max_tokens = reserved_output(spec);
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    auto b = compute_budget(spec, *lib, *tok);
    REQUIRE(b);
    auto map_fixed = spec.budget - b->chunk_payload;
    auto col_fixed
      = spec.budget - std::min(b->collapse_payload, b->reduce_payload);
    auto want
      = std::max(map_fixed + chunk_tokens,
                 col_fixed + std::max(collapse_tokens, min_payload_tokens + 6));
    spec.budget = want;
    return spec;
  }
};

std::set<uint32_t> evidence_chunks(const job_result& res) {
  std::set<uint32_t> out;
  for (auto& ev : res.evidence)
    out.insert(ev.record.chunks.begin(), ev.record.chunks.end());
  return out;
}

std::string fact(const std::string& answer, double conf,
                 const std::string& info, const std::string& rationale = {}) {
  auto c = std::to_string(conf);
  auto out = "@@" + answer + "|" + c + "|" + info;
  if (!rationale.empty())
    out += "|" + rationale;
  return out + "@@";
}

} // namespace

TEST_SUITE("actors") {

  TEST_CASE("pipeline: a stated answer beats a merely suggested one") {
    fixture fx{make_model()};
    auto doc = make_document(
      60,
      {{5, fact("Paris", 5, "The text states the treasure is in Paris.")},
       {50, fact("Rome", 2.5, "A letter hints the treasure may be in Rome.")}});
    auto res = fx.job(fx.spec_for(200, 400), doc);
    REQUIRE(res);
    CHECK(res->answer == "Paris");
    CHECK(res->confidence == 5);
    CHECK_FALSE(res->partial);
    CHECK(res->failures.empty());
    CHECK(res->chunks > 3);
    CHECK(res->calls.map == res->chunks);
    CHECK(res->calls.reduce == 1);
    // Both notes reached the reducer, the stated one with its full score.
    auto reduce = fx.requests_of("reduce");
    REQUIRE(reduce.size() == 1);
    auto& prompt = scripted_client::prompt_of(reduce.front());
    CHECK(prompt.find("Answer: Paris\nConfidence score: 5")
          != std::string::npos);
    CHECK(prompt.find("Answer: Rome\nConfidence score: 2.5")
          != std::string::npos);
    REQUIRE(res->evidence.size() == 2);
    // Evidence ranges point at the chunks holding the facts.
    for (auto& ev : res->evidence) {
      REQUIRE(ev.ranges.size() == ev.record.chunks.size());
      auto text = doc.substr(ev.ranges[0].begin, ev.ranges[0].size());
      CHECK(text.find("@@" + ev.record.answer) != std::string::npos);
    }
    CHECK(res->usage.prompt_tokens > 0);
    CHECK(res->usage.completion_tokens > 0);
  }

  TEST_CASE("pipeline: facts from two distant chunks both reach the reducer") {
    fixture fx{make_model()};
    auto doc
      = make_document(80, {{2, fact("1950-2000", 3, "Alice was born in 1950.")},
                           {78, fact("1950-2000", 3, "Alice died in 2000.")}});
    auto res = fx.job(fx.spec_for(150, 400), doc);
    REQUIRE(res);
    auto reduce = fx.requests_of("reduce");
    REQUIRE(reduce.size() == 1);
    auto& prompt = scripted_client::prompt_of(reduce.front());
    CHECK(prompt.find("Alice was born in 1950.") != std::string::npos);
    CHECK(prompt.find("Alice died in 2000.") != std::string::npos);
    auto chunks = evidence_chunks(*res);
    REQUIRE(chunks.size() == 2);
    CHECK(*chunks.begin() == 0);
    CHECK(*chunks.rbegin() == res->chunks - 1);
  }

  TEST_CASE("pipeline: no-information records are filtered by field") {
    fixture fx{make_model()};
    auto doc = make_document(
      40,
      {{3,
        fact("Lisbon", 4, "The map marks Lisbon.",
             "Other parts may have no information, but this one names it.")}});
    auto res = fx.job(fx.spec_for(150), doc);
    REQUIRE(res);
    CHECK(res->answer == "Lisbon");
    // Only the record with a real answer is left; the filler chunks' records
    // (answer "No information") are gone.
    REQUIRE(res->evidence.size() == 1);
    CHECK(res->evidence[0].record.rationale.find("no information")
          != std::string::npos);
    auto& prompt = scripted_client::prompt_of(fx.requests_of("reduce").front());
    CHECK(prompt.find("Answer: No information") == std::string::npos);
    CHECK(prompt.find("Answer: Lisbon") != std::string::npos);
  }

  TEST_CASE("pipeline: several collapse rounds under a tiny budget") {
    fixture fx{make_model({.collapse_info_bytes = 60})};
    std::map<size_t, std::string> facts;
    for (size_t i = 0; i < 60; i += 3)
      facts[i] = fact("Oslo", i == 30 ? 5 : 3,
                      "Clue " + std::to_string(i) + " points north to Oslo.");
    auto doc = make_document(60, facts);
    auto res = fx.job(fx.spec_for(80, 200), doc);
    REQUIRE(res);
    CHECK(res->collapse_rounds >= 2);
    CHECK_FALSE(res->collapse_fallback);
    CHECK(res->calls.collapse >= 3);
    CHECK(res->answer == "Oslo");
    // The critical path goes first in the clients' queues.
    for (auto& r : fx.requests_of("map"))
      CHECK(r.priority == call_priority::map);
    for (auto& r : fx.requests_of("collapse"))
      CHECK(r.priority == call_priority::collapse);
    for (auto& r : fx.requests_of("reduce"))
      CHECK(r.priority == call_priority::reduce);
    // Provenance: every chunk holding a clue is covered by the evidence.
    auto chunks = evidence_chunks(*res);
    auto maps = fx.requests_of("map");
    std::set<uint32_t> with_facts;
    for (auto& r : maps)
      if (scripted_client::prompt_of(r).find("@@") != std::string::npos)
        with_facts.insert(static_cast<uint32_t>(
          std::stoul(r.label.substr(r.label.rfind(' ') + 1))));
    CHECK(with_facts.size() > 4);
    CHECK(std::includes(chunks.begin(), chunks.end(), with_facts.begin(),
                        with_facts.end()));
    for (auto& ev : res->evidence)
      CHECK(ev.ranges.size() == ev.record.chunks.size());
  }

  TEST_CASE("pipeline: early collapse starts while chunks are still mapping") {
    pipeline_options opts;
    opts.mappers = 1;
    opts.map_window = 1;
    opts.chunk_window = 2;
    fixture fx{make_model({.collapse_info_bytes = 60}),
               scripted_client::mode::synchronous, opts};
    std::map<size_t, std::string> facts;
    for (size_t i = 0; i < 90; i += 3)
      facts[i] = fact("Oslo", i == 45 ? 5 : 3,
                      "Clue " + std::to_string(i) + " points north to Oslo.");
    auto spec = fx.spec_for(80, 200);
    spec.early_collapse = true;
    auto doc = make_document(90, facts);
    auto res = fx.job(spec, doc);
    REQUIRE(res);
    CHECK(res->answer == "Oslo");
    auto log = fx.client->requests();
    size_t first_collapse = log.size();
    size_t last_map = 0;
    for (size_t i = 0; i < log.size(); ++i) {
      auto stage = stage_of_label(log[i].label);
      if (stage == "collapse" && first_collapse == log.size())
        first_collapse = i;
      if (stage == "map")
        last_map = i;
    }
    CHECK(first_collapse < last_map);
    CHECK(res->calls.collapse >= 2);
    // Provenance survives: every chunk with a clue is covered.
    auto chunks = evidence_chunks(*res);
    for (auto& f : res->failures)
      FAIL("unexpected failure " << f.reason);
    std::set<uint32_t> with_facts;
    for (auto& r : fx.requests_of("map"))
      if (scripted_client::prompt_of(r).find("@@") != std::string::npos)
        with_facts.insert(static_cast<uint32_t>(
          std::stoul(r.label.substr(r.label.rfind(' ') + 1))));
    CHECK_FALSE(res->collapse_fallback);
    CHECK(with_facts.size() > 10);
    CHECK(std::includes(chunks.begin(), chunks.end(), with_facts.begin(),
                        with_facts.end()));
  }

  TEST_CASE("pipeline: early collapse forms the groups collapsing at the end "
            "forms") {
    // What one run sent to the model and what it answered.
    struct run_log {
      std::vector<std::string> collapse_prompts; // sorted
      std::string reduce_prompt;
      std::string answer;
      std::vector<llmmr::evidence> records;
      size_t first_collapse = 0;
      size_t last_map = 0;
    };
    std::map<size_t, std::string> facts;
    for (size_t i = 0; i < 120; i += 4)
      facts[i] = fact(i % 8 == 0 ? "Oslo" : "Bergen", i == 60 ? 5 : 3,
                      "Clue " + std::to_string(i) + " names a city.");
    auto doc = make_document(120, facts);
    auto run = [&](bool early, uint32_t seed) {
      pipeline_options opts;
      opts.mappers = 2;
      opts.map_window = 3;
      opts.chunk_window = 4;
      fixture fx{make_model({.collapse_info_bytes = 60}),
                 scripted_client::mode::deferred, opts};
      auto spec = fx.spec_for(80, 200);
      spec.early_collapse = early;
      auto start = fx.request(job_doc_atom::value, spec, doc);
      // Calls complete in a seeded random order, so chunks finish out of
      // document order.
      std::mt19937 rng{seed};
      for (int guard = 0; guard < 100000; ++guard) {
        fx.run_actors();
        auto n = fx.client->pending();
        if (n == 0)
          break;
        REQUIRE(fx.client->complete_at(rng() % n));
      }
      auto id = fx.read<uint64_t>(start);
      REQUIRE(id);
      auto res = fx.ask<job_result>(job_result_atom::value, *id);
      REQUIRE(res);
      run_log out;
      out.answer = res->answer;
      out.records = res->evidence;
      auto log = fx.client->requests();
      out.first_collapse = log.size();
      for (size_t i = 0; i < log.size(); ++i) {
        auto stage = stage_of_label(log[i].label);
        if (stage == "collapse") {
          out.collapse_prompts.push_back(scripted_client::prompt_of(log[i]));
          out.first_collapse = std::min(out.first_collapse, i);
        } else if (stage == "map") {
          out.last_map = i;
        } else if (stage == "reduce") {
          out.reduce_prompt = scripted_client::prompt_of(log[i]);
        }
      }
      std::sort(out.collapse_prompts.begin(), out.collapse_prompts.end());
      return out;
    };
    bool overlapped = false;
    for (uint32_t seed : {1u, 2u, 3u, 4u}) {
      CAPTURE(seed);
      auto at_end = run(false, seed);
      auto early = run(true, seed);
      REQUIRE(at_end.collapse_prompts.size() >= 4);
      // The same groups were collapsed, the same records reached the
      // reducer, and so the same answer came back.
      CHECK(early.collapse_prompts == at_end.collapse_prompts);
      CHECK(early.reduce_prompt == at_end.reduce_prompt);
      CHECK(early.answer == at_end.answer);
      CHECK(early.records == at_end.records);
      // Without early collapse nothing is collapsed before the last map.
      CHECK(at_end.first_collapse > at_end.last_map);
      overlapped = overlapped || early.first_collapse < early.last_map;
    }
    CHECK(overlapped); // and with it, collapsing overlapped mapping
  }

  TEST_CASE("pipeline: an unparsable map output is asked again once") {
    auto asked = std::make_shared<int>(0);
    auto model = make_model();
    fixture fx{
      [asked, model](const chat_request& req) -> llmmr::expected<chat_reply> {
        auto& prompt = scripted_client::prompt_of(req);
        if (stage_of_label(req.label) == "map"
            && prompt.find("@@Paris") != std::string::npos && (*asked)++ == 0)
          return scripted_client::reply("I am not sure what you mean.");
        return model(req);
      }};
    auto doc = make_document(40, {{20, fact("Paris", 5, "Paris.")}});
    auto res = fx.job(fx.spec_for(150, 400), doc);
    REQUIRE(res);
    CHECK(*asked == 2);
    CHECK(res->calls.map == res->chunks + 1);
    CHECK(res->answer == "Paris");
  }

  TEST_CASE("pipeline: collapse falls back when outputs never shrink") {
    pipeline_options opts;
    opts.max_collapse_rounds = 5;
    fixture fx{make_model({.never_shrink = true}),
               scripted_client::mode::synchronous, opts};
    std::map<size_t, std::string> facts;
    for (size_t i = 0; i < 60; i += 3)
      facts[i] = fact("Oslo", i == 30 ? 5 : 3,
                      "Clue " + std::to_string(i) + " points north to Oslo.");
    auto res = fx.job(fx.spec_for(80, 200), make_document(60, facts));
    REQUIRE(res);
    CHECK(res->collapse_fallback);
    CHECK_FALSE(res->fallback_note.empty());
    CHECK(res->collapse_rounds <= 5);
    CHECK(res->calls.reduce == 1);
    CHECK_FALSE(res->evidence.empty());
  }

  TEST_CASE("pipeline: failed chunks are accounted for") {
    auto doc
      = make_document(60, {{1, "@@FAIL@@"},
                           {20, fact("Paris", 5, "The treasure is in Paris.")},
                           {40, "@@FAIL@@"}});
    SUBCASE("within the allowed fraction: partial result listing them") {
      fixture fx{make_model()};
      auto spec = fx.spec_for(150);
      spec.max_failed_fraction = 0.5;
      auto res = fx.job(spec, doc);
      REQUIRE(res);
      CHECK(res->partial);
      REQUIRE(res->failures.size() == 2);
      for (auto& f : res->failures) {
        CHECK(f.kind == error_kind::server_error);
        CHECK(f.reason.find("scripted 503") != std::string::npos);
        auto text = doc.substr(f.range.begin, f.range.size());
        CHECK(text.find("@@FAIL@@") != std::string::npos);
      }
      CHECK(res->answer == "Paris");
      // Every chunk ended as a record or as a failure.
      CHECK(res->calls.map == res->chunks);
    }
    SUBCASE("above the allowed fraction: the job fails naming them") {
      fixture fx{make_model()};
      auto spec = fx.spec_for(150);
      spec.max_failed_fraction = 0;
      auto res = fx.job(spec, doc);
      REQUIRE_FALSE(res);
      CHECK(kind_of(res.error()) == error_kind::too_many_failures);
      auto text = describe(res.error());
      // Fail-fast: the first failure ends the job.
      CHECK(text.find("failed (allowed fraction") != std::string::npos);
      CHECK(text.find("scripted 503") != std::string::npos);
      CHECK(fx.requests_of("reduce").empty());
    }
  }

  TEST_CASE("pipeline: context_length_exceeded re-splits the chunk") {
    fixture fx{make_model({.max_chunk_bytes = 250})};
    auto doc = make_document(
      30, {{10, fact("Paris", 5, "The treasure is in Paris.")}});
    auto res = fx.job(fx.spec_for(150), doc);
    REQUIRE(res);
    CHECK(res->failures.empty());
    CHECK(res->answer == "Paris");
    CHECK(res->calls.map > res->chunks);
    // The record from a half keeps its original chunk index.
    REQUIRE(res->evidence.size() == 1);
    auto idx = res->evidence[0].record.chunks.at(0);
    CHECK(idx < res->chunks);
    auto range = res->evidence[0].ranges.at(0);
    CHECK(doc.substr(range.begin, range.size()).find("@@Paris")
          != std::string::npos);
  }

  TEST_CASE("pipeline: a job can be cancelled") {
    fixture fx{make_model(), scripted_client::mode::deferred};
    auto id = fx.request(job_doc_atom::value, fx.spec_for(150),
                         make_document(200, {}));
    fx.run_actors();
    auto job_id = fx.read<uint64_t>(id);
    REQUIRE(job_id);
    CHECK(fx.client->pending() > 0);
    auto result = fx.request(job_result_atom::value, *job_id);
    fx.run_actors();
    CHECK_FALSE(fx.has_reply());
    auto cancelled = fx.ask<bool>(job_cancel_atom::value, *job_id);
    REQUIRE(cancelled);
    CHECK(*cancelled);
    fx.run();
    auto res = fx.read<job_result>(result);
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::cancelled);
    CHECK(describe(res.error()).find("outstanding") != std::string::npos);
    // The result stays available; cancelling again reports false.
    auto again = fx.ask<bool>(job_cancel_atom::value, *job_id);
    REQUIRE(again);
    CHECK_FALSE(*again);
  }

  TEST_CASE("pipeline: cancelling stops the chunker and answers held acks") {
    pipeline_options opts;
    opts.mappers = 1;
    opts.map_window = 1;
    opts.chunk_window = 2;
    fixture fx{make_model(), scripted_client::mode::deferred, opts};
    auto id = fx.ask<uint64_t>(job_start_atom::value, fx.spec_for(100));
    REQUIRE(id);
    auto ack = fx.request(job_piece_atom::value, *id, make_document(500, {}));
    fx.run_actors();
    CHECK_FALSE(fx.has_reply()); // held back by the chunker actor
    auto cancelled = fx.request(job_cancel_atom::value, *id);
    fx.run_actors();
    auto ok = fx.read<bool>(cancelled);
    REQUIRE(ok);
    CHECK(*ok);
    // The chunker actor was stopped with the job's error: the held ack
    // carries it.
    auto held = fx.read<uint64_t>(ack);
    REQUIRE_FALSE(held);
    CHECK(kind_of(held.error()) == error_kind::cancelled);
    CHECK(describe(held.error()).find("was cancelled") != std::string::npos);
    auto res = fx.ask<job_result>(job_result_atom::value, *id);
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::cancelled);
  }

  TEST_CASE("pipeline: stopping the pipeline ends open jobs") {
    fixture fx{make_model(), scripted_client::mode::deferred};
    auto id = fx.ask<uint64_t>(job_start_atom::value, fx.spec_for(150));
    REQUIRE(id);
    auto ack
      = fx.ask<uint64_t>(job_piece_atom::value, *id, make_document(10, {}));
    REQUIRE(ack);
    auto result = fx.request(job_result_atom::value, *id);
    fx.run_actors();
    CHECK_FALSE(fx.has_reply());
    fx.pipe.stop();
    fx.run();
    auto res = fx.read<job_result>(result);
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::cancelled);
    // The fixture's destructor shuts the actor system down: it would hang if
    // the job's coordinator outlived the pipeline.
  }

  TEST_CASE("pipeline: a job fails when its deadline passes") {
    fixture fx{make_model(), scripted_client::mode::deferred};
    auto spec = fx.spec_for(150);
    spec.deadline_ms = 5000;
    auto start = fx.request(job_doc_atom::value, spec, make_document(100, {}));
    fx.run_actors();
    auto id = fx.read<uint64_t>(start);
    REQUIRE(id);
    auto result = fx.request(job_result_atom::value, *id);
    fx.run_actors();
    CHECK_FALSE(fx.has_reply());
    fx.sched->advance_time(std::chrono::seconds{6});
    fx.run_actors();
    auto res = fx.read<job_result>(result);
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::deadline);
    CHECK(describe(res.error()).find("chunks still outstanding")
          != std::string::npos);
    fx.run();
  }

  TEST_CASE("pipeline: map windows are never exceeded") {
    pipeline_options opts;
    opts.mappers = 3;
    opts.map_window = 2;
    opts.chunk_window = 8;
    fixture fx{make_model(), scripted_client::mode::deferred, opts};
    auto id
      = fx.request(job_doc_atom::value, fx.spec_for(100),
                   make_document(300, {{150, fact("Paris", 5, "Paris.")}}));
    size_t max_seen = 0;
    // Complete one call at a time so that every slot refills before the next.
    for (int guard = 0; guard < 100000; ++guard) {
      fx.run_actors();
      max_seen = std::max(max_seen, fx.client->outstanding());
      if (fx.client->complete(1) == 0)
        break;
    }
    auto job_id = fx.read<uint64_t>(id);
    REQUIRE(job_id);
    auto res = fx.ask<job_result>(job_result_atom::value, *job_id);
    REQUIRE(res);
    CHECK(res->chunks > 20);
    CHECK(fx.client->max_in_flight() <= 6);
    CHECK(fx.client->max_in_flight("map") <= 6);
    CHECK(max_seen == 6); // the pool keeps every slot busy
    CHECK(res->answer == "Paris");
    auto st = fx.ask<job_stats>(job_stats_atom::value, *job_id);
    REQUIRE(st);
    CHECK(st->map_in_flight_hwm <= 6);
    CHECK(st->chunks_buffered_hwm <= 2 * opts.chunk_window);
  }

  TEST_CASE("pipeline: map credit follows the client's capacity") {
    // Windows far above what the endpoint serves: the client's capacity,
    // not mappers * map_window, bounds the calls handed to it, and follows
    // the capacity as it changes (an adaptive limit backing off, then
    // recovering).
    pipeline_options opts;
    opts.mappers = 4;
    opts.map_window = 16;
    opts.chunk_window = 8;
    fixture fx{make_model(), scripted_client::mode::deferred, opts};
    fx.client->set_capacity(4);
    auto id
      = fx.request(job_doc_atom::value, fx.spec_for(100),
                   make_document(600, {{550, fact("Paris", 5, "Paris.")}}));
    // credit = capacity + the headroom, below mappers * map_window here.
    auto credit
      = [&](size_t capacity) { return size_t{map_credit(capacity, opts)}; };
    CHECK_GT(credit(4), 4u);
    CHECK_LT(credit(8), opts.mappers * opts.map_window);
    std::map<size_t, size_t> max_seen; // by capacity
    size_t completed = 0;
    for (int guard = 0; guard < 100000; ++guard) {
      fx.run_actors();
      auto cap = fx.client->capacity();
      // Calls of a lower credit may still be out right after it shrank.
      if (completed > 5 && (cap != 2 || completed > 80))
        max_seen[cap] = std::max(max_seen[cap], fx.client->outstanding());
      if (fx.client->complete(1) == 0)
        break;
      ++completed;
      if (completed == 30)
        fx.client->set_capacity(8); // recovery
      if (completed == 70)
        fx.client->set_capacity(2); // backoff
    }
    auto job_id = fx.read<uint64_t>(id);
    REQUIRE(job_id);
    auto res = fx.ask<job_result>(job_result_atom::value, *job_id);
    REQUIRE(res);
    CHECK(res->answer == "Paris");
    CHECK_GT(res->chunks, 90u);
    CHECK_EQ(max_seen[4], credit(4)); // every slot of the credit busy ...
    CHECK_EQ(max_seen[8], credit(8)); // ... at each capacity
    CHECK_LE(max_seen[2], credit(2)); // the calls out when it shrank drained
    auto st = fx.ask<job_stats>(job_stats_atom::value, *job_id);
    REQUIRE(st);
    CHECK_LE(st->map_in_flight_hwm, credit(8));
    // The reader is throttled by the same credit.
    CHECK_LE(st->chunks_buffered_hwm, 2 * opts.chunk_window);
    CHECK_LE(fx.client->max_in_flight("map"), credit(8));
  }

  TEST_CASE("pipeline: incremental input is throttled by the chunk window") {
    pipeline_options opts;
    opts.mappers = 1;
    opts.map_window = 1;
    opts.chunk_window = 4;
    fixture fx{make_model(), scripted_client::mode::deferred, opts};
    auto spec = fx.spec_for(100);
    auto id = fx.ask<uint64_t>(job_start_atom::value, spec);
    REQUIRE(id);
    auto doc = make_document(3000, {{2900, fact("Paris", 5, "Paris.")}});
    // A piece that alone yields far more chunks than the window holds.
    std::string first = doc.substr(0, 20000);
    auto ack = fx.request(job_piece_atom::value, *id, first);
    fx.run_actors();
    CHECK_FALSE(fx.has_reply()); // held back: the window is full
    CHECK(fx.client->pending() == 1);
    size_t completions = 0;
    while (!fx.has_reply()) {
      REQUIRE(fx.client->complete(1) == 1);
      ++completions;
      fx.run_actors();
    }
    CHECK(completions > 5);
    auto bytes = fx.read<uint64_t>(ack);
    REQUIRE(bytes);
    CHECK(*bytes == first.size());
    // Feed the rest piece by piece, each waiting for its ack.
    size_t pos = first.size();
    while (pos < doc.size()) {
      auto piece = doc.substr(pos, 3000);
      pos += piece.size();
      auto rh = fx.request(job_piece_atom::value, *id, piece);
      fx.run_actors();
      while (!fx.has_reply()) {
        REQUIRE(fx.client->complete(1) == 1);
        fx.run_actors();
      }
      auto n = fx.read<uint64_t>(rh);
      REQUIRE(n);
      CHECK(*n == pos);
    }
    auto end = fx.request(job_end_atom::value, *id);
    fx.run();
    auto chunks = fx.read<uint32_t>(end);
    REQUIRE(chunks);
    auto res = fx.ask<job_result>(job_result_atom::value, *id);
    REQUIRE(res);
    CHECK(res->answer == "Paris");
    CHECK(res->chunks == *chunks);
    CHECK(res->chunks > 50 * opts.chunk_window);
    auto st = fx.ask<job_stats>(job_stats_atom::value, *id);
    REQUIRE(st);
    CHECK(st->bytes_received == doc.size());
    CHECK(st->chunks_buffered_hwm <= 2 * opts.chunk_window);
    CHECK(st->map_in_flight_hwm == 1);
    // The bytes held never grow with the document: a few windows' worth.
    uint64_t max_chunk_bytes = 0;
    for (auto& r : fx.requests_of("map"))
      max_chunk_bytes = std::max<uint64_t>(
        max_chunk_bytes, scripted_client::prompt_of(r).size());
    CHECK(st->bytes_buffered_hwm
          <= (2 * opts.chunk_window + 2) * max_chunk_bytes);
    CHECK(st->bytes_buffered_hwm < doc.size() / 20);
    CHECK(st->pieces_held_hwm == 1);
    MESSAGE("chunks ", res->chunks, ", document bytes ", doc.size(),
            ", chunks held at most ", st->chunks_buffered_hwm,
            ", bytes held at most ", st->bytes_buffered_hwm);
  }

  TEST_CASE("pipeline: concurrent jobs share the mappers fairly") {
    pipeline_options opts;
    opts.mappers = 2;
    opts.map_window = 1;
    opts.chunk_window = 8;
    fixture fx{make_model(), scripted_client::mode::deferred, opts};
    auto spec = fx.spec_for(100);
    auto a = fx.request(job_doc_atom::value, spec,
                        make_document(200, {{10, fact("Paris", 5, "Paris.")}}));
    auto b = fx.request(job_doc_atom::value, spec,
                        make_document(200, {{190, fact("Rome", 5, "Rome.")}}));
    fx.run_actors();
    auto ida = fx.read<uint64_t>(a);
    auto idb = fx.read<uint64_t>(b);
    REQUIRE(ida);
    REQUIRE(idb);
    auto ra = fx.request(job_result_atom::value, *ida);
    auto rb = fx.request(job_result_atom::value, *idb);
    for (int guard = 0; guard < 100000; ++guard) {
      fx.run_actors();
      if (fx.client->complete(1) == 0)
        break;
    }
    auto resa = fx.read<job_result>(ra);
    auto resb = fx.read<job_result>(rb);
    REQUIRE(resa);
    REQUIRE(resb);
    CHECK(resa->answer == "Paris");
    CHECK(resb->answer == "Rome");
    // Map calls stay within mappers x W over both jobs; each job's collapse
    // and reduce calls come on top (the endpoint's own cap bounds the sum).
    CHECK(fx.client->max_in_flight("map") == 2);
    // While both jobs had chunks, map slots alternated between them.
    auto maps = fx.requests_of("map");
    REQUIRE(maps.size() > 20);
    size_t a_count = 0;
    for (size_t i = 0; i < 20; ++i)
      if (maps[i].label.rfind("job " + std::to_string(*ida) + " ", 0) == 0)
        ++a_count;
    CHECK(a_count >= 9);
    CHECK(a_count <= 12);
  }

  TEST_CASE("pipeline: progress events reach subscribers") {
    fixture fx{make_model()};
    auto id = fx.ask<uint64_t>(job_start_atom::value, fx.spec_for(150));
    REQUIRE(id);
    auto sub = caf::actor_cast<caf::actor>(*fx.self);
    auto ok = fx.ask<bool>(job_watch_atom::value, *id, sub);
    REQUIRE(ok);
    CHECK(*ok);
    std::vector<progress_event> events;
    auto drain = [&] {
      bool more = true;
      while (more)
        (*fx.self)->receive([&](progress_event& ev) { events.push_back(ev); },
                            caf::after(std::chrono::seconds{0}) >>
                              [&] { more = false; });
    };
    drain();
    auto doc = make_document(40, {{3, fact("Paris", 5, "Paris.")}});
    auto piece = fx.ask<uint64_t>(job_piece_atom::value, *id, doc);
    REQUIRE(piece);
    drain();
    auto chunks = fx.ask<uint32_t>(job_end_atom::value, *id);
    REQUIRE(chunks);
    drain();
    auto res = fx.ask<job_result>(job_result_atom::value, *id);
    REQUIRE(res);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().stage == job_stage::done);
    CHECK(events.back().chunks_total == *chunks);
    CHECK(events.back().chunks_mapped == *chunks);
    CHECK(events.back().document_complete);
  }

  TEST_CASE("pipeline: a subscriber that rejects the reply cannot kill it") {
    fixture fx{make_model()};
    auto id = fx.ask<uint64_t>(job_start_atom::value, fx.spec_for(150));
    REQUIRE(id);
    // This subscriber handles progress events only; the `true` answering
    // its plain send is unexpected, so CAF reflects an error to the
    // pipeline. The pipeline must shrug it off.
    auto pipe = fx.pipe.actor;
    auto job = *id;
    auto sub = fx.sys->spawn([pipe, job](caf::event_based_actor* self) {
      self->send(pipe, job_watch_atom::value, job,
                 caf::actor_cast<caf::actor>(self));
      return caf::behavior{[](progress_event&) {}};
    });
    fx.run();
    auto doc = make_document(10, {{3, fact("Paris", 5, "Paris.")}});
    REQUIRE(fx.ask<uint64_t>(job_piece_atom::value, *id, doc));
    REQUIRE(fx.ask<uint32_t>(job_end_atom::value, *id));
    auto res = fx.ask<job_result>(job_result_atom::value, *id);
    REQUIRE(res);
    CHECK(res->answer == "Paris");
    caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
    fx.run();
  }

  TEST_CASE("pipeline: subscribers leave when they end or unwatch") {
    fixture fx{make_model()};
    auto pipe = fx.pipe.actor;
    // A subscriber to every job that counts the events it receives.
    auto events = std::make_shared<size_t>(0);
    auto spawn_counter = [&] {
      return fx.sys->spawn([events](caf::event_based_actor*) {
        return caf::behavior{[events](progress_event&) { ++*events; }};
      });
    };
    auto doc = make_document(10, {{3, fact("Paris", 5, "Paris.")}});
    SUBCASE("a subscriber that terminates is dropped") {
      auto sub = spawn_counter();
      REQUIRE(fx.ask<bool>(job_watch_atom::value, uint64_t{0}, sub));
      caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
      fx.run();
      // Already gone: there is nothing left to unwatch.
      auto gone = fx.ask<bool>(job_unwatch_atom::value, uint64_t{0}, sub);
      REQUIRE(gone);
      CHECK_FALSE(*gone);
    }
    SUBCASE("an unwatched subscriber hears nothing more") {
      auto sub = spawn_counter();
      REQUIRE(fx.ask<bool>(job_watch_atom::value, uint64_t{0}, sub));
      // Twice is once: one unwatch ends it.
      REQUIRE(fx.ask<bool>(job_watch_atom::value, uint64_t{0}, sub));
      REQUIRE(fx.job(fx.spec_for(150), doc));
      fx.run();
      auto seen = *events;
      CHECK(seen > 0);
      auto was = fx.ask<bool>(job_unwatch_atom::value, uint64_t{0}, sub);
      REQUIRE(was);
      CHECK(*was);
      auto again = fx.ask<bool>(job_unwatch_atom::value, uint64_t{0}, sub);
      REQUIRE(again);
      CHECK_FALSE(*again);
      REQUIRE(fx.job(fx.spec_for(150), doc));
      fx.run();
      CHECK(*events == seen);
      caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
      fx.run();
    }
    SUBCASE("a job's subscriber can unwatch that job") {
      auto id = fx.ask<uint64_t>(job_start_atom::value, fx.spec_for(150));
      REQUIRE(id);
      auto sub = spawn_counter();
      REQUIRE(fx.ask<bool>(job_watch_atom::value, *id, sub));
      fx.run();
      auto was = fx.ask<bool>(job_unwatch_atom::value, *id, sub);
      REQUIRE(was);
      CHECK(*was);
      fx.run();
      auto seen = *events;
      REQUIRE(fx.ask<uint64_t>(job_piece_atom::value, *id, doc));
      REQUIRE(fx.ask<uint32_t>(job_end_atom::value, *id));
      REQUIRE(fx.ask<job_result>(job_result_atom::value, *id));
      fx.run();
      CHECK(*events == seen);
      caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
      fx.run();
    }
    (void)pipe;
  }

  TEST_CASE("pipeline: finished results are kept within a byte budget") {
    auto doc = make_document(10, {{3, fact("Paris", 5, "Paris.")}});
    auto finish = [&](fixture& fx) {
      auto id = fx.ask<uint64_t>(job_doc_atom::value, fx.spec_for(150), doc);
      REQUIRE(id);
      REQUIRE(fx.ask<job_result>(job_result_atom::value, *id));
      return *id;
    };
    SUBCASE("a budget below one result keeps only the newest") {
      pipeline_options opts;
      opts.retain_results_bytes = 1;
      fixture fx{make_model(), scripted_client::mode::synchronous, opts};
      auto a = finish(fx);
      auto b = finish(fx);
      auto old = fx.ask<job_result>(job_result_atom::value, a);
      REQUIRE_FALSE(old);
      CHECK(kind_of(old.error()) == error_kind::usage);
      auto newest = fx.ask<job_result>(job_result_atom::value, b);
      REQUIRE(newest);
      CHECK(newest->answer == "Paris");
    }
    SUBCASE("a budget for two results keeps the last two") {
      pipeline_options probe_opts;
      fixture probe{make_model(), scripted_client::mode::synchronous,
                    probe_opts};
      auto pid = finish(probe);
      auto one = probe.ask<job_result>(job_result_atom::value, pid);
      REQUIRE(one);
      pipeline_options opts;
      // Room for two results like this one, not for three.
      opts.retain_results_bytes = footprint(*one) * 5 / 2;
      fixture fx{make_model(), scripted_client::mode::synchronous, opts};
      auto a = finish(fx);
      auto b = finish(fx);
      auto c = finish(fx);
      CHECK_FALSE(fx.ask<job_result>(job_result_atom::value, a));
      CHECK(fx.ask<job_result>(job_result_atom::value, b));
      CHECK(fx.ask<job_result>(job_result_atom::value, c));
    }
  }

  TEST_CASE("pipeline: errors for unknown jobs and bad budgets") {
    fixture fx{make_model()};
    auto res = fx.ask<job_result>(job_result_atom::value, uint64_t{77});
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::usage);
    job_spec spec;
    spec.question = "q";
    spec.budget = 50;
    auto id = fx.ask<uint64_t>(job_start_atom::value, spec);
    REQUIRE_FALSE(id);
    CHECK(kind_of(id.error()) == error_kind::budget);
    auto empty = fx.job(fx.spec_for(150), "");
    REQUIRE_FALSE(empty);
  }

  TEST_CASE("pipeline: run_job blocks until the result") {
    // A real, threaded actor system with a synchronous scripted backend.
    caf::actor_system_config cfg;
    register_types(cfg);
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("scheduler.max-threads", size_t{2});
    caf::actor_system sys{cfg};
    auto client = std::make_shared<scripted_client>(make_model());
    auto tok = std::make_shared<approx_tokenizer>();
    auto pipe = spawn_pipeline(sys, {}, client, tok);
    REQUIRE(pipe);
    job_spec spec;
    spec.question = "Where is the treasure?";
    auto doc = make_document(
      400, {{300, fact("Paris", 5, "The treasure is in Paris.")}});
    auto res = run_job(sys, *pipe, spec, doc, std::chrono::seconds{60});
    REQUIRE(res);
    CHECK(res->answer == "Paris");
    CHECK(res->calls.reduce == 1);
    pipe->stop();
  }

} // TEST_SUITE

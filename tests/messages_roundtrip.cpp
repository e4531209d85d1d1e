// Every message type survives CAF's binary serializer unchanged, both on its
// own and inside a caf::message (which needs the types registered).

#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/messages/calibration_request.hpp"
#include "llmmr/messages/chain_notes.hpp"
#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/chunk_batch.hpp"
#include "llmmr/messages/collapse_progress.hpp"
#include "llmmr/messages/collapse_result.hpp"
#include "llmmr/messages/direct_text.hpp"
#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/job_spec.hpp"
#include "llmmr/messages/job_stats.hpp"
#include "llmmr/messages/map_task.hpp"
#include "llmmr/messages/progress_event.hpp"
#include "llmmr/messages/record.hpp"
#include "llmmr/messages/reduce_result.hpp"

using namespace llmmr;

namespace {

template <class T>
T round_trip(T value) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(value);
  REQUIRE(!err);
  T copy{};
  caf::binary_deserializer source{nullptr, buf};
  err = source(copy);
  REQUIRE(!err);
  CHECK(source.remaining() == 0);
  return copy;
}

record sample_record() {
  record r;
  r.chunks = {3, 4, 9};
  r.extracted = "The vault code is 7-4-1.";
  r.rationale = "Stated outright in chapter 2.";
  r.answer = "741";
  r.no_information = false;
  r.confidence = 4.5;
  r.has_confidence = true;
  r.kind = record_kind::answer;
  r.raw = "Extracted information: ...\n答案: 741";
  r.status = record_status::partial;
  r.usage = {120, 40};
  return r;
}

job_result sample_result() {
  job_result x;
  x.job_id = 77;
  x.answer = "741";
  x.rationale = "chunk 3 states it";
  x.confidence = 5;
  x.evidence.push_back({sample_record(), {{0, 10}, {10, 25}, {90, 100}}});
  x.calls = {12, 3, 1};
  x.reasks = {2, 1, 0};
  x.no_information = false;
  x.losses.push_back({{5}, {{10, 25}}, 1.5, "record dropped"});
  x.collapse_rounds = 2;
  x.collapse_fallback = true;
  x.fallback_note = "dropped 1 record";
  x.usage = {5000, 700};
  x.timings = {1, 2, 3, 4, 10};
  x.chunks = 12;
  x.strategy = strategy::direct;
  x.document_tokens = 9000;
  x.cut_tokens = 5000;
  x.failures.push_back({5, {50, 60}, error_kind::timeout, "first byte"});
  x.partial = true;
  return x;
}

struct registered_config : caf::actor_system_config {
  registered_config() { register_types(*this); }
};

} // namespace

TEST_SUITE("messages") {
  TEST_CASE("every message type round-trips through the binary serializer") {
    chunk c{9, 2, {100, 250}, "第二段 text\n", 17};
    CHECK(round_trip(c) == c);
    CHECK(round_trip(sample_record()) == sample_record());
    job_spec spec;
    spec.question = "What is the code?";
    spec.profile = task_profile::retrieval;
    spec.budget = 8192;
    spec.max_tokens = 256;
    spec.max_failed_fraction = 0.25;
    spec.deadline_ms = 60000;
    spec.early_collapse = true;
    spec.reask_unparsable = 2;
    spec.model = "m";
    CHECK(round_trip(spec) == spec);
    CHECK(round_trip(sample_result()) == sample_result());
    progress_event ev{
      1, job_stage::collapsing, 10, true, 8, 2, 3, 1, {10, 20}, 30, 40};
    CHECK(round_trip(ev) == ev);
    usage u{1, 2};
    CHECK(round_trip(u) == u);
    chunk_failure f{1, {2, 3}, error_kind::quota, "no quota"};
    CHECK(round_trip(f) == f);
    CHECK(round_trip(error_kind::context_length_exceeded)
          == error_kind::context_length_exceeded);
    byte_range range{7, 99};
    CHECK(round_trip(range) == range);
    job_stats stats{3, 4, 5000, 2, 8, 123456};
    CHECK(round_trip(stats) == stats);
    map_task task{c, spec, 3400};
    CHECK(round_trip(task) == task);
    map_outcome outcome{9, 2, {sample_record()}, true, f, 2, 1, {10, 5}};
    CHECK(round_trip(outcome) == outcome);
  }

  TEST_CASE("stage actor messages round-trip through the binary serializer") {
    chunk_batch batch;
    batch.chunks.push_back(chunk{9, 2, {100, 250}, "text\n", 3});
    batch.complete = true;
    batch.stats = job_stats{9, 4, 1000, 1, 0, 250};
    CHECK(round_trip(batch) == batch);
    calibration_request req{task_profile::retrieval, sample_record(), "length",
                            "the source", 1};
    CHECK(round_trip(req) == req);
    calibration_verdict verdict{sample_record(), true};
    CHECK(round_trip(verdict) == verdict);
    evidence_loss loss{{4, 5}, {{0, 10}, {10, 20}}, 2.5, "dropped"};
    CHECK(round_trip(loss) == loss);
    collapse_result col{
      {sample_record()}, 3, true, "dropped 2 records", {loss}, 1, 7, {300, 40}};
    CHECK(round_trip(col) == col);
    collapse_progress prog{2, 5, {30, 4}};
    CHECK(round_trip(prog) == prog);
    reduce_result red{"741",  "Stated.", 4.5, record_status::partial,
                      true,   false,     1,   2,
                      {20, 3}};
    CHECK(round_trip(red) == red);
    chain_notes notes{"the code starts with 47", {0, 2, 3}, {loss}};
    CHECK(round_trip(notes) == notes);
    direct_text dt{
      "head\n[...]\ntail", {{0, 4}, {90, 100}}, {4, 90}, 300, 20, 280, true};
    CHECK(round_trip(dt) == dt);
    registered_config cfg;
    caf::actor_system sys{cfg};
    auto msg = caf::make_message(batch, req, verdict, col, prog, red);
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(msg));
    caf::message copy;
    caf::binary_deserializer source{sys, buf};
    REQUIRE(!source(copy));
    REQUIRE(
      copy.match_elements<chunk_batch, calibration_request, calibration_verdict,
                          collapse_result, collapse_progress, reduce_result>());
    CHECK(copy.get_as<collapse_result>(3) == col);
  }

  TEST_CASE("registered types serialize inside a caf::message") {
    registered_config cfg;
    caf::actor_system sys{cfg};
    auto msg = caf::make_message(sample_result(), sample_record(),
                                 chunk{1, 2, {3, 4}, "x", 1});
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(msg));
    caf::message copy;
    caf::binary_deserializer source{sys, buf};
    REQUIRE(!source(copy));
    REQUIRE(copy.match_elements<job_result, record, chunk>());
    CHECK(copy.get_as<job_result>(0) == sample_result());
    CHECK(copy.get_as<record>(1) == sample_record());
  }

  TEST_CASE("enums convert to and from their names") {
    for (uint8_t i = 0; i <= static_cast<uint8_t>(error_kind::internal); ++i) {
      auto kind = static_cast<error_kind>(i);
      error_kind parsed = error_kind::none;
      REQUIRE(from_string(to_string(kind), parsed));
      CHECK(parsed == kind);
    }
    for (auto name : {"qa", "qa_zh", "code", "math", "retrieval", "summary"}) {
      task_profile p;
      REQUIRE(from_string(name, p));
      CHECK(to_string(p) == name);
    }
    task_profile p;
    CHECK_FALSE(from_string("QA", p));
    record_status s;
    CHECK(from_string("truncated", s));
    CHECK(s == record_status::truncated);
    job_stage st;
    CHECK(from_string("reducing", st));
    CHECK(to_string(job_stage::done) == "done");
  }

  TEST_CASE("expected holds a value or the error that prevented it") {
    llmmr::expected<std::string> ok = std::string{"answer"};
    REQUIRE(ok);
    CHECK(*ok == "answer");
    CHECK(ok->size() == 6);
    llmmr::expected<std::string> bad
      = make_error(error_kind::budget, "no room for the question");
    REQUIRE_FALSE(bad);
    CHECK(kind_of(bad.error()) == error_kind::budget);
    CHECK(bad.error().what() == "no room for the question");
    // An empty error is never a silent success.
    llmmr::expected<int> empty = llmmr::error{};
    REQUIRE_FALSE(empty);
    CHECK(kind_of(empty.error()) == error_kind::internal);
  }

  TEST_CASE("errors cross the actor boundary unchanged") {
    for (int k = 1; k <= static_cast<int>(error_kind::internal); ++k) {
      auto kind = static_cast<error_kind>(k);
      auto err = make_error(kind, "what went wrong with " + to_string(kind));
      auto back = from_caf(to_caf(err));
      CHECK(back == err);
      CHECK(kind_of(to_caf(err)) == kind);
      CHECK(describe(to_caf(err)) == describe(err));
    }
    CHECK_FALSE(to_caf(llmmr::error{}));
    CHECK_FALSE(from_caf(caf::error{}));
    // CAF's own errors keep CAF's rendering under an llmmr kind.
    CHECK(kind_of(caf::make_error(caf::sec::request_timeout))
          == error_kind::timeout);
    CHECK(kind_of(caf::make_error(caf::sec::request_receiver_down))
          == error_kind::node_down);
    CHECK(kind_of(caf::make_error(caf::sec::unexpected_message))
          == error_kind::internal);
  }

  TEST_CASE("llmmr errors carry their kind and description") {
    auto err = make_error(error_kind::invalid_utf8, "byte 17");
    CHECK(kind_of(err) == error_kind::invalid_utf8);
    CHECK(describe(err) == "invalid_utf8: byte 17");
    CHECK(kind_of(llmmr::error{}) == error_kind::none);
    CHECK(is_transient(error_kind::rate_limited));
    CHECK_FALSE(is_transient(error_kind::quota));
    CHECK_FALSE(is_transient(error_kind::context_length_exceeded));
  }

  TEST_CASE("errors that recur for every request are told apart") {
    for (auto k : {error_kind::auth, error_kind::quota, error_kind::bad_request,
                   error_kind::tls, error_kind::policy})
      CHECK(is_recurring(k));
    for (auto k : {error_kind::unreachable, error_kind::server_error,
                   error_kind::timeout, error_kind::rate_limited,
                   error_kind::context_length_exceeded, error_kind::truncated,
                   error_kind::cancelled})
      CHECK_FALSE(is_recurring(k));
  }
}

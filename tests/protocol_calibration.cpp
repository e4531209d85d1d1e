// The calibration rules (method.md section 6).

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "llmmr/core/calibration.hpp"
#include "llmmr/core/record_parser.hpp"

using namespace llmmr;

namespace {

record make(std::string answer, double confidence,
            record_status status = record_status::ok) {
  record r;
  r.answer = std::move(answer);
  r.confidence = confidence;
  r.status = status;
  return r;
}

record no_info(double confidence) {
  record r;
  r.no_information = true;
  r.confidence = confidence;
  return r;
}

} // namespace

TEST_SUITE("protocol") {

  TEST_CASE("confidence is clamped to 0-5 and rounded to halves") {
    CHECK_EQ(normalise_confidence(4.3), 4.5);
    CHECK_EQ(normalise_confidence(4.2), 4.0);
    CHECK_EQ(normalise_confidence(4.75), 5.0);
    CHECK_EQ(normalise_confidence(7), 5.0);
    CHECK_EQ(normalise_confidence(-1), 0.0);
    CHECK_EQ(normalise_confidence(std::nan("")), 0.0);
    CHECK_EQ(normalise_confidence(std::numeric_limits<double>::infinity()),
             5.0);
  }

  TEST_CASE("calibrate normalises scores") {
    calibrator cal{task_profile::qa};
    CHECK_EQ(cal.calibrate(make("x", 3.3), "stop").confidence, 3.5);
    CHECK_EQ(cal.calibrate(make("x", 9), "stop").confidence, 5);
    CHECK_EQ(cal.calibrate(make("x", 9), "stop").status, record_status::ok);
  }

  TEST_CASE("a truncated output gets status truncated and confidence 0") {
    calibrator cal{task_profile::qa};
    auto r = cal.calibrate(make("x", 5), "length");
    CHECK_EQ(r.status, record_status::truncated);
    CHECK_EQ(r.confidence, 0);
    // Its answer field is usable: kept, not asked again.
    CHECK_FALSE(cal.should_reask(r));
    // Cut before any usable field: asked again.
    auto cut = cal.calibrate(make("", 5), "length");
    CHECK(cal.should_reask(cut));
  }

  TEST_CASE("an unparsable output gets confidence 0 and is worth a re-ask") {
    calibrator cal{task_profile::math};
    auto r = cal.calibrate(make("", 4, record_status::unparsable), "stop");
    CHECK_EQ(r.confidence, 0);
    CHECK(cal.should_reask(r));
    CHECK(!cal.should_reask(make("x", 4)));
    CHECK(!cal.should_reask(make("x", 4, record_status::partial)));
  }

  TEST_CASE("retrieval: only literal copies keep a 5") {
    calibrator cal{task_profile::retrieval};
    std::string_view text = "noise noise. The pass key is 71432. Remember it.";
    CHECK_EQ(cal.calibrate(make("71432", 5), "stop", text).confidence, 5);
    CHECK_EQ(cal.calibrate(make("**71432**", 5), "stop", text).confidence, 5);
    CHECK_EQ(cal.calibrate(make("71 432", 5), "stop", text).confidence, 4.5);
    CHECK_EQ(
      cal.calibrate(make("The key is 71432", 5), "stop", text).confidence, 4.5);
    CHECK_EQ(cal.calibrate(make("71432", 3), "stop", text).confidence, 3);
    // Without a source text the literal check is skipped.
    CHECK_EQ(cal.calibrate(make("71 432", 5), "stop").confidence, 5);
    // "No information" never scores 5.
    CHECK_EQ(cal.calibrate(no_info(5), "stop", text).confidence, 4.5);
    CHECK_EQ(cal.calibrate(no_info(5), "stop").confidence, 4.5);
    // Whitespace differences do not make a copy non-literal.
    CHECK(occurs_literally("The key is\n71432", "The key is  71432"));
    CHECK(!occurs_literally("", "anything"));
  }

  TEST_CASE("other profiles do not apply the retrieval rule") {
    calibrator cal{task_profile::qa};
    CHECK_EQ(cal.calibrate(make("71 432", 5), "stop", "71432").confidence, 5);
  }

  TEST_CASE("summary records carry no score") {
    calibrator cal{task_profile::summary};
    auto r = cal.calibrate(make("A summary.", 4), "stop");
    CHECK_EQ(r.confidence, 0);
    CHECK_EQ(cal.calibrate(make("A sum", 0), "length").status,
             record_status::truncated);
  }

  TEST_CASE("select drops no-information records by field, not substring") {
    calibrator cal{task_profile::qa};
    auto mentions = parse_record(
      "Extracted information: no information about the brother here, but the "
      "letter names Paris.\nRationale: No information elsewhere.\nAnswer: "
      "Paris\nConfidence score: 4",
      task_profile::qa);
    REQUIRE_EQ(mentions.status, record_status::ok);
    auto empty
      = parse_record("Extracted information: none\nRationale: weather "
                     "only\nAnswer: No information\nConfidence score: 0",
                     task_profile::qa);
    REQUIRE(empty.no_information);
    auto junk = make("", 0, record_status::unparsable);
    auto kept = cal.select({make("A", 3), empty, mentions, junk, make("B", 1)});
    REQUIRE_EQ(kept.size(), 3u);
    CHECK_EQ(kept[0].answer, "A");
    CHECK_EQ(kept[1].answer, "Paris");
    CHECK_EQ(kept[2].answer, "B");
  }

  TEST_CASE("retrieval select keeps only 5-point records when any exist") {
    calibrator cal{task_profile::retrieval};
    auto kept = cal.select(
      {make("a", 4.5), make("b", 5), make("c", 3), make("d", 5), no_info(4.5)});
    REQUIRE_EQ(kept.size(), 2u);
    CHECK_EQ(kept[0].answer, "b");
    CHECK_EQ(kept[1].answer, "d");
    auto none_top = cal.select({make("a", 4.5), make("c", 3)});
    CHECK_EQ(none_top.size(), 2u);
    // Other profiles keep lower scores alongside 5s.
    calibrator qa{task_profile::qa};
    CHECK_EQ(qa.select({make("a", 4.5), make("b", 5)}).size(), 2u);
  }

} // TEST_SUITE

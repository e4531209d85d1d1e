// Honest outcomes of the pipeline (docs/protocol.md, "Outcome rules"):
// evidence records carry partial facts to the reducer, unusable outputs are
// re-asked with a corrective prompt and then fail the job or mark it
// partial, lost evidence is reported, and a job with nothing to reduce makes
// no reduce call. A scripted backend plays the model; CAF's test coordinator
// runs every actor on the test's thread.

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "pipeline_fixture.hpp"

using namespace llmmr;
using llmmr::test::has;

namespace {

/// A map reply in the four-field text form.
std::string record_text(const std::string& info, const std::string& answer,
                        const std::string& confidence = "4") {
  return "Extracted information: " + info
         + "\nRationale: read from the part.\nAnswer: " + answer
         + "\nConfidence score: " + confidence + "\n";
}

/// Returns the text between `<part>` tags of a map prompt.
std::string part_of(const std::string& prompt) {
  return llmmr::test::between(prompt, "<part>\n", "\n</part>");
}
/// Documents are lines of filler with facts `FACT:<text>` on lines of their
/// own; the default model answers a map call with evidence only (no answer,
/// the facts as extracted information) and a reduce call by joining what the
/// notes hold.
struct fixture : llmmr::test::pipeline_fixture {
  std::function<llmmr::expected<chat_reply>(const chat_request&)> map_fn;
  std::function<llmmr::expected<chat_reply>(const chat_request&)> collapse_fn;
  std::function<llmmr::expected<chat_reply>(const chat_request&)> reduce_fn;

  fixture() {
    map_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto part = part_of(scripted_client::prompt_of(req));
      std::string facts;
      for (size_t pos = part.find("FACT:"); pos != std::string::npos;
           pos = part.find("FACT:", pos + 1)) {
        auto end = part.find('\n', pos);
        if (!facts.empty())
          facts += " ";
        facts += part.substr(pos + 5, end - pos - 5);
      }
      if (facts.empty())
        return scripted_client::reply(
          record_text("Nothing relevant.", "No information", "0"));
      return scripted_client::reply(
        record_text(facts, "[NO INFORMATION]", "3"));
    };
    collapse_fn = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return make_error(error_kind::server_error, "no collapse expected");
    };
    reduce_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      bool first = has(prompt, "starts with 47");
      bool second = has(prompt, "ends with 11");
      auto answer = first && second ? "4711" : first ? "47??" : "unknown";
      return scripted_client::reply(
        std::string{"Rationale: combined the parts.\nAnswer: "} + answer
        + "\nConfidence score: 4\n");
    };
    auto script = [this](const chat_request& req) {
      auto stage = stage_of_label(req.label);
      if (stage == "map")
        return map_fn(req);
      if (stage == "collapse")
        return collapse_fn(req);
      return reduce_fn(req);
    };
    client = std::make_shared<scripted_client>(script);
    client->set_classifier(
      [](const chat_request& req) { return stage_of_label(req.label); });
  }
};

/// A spec whose chunks hold about `chunk_tokens` tokens.
job_spec small_chunks(const tokenizer& tok, uint32_t chunk_tokens = 1000) {
  job_spec spec;
  spec.question = "What is the vault code?";
  spec.budget = 100000;
  auto lib = prompt_library::builtin();
  REQUIRE(lib);
  auto b = compute_budget(spec, *lib, tok);
  REQUIRE(b);
  spec.budget = spec.budget - b->chunk_payload + chunk_tokens;
  // A few records must fit the reduce call in one go.
  auto b2 = compute_budget(spec, *lib, tok);
  REQUIRE(b2);
  REQUIRE(b2->reduce_payload > 400);
  return spec;
}

std::string filler(size_t lines, size_t first = 0) {
  std::string out;
  for (size_t i = first; i < first + lines; ++i)
    out += "Line " + std::to_string(i)
           + " of the filler text is about the weather.\n";
  return out;
}

/// Two facts in different chunks, each useless alone.
std::string split_fact_document() {
  return filler(150) + "FACT:The vault code starts with 47.\n"
         + filler(150, 150) + "FACT:The vault code ends with 11.\n"
         + filler(150, 300);
}

} // namespace

TEST_SUITE("actors") {
  TEST_CASE("evidence records from two chunks reach the reducer together") {
    fixture f;
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, split_fact_document());
    REQUIRE(res);
    CHECK(res->answer == "4711");
    CHECK(res->chunks > 2);
    REQUIRE(res->evidence.size() == 2);
    for (auto& ev : res->evidence) {
      CHECK(ev.record.kind == record_kind::evidence);
      CHECK(ev.record.no_information);
    }
    CHECK_FALSE(res->partial);
    CHECK(res->losses.empty());
    // The reduce prompt says how to use evidence.
    auto reduce = f.requests_of("reduce");
    REQUIRE(reduce.size() == 1);
    CHECK(has(scripted_client::prompt_of(reduce[0]), "partial evidence"));
  }

  TEST_CASE("a truncated reduce output is re-asked with a corrective prompt") {
    fixture f;
    f.reduce_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      if (!has(prompt, "cut off"))
        return scripted_client::reply("Rationale: a very long rationale that",
                                      "length");
      return scripted_client::reply("Answer: 4711\nConfidence score: 4\n"
                                    "Rationale: both halves.\n");
    };
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, split_fact_document());
    REQUIRE(res);
    CHECK(res->answer == "4711");
    CHECK(res->calls.reduce == 2);
    CHECK(res->reasks.reduce == 1);
    auto reduce = f.requests_of("reduce");
    REQUIRE(reduce.size() == 2);
    CHECK(scripted_client::prompt_of(reduce[0])
          != scripted_client::prompt_of(reduce[1]));
    CHECK(reduce[0].max_tokens == reduce_reserved_output(spec));
    CHECK(reduce[0].max_tokens > reserved_output(spec));
  }

  TEST_CASE("a reduce output truncated twice fails the job as truncated") {
    fixture f;
    f.reduce_fn = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply("Rationale: it goes on and on and",
                                    "length");
    };
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, split_fact_document());
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::truncated);
    CHECK(has(describe(res.error()), "cut off at max_tokens"));
    CHECK(f.requests_of("reduce").size() == 2);
  }

  TEST_CASE("empty (null) content everywhere fails the job") {
    fixture f;
    f.map_fn = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply("");
    };
    f.reduce_fn = f.map_fn;
    auto res = f.job(small_chunks(*f.tok), split_fact_document());
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::unparsable);
    CHECK(has(describe(res.error()), "chunks failed"));
    CHECK(has(describe(res.error()), "empty"));
    CHECK(f.requests_of("reduce").empty());
    // Every map call was asked again once, with a note, not the same prompt.
    auto maps = f.requests_of("map");
    // The job stops at its first failed chunk (fail-fast): that chunk was
    // asked again.
    bool reasked = false;
    for (auto& m : maps)
      reasked = reasked || has(scripted_client::prompt_of(m), "was empty");
    CHECK(reasked);
  }

  TEST_CASE("all map outputs truncated: failure, or partial when allowed") {
    auto cut = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply("Extracted", "length");
    };
    SUBCASE("max_failed_fraction 0 fails the job") {
      fixture f;
      f.map_fn = cut;
      auto res = f.job(small_chunks(*f.tok), split_fact_document());
      REQUIRE_FALSE(res);
      CHECK(kind_of(res.error()) == error_kind::truncated);
      CHECK(has(describe(res.error()), "cut off"));
    }
    SUBCASE("max_failed_fraction 1 gives a partial no-information result") {
      fixture f;
      f.map_fn = cut;
      auto spec = small_chunks(*f.tok);
      spec.max_failed_fraction = 1.0;
      auto res = f.job(spec, split_fact_document());
      REQUIRE(res);
      CHECK(res->partial);
      CHECK(res->no_information);
      CHECK(res->failures.size() == res->chunks);
      for (auto& fl : res->failures)
        CHECK(fl.kind == error_kind::truncated);
      CHECK(f.requests_of("reduce").empty());
    }
  }

  TEST_CASE("a truncated map output with usable fields is kept and reported") {
    fixture f;
    f.map_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto part = part_of(scripted_client::prompt_of(req));
      if (!has(part, "FACT:"))
        return scripted_client::reply(
          record_text("Nothing relevant.", "No information", "0"));
      auto pos = part.find("FACT:");
      auto fact = part.substr(pos + 5, part.find('\n', pos) - pos - 5);
      return scripted_client::reply(
        "Extracted information: " + fact + "\nRationale: becau", "length");
    };
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, split_fact_document());
    REQUIRE(res);
    CHECK(res->partial);
    CHECK(res->losses.size() == 2);
    CHECK(has(res->losses.front().what, "cut at max_tokens"));
    CHECK(res->answer == "4711");
  }

  TEST_CASE("no record after mapping: no reduce call, flagged answer") {
    fixture f;
    auto res = f.job(small_chunks(*f.tok), filler(200));
    REQUIRE(res);
    CHECK(res->no_information);
    CHECK(res->answer == "No information");
    CHECK(res->calls.reduce == 0);
    CHECK(f.requests_of("reduce").empty());
    CHECK_FALSE(res->partial);
  }

  TEST_CASE("the collapse fallback dropping records makes the result partial") {
    fixture f;
    // Every chunk holds a fact; collapse outputs never shrink.
    f.map_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto part = part_of(scripted_client::prompt_of(req));
      return scripted_client::reply(
        record_text("A fact: " + part.substr(0, 800), "a value", "3"));
    };
    f.collapse_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      return scripted_client::reply(
        record_text(std::string(prompt.size() / 2, 'x'), "a value", "3"));
    };
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, filler(600));
    REQUIRE(res);
    CHECK(res->collapse_fallback);
    CHECK(res->partial);
    REQUIRE_FALSE(res->losses.empty());
    bool dropped = false;
    for (auto& l : res->losses) {
      dropped = dropped || has(l.what, "dropped");
      CHECK(l.ranges.size() == l.chunks.size());
    }
    CHECK(dropped);
    CHECK(res->failures.empty());
  }

  TEST_CASE("an unparsable map output is re-asked with a different prompt") {
    fixture f;
    auto plain = f.map_fn;
    f.map_fn = [plain](const chat_request& req) -> llmmr::expected<chat_reply> {
      if (!has(scripted_client::prompt_of(req), "requested fields"))
        return scripted_client::reply("I am not sure what you want.");
      return plain(req);
    };
    auto spec = small_chunks(*f.tok);
    auto res = f.job(spec, split_fact_document());
    REQUIRE(res);
    CHECK(res->answer == "4711");
    CHECK(res->reasks.map == res->chunks);
    CHECK(res->calls.map == 2 * res->chunks);
  }

  TEST_CASE("blank questions and blank documents are input errors") {
    fixture f;
    auto spec = small_chunks(*f.tok);
    spec.question = "  \n\t";
    auto res = f.job(spec, split_fact_document());
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == error_kind::input);
    spec.question = "What is the vault code?";
    auto blank = f.job(spec, std::string(50000, ' ') + "\n\n\t\n");
    REQUIRE_FALSE(blank);
    CHECK(kind_of(blank.error()) == error_kind::empty_document);
    CHECK(f.client->calls() == 0);
  }

  TEST_CASE("JSON-schema output is requested where supported, text after a "
            "rejection") {
    SUBCASE("requested and parsed") {
      fixture f;
      f.client->set_supports_json_schema(true);
      f.map_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
        CHECK_FALSE(req.json_schema.empty());
        auto part = part_of(scripted_client::prompt_of(req));
        nlohmann::json out{{"extracted_information", ""},
                           {"rationale", "read"},
                           {"answer", "No information"},
                           {"confidence", 0}};
        if (auto pos = part.find("FACT:"); pos != std::string::npos)
          out["extracted_information"]
            = part.substr(pos + 5, part.find('\n', pos) - pos - 5);
        return scripted_client::reply(out.dump());
      };
      f.reduce_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
        CHECK(has(req.json_schema, "answer"));
        nlohmann::json out{
          {"answer", "4711"}, {"rationale", "both"}, {"confidence", 4.5}};
        return scripted_client::reply(out.dump());
      };
      auto spec = small_chunks(*f.tok);
      auto res = f.job(spec, split_fact_document());
      REQUIRE(res);
      CHECK(res->answer == "4711");
      CHECK(res->confidence == doctest::Approx(4.5));
    }
    SUBCASE("text mode never asks") {
      fixture f;
      f.client->set_supports_json_schema(true);
      auto spec = small_chunks(*f.tok);
      spec.structured_output = structured_output::text;
      auto res = f.job(spec, split_fact_document());
      REQUIRE(res);
      for (auto& r : f.client->requests())
        CHECK(r.json_schema.empty());
    }
    SUBCASE("a rejected schema is not asked for again") {
      fixture f;
      auto plain = f.map_fn;
      f.map_fn
        = [plain](const chat_request& req) -> llmmr::expected<chat_reply> {
        if (!req.json_schema.empty())
          return make_error(error_kind::bad_request,
                            "400: response_format is not supported");
        return plain(req);
      };
      auto spec = small_chunks(*f.tok);
      spec.structured_output = structured_output::json_schema;
      auto res = f.job(spec, split_fact_document());
      REQUIRE(res);
      CHECK(res->answer == "4711");
      size_t with_schema = 0;
      for (auto& r : f.requests_of("map"))
        with_schema += r.json_schema.empty() ? 0 : 1;
      CHECK(with_schema == 1);
      for (auto& r : f.requests_of("reduce"))
        CHECK(r.json_schema.empty());
    }
  }
}

TEST_SUITE("actors") {
  TEST_CASE("a reduce prompt too long for the server is collapsed again") {
    fixture f;
    // Many evidence records; the server takes reduce and collapse prompts of
    // at most `limit` bytes and says by how much a longer one overflowed,
    // the way llama.cpp does (4 bytes a token).
    const size_t limit = 5000;
    auto too_long
      = [limit](const std::string& prompt) -> std::optional<llmmr::error> {
      if (prompt.size() <= limit)
        return std::nullopt;
      return make_error(error_kind::context_length_exceeded,
                        "HTTP 400: request ("
                          + std::to_string(prompt.size() / 4)
                          + " tokens) exceeds the available context size ("
                          + std::to_string(limit / 4) + " tokens)");
    };
    f.map_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto part = part_of(scripted_client::prompt_of(req));
      return scripted_client::reply(record_text(
        "A clue: " + part.substr(0, 300) + " FACT47", "No information", "3"));
    };
    f.collapse_fn
      = [too_long](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      if (auto err = too_long(prompt))
        return *err;
      return scripted_client::reply(
        record_text("Merged clues FACT47", "No information", "3"));
    };
    f.reduce_fn
      = [too_long](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      if (auto err = too_long(prompt))
        return *err;
      return scripted_client::reply(
        "Answer: 47\nConfidence score: 4\nRationale: the clues.\n");
    };
    auto spec = small_chunks(*f.tok, 3000);
    auto res = f.job(spec, filler(2000));
    REQUIRE_MESSAGE(res, (res ? std::string{} : describe(res.error())));
    CHECK(res->answer == "47");
    auto reduces = f.requests_of("reduce");
    REQUIRE_FALSE(reduces.empty());
    CHECK_LE(scripted_client::prompt_of(reduces.back()).size(), limit);
    // The first reduce prompt overflowed: collapsed again, then reduced.
    CHECK_GT(reduces.size(), 1u);
    CHECK_GT(scripted_client::prompt_of(reduces.front()).size(), limit);
    CHECK(res->collapse_rounds >= 1);
  }
}

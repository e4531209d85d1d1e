// The baseline strategies in the actor pipeline (`job_spec::strategy`):
// chain (Chain-of-Agents) and direct. A scripted backend plays the model;
// CAF's test coordinator runs every actor on the test's thread.

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/direct_window.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "pipeline_fixture.hpp"

using namespace llmmr;
using llmmr::test::between;
using llmmr::test::has;

namespace {

/// Lines `Line <i> ...`; each chain worker writes as its notes the old notes
/// plus the number of the first line of its chunk ("seen 0 | seen 37 ...").
struct fixture : llmmr::test::pipeline_fixture {
  std::function<llmmr::expected<chat_reply>(const chat_request&)> chain_fn;
  std::function<llmmr::expected<chat_reply>(const chat_request&)> final_fn;

  fixture() {
    chain_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      auto notes = between(prompt, "<notes>\n", "\n</notes>");
      auto part = between(prompt, "<part>\n", "\n</part>");
      auto first = part.substr(5, part.find(' ', 5) - 5);
      auto out = notes == "Nothing read yet." ? std::string{} : notes + " | ";
      return scripted_client::reply(out + "seen " + first);
    };
    final_fn = [](const chat_request& req) -> llmmr::expected<chat_reply> {
      auto& prompt = scripted_client::prompt_of(req);
      auto answer = has(prompt, "TAILMARK") ? "tail seen" : "no tail";
      return scripted_client::reply(std::string{"Rationale: read it.\nAnswer: "}
                                    + answer + "\nConfidence score: 4\n");
    };
    client = std::make_shared<scripted_client>([this](const chat_request& req) {
      return stage_of_label(req.label) == "chain" ? chain_fn(req)
                                                  : final_fn(req);
    });
  }
};

std::string lines(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i == n / 2)
      out += "Line " + std::to_string(i) + " MIDDLEMARK is here.\n";
    else if (i + 1 == n)
      out += "Line " + std::to_string(i) + " TAILMARK is here.\n";
    else
      out += "Line " + std::to_string(i) + " of the filler is about rain.\n";
  }
  return out;
}

job_spec spec_for(strategy s, uint32_t budget = 1400) {
  job_spec spec;
  spec.question = "What does the text say?";
  spec.strategy = s;
  spec.budget = budget;
  return spec;
}

} // namespace

TEST_SUITE("actors") {
  TEST_CASE("chain: workers read the chunks in order, each gets the notes of "
            "the one before, the manager answers from the last notes") {
    fixture f;
    auto res = f.job(spec_for(strategy::chain), lines(300));
    REQUIRE(res);
    CHECK_EQ(res->strategy, strategy::chain);
    auto steps = f.requests_of("chain");
    REQUIRE_GT(steps.size(), 2u);
    CHECK_EQ(res->chunks, steps.size());
    CHECK_EQ(res->calls.map, steps.size());
    CHECK_EQ(res->calls.collapse, 0u);
    CHECK_EQ(res->calls.reduce, 1u);
    std::string expected_notes = "Nothing read yet.";
    for (size_t i = 0; i < steps.size(); ++i) {
      CHECK_EQ(steps[i].label, "job 1 chain " + std::to_string(i));
      auto& prompt = scripted_client::prompt_of(steps[i]);
      CHECK_EQ(between(prompt, "<notes>\n", "\n</notes>"), expected_notes);
      auto part = between(prompt, "<part>\n", "\n</part>");
      auto first = part.substr(5, part.find(' ', 5) - 5);
      expected_notes
        = (i == 0 ? std::string{} : expected_notes + " | ") + "seen " + first;
      CHECK(steps[i].json_schema.empty());
    }
    auto managers = f.requests_of("manager");
    REQUIRE_EQ(managers.size(), 1u);
    auto& mp = scripted_client::prompt_of(managers[0]);
    CHECK_EQ(between(mp, "<notes>\n", "\n</notes>"), expected_notes);
    CHECK_EQ(res->answer, "no tail");
    CHECK_FALSE(res->partial);
    REQUIRE_EQ(res->evidence.size(), 1u);
    CHECK_EQ(res->evidence[0].record.extracted, expected_notes);
    CHECK_EQ(res->evidence[0].record.chunks.size(), steps.size());
    CHECK_GT(res->document_tokens, 0u);
    CHECK_EQ(res->cut_tokens, 0u);
    // Every prompt fits the budget as the job's tokenizer counts.
    for (auto& r : f.client->requests())
      CHECK_LE(f.tok->count(scripted_client::prompt_of(r)) + r.max_tokens,
               1400u);
  }

  TEST_CASE("chain: a failed worker call is reported and the chain goes on "
            "with the previous notes") {
    fixture f;
    auto inner = f.chain_fn;
    f.chain_fn
      = [inner](const chat_request& req) -> llmmr::expected<chat_reply> {
      if (req.label == "job 1 chain 1")
        return make_error(error_kind::server_error, "boom");
      return inner(req);
    };
    auto spec = spec_for(strategy::chain);
    spec.max_failed_fraction = 0.5;
    auto res = f.job(spec, lines(300));
    REQUIRE(res);
    REQUIRE_EQ(res->failures.size(), 1u);
    CHECK_EQ(res->failures[0].index, 1u);
    CHECK_EQ(res->failures[0].kind, error_kind::server_error);
    CHECK(res->partial);
    auto steps = f.requests_of("chain");
    REQUIRE_GT(steps.size(), 2u);
    // Chunk 2 gets the notes chunk 0 wrote.
    CHECK_EQ(
      between(scripted_client::prompt_of(steps[2]), "<notes>\n", "\n</notes>"),
      "seen 0");
    CHECK_EQ(res->evidence[0].record.chunks.size(), steps.size() - 1);
  }

  TEST_CASE("chain: mapreduce-only options are ignored") {
    fixture f;
    auto spec = spec_for(strategy::chain);
    spec.early_collapse = true;
    auto res = f.job(spec, lines(300));
    REQUIRE(res);
    CHECK_EQ(res->calls.collapse, 0u);
    CHECK(f.requests_of("collapse").empty());
    CHECK(f.requests_of("map").empty());
  }

  TEST_CASE("chain: a cancelled job stops its chain") {
    fixture f;
    f.client = std::make_shared<scripted_client>(
      [](const chat_request&) -> llmmr::expected<chat_reply> {
        return scripted_client::reply("seen something");
      },
      scripted_client::mode::deferred);
    auto p = spawn_pipeline(*f.sys, pipeline_options{}, f.client, f.tok);
    REQUIRE(p);
    f.pipe = *p;
    f.sched->run();
    // Deferred calls stay pending: run the actors only, never `f.ask`.
    auto id_rh
      = f.request(job_doc_atom::value, spec_for(strategy::chain), lines(300));
    f.run_actors();
    auto id = f.read<uint64_t>(id_rh);
    REQUIRE(id);
    // One worker call at a time: the chain is sequential.
    CHECK_EQ(f.client->pending(), 1u);
    f.client->complete_all();
    f.sched->run();
    CHECK_EQ(f.client->pending(), 1u);
    CHECK_EQ(f.client->calls(), 2u);
    auto cancel_rh = f.request(job_cancel_atom::value, *id);
    f.run_actors();
    auto cancelled = f.read<bool>(cancel_rh);
    REQUIRE(cancelled);
    CHECK(*cancelled);
    auto res_rh = f.request(job_result_atom::value, *id);
    f.run_actors();
    auto res = f.read<job_result>(res_rh);
    REQUIRE_FALSE(res);
    CHECK_EQ(kind_of(res.error()), error_kind::cancelled);
    f.client->complete_all();
    f.sched->run();
    CHECK_EQ(f.client->calls(), 2u);
  }

  TEST_CASE("chain: too many failed worker calls fail the job") {
    fixture f;
    f.chain_fn = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return make_error(error_kind::server_error, "boom");
    };
    auto res = f.job(spec_for(strategy::chain), lines(300));
    REQUIRE_FALSE(res);
    CHECK_EQ(kind_of(res.error()), error_kind::too_many_failures);
    CHECK(f.requests_of("manager").empty());
  }

  TEST_CASE("chain: an empty worker reply is re-asked once") {
    fixture f;
    auto inner = f.chain_fn;
    f.chain_fn
      = [inner](const chat_request& req) -> llmmr::expected<chat_reply> {
      if (req.label == "job 1 chain 0")
        return scripted_client::reply("");
      return inner(req);
    };
    auto res = f.job(spec_for(strategy::chain), lines(300));
    REQUIRE(res);
    CHECK_EQ(res->reasks.map, 1u);
    auto steps = f.requests_of("chain");
    CHECK(has(steps[1].label, "corrective re-ask"));
    CHECK(has(scripted_client::prompt_of(steps[1]), "was empty"));
  }

  TEST_CASE("chain: a manager reply that stays cut off fails with truncated") {
    fixture f;
    f.final_fn = [](const chat_request&) -> llmmr::expected<chat_reply> {
      return scripted_client::reply("Rationale: the notes say that", "length");
    };
    auto res = f.job(spec_for(strategy::chain), lines(300));
    REQUIRE_FALSE(res);
    CHECK_EQ(kind_of(res.error()), error_kind::truncated);
    CHECK(has(describe(res.error()), "manager output"));
    auto managers = f.requests_of("manager");
    REQUIRE_EQ(managers.size(), 2u);
    CHECK(has(managers[1].label, "corrective re-ask"));
  }

  TEST_CASE("direct: one call keeps the head and the tail and reports the "
            "cut") {
    fixture f;
    auto doc = lines(300);
    auto res = f.job(spec_for(strategy::direct), doc);
    REQUIRE(res);
    CHECK_EQ(res->strategy, strategy::direct);
    CHECK(f.requests_of("chain").empty());
    auto calls = f.requests_of("direct");
    REQUIRE_EQ(calls.size(), 1u);
    CHECK_EQ(res->calls.map, 0u);
    CHECK_EQ(res->calls.reduce, 1u);
    auto& prompt = scripted_client::prompt_of(calls[0]);
    auto text = between(prompt, "<document>\n", "\n</document>");
    CHECK(text.starts_with("Line 0 of the filler"));
    CHECK(has(text, "TAILMARK"));
    CHECK_FALSE(has(text, "MIDDLEMARK"));
    CHECK(has(text, std::string{direct_cut_marker}));
    CHECK_EQ(res->answer, "tail seen");
    CHECK(res->partial);
    CHECK_GT(res->cut_tokens, 0u);
    CHECK_LT(res->cut_tokens, res->document_tokens);
    REQUIRE_FALSE(res->losses.empty());
    auto& loss = res->losses.back();
    CHECK(has(loss.what, "cut from the middle"));
    REQUIRE_EQ(loss.ranges.size(), 1u);
    auto mid = doc.find("MIDDLEMARK");
    CHECK_LE(loss.ranges[0].begin, mid);
    CHECK_GT(loss.ranges[0].end, mid);
    REQUIRE_EQ(res->evidence.size(), 1u);
    REQUIRE_EQ(res->evidence[0].ranges.size(), 2u);
    CHECK_EQ(res->evidence[0].ranges[0].begin, 0u);
    CHECK_EQ(res->evidence[0].ranges[1].end, doc.size());
    CHECK_LE(f.tok->count(prompt) + calls[0].max_tokens, 1400u);
  }

  TEST_CASE("direct: a document that fits is sent whole") {
    fixture f;
    auto doc = lines(20);
    auto res = f.job(spec_for(strategy::direct, 4096), doc);
    REQUIRE(res);
    auto calls = f.requests_of("direct");
    REQUIRE_EQ(calls.size(), 1u);
    auto text = between(scripted_client::prompt_of(calls[0]), "<document>\n",
                        "\n</document>");
    CHECK_EQ(text, doc);
    CHECK_FALSE(res->partial);
    CHECK_EQ(res->cut_tokens, 0u);
  }

  TEST_CASE("direct: a prompt the server rejects as too long is cut again") {
    fixture f;
    int rejected = 0;
    f.final_fn
      = [&rejected](const chat_request& req) -> llmmr::expected<chat_reply> {
      if (rejected++ == 0)
        return make_error(error_kind::context_length_exceeded,
                          "maximum context length is 1000 tokens. However, "
                          "you requested 1400 tokens");
      (void)req;
      return scripted_client::reply(
        "Rationale: read it.\nAnswer: fine\nConfidence score: 4\n");
    };
    auto res = f.job(spec_for(strategy::direct), lines(300));
    REQUIRE(res);
    auto calls = f.requests_of("direct");
    REQUIRE_EQ(calls.size(), 2u);
    CHECK_LT(calls[1].messages.back().content.size(),
             calls[0].messages.back().content.size());
    CHECK_EQ(res->calls.reduce, 2u);
  }
}

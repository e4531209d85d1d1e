// The pure logic of the baseline strategies (chain, direct): token cuts,
// the head/tail window, the chain's notes and prompts, and their budgets.

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/budget.hpp"
#include "llmmr/core/chain_protocol.hpp"
#include "llmmr/core/chunker.hpp"
#include "llmmr/core/direct_window.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/token_cut.hpp"
#include "llmmr/messages/error_kind.hpp"

using namespace llmmr;

namespace {

/// One token per byte: easy arithmetic.
class byte_tokenizer final : public tokenizer {
public:
  size_t count(std::string_view text) const override { return text.size(); }
  std::string name() const override { return "bytes"; }
};

/// Lines "line <i> ..." with markers at the start, middle and end.
std::string marked_document(size_t lines) {
  std::string doc;
  for (size_t i = 0; i < lines; ++i) {
    if (i == 0)
      doc += "HEADMARK opens the document.\n";
    else if (i == lines / 2)
      doc += "MIDDLEMARK sits in the middle.\n";
    else if (i + 1 == lines)
      doc += "TAILMARK closes the document.\n";
    else
      doc += "Line " + std::to_string(i) + " says nothing in particular.\n";
  }
  return doc;
}

} // namespace

TEST_SUITE("core") {
  TEST_CASE("prefix_within and suffix_within keep the most that fits") {
    approx_tokenizer tok;
    std::string text = "Grüße aus Köln, 東京 und überall: the quick brown fox "
                       "jumps over the lazy dog again and again.";
    for (size_t n : {0u, 1u, 3u, 7u, 12u, 1000u}) {
      auto p = prefix_within(text, n, tok);
      CHECK_LE(tok.count(std::string_view{text}.substr(0, p)), n);
      if (p < text.size()) {
        // One more character does not fit.
        auto q = p + 1;
        while (q < text.size()
               && (static_cast<unsigned char>(text[q]) & 0xC0) == 0x80)
          ++q;
        CHECK_GT(tok.count(std::string_view{text}.substr(0, q)), n);
      }
      auto s = suffix_within(text, n, tok);
      CHECK_LE(tok.count(std::string_view{text}.substr(s)), n);
      // Never inside a UTF-8 sequence.
      if (s < text.size())
        CHECK_NE(static_cast<unsigned char>(text[s]) & 0xC0, 0x80);
    }
    CHECK_EQ(prefix_within(text, 1000, tok), text.size());
    CHECK_EQ(suffix_within(text, 1000, tok), 0u);
  }

  TEST_CASE("head_tail_window keeps the first and last halves and cuts the "
            "middle") {
    byte_tokenizer tok;
    auto doc = marked_document(400);
    chunker_options opts;
    opts.budget = 200;
    auto chunks = chunk_text(doc, tok, opts);
    REQUIRE(chunks);
    head_tail_window win{tok, 1000};
    size_t held_max = 0;
    for (auto& c : *chunks) {
      win.add(c);
      held_max = std::max(held_max, win.bytes_held());
    }
    // Bounded: the budget and about one chunk on each side.
    CHECK_LE(held_max, 1000u + 2 * 200u + 200u);
    auto dt = win.take(1000);
    CHECK(dt.truncated);
    CHECK_EQ(dt.document_tokens, doc.size());
    CHECK_EQ(dt.kept_tokens, 1000u);
    CHECK_EQ(dt.cut_tokens, doc.size() - 1000);
    REQUIRE_EQ(dt.kept.size(), 2u);
    CHECK_EQ(dt.kept[0].begin, 0u);
    CHECK_EQ(dt.kept[0].end, 500u);
    CHECK_EQ(dt.kept[1].begin, doc.size() - 500);
    CHECK_EQ(dt.kept[1].end, doc.size());
    CHECK_EQ(dt.cut.begin, 500u);
    CHECK_EQ(dt.cut.end, doc.size() - 500);
    CHECK_EQ(dt.text, doc.substr(0, 500) + std::string{direct_cut_marker}
                        + doc.substr(doc.size() - 500));
    CHECK_NE(dt.text.find("HEADMARK"), std::string::npos);
    CHECK_NE(dt.text.find("TAILMARK"), std::string::npos);
    CHECK_EQ(dt.text.find("MIDDLEMARK"), std::string::npos);
    // A smaller budget after an overflow is served from the same pieces.
    auto small = win.take(400);
    CHECK_EQ(small.kept_tokens, 400u);
    CHECK_EQ(small.text, doc.substr(0, 200) + std::string{direct_cut_marker}
                           + doc.substr(doc.size() - 200));
  }

  TEST_CASE("head_tail_window passes a document that fits whole") {
    byte_tokenizer tok;
    auto doc = marked_document(20);
    chunker_options opts;
    opts.budget = 100;
    auto chunks = chunk_text(doc, tok, opts);
    REQUIRE(chunks);
    head_tail_window win{tok, doc.size()};
    for (auto& c : *chunks)
      win.add(c);
    auto dt = win.take(doc.size());
    CHECK_FALSE(dt.truncated);
    CHECK_EQ(dt.cut_tokens, 0u);
    CHECK_EQ(dt.text, doc);
    REQUIRE_EQ(dt.kept.size(), 1u);
    CHECK_EQ(dt.kept[0].end, doc.size());
  }

  TEST_CASE("chain notes: cleaning and problems") {
    CHECK_EQ(clean_chain_notes("  Notes: Ada has the key.\n"),
             "Ada has the key.");
    CHECK_EQ(clean_chain_notes("<think>hmm</think>\nThe code is 4711."),
             "The code is 4711.");
    CHECK_EQ(clean_chain_notes("<think>still thinking"), "");
    CHECK_EQ(diagnose_chain_notes("", "stop"), output_problem::empty);
    CHECK_EQ(diagnose_chain_notes("<think>a", "length"),
             output_problem::truncated);
    CHECK_EQ(diagnose_chain_notes("Some notes, cut", "length"),
             output_problem::none);
    auto again = chain_corrective_prompt(task_profile::qa,
                                         output_problem::empty, "PROMPT");
    CHECK(again.starts_with("PROMPT\n\n"));
    CHECK_LE(again.size() - 6,
             longest_chain_corrective_note(task_profile::qa).size());
  }

  TEST_CASE("baseline templates render for every profile and are checked") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    job_spec spec;
    spec.question = "Q-TEXT";
    for (auto p :
         {task_profile::qa, task_profile::qa_zh, task_profile::code,
          task_profile::math, task_profile::retrieval, task_profile::summary}) {
      spec.profile = p;
      auto step = render_chain_step_prompt(*lib, spec, "N-TEXT", "C-TEXT");
      REQUIRE(step);
      CHECK_NE(step->find("Q-TEXT"), std::string::npos);
      CHECK_LT(step->find("N-TEXT"), step->find("C-TEXT"));
      auto answer = render_chain_answer_prompt(*lib, spec, "N-TEXT");
      REQUIRE(answer);
      CHECK_NE(answer->find("N-TEXT"), std::string::npos);
      auto direct = render_direct_prompt(*lib, spec, "D-TEXT");
      REQUIRE(direct);
      CHECK_NE(direct->find("D-TEXT"), std::string::npos);
    }
    auto bad = prompt_template::parse("x/chain_step.txt", "{question} {chunk}");
    REQUIRE(bad);
    auto err = validate_template(*bad, baseline_stage::chain_step);
    CHECK_EQ(kind_of(err), error_kind::config);
    CHECK_NE(describe(err).find("{notes}"), std::string::npos);
  }

  TEST_CASE("compute_budget: the chain and direct arithmetic") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    approx_tokenizer tok;
    job_spec spec;
    spec.question = "What is the code name of the relay station?";
    spec.budget = 4096;
    spec.strategy = strategy::chain;
    auto b = compute_budget(spec, *lib, tok);
    REQUIRE(b);
    auto q = tok.count(spec.question);
    CHECK_EQ(b->chain_notes_tokens, b->reserved_output);
    CHECK_EQ(b->chain_chunk_payload, spec.budget - b->chain_template_tokens - q
                                       - 2 * b->reserved_output);
    CHECK_EQ(b->chunk_payload, b->chain_chunk_payload);
    CHECK_EQ(b->chain_answer_payload, spec.budget
                                        - b->chain_answer_template_tokens - q
                                        - b->reduce_reserved_output);
    spec.strategy = strategy::direct;
    auto d = compute_budget(spec, *lib, tok);
    REQUIRE(d);
    CHECK_EQ(d->direct_payload, spec.budget - d->direct_template_tokens - q
                                  - d->reduce_reserved_output);
    CHECK_EQ(d->chunk_payload, d->direct_payload / 4);
    // Too small a budget names the strategy's call.
    spec.strategy = strategy::chain;
    spec.budget = 700;
    auto small = compute_budget(spec, *lib, tok);
    REQUIRE_FALSE(small);
    CHECK_EQ(kind_of(small.error()), error_kind::budget);
    CHECK_NE(describe(small.error()).find("chain worker"), std::string::npos);
  }
}

// The simulator's reader on the baseline prompts (chain worker, chain
// manager, direct), rendered from the built-in templates.

#include <doctest/doctest.h>

#include <string>

#include "llmmr/core/chain_protocol.hpp"
#include "llmmr/core/direct_window.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/sim/reader.hpp"

using namespace llmmr;

TEST_SUITE("sim") {
  TEST_CASE("reader: chain workers carry a fact forward, the manager answers "
            "from the notes") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    job_spec spec;
    spec.question = "What is the secret passphrase?";
    auto first = render_chain_step_prompt(
      *lib, spec, chain_initial_notes(spec.profile),
      "The weather was mild. The secret passphrase is amber-4127. Birds sang.");
    REQUIRE(first);
    auto r1 = sim::answer_prompt(*first);
    CHECK_EQ(r1.parts.kind, sim::prompt_kind::chain_step);
    CHECK_EQ(r1.text, "The secret passphrase is amber-4127.");
    // A later part without the fact keeps the notes.
    auto second = render_chain_step_prompt(*lib, spec, r1.text,
                                           "Nothing happened on Tuesday.");
    REQUIRE(second);
    auto r2 = sim::answer_prompt(*second);
    CHECK_EQ(r2.text, r1.text);
    // Nothing relevant at all.
    auto none = render_chain_step_prompt(
      *lib, spec, chain_initial_notes(spec.profile), "Rain fell all day.");
    REQUIRE(none);
    CHECK_EQ(sim::answer_prompt(*none).text, "Nothing relevant so far.");
    auto manager = render_chain_answer_prompt(*lib, spec, r2.text);
    REQUIRE(manager);
    auto r3 = sim::answer_prompt(*manager);
    CHECK_EQ(r3.parts.kind, sim::prompt_kind::chain_answer);
    CHECK_EQ(r3.answer, "amber-4127");
    CHECK(r3.text.find("Answer: amber-4127") != std::string::npos);
    CHECK(r3.text.find("Extracted information") == std::string::npos);
  }

  TEST_CASE("reader: direct answers from the document, also after a "
            "corrective note") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    job_spec spec;
    spec.question = "What is the secret passphrase?";
    auto prompt = render_direct_prompt(
      *lib, spec,
      std::string{"Start. The secret passphrase is amber-4127."}
        + std::string{direct_cut_marker} + "The end.");
    REQUIRE(prompt);
    auto r = sim::answer_prompt(*prompt);
    CHECK_EQ(r.parts.kind, sim::prompt_kind::direct);
    CHECK_EQ(r.answer, "amber-4127");
    auto again = sim::answer_prompt(*prompt
                                    + "\n\nYour previous reply was "
                                      "empty. Reply again, briefly.");
    CHECK_EQ(again.parts.kind, sim::prompt_kind::direct);
    CHECK_EQ(again.answer, "amber-4127");
  }
}

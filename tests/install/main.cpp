// Spawns the llmmr pipeline from an installed llmmr and runs one job against
// a scripted backend that answers every call with the same record.

#include <cstdio>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/tiktoken.hpp"
#include "llmmr/messages/error_kind.hpp"

int main() {
  // The exact tokenizers link PCRE2 and utf8proc, which the static library
  // does not contain: the package configuration must bring them in.
  auto tik
    = llmmr::load_tiktoken("/nonexistent/cl100k_base.tiktoken", "cl100k_base");
  auto hf = llmmr::parse_hf_tokenizer("{}", "empty.json");
  if (tik || hf) {
    std::fprintf(stderr, "tokenizer loaders accepted bad input\n");
    return 1;
  }
  caf::actor_system_config cfg;
  llmmr::register_types(cfg);
  caf::actor_system sys{cfg};
  auto client = std::make_shared<llmmr::scripted_client>(
    [](const llmmr::chat_request&) -> llmmr::expected<llmmr::chat_reply> {
      return llmmr::scripted_client::reply(
        "Extracted information: The meeting is on Tuesday.\n"
        "Rationale: The text names the day.\n"
        "Answer: Tuesday\n"
        "Confidence score: 5\n");
    });
  auto pipeline
    = llmmr::spawn_pipeline(sys, llmmr::pipeline_options{}, client,
                            std::make_shared<llmmr::approx_tokenizer>());
  if (!pipeline) {
    std::fprintf(stderr, "spawn_pipeline: %s\n",
                 llmmr::describe(pipeline.error()).c_str());
    return 1;
  }
  llmmr::job_spec spec;
  spec.question = "On which day is the meeting?";
  spec.budget = 1024;
  std::string doc;
  for (int i = 0; i < 200; ++i)
    doc += "Paragraph " + std::to_string(i)
           + " talks about the weather and the harbor. ";
  doc += "The meeting is on Tuesday.\n";
  auto res
    = llmmr::run_job(sys, *pipeline, spec, doc, std::chrono::seconds{60});
  pipeline->stop();
  if (!res) {
    std::fprintf(stderr, "run_job: %s\n", llmmr::describe(res.error()).c_str());
    return 1;
  }
  std::printf("answer: %s (%u chunks, %u map calls)\n", res->answer.c_str(),
              res->chunks, res->calls.map);
  return res->answer == "Tuesday" && res->chunks > 1 ? 0 : 1;
}

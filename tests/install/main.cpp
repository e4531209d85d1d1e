// Embedding llmmr in a CAF application, built against the installed package
// (the `install` test builds and runs it; docs/architecture.md walks through
// it). It shows the five things a host controls:
//
//   logging       the library logs through the host's spdlog sink
//   I/O runtime   one runtime for every client, stopped by the host
//   async spawn   spawn_pipeline from inside an actor, never blocking
//   admission     max_jobs = 1: further jobs wait and run in order
//   cancellation  a cancelled job ends with error_kind::cancelled
//
// Usage: consumer [URL MODEL]
//   With URL (e.g. http://127.0.0.1:8080) and MODEL it asks that
//   OpenAI-compatible server; without, a scripted stand-in answers.

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/client_factory.hpp"
#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/backends/scripted_client.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/hf_tokenizer.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/core/tiktoken.hpp"

namespace {

/// What the host actor learned about each job, in the order they finished.
struct outcomes {
  std::vector<std::string> lines;
  int answered = 0;
  int cancelled = 0;
  int failed = 0;
};

std::string document() {
  std::string doc;
  for (int i = 0; i < 200; ++i)
    doc += "Paragraph " + std::to_string(i)
           + " talks about the weather and the harbor. ";
  return doc + "The meeting is on Tuesday.\n";
}

/// The host: spawns the pipeline from inside its behavior (the call returns
/// at once even with worker nodes configured), submits three jobs to a
/// pipeline that admits one at a time, cancels the last one and collects
/// every outcome.
caf::behavior host(caf::event_based_actor* self,
                   std::shared_ptr<llmmr::llm_client> client,
                   std::shared_ptr<outcomes> out) {
  llmmr::pipeline_options opts;
  opts.max_jobs = 1;
  auto pipeline
    = llmmr::spawn_pipeline(self->system(), opts, std::move(client),
                            std::make_shared<llmmr::approx_tokenizer>());
  if (!pipeline) {
    out->lines.push_back("spawn_pipeline: "
                         + llmmr::describe(pipeline.error()));
    ++out->failed;
    self->quit();
    return {};
  }
  auto p = *pipeline;
  auto pending = std::make_shared<int>(3);
  auto finish_one = [self, p, pending] {
    if (--*pending == 0) {
      p.stop();
      self->quit();
    }
  };
  for (int i = 1; i <= 3; ++i) {
    llmmr::job_spec spec;
    spec.question = "On which day is the meeting?";
    spec.budget = 1024;
    self
      ->request(p.actor, std::chrono::minutes{5}, llmmr::job_doc_atom::value,
                spec, document())
      .then(
        [=](uint64_t id) {
          if (i == 3) // Still waiting for admission: cancel it.
            self
              ->request(p.actor, std::chrono::minutes{1},
                        llmmr::job_cancel_atom::value, id)
              .then([](bool) {}, [](const caf::error&) {});
          self
            ->request(p.actor, std::chrono::minutes{5},
                      llmmr::job_result_atom::value, id)
            .then(
              [=](const llmmr::job_result& res) {
                out->lines.push_back("job " + std::to_string(id) + ": "
                                     + res.answer);
                ++out->answered;
                finish_one();
              },
              [=](const caf::error& err) {
                out->lines.push_back("job " + std::to_string(id) + ": "
                                     + llmmr::describe(err));
                if (llmmr::kind_of(err) == llmmr::error_kind::cancelled)
                  ++out->cancelled;
                else
                  ++out->failed;
                finish_one();
              });
        },
        [=](const caf::error& err) {
          out->lines.push_back("start: " + llmmr::describe(err));
          ++out->failed;
          finish_one();
        });
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  // Logging: the host's sink receives every line; llmmr never writes to
  // stdout and leaves spdlog's default logger alone.
  std::ostringstream log_lines;
  llmmr::set_log_sinks(
    {std::make_shared<spdlog::sinks::ostream_sink_mt>(log_lines)});

  // The exact tokenizers link PCRE2 and utf8proc, which the static
  // libraries do not contain: the package configuration brings them in.
  if (llmmr::load_tiktoken("/nonexistent/cl100k_base.tiktoken", "cl100k_base")
      || llmmr::parse_hf_tokenizer("{}", "empty.json")) {
    std::fprintf(stderr, "tokenizer loaders accepted bad input\n");
    return 1;
  }

  // One I/O runtime for every endpoint client; the host owns and stops it.
  auto runtime = llmmr::io_runtime::make({});
  std::shared_ptr<llmmr::llm_client> client;
  if (argc == 3) {
    llmmr::endpoint_options ep;
    ep.url = argv[1];
    ep.model = argv[2];
    auto made = llmmr::make_client(runtime, {ep}, {}, {}, {});
    if (!made) {
      std::fprintf(stderr, "%s\n", llmmr::describe(made.error()).c_str());
      return 1;
    }
    client = *made;
  } else {
    client = std::make_shared<llmmr::scripted_client>(
      [](const llmmr::chat_request&) -> llmmr::expected<llmmr::chat_reply> {
        return llmmr::scripted_client::reply(
          "Extracted information: The meeting is on Tuesday.\n"
          "Rationale: The text names the day.\n"
          "Answer: Tuesday\n"
          "Confidence score: 5\n");
      });
  }

  auto out = std::make_shared<outcomes>();
  {
    caf::actor_system_config cfg;
    llmmr::register_types(cfg);
    caf::actor_system sys{cfg};
    sys.spawn(host, client, out);
    sys.await_all_actors_done();
  }
  client.reset();
  runtime->stop(); // Joins the I/O thread, here on the main thread.

  for (const auto& line : out->lines)
    std::printf("%s\n", line.c_str());
  // Every job ends as an answer or an explicit cancellation; the first two
  // answer (the third is cancelled unless it already finished).
  if (out->answered < 2 || out->answered + out->cancelled != 3)
    return 1;
  return out->failed == 0 ? 0 : 1;
}

// A small CAF service that answers questions over documents with the llmmr
// pipeline as a subsystem. Several questions over several documents run
// concurrently through one shared pipeline.
//
// Usage: embed_service [URL]
//   Without URL the example starts the simulator (`llmmr::sim::sim_server`)
//   in this process on loopback and checks the answers; with URL (e.g.
//   http://127.0.0.1:8000/v1) it asks that server and prints what it says.

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/core/haystack.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"

#include "example_backend.hpp"

namespace {

/// `(ask_atom, document name, question) -> answer`
using ask_atom = caf::atom_constant<caf::atom("ask")>;

/// The service: holds named documents and answers questions over them by
/// starting one pipeline job per question. Many questions may be open at
/// once; each reply is delivered when its job finishes.
class qa_service : public caf::event_based_actor {
public:
  qa_service(caf::actor_config& cfg, llmmr::pipeline_handle pipeline,
             std::map<std::string, std::string> docs)
    : caf::event_based_actor(cfg), pipeline_(std::move(pipeline)),
      docs_(std::move(docs)) {
    // nop
  }

  caf::behavior make_behavior() override {
    return {
      [this](ask_atom, const std::string& doc,
             const std::string& question) -> caf::result<std::string> {
        auto i = docs_.find(doc);
        if (i == docs_.end())
          return llmmr::make_caf_error(llmmr::error_kind::usage,
                                       "no document named " + doc);
        llmmr::job_spec spec;
        spec.question = question;
        spec.budget = 1536; // small chunks: several map calls per document
        auto rp = make_response_promise<std::string>();
        // Start the job with the whole document, then await its result.
        request(pipeline_.actor, caf::infinite, llmmr::job_doc_atom::value,
                spec, i->second)
          .then(
            [this, rp](uint64_t job) mutable {
              request(pipeline_.actor, caf::infinite,
                      llmmr::job_result_atom::value, job)
                .then(
                  [rp](llmmr::job_result& res) mutable {
                    rp.deliver(std::move(res.answer));
                  },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
            },
            [rp](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
    };
  }

private:
  llmmr::pipeline_handle pipeline_;
  std::map<std::string, std::string> docs_;
};

/// A document of filler prose with `facts` spread through it.
std::string make_document(uint64_t seed,
                          const std::vector<std::string>& facts) {
  llmmr::filler_text filler{seed};
  std::string doc;
  for (size_t i = 0; i < 24; ++i) {
    if (!doc.empty())
      doc += "\n\n";
    doc += filler.next_paragraph();
    if (i % 8 == 3 && i / 8 < facts.size())
      doc += " " + facts[i / 8];
  }
  return doc;
}

struct question {
  std::string doc;
  std::string text;
  std::string expected;
};

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  llmmr::register_types(cfg);
  // The endpoint: a URL from the command line, or the in-process simulator.
  llmmr::sim::sim_options sim_opts;
  sim_opts.slots = 8;
  auto be = example::open_backend(argc, argv, sim_opts, 8);
  if (!be)
    return 1;
  // With the simulator the example knows the answers and checks them.
  bool checked = be->sim != nullptr;
  caf::actor_system sys{cfg};
  llmmr::pipeline_options popts;
  popts.mappers = 2;
  popts.map_window = 4;
  auto pipeline = example::open_pipeline(sys, popts, be->client);
  if (!pipeline)
    return 1;
  std::map<std::string, std::string> docs{
    {"harbor",
     make_document(11, {"The call sign of the tugboat is Seahorse Nine.",
                        "The length of the east breakwater is 740 metres."})},
    {"orchard",
     make_document(22, {"The oldest apple variety in the orchard is "
                        "Winter Russet.",
                        "The yearly cider yield of the orchard is 3200 "
                        "litres."})},
    {"observatory",
     make_document(33, {"The diameter of the observatory telescope mirror is "
                        "1.2 metres.",
                        "The founder of the observatory is Amalia Brandt."})},
  };
  std::vector<question> questions{
    {"harbor", "What is the call sign of the tugboat?", "Seahorse Nine"},
    {"harbor", "What is the length of the east breakwater?", "740 metres"},
    {"orchard", "What is the oldest apple variety in the orchard?",
     "Winter Russet"},
    {"orchard", "What is the yearly cider yield of the orchard?",
     "3200 litres"},
    {"observatory", "What is the diameter of the observatory telescope mirror?",
     "1.2 metres"},
    {"observatory", "Who is the founder of the observatory?", "Amalia Brandt"},
  };
  auto service = sys.spawn<qa_service>(*pipeline, docs);
  // Ask every question at once from an actor; the answers arrive in any
  // order and the last one wakes up main().
  using done_atom = caf::atom_constant<caf::atom("done")>;
  auto answers = std::make_shared<std::vector<std::string>>(questions.size());
  caf::scoped_actor self{sys};
  sys.spawn(
    [answers, questions, service, waiter = caf::actor_cast<caf::actor>(self)](
      caf::event_based_actor* asker) {
      auto left = std::make_shared<size_t>(questions.size());
      for (size_t i = 0; i < questions.size(); ++i) {
        auto finish = [answers, left, waiter, asker, i](std::string text) {
          (*answers)[i] = std::move(text);
          if (--*left == 0)
            asker->send(waiter, done_atom::value);
        };
        asker
          ->request(service, std::chrono::minutes{5}, ask_atom::value,
                    questions[i].doc, questions[i].text)
          .then([finish](std::string& answer) { finish(std::move(answer)); },
                [finish](caf::error& err) {
                  finish("(error: " + llmmr::describe(err) + ")");
                });
      }
    });
  self->receive([](done_atom) {});
  int code = 0;
  for (size_t i = 0; i < questions.size(); ++i) {
    const auto& q = questions[i];
    bool ok = (*answers)[i].find(q.expected) != std::string::npos;
    std::printf("[%s] %s\n  -> %s%s\n", q.doc.c_str(), q.text.c_str(),
                (*answers)[i].c_str(),
                checked ? (ok ? "  (correct)" : "  (WRONG)") : "");
    if (checked && !ok)
      code = 1;
  }
  self->send_exit(service, caf::exit_reason::user_shutdown);
  pipeline->stop();
  return code;
}

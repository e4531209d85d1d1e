// The library as a guest in a host process: it writes nothing to stdout,
// even while endpoint faults make it log retries, and its log lines reach a
// sink the host hands it.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include "llmmr/actors/job_runner.hpp"
#include "llmmr/actors/pipeline.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/backends/client_factory.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/sim/sim_server.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;

namespace {

/// Points file descriptor 1 at a file while alive and returns what was
/// written there.
class stdout_capture {
public:
  explicit stdout_capture(std::string file) : file_(std::move(file)) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }

  ~stdout_capture() { restore(); }

  /// Restores stdout and returns what reached it meanwhile.
  std::string release() {
    restore();
    std::ifstream in{file_};
    return {std::istreambuf_iterator<char>{in}, {}};
  }

private:
  void restore() {
    if (saved_ < 0)
      return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

  std::string file_;
  int saved_ = -1;
};

/// A host's own logger writing into a string, installed while alive.
struct host_sink {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = llmmr::logger();

  host_sink() {
    llmmr::set_log_sinks(
      {std::make_shared<spdlog::sinks::ostream_sink_mt>(out)});
    llmmr::set_log_level(spdlog::level::debug);
  }

  ~host_sink() { llmmr::set_logger(previous); }

  std::string text() {
    llmmr::logger()->flush();
    return out.str();
  }
};

} // namespace

TEST_SUITE("actors") {

  TEST_CASE("an embedded pipeline writes nothing to stdout and logs to the "
            "host's sink") {
    llmmr::test::temp_dir dir;
    host_sink logs;
    stdout_capture capture{(dir.path() / "stdout").string()};
    std::string answer;
    std::string error;
    {
      llmmr::sim::sim_options opts;
      opts.slots = 4;
      opts.seed = 7;
      // Enough faults that retries are logged, few enough that with ten
      // attempts no chunk runs out of them (0.25^10 per call).
      opts.faults.server_error = 0.1;
      opts.faults.rate_limit = 0.1;
      opts.faults.invalid_json = 0.05;
      auto sim = llmmr::sim::sim_server::start(opts);
      REQUIRE(sim);
      llmmr::endpoint_options ep;
      ep.url = "http://127.0.0.1:" + std::to_string((*sim)->port()) + "/v1";
      ep.max_concurrency = 4;
      llmmr::retry_options retry;
      retry.initial_backoff = 5ms;
      retry.max_backoff = 20ms;
      retry.max_attempts = 10;
      retry.seed = 3;
      auto client = llmmr::make_client({ep}, {}, retry, {});
      REQUIRE(client);
      caf::actor_system_config cfg;
      llmmr::register_types(cfg);
      caf::actor_system sys{cfg};
      auto pipeline = llmmr::spawn_pipeline(
        sys, {}, *client, std::make_shared<llmmr::approx_tokenizer>());
      REQUIRE(pipeline);
      llmmr::job_spec spec;
      spec.question = "What is the code name of the lighthouse keeper?";
      spec.budget = 1536;
      auto doc = llmmr::test::document_with_fact(
        5, 120, "The code name of the lighthouse keeper is Blue Heron.");
      auto res = llmmr::run_job(sys, *pipeline, spec, doc, 120s);
      if (res)
        answer = res->answer;
      else
        error = llmmr::describe(res.error());
      pipeline->stop();
    }
    auto written = capture.release();
    CHECK_MESSAGE(written.empty(), "stdout received: " << written);
    CHECK_MESSAGE(error.empty(), error, "\nlogs:\n", logs.text());
    CHECK_NE(answer.find("Blue Heron"), std::string::npos);
    auto text = logs.text();
    // The faults made the client retry; the retries were logged to the
    // host's sink.
    CHECK_NE(text.find("retry"), std::string::npos);
  }

} // TEST_SUITE

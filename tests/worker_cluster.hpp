#pragma once

// Multi-process helpers of the `llmmr worker` tests: `llmmr sim` and
// `llmmr worker` children on 127.0.0.1 with ports chosen at run time (each
// killed and reaped by its destructor), and `llmmr ask` over them.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/haystack.hpp"
#include "test_support.hpp"

namespace llmmr::test::cluster {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// Starts `llmmr <args...> --port 0 --port-file F` and waits for the port.
struct listening_process {
  temp_dir dir;
  std::unique_ptr<child_process> child;
  std::string port;

  /// Listens on `port_wanted` ("0": a free port chosen by the kernel).
  listening_process(const std::string& name, std::vector<std::string> args,
                    const std::string& port_wanted = "0") {
    auto port_file = dir.path() / "port";
    std::vector<std::string> argv{llmmr_binary(), name,
                                  "--port",       port_wanted,
                                  "--port-file",  port_file.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    child = std::make_unique<child_process>(argv, log_path());
    port = wait_for_line(port_file, 60s);
    INFO("log: ", log());
    REQUIRE_MESSAGE(!port.empty(), "llmmr ", name, " did not report its port");
  }

  std::filesystem::path log_path() const { return dir.path() / "log"; }

  std::string log() const {
    std::ifstream in{log_path()};
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }
};

/// A running `llmmr sim`.
struct worker_sim : listening_process {
  explicit worker_sim(std::vector<std::string> extra = {})
    : listening_process("sim", std::move(extra)) {
    // nop
  }

  std::string url() const { return "http://127.0.0.1:" + port + "/v1"; }

  /// Waits until the simulator logged a completion request (it needs
  /// `--verbose`); returns whether one came within `limit`.
  bool wait_for_completion_request(std::chrono::milliseconds limit) const {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (log().find("POST /v1/chat/completions") != std::string::npos)
        return true;
      if (std::chrono::steady_clock::now() >= until)
        return false;
      std::this_thread::sleep_for(50ms);
    }
  }
};

/// A running `llmmr worker` that maps through `endpoint`.
struct worker_process : listening_process {
  /// Listens on `port_wanted`; "0" picks a free port.
  explicit worker_process(const std::string& endpoint,
                          std::vector<std::string> extra = {},
                          const std::string& port_wanted = "0")
    : listening_process("worker", with_defaults(endpoint, std::move(extra)),
                        port_wanted) {
    // nop
  }

  static std::vector<std::string> with_defaults(const std::string& endpoint,
                                                std::vector<std::string> xs) {
    xs.insert(xs.begin(),
              {"--endpoint", endpoint, "--mappers", "2", "--map-window", "2"});
    return xs;
  }

  std::string node() const { return "127.0.0.1:" + port; }
};

inline const std::string& fact = relay_fact;
inline const std::string& question = relay_question;

inline command_result ask(const std::vector<std::string>& args,
                          const std::string& input) {
  std::vector<std::string> argv{llmmr_binary(), "ask",    "--doc",    "-",
                                "--question",   question, "--budget", "1536",
                                "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input, 300s);
}

/// Checks that the job answered and mapped every chunk without a failure.
inline void check_complete(const command_result& r) {
  INFO("stderr: ", r.err.substr(0, 4000));
  REQUIRE_EQ(r.exit_code, 0);
  auto res = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(res.is_discarded());
  CHECK_EQ(res["answer"], "Blue Heron");
  CHECK(res["failures"].empty());
  CHECK_FALSE(res["partial"].get<bool>());
  auto chunks = res["chunks"].get<unsigned>();
  CHECK_GT(chunks, 3u);
  CHECK_GE(res["calls"]["map"].get<unsigned>(), chunks);
  auto counts = last_progress(r.err);
  REQUIRE(counts.found);
  CHECK_EQ(counts.mapped, chunks);
  CHECK_EQ(counts.total, chunks);
  CHECK_EQ(counts.failed, 0u);
}

} // namespace llmmr::test::cluster

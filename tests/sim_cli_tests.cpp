// Runs the real `llmmr sim` process and talks to it.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "sim_http.hpp"

namespace {

/// Kills and reaps the child in all cases.
struct child_process {
  pid_t pid = -1;
  ~child_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  int terminate() {
    int status = 0;
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

} // namespace

TEST_SUITE("sim") {

  TEST_CASE("llmmr sim --port 0 --port-file F serves requests") {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path()
               / ("llmmr-sim-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto port_file = (dir / "port").string();
    auto out_file = (dir / "stdout").string();
    child_process child;
    std::fflush(stdout);
    std::fflush(stderr);
    child.pid = ::fork();
    REQUIRE(child.pid >= 0);
    if (child.pid == 0) {
      std::freopen(out_file.c_str(), "w", stdout);
      ::execl(LLMMR_BINARY, LLMMR_BINARY, "sim", "--port", "0", "--port-file",
              port_file.c_str(), "--model", "cli-model", nullptr);
      std::_Exit(127);
    }
    // Wait for the port file (written atomically by rename).
    uint16_t port = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (port == 0 && std::chrono::steady_clock::now() < deadline) {
      std::ifstream in{port_file};
      unsigned value = 0;
      if (in >> value)
        port = static_cast<uint16_t>(value);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    REQUIRE_NE(port, 0);
    auto r = llmmr::sim::test::http_call(
      port, "POST", "/v1/chat/completions",
      R"({"model":"x","messages":[{"role":"user","content":"ping"}]})");
    CHECK_EQ(r.status, 200);
    CHECK(r.body.find("\"model\":\"cli-model\"") != std::string::npos);
    auto status = child.terminate();
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    std::ifstream out{out_file};
    std::string line;
    std::getline(out, line);
    CHECK_EQ(line, "listening on 127.0.0.1:" + std::to_string(port));
    fs::remove_all(dir);
  }

} // TEST_SUITE

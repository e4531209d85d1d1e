// Runs the examples built from examples/*.cpp; each starts the simulator in
// its own process and exits 0 when its answers are right.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "test_support.hpp"

using namespace llmmr::test;
using namespace std::chrono_literals;

namespace {

std::string example(const std::string& name) {
  return (std::filesystem::path{LLMMR_EXAMPLES_DIR} / name).string();
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("example embed_service answers questions over documents") {
    auto r = run_command({example("embed_service")}, {}, 300s);
    INFO("stdout: ", r.out);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    CHECK(r.out.find("Seahorse Nine") != std::string::npos);
    CHECK(r.out.find("Amalia Brandt") != std::string::npos);
    CHECK(r.out.find("WRONG") == std::string::npos);
  }

  TEST_CASE("example incremental_document feeds pieces under backpressure") {
    auto r = run_command({example("incremental_document")}, {}, 300s);
    INFO("stdout: ", r.out);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    CHECK(r.out.find("progress:") != std::string::npos);
    CHECK(r.out.find("document complete") != std::string::npos);
    CHECK(r.out.find("answer: Blue Heron") != std::string::npos);
  }
}

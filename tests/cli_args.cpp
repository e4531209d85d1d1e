// The command-line parser (tools/args.cpp, on CLI11): the behaviour every
// subcommand relies on.

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"

using namespace llmmr;
using namespace llmmr::cli;

namespace {

constexpr std::array<option_spec, 3> specs{{
  {"doc", true, "FILE  the document"},
  {"set", true, "KEY=VALUE  a setting"},
  {"json", false, "print JSON"},
}};

llmmr::expected<parsed_args> parse(std::vector<std::string_view> args) {
  return parse_args("test", arg_list{args}, specs);
}

std::string usage_text(std::vector<std::string_view> args) {
  auto r = parse(std::move(args));
  REQUIRE(!r);
  CHECK(kind_of(r.error()) == error_kind::usage);
  return describe(r.error());
}

} // namespace

TEST_SUITE("cli") {

  TEST_CASE("arguments: values, repeats, flags and positionals") {
    auto r = parse({"--doc", "a.txt", "--set", "job.budget=5", "--set=x=y",
                    "--json", "-", "extra"});
    REQUIRE(r);
    CHECK(r->get("doc") == "a.txt");
    CHECK(r->all("set") == std::vector<std::string>{"job.budget=5", "x=y"});
    CHECK(r->get("set") == "x=y");
    CHECK(r->has("json"));
    CHECK(!r->has("help"));
    CHECK(r->positional == std::vector<std::string>{"-", "extra"});
    // A value is taken as it is, also when it starts with a dash.
    auto dash = parse({"--doc", "--json"});
    REQUIRE(dash);
    CHECK(dash->get("doc") == "--json");
    CHECK(!dash->has("json"));
    // "--" ends the options.
    auto rest = parse({"--", "--doc", "x"});
    REQUIRE(rest);
    CHECK(!rest->has("doc"));
    CHECK(rest->positional == std::vector<std::string>{"--doc", "x"});
    for (auto help : {"--help", "-h"}) {
      auto h = parse({help});
      REQUIRE(h);
      CHECK(h->has("help"));
    }
  }

  TEST_CASE("arguments: usage errors name the option") {
    CHECK(usage_text({"--bogus"}).find("unknown option '--bogus'")
          != std::string::npos);
    CHECK(usage_text({"--doc"}).find("option --doc needs a value")
          != std::string::npos);
    CHECK(usage_text({"--json=1"}).find("option --json takes no value")
          != std::string::npos);
  }

  TEST_CASE("arguments: numbers are checked when read") {
    auto r = parse({"--doc", "12", "--set", "1.5"});
    REQUIRE(r);
    auto n = r->get_uint("doc");
    REQUIRE(n);
    CHECK(*n == std::optional<uint64_t>{12});
    auto x = r->get_double("set");
    REQUIRE(x);
    CHECK(*x == std::optional<double>{1.5});
    auto bad = parse({"--doc", "lots"});
    REQUIRE(bad);
    auto b = bad->get_uint("doc");
    REQUIRE(!b);
    CHECK(describe(b.error()).find("--doc expects a non-negative integer")
          != std::string::npos);
  }

} // TEST_SUITE("cli")

// The `workers.tls` and `worker` sections: TLS files are all or nothing and
// readable, the passphrase comes from its variable, and the worker policy's
// keys parse from the file and from text.

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "llmmr/config/settings.hpp"

#include "config_test_util.hpp"

using namespace llmmr;
using llmmr::testing::message_of;
using llmmr::testing::temp_dir;

namespace {

expected<settings> load(std::vector<std::pair<std::string, std::string>> set,
                        std::map<std::string, std::string> env = {}) {
  settings_sources src;
  src.environment = std::move(env);
  src.overrides = std::move(set);
  return load_settings(src);
}

} // namespace

TEST_SUITE("config") {
  TEST_CASE("workers.tls: all three files or none, each readable") {
    temp_dir dir;
    auto cert = dir.write("node.pem", "x");
    auto key = dir.write("node.key", "x");
    auto ca = dir.write("ca.pem", "x");
    auto off = load({});
    REQUIRE(off);
    CHECK_FALSE(off->workers.tls.enabled());
    auto on = load({{"workers.tls.certificate", cert},
                    {"workers.tls.key", key},
                    {"workers.tls.ca_file", ca}});
    REQUIRE(on);
    CHECK(on->workers.tls.enabled());
    CHECK_EQ(on->workers.tls.ca_file, ca);
    auto no_key
      = load({{"workers.tls.certificate", cert}, {"workers.tls.ca_file", ca}});
    REQUIRE_FALSE(no_key);
    CHECK_EQ(message_of(no_key.error()),
             "command line: workers.tls.key: workers.tls.key is empty but "
             "workers.tls.ca_file is set: TLS between nodes needs a "
             "certificate, its key and a CA file");
    auto only_ca = load({{"workers.tls.ca_file", ca}});
    REQUIRE_FALSE(only_ca);
    CHECK(message_of(only_ca.error()).find("workers.tls.certificate is empty")
          != std::string::npos);
    auto missing = (dir.path() / "missing.key").string();
    auto unreadable = load({{"workers.tls.certificate", cert},
                            {"workers.tls.key", missing},
                            {"workers.tls.ca_file", ca}});
    REQUIRE_FALSE(unreadable);
    CHECK_EQ(message_of(unreadable.error()),
             "command line: workers.tls.key: cannot read \"" + missing
               + "\": No such file or directory");
  }

  TEST_CASE("workers.tls.passphrase_env: read from its variable, never "
            "shown") {
    temp_dir dir;
    std::vector<std::pair<std::string, std::string>> set{
      {"workers.tls.certificate", dir.write("node.pem", "x")},
      {"workers.tls.key", dir.write("node.key", "x")},
      {"workers.tls.ca_file", dir.write("ca.pem", "x")},
      {"workers.tls.passphrase_env", "NODE_KEY_PASS"}};
    auto unset = load(set);
    REQUIRE_FALSE(unset);
    CHECK_EQ(message_of(unset.error()),
             "command line: workers.tls.passphrase_env: environment variable "
             "NODE_KEY_PASS is not set or empty");
    auto s = load(set, {{"NODE_KEY_PASS", "s3cret"}});
    REQUIRE(s);
    CHECK_EQ(s->workers.tls.passphrase, "s3cret");
    CHECK(to_json(*s, false).dump().find("s3cret") == std::string::npos);
  }

  TEST_CASE("worker policy keys") {
    auto d = load({});
    REQUIRE(d);
    CHECK(d->worker.models.empty());
    CHECK_EQ(d->worker.max_tokens, 4096u);
    auto s = load({{"worker.models", "a, b,,c"}, {"worker.max_tokens", "512"}});
    REQUIRE(s);
    CHECK_EQ(s->worker.models, std::vector<std::string>{"a", "b", "c"});
    CHECK_EQ(s->worker.max_tokens, 512u);
    auto zero = load({{"worker.max_tokens", "0"}});
    REQUIRE_FALSE(zero);
    CHECK(message_of(zero.error()).find("worker.max_tokens")
          != std::string::npos);
  }
}

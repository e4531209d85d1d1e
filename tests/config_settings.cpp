// Tests of the configuration layer: defaults, layering, environment,
// command-line overrides, secrets and conversions.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "config_test_util.hpp"
#include "llmmr/config/settings.hpp"

using namespace llmmr;
using llmmr::testing::message_of;
using llmmr::testing::temp_dir;

namespace {

settings load_ok(const settings_sources& src) {
  auto result = load_settings(src);
  REQUIRE_MESSAGE(result, message_of(result.error()));
  return *result;
}

} // namespace

TEST_SUITE("config") {

  TEST_CASE("defaults hold when no layer sets anything") {
    auto s = load_ok({});
    CHECK(s == settings{});
    REQUIRE(s.endpoints.size() == 1);
    const auto& e = s.endpoints.front();
    CHECK(e.url == "http://127.0.0.1:8000/v1");
    CHECK(e.model.empty());
    CHECK(e.api_key.empty());
    CHECK(e.api_key_env.empty());
    CHECK(e.profile == "auto");
    CHECK(e.max_concurrency == 0); // the server's slot count
    CHECK(e.context_window == 0);
    CHECK(e.tls.verify);
    CHECK(e.tls.ca_file.empty());
    CHECK(s.client.connect_timeout_ms == 5000);
    CHECK(s.client.first_byte_timeout_ms == 120000);
    CHECK(s.client.idle_timeout_ms == 30000);
    CHECK(s.client.total_timeout_ms == 300000);
    CHECK(!s.client.stream);
    CHECK(s.client.max_idle_connections == 8);
    CHECK(s.retry.max_attempts == 5);
    CHECK(s.retry.initial_backoff_ms == 500);
    CHECK(s.retry.max_backoff_ms == 20000);
    CHECK(s.retry.max_total_ms == 120000);
    CHECK(s.retry.jitter == "full");
    CHECK(s.routing.bench_after_failures == 3);
    CHECK(s.routing.bench_cooldown_ms == 30000);
    CHECK(s.job.task == task_profile::qa);
    CHECK(s.job.budget == 4096);
    CHECK(s.job.max_tokens == 0);
    CHECK(s.job.max_failed_fraction == 0);
    CHECK(s.job.deadline_ms == 0);
    CHECK(s.job.early_collapse);
    CHECK(s.job.reask_unparsable == 1);
    CHECK(s.job.temperature == 0);
    CHECK(s.job.model.empty());
    CHECK(s.pipeline.map_window == 16);
    CHECK(s.pipeline.mappers == 1);
    CHECK(s.pipeline.chunk_window == 8);
    CHECK(s.pipeline.max_collapse_rounds == 32);
    CHECK(s.pipeline.max_jobs == 8);
    CHECK(!s.input.replace_invalid_utf8);
    CHECK(s.tokenizer.kind == "auto");
    CHECK(s.prompts.dir.empty());
    CHECK(s.log.level == "info");
    CHECK(s.log.file.empty());
    CHECK(s.workers.nodes.empty());
    CHECK(s.workers.window == 0);
    CHECK(s.workers.request_timeout_ms == 300000);
    CHECK(s.workers.heartbeat_interval_ms == 1000);
    CHECK(s.workers.connection_timeout_ms == 5000);
  }

  TEST_CASE("the file overrides defaults, the environment the file and flags "
            "the environment") {
    temp_dir dir;
    settings_sources src;
    src.file = dir.write("cfg.json", R"({
    "job": {"budget": 1000, "task": "summary", "max_tokens": 200},
    "pipeline": {"map_window": 2, "mappers": 3},
    "log": {"level": "warn"}
  })");
    auto s = load_ok(src);
    CHECK(s.job.budget == 1000);
    CHECK(s.job.task == task_profile::summary);
    CHECK(s.pipeline.map_window == 2);
    CHECK(s.pipeline.mappers == 3);
    CHECK(s.log.level == "warn");
    CHECK(s.pipeline.chunk_window == 8); // untouched keys keep defaults
    src.environment
      = {{"LLMMR_JOB_BUDGET", "2000"}, {"LLMMR_PIPELINE_MAP_WINDOW", "4"}};
    s = load_ok(src);
    CHECK(s.job.budget == 2000);
    CHECK(s.pipeline.map_window == 4);
    CHECK(s.pipeline.mappers == 3);
    src.overrides = {{"job.budget", "3000"}, {"job.budget", "3500"}};
    s = load_ok(src);
    CHECK(s.job.budget == 3500); // the last override wins
    CHECK(s.pipeline.map_window == 4);
    CHECK(s.log.level == "warn");
  }

  TEST_CASE("LLMMR_CONFIG names the file only when none is given") {
    temp_dir dir;
    auto a = dir.write("a.json", R"({"job": {"budget": 1111}})");
    auto b = dir.write("b.json", R"({"job": {"budget": 2222}})");
    settings_sources src;
    src.environment = {{"LLMMR_CONFIG", a}};
    CHECK(load_ok(src).job.budget == 1111);
    src.file = b;
    CHECK(load_ok(src).job.budget == 2222);
    src.file.clear();
    src.environment = {{"LLMMR_CONFIG", ""}};
    CHECK(load_ok(src).job.budget == 4096);
  }

  TEST_CASE("environment variables are parsed with the key's type") {
    settings_sources src;
    src.environment = {
      {"LLMMR_JOB_BUDGET", "8192"},
      {"LLMMR_JOB_TASK", "retrieval"},
      {"LLMMR_JOB_MAX_FAILED_FRACTION", "0.25"},
      {"LLMMR_JOB_TEMPERATURE", "0.7"},
      {"LLMMR_JOB_EARLY_COLLAPSE", "no"},
      {"LLMMR_CLIENT_STREAM", "TRUE"},
      {"LLMMR_INPUT_REPLACE_INVALID_UTF8", "1"},
      {"LLMMR_LOG_LEVEL", "debug"},
      {"LLMMR_LOG_FILE", "/tmp/x.log"},
      {"LLMMR_WORKERS_NODES", "10.0.0.1:4242, node-b:4243,,"},
      {"LLMMR_WORKERS_REQUEST_TIMEOUT_MS", " 1000 "},
      {"LLMMR_ENDPOINTS_0_MODEL", "qwen"},
      {"LLMMR_ENDPOINTS_0_TLS_VERIFY", "off"},
      {"LLMMR_ENDPOINTS_1_URL", "https://replica.example:8443/v1"},
      {"LLMMR_ENDPOINTS_1_MAX_CONCURRENCY", "2"},
      {"UNRELATED", "ignored"},
    };
    auto s = load_ok(src);
    CHECK(s.job.budget == 8192);
    CHECK(s.job.task == task_profile::retrieval);
    CHECK(s.job.max_failed_fraction == doctest::Approx(0.25));
    CHECK(s.job.temperature == doctest::Approx(0.7));
    CHECK_FALSE(s.job.early_collapse);
    CHECK(s.client.stream);
    CHECK(s.input.replace_invalid_utf8);
    CHECK(s.log.level == "debug");
    CHECK(s.log.file == "/tmp/x.log");
    CHECK(s.workers.nodes
          == std::vector<std::string>{"10.0.0.1:4242", "node-b:4243"});
    CHECK(s.workers.request_timeout_ms == 1000);
    REQUIRE(s.endpoints.size() == 2);
    CHECK(s.endpoints[0].model == "qwen");
    CHECK(!s.endpoints[0].tls.verify);
    CHECK(s.endpoints[1].url == "https://replica.example:8443/v1");
    CHECK(s.endpoints[1].max_concurrency == 2);
    CHECK(s.endpoints[1].profile == "auto");
  }

  TEST_CASE("endpoint variables apply in index order, also past 9") {
    settings_sources src;
    for (int i = 1; i <= 11; ++i)
      src.environment.emplace("LLMMR_ENDPOINTS_" + std::to_string(i) + "_URL",
                              "http://h" + std::to_string(i) + ":80/v1");
    auto s = load_ok(src);
    REQUIRE(s.endpoints.size() == 12);
    CHECK(s.endpoints[10].url == "http://h10:80/v1");
    CHECK(s.endpoints[11].url == "http://h11:80/v1");
  }

  TEST_CASE("OPENAI_BASE_URL sets the first endpoint, LLMMR variables win") {
    settings_sources src;
    src.environment = {{"OPENAI_BASE_URL", "https://api.openai.com/v1"}};
    CHECK(load_ok(src).endpoints[0].url == "https://api.openai.com/v1");
    src.environment.emplace("LLMMR_ENDPOINTS_0_URL", "http://localhost:9000");
    CHECK(load_ok(src).endpoints[0].url == "http://localhost:9000");
    src.overrides = {{"endpoints[0].url", "http://[::1]:8080/v1"}};
    CHECK(load_ok(src).endpoints[0].url == "http://[::1]:8080/v1");
  }

  TEST_CASE("API keys: literal, api_key_env, then OPENAI_API_KEY") {
    temp_dir dir;
    settings_sources src;
    src.file = dir.write("keys.json", R"({"endpoints": [
    {"url": "http://a:1/v1", "api_key": "sk-literal"},
    {"url": "http://b:1/v1", "api_key_env": "MY_KEY"},
    {"url": "http://c:1/v1"}
  ]})");
    src.environment
      = {{"MY_KEY", "sk-from-my-key"}, {"OPENAI_API_KEY", "sk-openai"}};
    auto s = load_ok(src);
    REQUIRE(s.endpoints.size() == 3);
    CHECK(s.endpoints[0].api_key == "sk-literal");
    CHECK(s.endpoints[1].api_key == "sk-from-my-key");
    CHECK(s.endpoints[1].api_key_env == "MY_KEY");
    CHECK(s.endpoints[2].api_key == "sk-openai");
    src.overrides = {{"endpoints[1].api_key", "sk-flag"}};
    CHECK(load_ok(src).endpoints[1].api_key == "sk-flag");
  }

  TEST_CASE("overrides accept array paths and append the next endpoint") {
    settings_sources src;
    src.overrides = {{"endpoints[0].model", "m0"},
                     {"endpoints[1].url", "http://second:8001/v1"},
                     {"endpoints[1].profile", "vllm"},
                     {"endpoints[1].tls.ca_file", ""},
                     {"workers.nodes", "a:1,b:2"},
                     {"job.task", "qa_zh"},
                     {"job.deadline_ms", "60000"}};
    auto s = load_ok(src);
    REQUIRE(s.endpoints.size() == 2);
    CHECK(s.endpoints[0].model == "m0");
    CHECK(s.endpoints[1].url == "http://second:8001/v1");
    CHECK(s.endpoints[1].profile == "vllm");
    CHECK(s.workers.nodes == std::vector<std::string>{"a:1", "b:2"});
    CHECK(s.job.task == task_profile::qa_zh);
    CHECK(s.job.deadline_ms == 60000);
  }

  TEST_CASE("a file's endpoint list replaces the default one") {
    temp_dir dir;
    settings_sources src;
    src.file = dir.write("e.json", R"({"endpoints": [
    {"url": "https://x.example/v1", "model": "m", "profile": "openai",
     "max_concurrency": 4, "context_window": 128000,
     "tls": {"verify": false}}]})");
    auto s = load_ok(src);
    REQUIRE(s.endpoints.size() == 1);
    CHECK(s.endpoints[0].url == "https://x.example/v1");
    CHECK(s.endpoints[0].model == "m");
    CHECK(s.endpoints[0].profile == "openai");
    CHECK(s.endpoints[0].max_concurrency == 4);
    CHECK(s.endpoints[0].context_window == 128000);
    CHECK(!s.endpoints[0].tls.verify);
  }

  TEST_CASE("comments are allowed in the file") {
    temp_dir dir;
    settings_sources src;
    src.file = dir.write("c.json", "// a comment\n{ /* here */ \"job\": {\n"
                                   "  \"budget\": 5000 // and here\n} }\n");
    CHECK(load_ok(src).job.budget == 5000);
  }

  TEST_CASE("to_json redacts API keys and its unredacted form loads back") {
    settings s;
    s.endpoints[0].api_key = "sk-secret-value-123";
    s.endpoints.push_back({});
    s.endpoints[1].url = "https://other.example/v1";
    s.job.budget = 9000;
    s.job.task = task_profile::code;
    s.workers.nodes = {"h:1"};
    auto redacted = to_json(s);
    CHECK(redacted.dump().find("sk-secret-value-123") == std::string::npos);
    CHECK(redacted["endpoints"][0]["api_key"] == "***");
    CHECK(redacted["endpoints"][1]["api_key"] == "");
    CHECK(redacted["job"]["budget"] == 9000);
    CHECK(redacted["job"]["task"] == "code");
    CHECK(redacted["endpoints"][0]["tls"]["verify"] == true);
    auto plain = to_json(s, false);
    CHECK(plain["endpoints"][0]["api_key"] == "sk-secret-value-123");
    temp_dir dir;
    settings_sources src;
    src.file = dir.write("round.json", plain.dump(2));
    CHECK(load_ok(src) == s);
  }

  TEST_CASE("to_json has every known key") {
    auto j = to_json(settings{});
    for (const auto& key : known_keys()) {
      std::string pointer = "/" + key;
      if (auto pos = pointer.find("[]"); pos != std::string::npos)
        pointer.replace(pos, 2, "/0");
      for (auto& c : pointer)
        if (c == '.')
          c = '/';
      CHECK_MESSAGE(j.contains(nlohmann::json::json_pointer{pointer}), key);
    }
  }

  TEST_CASE("to_job_spec copies the job section") {
    settings s;
    s.job.task = task_profile::summary;
    s.job.budget = 8000;
    s.job.max_tokens = 1200;
    s.job.max_failed_fraction = 0.1;
    s.job.deadline_ms = 5000;
    s.job.early_collapse = false;
    s.job.reask_unparsable = 2;
    s.job.model = "m";
    auto spec = s.to_job_spec("Who?");
    CHECK(spec.question == "Who?");
    CHECK(spec.profile == task_profile::summary);
    CHECK(spec.budget == 8000);
    CHECK(spec.max_tokens == 1200);
    CHECK(spec.max_failed_fraction == doctest::Approx(0.1));
    CHECK(spec.deadline_ms == 5000);
    CHECK_FALSE(spec.early_collapse);
    CHECK(spec.reask_unparsable == 2);
    CHECK(spec.model == "m");
    auto defaults = settings{}.to_job_spec();
    CHECK(defaults == job_spec{});
  }

  TEST_CASE("current_environment sees the process environment") {
    setenv("LLMMR_TEST_CONFIG_PROBE", "42", 1);
    auto env = current_environment();
    unsetenv("LLMMR_TEST_CONFIG_PROBE");
    CHECK(env["LLMMR_TEST_CONFIG_PROBE"] == "42");
  }

  TEST_CASE("env_name maps key paths to variables") {
    CHECK(env_name("job.budget") == "LLMMR_JOB_BUDGET");
    CHECK(env_name("pipeline.map_window") == "LLMMR_PIPELINE_MAP_WINDOW");
    CHECK(env_name("endpoints[0].url") == "LLMMR_ENDPOINTS_0_URL");
    CHECK(env_name("endpoints[2].tls.verify")
          == "LLMMR_ENDPOINTS_2_TLS_VERIFY");
    CHECK(env_name("endpoints[].url") == "LLMMR_ENDPOINTS_<n>_URL");
  }

} // TEST_SUITE("config")

// Tests of the configuration layer's error reports: each names the origin
// (file, variable or command line), the key path and the problem, suggests
// the nearest key for typos and never shows an API key.

#include <doctest/doctest.h>

#include "config_test_util.hpp"
#include "llmmr/config/settings.hpp"

using namespace llmmr;
using llmmr::testing::message_of;
using llmmr::testing::temp_dir;

namespace {

/// Loads `src`, which must fail, and returns the error message.
std::string load_error(const settings_sources& src) {
  auto result = load_settings(src);
  REQUIRE_MESSAGE(!result, "loading unexpectedly succeeded");
  CHECK(kind_of(result.error()) == error_kind::config);
  return message_of(result.error());
}

/// Writes `content` as cfg.json and returns the load error.
std::string file_error(const std::string& content,
                       std::map<std::string, std::string> env = {}) {
  temp_dir dir;
  settings_sources src;
  src.file = dir.write("cfg.json", content);
  src.environment = std::move(env);
  auto msg = load_error(src);
  // Report relative to the file name so the checks read naturally.
  auto prefix = src.file;
  if (msg.compare(0, prefix.size(), prefix) == 0)
    msg = "cfg.json" + msg.substr(prefix.size());
  return msg;
}

std::string env_error(std::map<std::string, std::string> env) {
  settings_sources src;
  src.environment = std::move(env);
  return load_error(src);
}

std::string flag_error(std::string key, std::string value) {
  settings_sources src;
  src.overrides = {{std::move(key), std::move(value)}};
  return load_error(src);
}

} // namespace

TEST_SUITE("config") {

  TEST_CASE("a wrong type in the file names the file, key and value") {
    CHECK(file_error(R"({"job": {"budget": "abc"}})")
          == R"(cfg.json: job.budget: expected a positive integer, got "abc")");
    CHECK(file_error(R"({"job": {"budget": 12.5}})")
          == "cfg.json: job.budget: expected a positive integer, got 12.5");
    CHECK(file_error(R"({"client": {"stream": "yes"}})")
          == R"(cfg.json: client.stream: expected true or false, got "yes")");
    CHECK(file_error(R"({"job": {"max_failed_fraction": "half"}})")
          == "cfg.json: job.max_failed_fraction: expected a number between 0 "
             "and 1, got \"half\"");
    CHECK(file_error(R"({"log": {"file": 3}})")
          == "cfg.json: log.file: expected a string, got 3");
    CHECK(file_error(R"({"job": 5})")
          == "cfg.json: job: expected an object, got 5");
    CHECK(file_error(R"({"endpoints": {"url": "http://a/v1"}})")
          == "cfg.json: endpoints: expected an array of endpoint objects, got "
             "an object");
    CHECK(file_error(R"({"endpoints": ["http://a/v1"]})")
          == "cfg.json: endpoints[0]: expected an endpoint object, got "
             "\"http://a/v1\"");
    CHECK(file_error(R"({"endpoints": []})")
          == "cfg.json: endpoints: expected at least one endpoint");
    CHECK(file_error(R"({"endpoints": [{"tls": {"verify": "no"}}]})")
          == "cfg.json: endpoints[0].tls.verify: expected true or false, got "
             "\"no\"");
    CHECK(file_error(R"({"workers": {"nodes": ["a:1", 7]}})")
          == "cfg.json: workers.nodes[1]: expected a string, got 7");
    CHECK(file_error("[1, 2]")
          == "cfg.json: expected a JSON object at the top level, got an array");
  }

  TEST_CASE("out-of-range values are reported, never defaulted") {
    CHECK(
      file_error(R"({"pipeline": {"map_window": 0}})")
      == "cfg.json: pipeline.map_window: expected a positive integer, got 0");
    CHECK(file_error(R"({"pipeline": {"map_window": -3}})")
          == "cfg.json: pipeline.map_window: expected a positive integer, got "
             "-3");
    CHECK(file_error(R"({"job": {"budget": 99999999999}})")
          == "cfg.json: job.budget: must be at most 4294967295, got "
             "99999999999");
    CHECK(file_error(R"({"job": {"max_failed_fraction": 1.5}})")
          == "cfg.json: job.max_failed_fraction: must be between 0 and 1, got "
             "1.5");
    CHECK(file_error(R"({"job": {"temperature": -0.5}})")
          == "cfg.json: job.temperature: must be between 0 and 2, got -0.5");
    CHECK(file_error(R"({"retry": {"max_attempts": 1000}})")
          == "cfg.json: retry.max_attempts: must be at most 100, got 1000");
    CHECK(file_error(R"({"log": {"level": "debg"}})")
          == "cfg.json: log.level: expected one of trace, debug, info, warn, "
             "error, off, got \"debg\"; did you mean debug?");
    CHECK(file_error(R"({"job": {"task": "sumary"}})")
          == "cfg.json: job.task: expected one of qa, qa_zh, code, math, "
             "retrieval, summary, got \"sumary\"; did you mean summary?");
    CHECK(file_error(R"({"endpoints": [{"profile": "vlm"}]})")
          == "cfg.json: endpoints[0].profile: expected one of auto, openai, "
             "vllm, llamacpp, tgi, generic, got \"vlm\"; did you mean vllm?");
    CHECK(file_error(R"({"workers": {"nodes": ["a:1", "b"]}})")
          == "cfg.json: workers.nodes[1]: expected host:port, got \"b\"");
    CHECK(file_error(R"({"workers": {"nodes": ["b:70000"]}})")
          == "cfg.json: workers.nodes[0]: expected host:port, got \"b:70000\" "
             "(the port must be between 1 and 65535)");
    CHECK(file_error(R"({"endpoints": [{"api_key_env": "MY KEY"}]})")
          == "cfg.json: endpoints[0].api_key_env: expected the name of an "
             "environment variable (letters, digits and _), got \"MY KEY\"");
  }

  TEST_CASE("unknown keys are rejected with the nearest valid key") {
    CHECK(file_error(R"({"pipeline": {"map_windw": 4}})")
          == "cfg.json: pipeline.map_windw: unknown key; did you mean "
             "pipeline.map_window?");
    CHECK(file_error(R"({"jb": {"budget": 4}})")
          == "cfg.json: jb: unknown key; did you mean job?");
    CHECK(file_error(R"({"budget": 4})")
          == "cfg.json: budget: unknown key; did you mean job.budget?");
    CHECK(file_error(R"({"endpoints": [{}, {"modle": "m"}]})")
          == "cfg.json: endpoints[1].modle: unknown key; did you mean "
             "endpoints[1].model?");
    CHECK(file_error(R"({"endpoints": [{"tls": {"verfy": true}}]})")
          == "cfg.json: endpoints[0].tls.verfy: unknown key; did you mean "
             "endpoints[0].tls.verify?");
    auto far = file_error(R"({"retry": {"xyzzy_plugh": 1}})");
    CHECK(far.find("cfg.json: retry.xyzzy_plugh: unknown key; valid keys here: "
                   "max_attempts, initial_backoff_ms")
          == 0);
  }

  TEST_CASE("malformed JSON reports line and column") {
    auto msg = file_error("{\n  \"job\": {\n    \"budget\": 10,,\n  }\n}\n");
    CHECK(msg.find("cfg.json: line 3, column 18: malformed JSON: syntax error")
          == 0);
    msg = file_error("{\"a\": \"x\n\"}");
    CHECK(msg.find("cfg.json: line 1, column 9: malformed JSON: syntax error "
                   "while parsing value - invalid string: control character")
          == 0);
    msg = file_error("");
    CHECK(msg.find("cfg.json: line 1, column 1: malformed JSON") == 0);
    CHECK(msg.find("unexpected end of input") != std::string::npos);
  }

  TEST_CASE("a file nested 100,000 deep is rejected at the depth limit") {
    std::string deep = "{\"job\": ";
    deep.append(100'000, '[');
    deep.append(100'000, ']');
    deep += "}";
    CHECK(file_error(deep)
          == "cfg.json: objects and arrays nest deeper than 32 levels; the "
             "settings need two");
    std::string objects;
    for (int i = 0; i < 100'000; ++i)
      objects += "{\"a\": ";
    objects += "1";
    objects.append(100'000, '}');
    CHECK(file_error(objects).find("nest deeper than 32 levels")
          != std::string::npos);
  }

  TEST_CASE("a duplicate key is an error") {
    CHECK(file_error(R"({"job": {"budget": 1, "budget": 2}})")
          == "cfg.json: job.budget: duplicate key; each key may appear once");
    CHECK(file_error(R"({"endpoints": [{}, {"url": "http://a/v1",
                       "url": "http://b/v1"}]})")
          == "cfg.json: endpoints[1].url: duplicate key; each key may appear "
             "once");
  }

  TEST_CASE("a missing file is a clear error") {
    settings_sources src;
    src.file = "/tmp/llmmr-config-no-such-dir/missing.json";
    CHECK(load_error(src)
          == "/tmp/llmmr-config-no-such-dir/missing.json: cannot read the "
             "configuration file: No such file or directory");
    src.file.clear();
    src.environment
      = {{"LLMMR_CONFIG", "/tmp/llmmr-config-no-such-dir/x.json"}};
    CHECK(load_error(src)
          == "/tmp/llmmr-config-no-such-dir/x.json (named by LLMMR_CONFIG): "
             "cannot read the configuration file: No such file or directory");
    temp_dir dir;
    src.environment.clear();
    src.file = dir.path().string();
    CHECK(load_error(src).find("it is a directory") != std::string::npos);
  }

  TEST_CASE("environment errors name the variable and the key") {
    CHECK(env_error({{"LLMMR_JOB_BUDGET", "abc"}})
          == "environment variable LLMMR_JOB_BUDGET: job.budget: expected a "
             "positive integer, got \"abc\"");
    CHECK(env_error({{"LLMMR_JOB_BUDGET", "-1"}})
          == "environment variable LLMMR_JOB_BUDGET: job.budget: expected a "
             "positive integer, got \"-1\"");
    CHECK(
      env_error({{"LLMMR_CLIENT_STREAM", "maybe"}})
      == "environment variable LLMMR_CLIENT_STREAM: client.stream: expected "
         "true or false (or 1/0, yes/no, on/off), got \"maybe\"");
    CHECK(env_error({{"LLMMR_JOB_TEMPERATURE", "hot"}})
          == "environment variable LLMMR_JOB_TEMPERATURE: job.temperature: "
             "expected a number between 0 and 2, got \"hot\"");
    CHECK(
      env_error({{"LLMMR_JOB_TEMPERATURE", "nan"}})
      == "environment variable LLMMR_JOB_TEMPERATURE: job.temperature: must "
         "be between 0 and 2, got nan");
    CHECK(env_error({{"LLMMR_PIPELINE_MAP_WINDW", "4"}})
          == "environment variable LLMMR_PIPELINE_MAP_WINDW: unknown variable; "
             "did you mean LLMMR_PIPELINE_MAP_WINDOW (pipeline.map_window)?");
    CHECK(env_error({{"LLMMR_ENDPOINTS_0_MODLE", "m"}})
          == "environment variable LLMMR_ENDPOINTS_0_MODLE: unknown variable; "
             "did you mean LLMMR_ENDPOINTS_0_MODEL?");
    CHECK(env_error({{"LLMMR_ENDPOINTS_3_URL", "http://a/v1"}})
          == "environment variable LLMMR_ENDPOINTS_3_URL: endpoints[3].url: no "
             "endpoint 3; there is 1 endpoint and the next one is "
             "endpoints[1]");
    CHECK(env_error({{"OPENAI_BASE_URL", "localhost:8000"}})
          == "environment variable OPENAI_BASE_URL: endpoints[0].url: expected "
             "an http or https URL like http://host:port/v1, got "
             "\"localhost:8000\" (no scheme)");
    CHECK(env_error({{"LLMMR_WORKERS_NODES", "a:1,b"}})
          == "environment variable LLMMR_WORKERS_NODES: workers.nodes[1]: "
             "expected host:port, got \"b\"");
  }

  TEST_CASE("command-line errors name the key") {
    CHECK(flag_error("job.budget", "lots")
          == "command line: job.budget: expected a positive integer, got "
             "\"lots\"");
    CHECK(flag_error("job.budgt", "1")
          == "command line: job.budgt: unknown key; did you mean job.budget?");
    CHECK(flag_error("endpoints[0].urll", "http://a/v1")
          == "command line: endpoints[0].urll: unknown key; did you mean "
             "endpoints[0].url?");
    CHECK(flag_error("endpoints[2].url", "http://a/v1")
          == "command line: endpoints[2].url: no endpoint 2; there is 1 "
             "endpoint and the next one is endpoints[1]");
    CHECK(flag_error("endpoints[x].url", "http://a/v1")
            .find("command line: endpoints[x].url: expected a key like "
                  "endpoints[0].url")
          == 0);
    CHECK(flag_error("job", "1")
          == "command line: job: is a section, not a key; set one of its keys, "
             "e.g. job.task");
    CHECK(flag_error("pipeline.map_window", "0")
          == "command line: pipeline.map_window: expected a positive "
             "integer, got 0");
  }

  TEST_CASE("endpoint URLs are validated") {
    auto url_error = [](std::string url) {
      return flag_error("endpoints[0].url", std::move(url));
    };
    auto prefix
      = std::string{"command line: endpoints[0].url: expected an http "
                    "or https URL like http://host:port/v1, got "};
    CHECK(url_error("ftp://host/v1")
          == prefix + "\"ftp://host/v1\" (scheme must be http or https)");
    CHECK(url_error("http:///v1") == prefix + "\"http:///v1\" (missing host)");
    CHECK(url_error("http://host:70000/v1")
          == prefix
               + "\"http://host:70000/v1\" (port must be between 1 and 65535)");
    CHECK(url_error("http://host:/v1")
          == prefix + "\"http://host:/v1\" (empty port)");
    CHECK(url_error("http://ho st/v1").find(prefix) == 0);
    auto query = url_error("http://host/v1?key=s3cret");
    CHECK(query.find("no spaces, query or fragment") != std::string::npos);
    CHECK(query.find("s3cret") == std::string::npos);
    CHECK(url_error("http://[::1/v1").find("unterminated IPv6")
          != std::string::npos);
    auto creds = url_error("https://user:hunter2@host/v1");
    CHECK(creds.find("hunter2") == std::string::npos);
    CHECK(creds.find("must not contain user information") != std::string::npos);
    for (auto ok :
         {"http://127.0.0.1:8000/v1", "HTTPS://api.openai.com/v1",
          "http://localhost", "http://[::1]:8080/", "http://a_b.c:1"}) {
      settings_sources src;
      src.overrides = {{"endpoints[0].url", ok}};
      CHECK_MESSAGE(load_settings(src), ok);
    }
  }

  TEST_CASE("API keys never appear in error messages") {
    const std::string secret = "sk-DO-NOT-LEAK-4242";
    // A wrong type for api_key shows only the type.
    auto msg = file_error(R"({"endpoints": [{"api_key": 4242}]})");
    CHECK(msg
          == "cfg.json: endpoints[0].api_key: expected a string, got a "
             "number");
    // Malformed JSON right inside the key: the excerpt nlohmann quotes is cut.
    msg = file_error("{\"endpoints\": [{\"api_key\": \"" + secret + "\n");
    CHECK(msg.find("malformed JSON") != std::string::npos);
    CHECK(msg.find(secret) == std::string::npos);
    CHECK(msg.find("DO-NOT") == std::string::npos);
    msg = file_error("{\"endpoints\": [{\"api_key\": \"" + secret + "\" x}]}");
    CHECK(msg.find("DO-NOT") == std::string::npos);
    // An error elsewhere in a file holding a key does not show it.
    msg = file_error(R"({"endpoints": [{"api_key": ")" + secret
                     + R"(", "url": "ftp://x"}]})");
    CHECK(msg.find(secret) == std::string::npos);
    // An unset api_key_env names the variable, nothing else.
    msg = file_error(R"({"endpoints": [{"api_key_env": "MY_KEY"}]})",
                     {{"OPENAI_API_KEY", secret}});
    CHECK(msg
          == "cfg.json: endpoints[0].api_key_env: environment variable MY_KEY "
             "is not set or empty");
    // Unknown variables next to a key variable.
    auto env = env_error({{"OPENAI_API_KEY", secret}, {"LLMMR_JB", "1"}});
    CHECK(env.find(secret) == std::string::npos);
  }

  TEST_CASE("keys that contradict each other are reported") {
    CHECK(file_error(R"({"retry": {"initial_backoff_ms": 30000}})")
          == "cfg.json: retry.initial_backoff_ms: retry.initial_backoff_ms "
             "(30000) must not exceed retry.max_backoff_ms (20000)");
    CHECK(flag_error("retry.max_backoff_ms", "100")
          == "command line: retry.max_backoff_ms: retry.initial_backoff_ms "
             "(500) must not exceed retry.max_backoff_ms (100)");
    CHECK(flag_error("job.max_tokens", "4096")
          == "command line: job.max_tokens: job.max_tokens (4096) must be less "
             "than job.budget (4096)");
    CHECK(
      file_error(R"({"job": {"task": "summary", "budget": 1000}})")
      == "cfg.json: job.budget: 1000 leaves no room besides the 1500 output "
         "tokens reserved for task summary; raise it or set job.max_tokens");
    CHECK(flag_error("client.connect_timeout_ms", "400000")
          == "command line: client.connect_timeout_ms: "
             "client.connect_timeout_ms (400000) must not exceed "
             "client.total_timeout_ms (300000)");
    CHECK(flag_error("workers.connection_timeout_ms", "1000")
          == "command line: workers.connection_timeout_ms: "
             "workers.connection_timeout_ms needs heartbeats: set "
             "workers.heartbeat_interval_ms to a value below it");
    CHECK(file_error(
            R"({"endpoints": [{"tls": {"ca_file": "/nonexistent/ca.pem"}}]})")
          == "cfg.json: endpoints[0].tls.ca_file: cannot read "
             "\"/nonexistent/ca.pem\": No such file or directory");
  }

} // TEST_SUITE("config")

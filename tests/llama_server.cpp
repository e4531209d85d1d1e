// Hermetic integration tests against a real llama.cpp `llama-server`
// (docs/llama-server.md): built by scripts/build-llama-server.sh, serving the
// tiny stories260K model on 127.0.0.1 with a port chosen at run time. The
// model's answers are not meant to be right; what is tested is the
// protocol, the budgets and the accounting. Skipped with a message when the
// server binary or the model is absent.

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/backends/http_client.hpp"
#include "llmmr/messages/error_kind.hpp"

#include "sim_http.hpp"
#include "test_support.hpp"

using namespace llmmr::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::filesystem::path server_binary() {
  if (auto dir = std::getenv("LLMMR_LLAMA_DIR"))
    return std::filesystem::path{dir} / "bin" / "llama-server";
  return std::filesystem::path{LLMMR_BUILD_DIR} / "llama.cpp" / "bin"
         / "llama-server";
}

std::filesystem::path model_file() {
  return std::filesystem::path{LLMMR_SOURCE_DIR}
         / "../shared/data/models/stories260K.gguf";
}

/// Returns why the tests cannot run here, or an empty string.
std::string missing() {
  if (!std::filesystem::exists(server_binary()))
    return "llama-server not built at " + server_binary().string()
           + " (scripts/build-llama-server.sh)";
  if (!std::filesystem::exists(model_file()))
    return "model " + model_file().string() + " not found (../shared absent)";
  return {};
}

/// A running llama-server; by default 2048 tokens of context over 4 slots
/// (512 each).
struct llama_server {
  temp_dir dir;
  std::string port;
  std::string url;
  std::vector<std::string> argv;
  std::unique_ptr<child_process> child;

  explicit llama_server(std::vector<std::string> extra = {},
                        std::string context = "2048", std::string slots = "4") {
    port = closed_port();
    argv = {server_binary().string(),
            "-m",
            model_file().string(),
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "-c",
            context,
            "-np",
            slots,
            "--chat-template",
            "chatml",
            "-t",
            "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    start();
  }

  void start() {
    child = std::make_unique<child_process>(argv, dir.path() / "server.log");
    REQUIRE_MESSAGE(wait_ready(), "llama-server did not become ready");
    url = "http://127.0.0.1:" + port + "/v1";
  }

  bool wait_ready() {
    auto p = static_cast<uint16_t>(std::stoi(port));
    for (int i = 0; i < 600; ++i) {
      auto r = llmmr::sim::test::http_call(p, "GET", "/health");
      if (r.status == 200)
        return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  /// Counts `text` with the server's own /tokenize.
  size_t count(const std::string& text) {
    auto p = static_cast<uint16_t>(std::stoi(port));
    auto r = llmmr::sim::test::http_call(p, "POST", "/tokenize",
                                         json{{"content", text}}.dump());
    REQUIRE_EQ(r.status, 200);
    return json::parse(r.body)["tokens"].size();
  }
};

command_result run_llmmr(std::vector<std::string> args,
                         const std::string& input,
                         std::chrono::milliseconds timeout = 600s) {
  args.insert(args.begin(), llmmr_binary());
  return run_command(args, input, timeout);
}

/// Plain prose several times the 512-token slot context.
std::string long_document(size_t paragraphs) {
  return document_with_fact(
    41, paragraphs,
    "The little dog in the story is called Spot and he is red.");
}

} // namespace

TEST_SUITE("llama") {
  TEST_CASE("probe reports the llama.cpp profile, slot context and features") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    llama_server srv;
    auto r = run_llmmr({"probe", "--endpoint", srv.url, "--json"}, {});
    INFO("stdout: ", r.out);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    auto doc = json::parse(r.out);
    CHECK_EQ(doc["profile"], "llamacpp");
    CHECK_EQ(doc["context_window"].get<uint64_t>(), 512u);
    CHECK(doc["tokenize"].get<bool>());
    CHECK(doc["json_schema"].get<bool>());
    CHECK(doc["stream"].get<bool>());
  }

  TEST_CASE("tokenize with the server tokenizer matches the server's counts") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    llama_server srv;
    std::string lines;
    std::vector<std::string> texts{
      "Once upon a time there was a little dog.",
      "Lily and Ben went to the park. They played on the swings!",
      "Numbers 12345 and symbols #@$ mixed with words.",
      "\xE4\xBD\xA0\xE5\xA5\xBD, world \xF0\x9F\x98\x80",
    };
    for (auto& t : texts)
      lines += json{{"text", t}}.dump() + "\n";
    auto r = run_llmmr({"tokenize", "--endpoint", srv.url, "--set",
                        "tokenizer.kind=server", "--jsonl"},
                       lines);
    INFO("stderr: ", r.err);
    REQUIRE_EQ(r.exit_code, 0);
    size_t i = 0;
    size_t pos = 0;
    while (pos < r.out.size() && i < texts.size()) {
      auto end = r.out.find('\n', pos);
      auto doc = json::parse(r.out.substr(pos, end - pos));
      CHECK_EQ(doc["count"].get<size_t>(), srv.count(texts[i]));
      CHECK_EQ(doc["ids"].size(), doc["count"].get<size_t>());
      pos = end + 1;
      ++i;
    }
    CHECK_EQ(i, texts.size());
  }

  TEST_CASE("ask over a document many slots long accounts for every chunk") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    // 2048 tokens per slot: the prompt templates alone take about 800 of
    // this model's tiny-vocabulary tokens.
    llama_server srv{{}, "4096", "2"};
    auto doc = long_document(40);
    auto tokens = srv.count(doc);
    CAPTURE(tokens);
    REQUIRE_GT(tokens, 4 * 2048u);
    SUBCASE("with the server tokenizer: no prompt is ever too long") {
      auto r = run_llmmr({"ask", "--doc", "-", "--question",
                          "What is the dog called?", "--endpoint", srv.url,
                          "--max-tokens", "48", "--json", "--set",
                          "tokenizer.kind=server"},
                         doc);
      INFO("stderr: ", r.err.substr(0, 3000));
      REQUIRE_EQ(r.exit_code == 0 || r.exit_code == 5, true);
      auto res = json::parse(r.out);
      CHECK_EQ(res["tokenizer"], "server");
      CHECK_FALSE(res["token_counts_estimated"].get<bool>());
      auto chunks = res["chunks"].get<unsigned>();
      CHECK_GT(chunks, 4u);
      // Every chunk mapped or listed as failed; none re-split, so none was
      // rejected as too long.
      CHECK_EQ(res["calls"]["map"].get<unsigned>(),
               chunks + res["reasks"]["map"].get<unsigned>());
      for (const auto& f : res["failures"])
        CHECK_NE(f["kind"], "context_length_exceeded");
      CHECK(r.err.find("context_length_exceeded") == std::string::npos);
      // Counting is batched: a request per document slice and per candidate
      // chunk, not one per line.
      unsigned long long requests = 0, fallbacks = 0;
      auto at = r.err.find("llmmr: the server tokenizer made ");
      REQUIRE(at != std::string::npos);
      REQUIRE_EQ(std::sscanf(r.err.c_str() + at,
                             "llmmr: the server tokenizer made %llu tokenize "
                             "requests (%llu fell back",
                             &requests, &fallbacks),
                 2);
      size_t lines = 0;
      for (char c : doc)
        lines += c == '\n' ? 1 : 0;
      MESSAGE("tokenize requests: " << requests << " for " << chunks
                                    << " chunks and " << lines << " lines");
      CHECK_EQ(fallbacks, 0u);
      CHECK_LT(requests, 8 * chunks + 10);
    }
    SUBCASE("with the approximate tokenizer: too-long chunks are re-split") {
      auto r = run_llmmr({"ask", "--doc", "-", "--question",
                          "What is the dog called?", "--endpoint", srv.url,
                          "--max-tokens", "48", "--json", "--set",
                          "tokenizer.kind=approx"},
                         doc);
      INFO("stderr: ", r.err.substr(0, 3000));
      // The job ends with an answer or a clear error; never silently.
      if (r.exit_code == 0 || r.exit_code == 5) {
        auto res = json::parse(r.out);
        CHECK(res["token_counts_estimated"].get<bool>());
        CHECK_GE(res["calls"]["map"].get<unsigned>(),
                 res["chunks"].get<unsigned>());
      } else {
        CHECK_FALSE(r.err.empty());
      }
    }
  }

  TEST_CASE("plain and streamed calls, and the over-long prompt error") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    llama_server srv;
    llmmr::endpoint_options ep;
    ep.url = srv.url;
    ep.profile = llmmr::endpoint_profile::llamacpp;
    auto client = llmmr::http_client::make(ep);
    REQUIRE(client);
    auto call = [&](std::string prompt, bool stream) {
      llmmr::chat_request req;
      req.messages.push_back({"user", std::move(prompt)});
      req.max_tokens = 16;
      req.stream = stream;
      std::promise<llmmr::expected<llmmr::chat_reply>> done;
      auto fut = done.get_future();
      (*client)->chat(std::move(req),
                      [&](llmmr::expected<llmmr::chat_reply> x) {
                        done.set_value(std::move(x));
                      });
      return fut.get();
    };
    for (bool stream : {false, true}) {
      CAPTURE(stream);
      auto rep = call("Once upon a time", stream);
      REQUIRE_MESSAGE(rep, llmmr::describe(rep.error()));
      CHECK_FALSE(rep->finish_reason.empty());
      CHECK_GT(rep->usage.completion_tokens, 0u);
    }
    std::string huge;
    for (int i = 0; i < 400; ++i)
      huge += "The cat sat on the mat and looked at the sun. ";
    auto too_long = call(huge, false);
    REQUIRE_FALSE(too_long);
    CHECK_EQ(llmmr::kind_of(too_long.error()),
             llmmr::error_kind::context_length_exceeded);
  }

  TEST_CASE("an API key on the server: the right key works, others are "
            "authentication errors") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    llama_server srv{{"--api-key", "sesame-7"}, "4096", "2"};
    auto doc = long_document(2);
    auto base = std::vector<std::string>{
      "ask",        "--doc",         "-",
      "--question", "Who is Spot?",  "--endpoint",
      srv.url,      "--max-tokens",  "32",
      "--quiet",    "--api-key-env", "LLAMA_TEST_KEY"};
    ::setenv("LLAMA_TEST_KEY", "sesame-7", 1);
    auto ok = run_llmmr(base, doc);
    INFO("stderr: ", ok.err);
    // The tiny model's outputs may stay unusable (exit 7 with a clear
    // reason); what matters here is that the key was accepted.
    CHECK(ok.exit_code != 4);
    CHECK(ok.exit_code != 6);
    CHECK(ok.err.find("auth") == std::string::npos);
    ::setenv("LLAMA_TEST_KEY", "wrong-key", 1);
    auto bad = run_llmmr(base, doc);
    CHECK_EQ(bad.exit_code, 4);
    CHECK(bad.err.find("auth") != std::string::npos);
    CHECK(bad.err.find("wrong-key") == std::string::npos);
    ::unsetenv("LLAMA_TEST_KEY");
  }
}

TEST_SUITE("llama") {
  TEST_CASE("the server killed mid-job and restarted: the job rides it out") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    llama_server srv{{}, "4096", "2"};
    auto doc = long_document(80);
    command_result r;
    auto t0 = std::chrono::steady_clock::now();
    std::thread job{[&] {
      r = run_llmmr({"ask", "--doc", "-", "--question",
                     "What is the dog called?", "--endpoint", srv.url,
                     "--max-tokens", "48", "--json", "--set",
                     "tokenizer.kind=server"},
                    doc, 400s);
    }};
    // Let the job start mapping, then kill the server and bring it back on
    // the same port a few seconds later, as a supervisor would. The default
    // settings apply: no chunk may fail (max_failed_fraction 0), so the job
    // only succeeds if the circuit holds the calls through the outage.
    std::this_thread::sleep_for(1500ms);
    ::kill(srv.child->pid(), SIGKILL);
    srv.child->stop();
    std::this_thread::sleep_for(4000ms);
    srv.start();
    job.join();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
    INFO("stderr: ", r.err.substr(0, 3000));
    CHECK_LT(seconds, 400);
    MESSAGE("after a SIGKILL and restart: exit " << r.exit_code << " in "
                                                 << seconds << " s");
    // Exit 5 (partial) is allowed only for what the tiny model does to the
    // map outputs (cut at --max-tokens), never for a chunk lost to the
    // outage.
    REQUIRE((r.exit_code == 0 || r.exit_code == 5));
    auto res = json::parse(r.out);
    CHECK_GT(res["chunks"].get<unsigned>(), 1u);
    CHECK(res["failures"].empty());
    CHECK(r.err.find("answers again") != std::string::npos);
    // The outage was seen and ridden out, not hidden.
    CHECK(r.err.find("holding") != std::string::npos);
  }
}

TEST_SUITE("llama") {
  TEST_CASE(
    "streamed replies: connections the server closes are never reused") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    // llama.cpp closes the connection after every streamed reply although
    // it advertises keep-alive. With one attempt per call, a reused dead
    // socket would fail its chunk.
    llama_server srv{{}, "4096", "2"};
    auto r = run_llmmr({"ask",
                        "--doc",
                        "-",
                        "--question",
                        "What is the dog called?",
                        "--endpoint",
                        srv.url,
                        "--max-tokens",
                        "48",
                        "--json",
                        "--set",
                        "tokenizer.kind=server",
                        "--set",
                        "client.stream=true",
                        "--set",
                        "retry.max_attempts=1",
                        "--set",
                        "log.level=debug",
                        "--set",
                        "job.max_failed_fraction=1"},
                       long_document(30));
    INFO("stderr: ", r.err.substr(0, 3000));
    REQUIRE((r.exit_code == 0 || r.exit_code == 5));
    auto res = json::parse(r.out);
    for (const auto& f : res["failures"]) {
      CHECK_NE(f["kind"], "unreachable");
      CHECK_NE(f["kind"], "server_error");
    }
    // Before it has seen the server close a connection after a stream, the
    // client may pick such a connection up while the server's FIN is still
    // on its way (a loaded machine widens that window). It then learns, and
    // the call goes out again on a fresh connection without costing an
    // attempt. Each of the server's two slots can teach it at most once.
    size_t stale = 0;
    for (auto at = r.err.find("kept-alive connection was closed");
         at != std::string::npos;
         at = r.err.find("kept-alive connection was closed", at + 1))
      ++stale;
    CHECK_LE(stale, 2u);
  }
}

TEST_SUITE("llama") {
  TEST_CASE("set-up waits for a loading server, takes its model and slots") {
    if (auto why = missing(); !why.empty()) {
      MESSAGE("skipped: " << why);
      return;
    }
    // Start the server and ask at once, without waiting for /health: while
    // it loads it answers 503 "Loading model".
    temp_dir dir;
    auto port = closed_port();
    child_process server{{server_binary().string(), "-m", model_file().string(),
                          "--host", "127.0.0.1", "--port", port, "-c", "4096",
                          "-np", "2", "--chat-template", "chatml", "-t", "1"},
                         dir.path() / "server.log"};
    // Only wait until it accepts connections (any reply, 503 included).
    for (int i = 0; i < 400; ++i) {
      auto reply = llmmr::sim::test::http_call(
        static_cast<uint16_t>(std::stoi(port)), "GET", "/v1/models");
      if (reply.status != 0)
        break;
      std::this_thread::sleep_for(10ms);
    }
    auto r = run_llmmr({"ask", "--doc", "-", "--question", "Who is Spot?",
                        "--endpoint", "http://127.0.0.1:" + port + "/v1",
                        "--max-tokens", "48", "--json", "--set",
                        "log.level=debug", "--set", "job.max_failed_fraction=1",
                        "--set", "client.ready_timeout_ms=60000"},
                       long_document(4));
    INFO("stderr: ", r.err.substr(0, 3000));
    CHECK_NE(r.exit_code, 4);
    // The only model of the server, and its 2 slots as the concurrency.
    CHECK(r.err.find("model '" + model_file().string()) != std::string::npos);
    CHECK(r.err.find("max_concurrency 2") != std::string::npos);
    CHECK(r.err.find("context window 2048") != std::string::npos);
  }
}

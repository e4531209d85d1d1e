// Loopback tests of the simulator: wire format, faults, latency, endpoints.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"
#include "sim_http.hpp"

using namespace llmmr::sim;
using llmmr::sim::test::http_call;
using llmmr::sim::test::http_conn;
using llmmr::sim::test::http_reply;
using json = nlohmann::json;

namespace {

std::unique_ptr<sim_server> start_sim(sim_options opts = {}) {
  opts.host = "127.0.0.1";
  opts.port = 0;
  auto server = sim_server::start(std::move(opts));
  REQUIRE(server);
  return std::move(*server);
}

std::string chat_body(const std::string& prompt, bool stream = false,
                      int max_tokens = 0, bool usage = false) {
  json body{
    {"model", "m"},
    {"messages", json::array({json{{"role", "user"}, {"content", prompt}}})}};
  if (stream)
    body["stream"] = true;
  if (usage)
    body["stream_options"] = {{"include_usage", true}};
  if (max_tokens > 0)
    body["max_tokens"] = max_tokens;
  return body.dump();
}

http_reply chat(uint16_t port, const std::string& body) {
  return http_call(port, "POST", "/v1/chat/completions", body);
}

// Splits an SSE body into its events (without the trailing blank line).
std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> result;
  size_t pos = 0;
  for (;;) {
    auto end = body.find("\n\n", pos);
    if (end == std::string::npos)
      break;
    result.push_back(body.substr(pos, end - pos));
    pos = end + 2;
  }
  return result;
}

} // namespace

TEST_SUITE("sim") {

  TEST_CASE("plain chat completion has the OpenAI shape") {
    auto sim = start_sim();
    auto r = chat(sim->port(), chat_body("Say hello to the tests."));
    REQUIRE_EQ(r.status, 200);
    CHECK(r.complete);
    CHECK_EQ(r.headers["content-type"], "application/json");
    CHECK_FALSE(r.headers["x-request-id"].empty());
    auto doc = json::parse(r.body);
    CHECK_EQ(doc["object"], "chat.completion");
    CHECK(doc["id"].get<std::string>().starts_with("chatcmpl-"));
    CHECK(doc["created"].is_number_integer());
    CHECK_EQ(doc["model"], "llmmr-sim");
    auto content = doc["choices"][0]["message"]["content"].get<std::string>();
    CHECK_EQ(content, "Echo: Say hello to the tests.");
    CHECK_EQ(doc["choices"][0]["message"]["role"], "assistant");
    CHECK_EQ(doc["choices"][0]["finish_reason"], "stop");
    CHECK_EQ(doc["usage"]["prompt_tokens"],
             count_tokens("Say hello to the tests."));
    CHECK_EQ(doc["usage"]["completion_tokens"], count_tokens(content));
    CHECK_EQ(doc["usage"]["total_tokens"],
             doc["usage"]["prompt_tokens"].get<int>()
               + doc["usage"]["completion_tokens"].get<int>());
    auto st = sim->stats();
    CHECK_EQ(st.requests, 1u);
    CHECK_EQ(st.completions, 1u);
  }

  TEST_CASE("SSE stream: role chunk, deltas, finish, usage, DONE") {
    auto sim = start_sim();
    auto prompt = std::string{"Stream this sentence back, please."};
    auto plain = json::parse(chat(sim->port(), chat_body(prompt)).body);
    auto r = chat(sim->port(), chat_body(prompt, true, 0, true));
    REQUIRE_EQ(r.status, 200);
    CHECK(r.complete);
    CHECK_EQ(r.headers["content-type"], "text/event-stream; charset=utf-8");
    CHECK_EQ(r.headers["transfer-encoding"], "chunked");
    CHECK_FALSE(r.headers["x-request-id"].empty());
    auto events = sse_events(r.body);
    REQUIRE_GE(events.size(), 5u);
    // Every event is one data line; the body ends exactly after [DONE].
    for (const auto& e : events)
      CHECK(e.starts_with("data: "));
    CHECK(r.body.ends_with("data: [DONE]\n\n"));
    auto first = json::parse(events.front().substr(6));
    CHECK_EQ(first["object"], "chat.completion.chunk");
    CHECK_EQ(first["choices"][0]["delta"]["role"], "assistant");
    CHECK(first["choices"][0]["finish_reason"].is_null());
    std::string content;
    size_t n = events.size();
    for (size_t i = 1; i + 3 < n; ++i) {
      auto chunk = json::parse(events[i].substr(6));
      CHECK(chunk["choices"][0]["finish_reason"].is_null());
      content += chunk["choices"][0]["delta"]["content"].get<std::string>();
    }
    CHECK_EQ(content, plain["choices"][0]["message"]["content"]);
    auto finish = json::parse(events[n - 3].substr(6));
    CHECK_EQ(finish["choices"][0]["finish_reason"], "stop");
    auto usage = json::parse(events[n - 2].substr(6));
    CHECK(usage["choices"].empty());
    CHECK_EQ(usage["usage"], plain["usage"]);
    CHECK_EQ(events[n - 1], "data: [DONE]");
    // Without include_usage there is no usage chunk.
    auto r2 = chat(sim->port(), chat_body(prompt, true));
    auto events2 = sse_events(r2.body);
    CHECK_EQ(events2.size(), events.size() - 1);
    CHECK_EQ(sim->stats().completions, 3u);
  }

  TEST_CASE("max_tokens cuts the output with finish_reason length") {
    auto sim = start_sim();
    auto r = chat(sim->port(),
                  chat_body("a fairly long prompt that echoes back", false, 3));
    REQUIRE_EQ(r.status, 200);
    auto doc = json::parse(r.body);
    CHECK_EQ(doc["choices"][0]["finish_reason"], "length");
    CHECK_EQ(doc["usage"]["completion_tokens"], 3);
    CHECK_EQ(doc["choices"][0]["message"]["content"].get<std::string>().size(),
             12u);
    auto s = chat(sim->port(),
                  chat_body("a fairly long prompt that echoes back", true, 3));
    auto events = sse_events(s.body);
    auto finish = json::parse(events[events.size() - 2].substr(6));
    CHECK_EQ(finish["choices"][0]["finish_reason"], "length");
  }

  TEST_CASE("prompts over the context window get 400 context_length_exceeded") {
    sim_options opts;
    opts.context_window = 10;
    auto sim = start_sim(opts);
    auto r = chat(sim->port(), chat_body(std::string(41, 'x')));
    REQUIRE_EQ(r.status, 400);
    auto doc = json::parse(r.body);
    CHECK_EQ(doc["error"]["type"], "invalid_request_error");
    CHECK_EQ(doc["error"]["code"], "context_length_exceeded");
    CHECK_EQ(doc["error"]["param"], "messages");
    CHECK(doc["error"]["message"].get<std::string>().find(
            "maximum context length is 10 tokens")
          != std::string::npos);
    // Exactly at the window is fine.
    CHECK_EQ(chat(sim->port(), chat_body(std::string(40, 'x'))).status, 200);
  }

  TEST_CASE("malformed requests get a clear 400") {
    auto sim = start_sim();
    auto r = chat(sim->port(), "{not json");
    REQUIRE_EQ(r.status, 400);
    auto doc = json::parse(r.body);
    CHECK(doc["error"]["message"].get<std::string>().find("not valid JSON")
          != std::string::npos);
    r = chat(sim->port(), R"({"model":"m"})");
    CHECK_EQ(r.status, 400);
    CHECK(json::parse(r.body)["error"]["message"].get<std::string>().find(
            "messages")
          != std::string::npos);
  }

  TEST_CASE("error shapes: vllm and tgi") {
    sim_options opts;
    opts.context_window = 1;
    opts.shape = error_shape::vllm;
    auto vllm = start_sim(opts);
    auto r = chat(vllm->port(), chat_body("too long"));
    REQUIRE_EQ(r.status, 400);
    auto doc = json::parse(r.body);
    CHECK_EQ(doc["object"], "error");
    CHECK_EQ(doc["code"], 400);
    CHECK(doc["message"].get<std::string>().find("maximum context length")
          != std::string::npos);
    opts.shape = error_shape::tgi;
    auto tgi = start_sim(opts);
    r = chat(tgi->port(), chat_body("too long"));
    REQUIRE_EQ(r.status, 400);
    doc = json::parse(r.body);
    CHECK(doc["error"].is_string());
    CHECK_EQ(doc["error_type"], "validation");
  }

  TEST_CASE("each fault kind appears at rate 1") {
    auto with = [](fault_kind kind) {
      sim_options opts;
      opts.faults.set(kind, 1.0);
      opts.stall_ms = 300;
      opts.retry_after_ms = 1500;
      return start_sim(opts);
    };
    auto prompt = chat_body("fault me please, a few tokens long");
    auto stream = chat_body("fault me please, a few tokens long", true);
    SUBCASE("rate_limit") {
      auto sim = with(fault_kind::rate_limit);
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 429);
      CHECK_EQ(r.headers["retry-after-ms"], "1500");
      CHECK_EQ(r.headers["retry-after"], "2");
      CHECK_EQ(json::parse(r.body)["error"]["code"], "rate_limit_exceeded");
      CHECK_EQ(sim->stats().faults_by_kind[size_t(fault_kind::rate_limit)], 1u);
    }
    SUBCASE("quota") {
      auto sim = with(fault_kind::quota);
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 429);
      CHECK_EQ(json::parse(r.body)["error"]["code"], "insufficient_quota");
    }
    SUBCASE("server_error and unavailable") {
      auto a = with(fault_kind::server_error);
      CHECK_EQ(chat(a->port(), prompt).status, 500);
      auto b = with(fault_kind::unavailable);
      CHECK_EQ(chat(b->port(), prompt).status, 503);
    }
    SUBCASE("reset") {
      auto sim = with(fault_kind::reset);
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 0);
      CHECK(r.closed);
    }
    SUBCASE("stall") {
      auto sim = with(fault_kind::stall);
      auto t0 = std::chrono::steady_clock::now();
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 0);
      CHECK(std::chrono::steady_clock::now() - t0
            >= std::chrono::milliseconds{250});
    }
    SUBCASE("truncated_stream") {
      auto sim = with(fault_kind::truncated_stream);
      auto r = chat(sim->port(), stream);
      CHECK_EQ(r.status, 200);
      CHECK_FALSE(r.complete);
      CHECK(r.body.find("[DONE]") == std::string::npos);
      auto p = chat(sim->port(), prompt);
      CHECK_EQ(p.status, 200);
      CHECK_FALSE(p.complete);
      CHECK(p.closed);
    }
    SUBCASE("error_mid_stream") {
      auto sim = with(fault_kind::error_mid_stream);
      auto r = chat(sim->port(), stream);
      CHECK_EQ(r.status, 200);
      auto events = sse_events(r.body);
      REQUIRE_GE(events.size(), 2u);
      auto err = json::parse(events[events.size() - 2].substr(6));
      CHECK(err.contains("error"));
      CHECK_EQ(events.back(), "data: [DONE]");
      auto p = chat(sim->port(), prompt);
      CHECK_EQ(p.status, 200);
      CHECK(json::parse(p.body).contains("error"));
    }
    SUBCASE("invalid_json") {
      auto sim = with(fault_kind::invalid_json);
      auto p = chat(sim->port(), prompt);
      CHECK_EQ(p.status, 200);
      CHECK(p.complete);
      CHECK(json::parse(p.body, nullptr, false).is_discarded());
      auto r = chat(sim->port(), stream);
      auto events = sse_events(r.body);
      bool bad = false;
      for (const auto& e : events)
        if (e != "data: [DONE]"
            && json::parse(e.substr(6), nullptr, false).is_discarded())
          bad = true;
      CHECK(bad);
    }
    SUBCASE("wrong_content_type") {
      auto sim = with(fault_kind::wrong_content_type);
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 200);
      CHECK(r.headers["content-type"].starts_with("text/html"));
    }
    SUBCASE("slow_drip") {
      auto sim = with(fault_kind::slow_drip);
      auto r = chat(sim->port(), prompt);
      CHECK_EQ(r.status, 200);
      CHECK(r.complete);
      CHECK_EQ(json::parse(r.body)["object"], "chat.completion");
      auto s = chat(sim->port(), stream);
      CHECK(s.complete);
      CHECK(s.body.ends_with("data: [DONE]\n\n"));
      CHECK_EQ(sim->stats().completions, 2u);
    }
  }

  TEST_CASE("fault draws are deterministic for a seed") {
    auto run = [](uint64_t seed) {
      sim_options opts;
      opts.seed = seed;
      opts.faults.rate_limit = 0.2;
      opts.faults.server_error = 0.2;
      opts.faults.unavailable = 0.2;
      auto sim = start_sim(opts);
      std::vector<int> statuses;
      for (int i = 0; i < 30; ++i)
        statuses.push_back(chat(sim->port(), chat_body("hi")).status);
      return statuses;
    };
    auto a = run(7);
    CHECK_EQ(a, run(7));
    CHECK_NE(a, run(8));
    // Roughly 60 % faulted: some of each outcome appear.
    CHECK(std::count(a.begin(), a.end(), 200) > 0);
    CHECK(std::count(a.begin(), a.end(), 200) < 30);
  }

  TEST_CASE("fault spec parsing and uniform rates") {
    auto r = parse_fault_spec("reset=0.25,stall=0.5");
    REQUIRE(r);
    CHECK_EQ(r->reset, 0.25);
    CHECK_EQ(r->stall, 0.5);
    CHECK_FALSE(parse_fault_spec("bogus=0.1"));
    CHECK_FALSE(parse_fault_spec("reset=2"));
    auto u = fault_rates::uniform(0.3);
    CHECK_EQ(u.quota, 0);
    double total = 0;
    for (size_t i = 1; i < fault_kind_count; ++i)
      total += u.get(static_cast<fault_kind>(i));
    CHECK(std::abs(total - 0.3) < 1e-9);
    CHECK_EQ(pick_fault(u, 0.5), fault_kind::none);
    CHECK_EQ(pick_fault(u, 0.0), fault_kind::rate_limit);
  }

  TEST_CASE("latency model: slots, FIFO queueing and a makespan lower bound") {
    sim_options opts;
    opts.slots = 2;
    opts.ttft_ms = 40;
    opts.per_token_ms = 1;
    auto sim = start_sim(opts);
    auto body = chat_body("exactly this prompt", false);
    auto tokens = count_tokens("Echo: exactly this prompt");
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    std::vector<int> statuses(6);
    for (size_t i = 0; i < 6; ++i)
      threads.emplace_back(
        [&, i] { statuses[i] = chat(sim->port(), body).status; });
    for (auto& t : threads)
      t.join();
    auto elapsed = std::chrono::steady_clock::now() - t0;
    for (auto s : statuses)
      CHECK_EQ(s, 200);
    // Ideal makespan: ceil(6 / 2) * (ttft + tokens * per_token).
    auto ideal = std::chrono::milliseconds{3 * (40 + tokens)};
    CHECK(elapsed >= ideal - std::chrono::milliseconds{5});
    auto st = sim->stats();
    CHECK_EQ(st.max_concurrent_generations, 2u);
    CHECK_EQ(st.completions, 6u);
  }

  TEST_CASE("latency model: fixed part, prefill per prompt token, decode") {
    latency_model m{30, 0.05, 2};
    CHECK_EQ(m.first_token_ms(0), doctest::Approx(30));
    CHECK_EQ(m.first_token_ms(1000), doctest::Approx(30 + 50));
    CHECK_EQ(m.token_ms(1000, 0), doctest::Approx(80));
    CHECK_EQ(m.token_ms(1000, 7), doctest::Approx(80 + 14));
    CHECK_EQ(m.service_ms(1000, 100), doctest::Approx(30 + 50 + 200));
    CHECK_EQ(m.service_ms(0, 0), doctest::Approx(30));
    // The defaults cost nothing; the options carry the model.
    CHECK_EQ(latency_model{}.service_ms(4096, 300), 0.0);
    sim_options opts;
    opts.ttft_ms = 12;
    opts.prefill_ms_per_token = 0.25;
    opts.per_token_ms = 1.5;
    CHECK_EQ(opts.latency(), latency_model{12, 0.25, 1.5});
  }

  TEST_CASE("call log: service times follow the model, one slot is FIFO") {
    sim_options opts;
    opts.slots = 1;
    opts.ttft_ms = 3;
    opts.prefill_ms_per_token = 0.5;
    opts.per_token_ms = 0.25;
    opts.record_calls = true;
    auto sim = start_sim(opts);
    std::vector<std::string> prompts{"a short prompt",
                                     std::string(400, 'x') + " longer prompt",
                                     std::string(2000, 'y')};
    std::vector<std::thread> threads;
    std::vector<http_reply> replies(prompts.size() + 1);
    for (size_t i = 0; i < prompts.size(); ++i)
      threads.emplace_back(
        [&, i] { replies[i] = chat(sim->port(), chat_body(prompts[i])); });
    // One streamed request too: the same model, the same log.
    threads.emplace_back([&] {
      replies.back() = chat(sim->port(), chat_body(prompts[1], true, 0, true));
    });
    for (auto& t : threads)
      t.join();
    for (auto& r : replies)
      REQUIRE_EQ(r.status, 200);
    auto log = sim->calls();
    REQUIRE_EQ(log.size(), replies.size());
    auto model = opts.latency();
    uint64_t prompt_total = 0;
    for (const auto& c : log) {
      CHECK(c.request_id.starts_with("sim-"));
      CHECK(c.completion_tokens > 0);
      CHECK_EQ(c.service_ms, doctest::Approx(model.service_ms(
                               c.prompt_tokens, c.completion_tokens)));
      CHECK(c.started >= c.queued);
      CHECK_EQ(c.finished - c.started,
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::chrono::duration<double, std::milli>{c.service_ms}));
      prompt_total += c.prompt_tokens;
    }
    // Prompt tokens are counted as the usage counts them.
    CHECK_EQ(prompt_total, sim->stats().prompt_tokens);
    uint64_t expected_total = 0;
    for (const auto& p : prompts)
      expected_total += count_tokens(p);
    expected_total += count_tokens(prompts[1]);
    CHECK_EQ(prompt_total, expected_total);
    // One slot: each generation starts after the one before it finished.
    std::sort(log.begin(), log.end(),
              [](auto& x, auto& y) { return x.started < y.started; });
    for (size_t i = 1; i < log.size(); ++i)
      CHECK(log[i].started >= log[i - 1].finished);
  }

  TEST_CASE("call log stays empty unless asked for") {
    auto sim = start_sim();
    REQUIRE_EQ(chat(sim->port(), chat_body("hello")).status, 200);
    CHECK(sim->calls().empty());
    CHECK(sim->io_cpu_seconds() >= 0);
  }

  TEST_CASE("streams send keep-alive comments while waiting") {
    sim_options opts;
    opts.ttft_ms = 120;
    opts.keepalive_ms = 20;
    auto sim = start_sim(opts);
    auto r = chat(sim->port(), chat_body("wait for me", true));
    CHECK_EQ(r.status, 200);
    CHECK(r.body.starts_with(": keep-alive\n\n"));
    CHECK(r.body.ends_with("data: [DONE]\n\n"));
  }

  TEST_CASE("keep-alive connections serve several requests") {
    auto sim = start_sim();
    http_conn conn{sim->port()};
    REQUIRE(conn.ok());
    for (int i = 0; i < 3; ++i) {
      conn.send("POST", "/v1/chat/completions", chat_body("again"));
      auto r = conn.read();
      CHECK_EQ(r.status, 200);
      CHECK(r.complete);
    }
    conn.send("POST", "/v1/chat/completions", chat_body("again", true));
    CHECK(conn.read().complete);
    conn.send("GET", "/health");
    CHECK_EQ(conn.read().status, 200);
    CHECK_EQ(sim->stats().connections_accepted, 1u);
  }

  TEST_CASE("models, tokenize, props, health and unknown paths") {
    sim_options opts;
    opts.context_window = 4096;
    opts.model = "tiny";
    auto sim = start_sim(opts);
    auto models = http_call(sim->port(), "GET", "/v1/models");
    REQUIRE_EQ(models.status, 200);
    auto doc = json::parse(models.body);
    CHECK_EQ(doc["object"], "list");
    CHECK_EQ(doc["data"][0]["id"], "tiny");
    CHECK_EQ(doc["data"][0]["max_model_len"], 4096);
    auto tok = http_call(sim->port(), "POST", "/tokenize",
                         R"({"prompt":"hello world!"})");
    REQUIRE_EQ(tok.status, 200);
    doc = json::parse(tok.body);
    CHECK_EQ(doc["count"], 3);
    CHECK_EQ(doc["tokens"].size(), 3u);
    tok = http_call(sim->port(), "POST", "/tokenize",
                    R"({"messages":[{"role":"user","content":"abcdefgh"}]})");
    CHECK_EQ(json::parse(tok.body)["count"], 2);
    auto props = http_call(sim->port(), "GET", "/props");
    doc = json::parse(props.body);
    CHECK_EQ(doc["n_ctx"], 4096);
    CHECK_EQ(doc["default_generation_settings"]["n_ctx"], 4096);
    CHECK_EQ(http_call(sim->port(), "GET", "/health").status, 200);
    auto missing = http_call(sim->port(), "GET", "/nope");
    CHECK_EQ(missing.status, 404);
    CHECK(json::parse(missing.body).contains("error"));
    CHECK_EQ(http_call(sim->port(), "GET", "/v1/chat/completions").status, 405);
  }

  TEST_CASE("api key: 401 without it, 200 with it") {
    sim_options opts;
    opts.api_key = "sk-test-123";
    auto sim = start_sim(opts);
    auto r = chat(sim->port(), chat_body("hi"));
    CHECK_EQ(r.status, 401);
    CHECK_EQ(json::parse(r.body)["error"]["code"], "invalid_api_key");
    CHECK(r.body.find("sk-test-123") == std::string::npos);
    r = http_call(sim->port(), "POST", "/v1/chat/completions", chat_body("hi"),
                  "Authorization: Bearer wrong\r\n");
    CHECK_EQ(r.status, 401);
    r = http_call(sim->port(), "POST", "/v1/chat/completions", chat_body("hi"),
                  "Authorization: Bearer sk-test-123\r\n");
    CHECK_EQ(r.status, 200);
    CHECK_EQ(http_call(sim->port(), "GET", "/health").status, 200);
  }

  TEST_CASE("JSON output follows the requested schema") {
    auto sim = start_sim();
    json body = json::parse(chat_body("hello"));
    body["response_format"]
      = {{"type", "json_schema"},
         {"json_schema",
          {{"name", "r"},
           {"schema",
            {{"type", "object"},
             {"properties",
              {{"answer", {{"type", "string"}}},
               {"confidence", {{"type", "number"}}}}}}}}}};
    auto r = chat(sim->port(), body.dump());
    REQUIRE_EQ(r.status, 200);
    auto content
      = json::parse(json::parse(r.body)["choices"][0]["message"]["content"]
                      .get<std::string>());
    CHECK(content["answer"].is_string());
    CHECK(content["confidence"].is_number());
  }

  TEST_CASE("binding a busy port fails naming host:port") {
    auto sim = start_sim();
    sim_options opts;
    opts.port = sim->port();
    auto other = sim_server::start(opts);
    REQUIRE_FALSE(other);
    CHECK(llmmr::describe(other.error())
            .find("127.0.0.1:" + std::to_string(sim->port()))
          != std::string::npos);
    sim->stop();
    sim->stop(); // idempotent
  }

} // TEST_SUITE

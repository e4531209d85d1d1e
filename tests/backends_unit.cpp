// Unit tests of backends/ without a network: URL parsing, profiles and error
// shapes, the SSE parser and stream assembly, the retry policy's decisions,
// the retrying decorator and the endpoint pool (with scripted inner clients).

#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/endpoint_pool.hpp"
#include "llmmr/backends/profile.hpp"
#include "llmmr/backends/retry_policy.hpp"
#include "llmmr/backends/retrying_client.hpp"
#include "llmmr/backends/wire.hpp"

using namespace llmmr;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

/// A fake inner client: answers each attempt from a queue of outcomes.
class fake_attempts : public llm_client {
public:
  struct outcome {
    error_kind kind = error_kind::none; // none: success
    bool retryable = false;
    int64_t retry_after_ms = -1;
  };

  explicit fake_attempts(std::vector<outcome> xs, std::string name = "fake")
    : queue_(xs.begin(), xs.end()), name_(std::move(name)) {}

  void chat(chat_request, reply_handler, delta_handler) override {
    FAIL("unexpected chat");
  }

  void try_chat(chat_request, attempt_handler done, delta_handler) override {
    outcome x;
    {
      std::lock_guard guard{mtx_};
      ++calls;
      if (!queue_.empty()) {
        x = queue_.front();
        queue_.pop_front();
      }
    }
    attempt_info info;
    info.endpoint = name_;
    if (x.kind == error_kind::none) {
      chat_reply reply;
      reply.text = "ok";
      reply.endpoint = name_;
      done(std::move(reply), info);
      return;
    }
    info.retryable = x.retryable;
    info.retry_after_ms = x.retry_after_ms;
    info.reason = to_string(x.kind);
    done(make_error(x.kind, "scripted failure"), info);
  }

  size_t outstanding() const override { return 0; }

  int calls = 0;

private:
  std::mutex mtx_;
  std::deque<outcome> queue_;
  std::string name_;
};

/// A scheduler that runs at once and records the delays.
struct recording_scheduler {
  std::vector<milliseconds> delays;
  scheduler fn() {
    return [this](milliseconds d, std::function<void()> f) {
      delays.push_back(d);
      f();
    };
  }
};

std::string realistic_stream() {
  return ": keep-alive\n\n"
         "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\","
         "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},"
         "\"finish_reason\":null}]}\n\n"
         "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":"
         "{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
         ": keep-alive\n\n"
         "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":"
         "{\"content\":\"lo, w\\u00f6rld\"},\"finish_reason\":null}]}\r\n\r\n"
         "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{},"
         "\"finish_reason\":\"length\"}]}\n\n"
         "data: {\"id\":\"chatcmpl-7\",\"choices\":[],\"usage\":"
         "{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}"
         "\n\n"
         "data: [DONE]\n\n";
}

} // namespace

TEST_SUITE("backends") {

  TEST_CASE("endpoint URLs are parsed with defaults and without /v1") {
    auto x = parse_endpoint_url("http://127.0.0.1:8080/v1");
    REQUIRE(x);
    CHECK_EQ(x->scheme, "http");
    CHECK_EQ(x->host, "127.0.0.1");
    CHECK_EQ(x->port, 8080);
    CHECK_EQ(x->base_path, "");
    auto y = parse_endpoint_url("HTTPS://api.openai.com/v1/");
    REQUIRE(y);
    CHECK(y->tls());
    CHECK_EQ(y->port, 443);
    CHECK_EQ(y->to_string(), "https://api.openai.com:443");
    auto z = parse_endpoint_url("http://[::1]:9000/proxy/v1?x=1");
    REQUIRE(z);
    CHECK_EQ(z->host, "::1");
    CHECK_EQ(z->port, 9000);
    CHECK_EQ(z->base_path, "/proxy");
    CHECK_EQ(z->to_string(), "http://[::1]:9000/proxy");
    auto plain = parse_endpoint_url("http://localhost");
    REQUIRE(plain);
    CHECK_EQ(plain->port, 80);
    for (auto bad : {"localhost:8080", "ftp://x", "http://", "http://h:0",
                     "http://h:70000", "http://h:12ab", "http://[::1",
                     "http://user:secret@h/v1"}) {
      CAPTURE(bad);
      auto r = parse_endpoint_url(bad);
      REQUIRE(!r);
      CHECK_EQ(kind_of(r.error()), error_kind::config);
      CHECK(describe(r.error()).find("secret") == std::string::npos);
    }
  }

  TEST_CASE("profile names round-trip") {
    for (auto p : {endpoint_profile::generic, endpoint_profile::openai,
                   endpoint_profile::vllm, endpoint_profile::llamacpp,
                   endpoint_profile::tgi}) {
      endpoint_profile q = endpoint_profile::generic;
      REQUIRE(from_string(to_string(p), q));
      CHECK_EQ(p, q);
    }
    endpoint_profile q;
    CHECK_FALSE(from_string("auto", q));
  }

  TEST_CASE("error shapes of every profile are parsed") {
    SUBCASE("openai nested") {
      auto e = parse_api_error(
        R"({"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})");
      CHECK(e.found);
      CHECK_EQ(e.code, "context_length_exceeded");
      CHECK(e.context_length_exceeded());
      CHECK_FALSE(e.insufficient_quota());
    }
    SUBCASE("openai quota") {
      auto e = parse_api_error(
        R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
      CHECK(e.found);
      CHECK(e.insufficient_quota());
    }
    SUBCASE("llama.cpp nested with numeric code") {
      auto e = parse_api_error(
        R"({"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":4096}})");
      CHECK(e.found);
      CHECK_EQ(e.code, "400");
      CHECK(e.context_length_exceeded());
    }
    SUBCASE("vllm flat") {
      auto e = parse_api_error(
        R"({"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens","type":"BadRequestError","param":null,"code":400})");
      CHECK(e.found);
      CHECK_EQ(e.type, "BadRequestError");
      CHECK(e.context_length_exceeded());
    }
    SUBCASE("tgi flat") {
      auto e = parse_api_error(
        R"({"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 300 `max_new_tokens`","error_type":"validation"})");
      CHECK(e.found);
      CHECK_EQ(e.type, "validation");
      CHECK(e.context_length_exceeded());
    }
    SUBCASE("tgi overloaded is not a context error") {
      auto e = parse_api_error(
        R"({"error":"Model is overloaded","error_type":"overloaded"})");
      CHECK(e.found);
      CHECK_FALSE(e.context_length_exceeded());
    }
    SUBCASE("not an error") {
      CHECK_FALSE(parse_api_error("<html>oops</html>").found);
      CHECK_FALSE(parse_api_error(R"({"object":"list"})").found);
    }
  }

  TEST_CASE("the JSON-schema response format is spelled per profile") {
    chat_request req;
    req.messages.push_back({"user", "hi"});
    req.json_schema = R"({"type":"object"})";
    req.stream = true;
    auto body = [&](endpoint_profile p) {
      return nlohmann::json::parse(render_chat_body(p, req, "m"));
    };
    auto oa = body(endpoint_profile::openai);
    CHECK_EQ(oa["model"], "m");
    CHECK_EQ(oa["stream"], true);
    CHECK_EQ(oa["stream_options"]["include_usage"], true);
    CHECK_EQ(oa["response_format"]["type"], "json_schema");
    CHECK_EQ(oa["response_format"]["json_schema"]["schema"]["type"], "object");
    CHECK_EQ(body(endpoint_profile::vllm)["response_format"]["type"],
             "json_schema");
    auto ll = body(endpoint_profile::llamacpp);
    CHECK_EQ(ll["response_format"]["type"], "json_object");
    CHECK_EQ(ll["response_format"]["schema"]["type"], "object");
    auto tgi = body(endpoint_profile::tgi);
    CHECK_EQ(tgi["response_format"]["type"], "json");
    CHECK_EQ(tgi["response_format"]["value"]["type"], "object");
    req.json_schema.clear();
    req.stream = false;
    req.model = "other";
    auto plain = body(endpoint_profile::generic);
    CHECK_FALSE(plain.contains("response_format"));
    CHECK_FALSE(plain.contains("stream"));
    CHECK_EQ(plain["model"], "other");
  }

  TEST_CASE("tokenize and context-window discovery per profile") {
    CHECK_EQ(tokenize_path(endpoint_profile::openai), "");
    CHECK_EQ(tokenize_path(endpoint_profile::llamacpp), "/tokenize");
    CHECK_EQ(nlohmann::json::parse(render_tokenize_body(
               endpoint_profile::llamacpp, "m", "x"))["content"],
             "x");
    CHECK_EQ(nlohmann::json::parse(render_tokenize_body(endpoint_profile::vllm,
                                                        "m", "x"))["prompt"],
             "x");
    CHECK_EQ(nlohmann::json::parse(
               render_tokenize_body(endpoint_profile::tgi, "m", "x"))["inputs"],
             "x");
    CHECK_EQ(parse_tokenize_reply(R"({"tokens":[1,2,3]})"), 3u);
    CHECK_EQ(parse_tokenize_reply(
               R"({"count":5,"tokens":[1,2,3,4,5],"max_model_len":4096})"),
             5u);
    CHECK_EQ(parse_tokenize_reply(R"([{"id":1},{"id":2}])"), 2u);
    CHECK_FALSE(parse_tokenize_reply("nope"));
    CHECK_EQ(context_window_path(endpoint_profile::llamacpp), "/props");
    CHECK_EQ(context_window_path(endpoint_profile::vllm), "/v1/models");
    CHECK_EQ(
      parse_context_window(
        R"({"default_generation_settings":{"n_ctx":4096},"total_slots":2})"),
      4096u);
    CHECK_EQ(
      parse_context_window(
        R"({"object":"list","data":[{"id":"a","max_model_len":2048},{"id":"b","max_model_len":8192}]})",
        "b"),
      8192u);
    CHECK_EQ(parse_context_window(
               R"({"object":"list","data":[{"id":"a","max_model_len":2048}]})"),
             2048u);
    CHECK_EQ(
      parse_context_window(R"({"model_id":"x","max_total_tokens":1024})"),
      1024u);
    CHECK_FALSE(
      parse_context_window(R"({"object":"list","data":[{"id":"a"}]})"));
  }

  TEST_CASE("profiles are guessed from what the server answers") {
    CHECK_EQ(guess_profile("api.openai.com", "", "", ""),
             endpoint_profile::openai);
    CHECK_EQ(guess_profile(
               "h", R"({"default_generation_settings":{"n_ctx":1}})", "", ""),
             endpoint_profile::llamacpp);
    CHECK_EQ(
      guess_profile("h", "", R"({"model_id":"m","max_total_tokens":9})", ""),
      endpoint_profile::tgi);
    CHECK_EQ(
      guess_profile("h", "", "", R"({"data":[{"id":"m","max_model_len":9}]})"),
      endpoint_profile::vllm);
    CHECK_EQ(guess_profile("h", "", "", R"({"data":[{"id":"m"}]})"),
             endpoint_profile::generic);
  }

  TEST_CASE("SSE split at every byte boundary yields the same reply") {
    auto wire = realistic_stream();
    for (size_t cut1 = 0; cut1 <= wire.size(); ++cut1) {
      // Two cuts: one at every position, the other a fixed step further, so
      // that every boundary is also hit in the middle of a piece.
      size_t cut2 = std::min(wire.size(), cut1 + 7);
      sse_parser parser;
      chat_stream stream;
      std::string deltas;
      llmmr::error err;
      auto on_event = [&](std::string_view data) {
        if (!err)
          err = stream.on_event(data, [&](std::string_view d) { deltas += d; });
      };
      parser.feed(std::string_view{wire}.substr(0, cut1), on_event);
      parser.feed(std::string_view{wire}.substr(cut1, cut2 - cut1), on_event);
      parser.feed(std::string_view{wire}.substr(cut2), on_event);
      CAPTURE(cut1);
      REQUIRE(!err);
      CHECK(stream.done());
      CHECK_EQ(stream.reply().text, "Hello, w\xC3\xB6rld");
      CHECK_EQ(deltas, stream.reply().text);
      CHECK_EQ(stream.reply().finish_reason, "length");
      CHECK_EQ(stream.reply().request_id, "chatcmpl-7");
      CHECK(stream.has_usage());
      CHECK_EQ(stream.reply().usage.prompt_tokens, 11u);
      CHECK_EQ(stream.reply().usage.completion_tokens, 3u);
      CHECK_EQ(parser.comments(), 2u);
      CHECK_FALSE(parser.pending());
    }
    // Byte by byte.
    sse_parser parser;
    chat_stream stream;
    for (char c : wire)
      parser.feed(std::string_view{&c, 1}, [&](std::string_view data) {
        REQUIRE(!stream.on_event(data, {}));
      });
    CHECK(stream.done());
    CHECK_EQ(stream.reply().text, "Hello, w\xC3\xB6rld");
  }

  TEST_CASE("SSE: multi-line data, other fields and CR line ends") {
    sse_parser parser;
    std::vector<std::string> events;
    parser.feed("event: x\rdata: a\rdata:b\r\rid: 3\nretry: 9\ndata\n\n",
                [&](std::string_view d) { events.emplace_back(d); });
    REQUIRE_EQ(events.size(), 2u);
    CHECK_EQ(events[0], "a\nb");
    CHECK_EQ(events[1], "");
  }

  TEST_CASE("an error object mid-stream becomes a typed error") {
    chat_stream stream;
    REQUIRE(!stream.on_event(
      R"({"id":"c1","choices":[{"index":0,"delta":{"content":"x"}}]})", {}));
    auto err = stream.on_event(
      R"({"error":{"message":"overloaded","type":"server_error","code":null}})",
      {});
    REQUIRE(err);
    CHECK_EQ(kind_of(err), error_kind::server_error);
    auto rl = chat_stream{}.on_event(
      R"({"error":{"message":"slow down","code":"rate_limit_exceeded"}})", {});
    CHECK_EQ(kind_of(rl), error_kind::rate_limited);
    auto bad = chat_stream{}.on_event("{not json", {});
    CHECK_EQ(kind_of(bad), error_kind::bad_reply);
  }

  TEST_CASE("plain replies are parsed with finish reason and usage") {
    bool has_usage = false;
    auto r = parse_chat_reply(
      R"({"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":1}})",
      has_usage);
    REQUIRE(r);
    CHECK_EQ(r->text, "hi");
    CHECK_EQ(r->finish_reason, "length");
    CHECK_EQ(r->request_id, "chatcmpl-1");
    CHECK(has_usage);
    CHECK_EQ(r->usage.prompt_tokens, 4u);
    auto no_usage = parse_chat_reply(
      R"({"choices":[{"message":{"content":"a"},"finish_reason":"stop"}]})",
      has_usage);
    REQUIRE(no_usage);
    CHECK_FALSE(has_usage);
    CHECK_EQ(kind_of(parse_chat_reply("<html>", has_usage).error()),
             error_kind::bad_reply);
    CHECK_EQ(kind_of(parse_chat_reply(R"({"choices":[]})", has_usage).error()),
             error_kind::bad_reply);
    CHECK_EQ(estimate_tokens("abcdefgh"), 2u);
    CHECK_EQ(estimate_tokens("abcdefghi"), 3u);
  }

  TEST_CASE("retry policy: the decision table") {
    retry_policy policy;
    header_list none;
    struct row {
      int status;
      const char* body;
      bool retry;
      error_kind kind;
    };
    const char* cle
      = R"({"error":{"message":"too long","code":"context_length_exceeded"}})";
    const char* quota
      = R"({"error":{"message":"no money","type":"insufficient_quota","code":"insufficient_quota"}})";
    const char* rate
      = R"({"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}})";
    std::vector<row> table{
      {400, "{}", false, error_kind::bad_request},
      {400, cle, false, error_kind::context_length_exceeded},
      {401, "{}", false, error_kind::auth},
      {403, "{}", false, error_kind::auth},
      {404, "{}", false, error_kind::bad_request},
      {408, "", true, error_kind::timeout},
      {409, "", true, error_kind::server_error},
      {422, "{}", false, error_kind::bad_request},
      {429, rate, true, error_kind::rate_limited},
      {429, "", true, error_kind::rate_limited},
      {429, quota, false, error_kind::quota},
      {500, "", true, error_kind::server_error},
      {502, "<html>", true, error_kind::server_error},
      {503, "", true, error_kind::server_error},
      {504, "", true, error_kind::server_error},
    };
    for (const auto& x : table) {
      CAPTURE(x.status);
      CAPTURE(x.body);
      auto d = policy.classify(x.status, x.body, none);
      CHECK_EQ(d.retry, x.retry);
      CHECK_EQ(d.kind, x.kind);
      CHECK_FALSE(d.delay);
      CHECK(d.reason.starts_with(std::to_string(x.status)));
    }
    // Transport-level failures.
    CHECK(policy.classify(error_kind::unreachable).retry);
    CHECK(policy.classify(error_kind::timeout).retry);
    CHECK(policy.classify(error_kind::server_error).retry); // mid-stream
    CHECK(policy.classify(error_kind::bad_reply).retry);
    CHECK_FALSE(policy.classify(error_kind::tls).retry);
    CHECK_FALSE(policy.classify(error_kind::cancelled).retry);
    CHECK_FALSE(policy.classify(error_kind::context_length_exceeded).retry);
    CHECK_FALSE(policy.classify(error_kind::quota).retry);
  }

  TEST_CASE("retry policy: every header form") {
    retry_policy policy;
    auto now = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21}
               + std::chrono::hours{7} + std::chrono::minutes{28};
    policy.set_wall_clock([now] { return now; });
    auto delay
      = [&](header_list h) { return policy.classify(429, "", h).delay; };
    CHECK_EQ(delay({{"retry-after-ms", "250"}}), milliseconds{250});
    CHECK_EQ(delay({{"Retry-After-Ms", "1.5"}}), milliseconds{2});
    CHECK_EQ(delay({{"retry-after", "3"}}), milliseconds{3000});
    CHECK_EQ(delay({{"retry-after", "0.5"}}), milliseconds{500});
    CHECK_EQ(delay({{"retry-after", "Wed, 21 Oct 2015 07:28:07 GMT"}}),
             milliseconds{7000});
    CHECK_EQ(delay({{"retry-after", "Wed, 21 Oct 2015 07:27:00 GMT"}}),
             milliseconds{0}); // in the past
    CHECK_EQ(delay({{"retry-after-ms", "100"}, {"retry-after", "9"}}),
             milliseconds{100}); // ms wins
    CHECK_EQ(delay({{"x-ratelimit-reset-requests", "1s"}}), milliseconds{1000});
    CHECK_EQ(delay({{"x-ratelimit-reset-tokens", "6m0s"}}),
             milliseconds{360000});
    CHECK_EQ(delay({{"x-ratelimit-reset-requests", "20ms"},
                    {"x-ratelimit-reset-tokens", "1.5s"}}),
             milliseconds{1500}); // the larger
    CHECK_FALSE(delay({{"retry-after", "soon"}}));
    CHECK_FALSE(delay({{"x-ratelimit-reset-tokens", "5parsecs"}}));
    // Headers also count on 5xx and 408, never make a 4xx retryable.
    CHECK_EQ(policy.classify(503, "", {{"retry-after", "2"}}).delay,
             milliseconds{2000});
    CHECK_FALSE(policy.classify(400, "", {{"retry-after", "2"}}).retry);
    // Duration and date parsers.
    CHECK_EQ(parse_reset_duration("1h2m3.5s"), milliseconds{3723500});
    CHECK_EQ(parse_reset_duration("250us"), milliseconds{1});
    CHECK_EQ(parse_reset_duration("7"), milliseconds{7000});
    CHECK_FALSE(parse_reset_duration(""));
    CHECK_FALSE(parse_http_date("Wed, 32 Oct 2015 07:28:00 GMT"));
    CHECK_FALSE(parse_http_date("yesterday"));
  }

  TEST_CASE("retry policy: full jitter stays within bounds, seeded") {
    retry_options opts;
    opts.max_attempts = 100;
    opts.initial_backoff = 100ms;
    opts.max_backoff = 1600ms;
    opts.max_total = 1'000'000ms;
    opts.seed = 42;
    retry_policy a{opts};
    retry_policy b{opts};
    retry_decision d;
    d.retry = true;
    CHECK_EQ(a.backoff_cap(1), 100ms);
    CHECK_EQ(a.backoff_cap(2), 200ms);
    CHECK_EQ(a.backoff_cap(5), 1600ms);
    CHECK_EQ(a.backoff_cap(50), 1600ms);
    std::set<int64_t> seen;
    for (uint32_t n = 1; n < 60; ++n) {
      auto x = a.next_delay(d, n, 0ms);
      auto y = b.next_delay(d, n, 0ms);
      REQUIRE(x);
      CHECK_EQ(*x, *y); // same seed, same sequence
      CHECK(*x >= 0ms);
      CHECK(*x <= a.backoff_cap(n));
      seen.insert(x->count());
    }
    CHECK(seen.size() > 20); // actually random
    // No jitter: exactly the cap.
    opts.jitter = jitter_mode::none;
    retry_policy c{opts};
    CHECK_EQ(c.next_delay(d, 3, 0ms), 400ms);
  }

  TEST_CASE("retry policy: attempt and total-time bounds") {
    retry_options opts;
    opts.max_attempts = 3;
    opts.initial_backoff = 100ms;
    opts.max_backoff = 1000ms;
    opts.max_total = 5000ms;
    opts.seed = 7;
    retry_policy p{opts};
    retry_decision d;
    d.retry = true;
    CHECK(p.next_delay(d, 1, 0ms));
    CHECK(p.next_delay(d, 2, 0ms));
    CHECK_FALSE(p.next_delay(d, 3, 0ms)); // attempts used up
    d.delay = 2000ms;                     // the server's wish is honoured
    CHECK_EQ(p.next_delay(d, 1, 0ms), 2000ms);
    CHECK_EQ(p.next_delay(d, 1, 2999ms), 2000ms);
    CHECK_FALSE(p.next_delay(d, 1, 3000ms)); // would pass max_total
    d.delay = 60'000ms;
    CHECK_FALSE(p.next_delay(d, 1, 0ms));
    d.retry = false;
    d.delay.reset();
    CHECK_FALSE(p.next_delay(d, 1, 0ms));
  }

  TEST_CASE("retrying client: retries transient failures, honours delays") {
    using o = fake_attempts::outcome;
    auto inner = std::make_shared<fake_attempts>(
      std::vector<o>{{error_kind::rate_limited, true, 1234},
                     {error_kind::server_error, true, -1},
                     {error_kind::none, false, -1}});
    recording_scheduler sched;
    retry_options opts;
    opts.seed = 1;
    opts.initial_backoff = 100ms;
    retrying_client client{inner, opts, sched.fn()};
    std::optional<llmmr::expected<chat_reply>> result;
    client.chat(chat_request{},
                [&](llmmr::expected<chat_reply> r) { result = std::move(r); });
    REQUIRE(result);
    REQUIRE(*result);
    CHECK_EQ((*result)->attempts, 3u);
    CHECK_EQ(inner->calls, 3);
    REQUIRE_EQ(sched.delays.size(), 2u);
    CHECK_EQ(sched.delays[0], 1234ms);
    CHECK(sched.delays[1] <= 200ms);
    CHECK_EQ(client.retries(), 2u);
    CHECK_EQ(client.outstanding(), 0u);
  }

  TEST_CASE("retrying client: never retries permanent failures") {
    using o = fake_attempts::outcome;
    for (auto kind : {error_kind::context_length_exceeded, error_kind::auth,
                      error_kind::quota, error_kind::bad_request}) {
      auto inner = std::make_shared<fake_attempts>(
        std::vector<o>{{kind, false, -1}, {error_kind::none, false, -1}});
      recording_scheduler sched;
      retrying_client client{inner, retry_options{}, sched.fn()};
      std::optional<llmmr::expected<chat_reply>> result;
      client.chat(chat_request{}, [&](llmmr::expected<chat_reply> r) {
        result = std::move(r);
      });
      REQUIRE(result);
      REQUIRE(!*result);
      CHECK_EQ(kind_of(result->error()), kind);
      CHECK_EQ(inner->calls, 1);
      CHECK(sched.delays.empty());
    }
  }

  TEST_CASE("retrying client: bounded attempts and total time (fake clock)") {
    using o = fake_attempts::outcome;
    std::vector<o> fails(10, o{error_kind::unreachable, true, -1});
    SUBCASE("attempts") {
      auto inner = std::make_shared<fake_attempts>(fails);
      recording_scheduler sched;
      retry_options opts;
      opts.max_attempts = 4;
      retrying_client client{inner, opts, sched.fn()};
      std::optional<llmmr::expected<chat_reply>> result;
      client.chat(chat_request{}, [&](llmmr::expected<chat_reply> r) {
        result = std::move(r);
      });
      REQUIRE(result);
      CHECK_EQ(kind_of(result->error()), error_kind::unreachable);
      CHECK_EQ(inner->calls, 4);
    }
    SUBCASE("total time") {
      auto inner = std::make_shared<fake_attempts>(fails);
      auto now = std::chrono::steady_clock::time_point{};
      retry_options opts;
      opts.max_attempts = 100;
      opts.max_total = 10'000ms;
      opts.initial_backoff = 1000ms;
      opts.max_backoff = 1000ms;
      opts.jitter = jitter_mode::none;
      retrying_client client{inner, opts,
                             [&now](milliseconds d, std::function<void()> f) {
                               now += d; // the fake clock advances by the wait
                               f();
                             }};
      client.set_clock([&now] { return now; });
      std::optional<llmmr::expected<chat_reply>> result;
      client.chat(chat_request{}, [&](llmmr::expected<chat_reply> r) {
        result = std::move(r);
      });
      REQUIRE(result);
      CHECK_FALSE(*result);
      CHECK_EQ(inner->calls, 10); // waits at 0..9 s, the 10th would reach 10 s
      CHECK(now < std::chrono::steady_clock::time_point{} + 10'000ms);
    }
  }

  TEST_CASE("endpoint pool: least outstanding, benching, fail-over") {
    using o = fake_attempts::outcome;
    std::vector<o> bad(20, o{error_kind::server_error, true, -1});
    auto a = std::make_shared<fake_attempts>(bad, "a");
    auto b = std::make_shared<fake_attempts>(std::vector<o>{}, "b");
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    routing_options ropts;
    ropts.bench_after_failures = 2;
    ropts.bench_cooldown = 1000ms;
    endpoint_pool pool{{{a, "a"}, {b, "b"}}, ropts, [&now] { return now; }};
    std::vector<std::string> answered_by;
    int failures = 0;
    auto call = [&] {
      pool.try_chat(chat_request{},
                    [&](llmmr::expected<chat_reply> r, attempt_info info) {
                      if (r)
                        answered_by.push_back(r->endpoint);
                      else
                        ++failures;
                      CHECK_FALSE(info.endpoint.empty());
                    });
    };
    // Synchronous fakes: outstanding is always 0, so ties go to the endpoint
    // used least recently: a, b, a, b ...
    for (int i = 0; i < 4; ++i) {
      now += 1ms;
      call();
    }
    CHECK_EQ(failures, 2); // a failed twice and is benched now
    auto st = pool.status();
    CHECK(st[0].benched);
    CHECK_EQ(st[0].times_benched, 1u);
    CHECK_FALSE(st[1].benched);
    for (int i = 0; i < 5; ++i) {
      now += 1ms;
      call();
    }
    CHECK_EQ(failures, 2); // all went to b
    CHECK_EQ(answered_by.size(), 7u);
    // After the cool-down, a is tried again and one failure benches it again.
    now += 2000ms;
    call();
    call();
    CHECK_EQ(failures, 3);
    CHECK_EQ(pool.status()[0].times_benched, 2u);
    CHECK_EQ(pool.outstanding(), 0u);
  }

  TEST_CASE("endpoint pool: all benched tries the least recently benched") {
    using o = fake_attempts::outcome;
    std::vector<o> bad(20, o{error_kind::unreachable, true, -1});
    auto a = std::make_shared<fake_attempts>(bad, "a");
    auto b = std::make_shared<fake_attempts>(bad, "b");
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    routing_options ropts;
    ropts.bench_after_failures = 1;
    ropts.bench_cooldown = 1h;
    endpoint_pool pool{{{a, "a"}, {b, "b"}}, ropts, [&now] { return now; }};
    std::vector<std::string> tried;
    auto call = [&] {
      now += 1ms;
      pool.try_chat(chat_request{},
                    [&](llmmr::expected<chat_reply>, attempt_info info) {
                      tried.push_back(info.endpoint);
                    });
    };
    call(); // a, benched
    call(); // b, benched
    call(); // both benched: a (benched first)
    REQUIRE_EQ(tried.size(), 3u);
    CHECK_EQ(tried[0], "a");
    CHECK_EQ(tried[1], "b");
    CHECK_EQ(tried[2], "a");
  }

} // TEST_SUITE

// All networking of the simulator: the only translation unit with Beast.

#include <utility> // must precede the first asio header (Boost 1.74, g++ 12)

#include "llmmr/core/log.hpp"
#include "llmmr/sim/sim_server.hpp"

#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>
#include <time.h>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/reader.hpp"

namespace llmmr::sim {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using json = nlohmann::json;
using field_list = std::vector<std::pair<std::string, std::string>>;
using request_parser = http::request_parser<http::string_body>;
using clock_type = std::chrono::steady_clock;

/// Bytes per write and pause between writes of the slow-drip fault.
constexpr size_t drip_bytes = 32;

/// The transport under one connection: plain TCP or TLS. Keeps the request
/// logic independent of the stream type (compiled once).
class channel {
public:
  virtual ~channel() = default;

  /// Performs the TLS handshake (no-op for plain TCP).
  virtual awaitable<void> handshake() = 0;

  /// Reads one request.
  virtual awaitable<void> read(beast::flat_buffer& buf, request_parser& parser)
    = 0;

  /// Writes all of `bytes`.
  virtual awaitable<void> write(std::string_view bytes) = 0;

  /// Closes the connection in an orderly way.
  virtual awaitable<void> close() = 0;

  /// The TCP layer, for timeouts and abrupt resets.
  virtual beast::tcp_stream& tcp() = 0;

  /// Closes the connection abruptly: RST, no response.
  void reset() {
    boost::system::error_code ec;
    auto& sock = tcp().socket();
    sock.set_option(asio::socket_base::linger{true, 0}, ec);
    sock.close(ec);
  }
};

class plain_channel final : public channel {
public:
  explicit plain_channel(tcp::socket sock) : stream_(std::move(sock)) {}

  awaitable<void> handshake() override { co_return; }

  awaitable<void> read(beast::flat_buffer& buf,
                       request_parser& parser) override {
    co_await http::async_read(stream_, buf, parser, use_awaitable);
  }

  awaitable<void> write(std::string_view bytes) override {
    co_await asio::async_write(stream_, asio::buffer(bytes), use_awaitable);
  }

  awaitable<void> close() override {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    co_return;
  }

  beast::tcp_stream& tcp() override { return stream_; }

private:
  beast::tcp_stream stream_;
};

class tls_channel final : public channel {
public:
  tls_channel(tcp::socket sock, asio::ssl::context& ctx)
    : stream_(beast::tcp_stream{std::move(sock)}, ctx) {}

  awaitable<void> handshake() override {
    co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                     use_awaitable);
  }

  awaitable<void> read(beast::flat_buffer& buf,
                       request_parser& parser) override {
    co_await http::async_read(stream_, buf, parser, use_awaitable);
  }

  awaitable<void> write(std::string_view bytes) override {
    co_await asio::async_write(stream_, asio::buffer(bytes), use_awaitable);
  }

  awaitable<void> close() override {
    try {
      tcp().expires_after(std::chrono::seconds{2});
      co_await stream_.async_shutdown(use_awaitable);
    } catch (const std::exception&) {
      // The peer may already be gone; nothing to do.
    }
    boost::system::error_code ec;
    tcp().socket().close(ec);
  }

  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(stream_); }

private:
  beast::ssl_stream<beast::tcp_stream> stream_;
};

/// What a request handler tells the connection loop.
enum class after_reply { keep_open, close, closed };

/// A request waiting for a generation slot.
struct slot_waiter {
  asio::steady_timer* timer;
  bool granted = false;
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// A deterministic token id for /tokenize (FNV-1a of the piece).
uint32_t token_id(std::string_view piece) {
  uint64_t h = 1469598103934665603ull;
  for (char c : piece) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % 100000);
}

} // namespace

struct sim_server::impl {
  explicit impl(sim_options options)
    : opts(std::move(options)), faults(opts.faults, opts.seed) {}

  // -- state (declared before the io_context so that coroutine frames,
  //    destroyed with the io_context, still find it alive) ------------------

  sim_options opts;
  mutable std::mutex stats_mtx;
  sim_stats counters;
  std::vector<call_record> call_log;     // guarded by stats_mtx
  fault_source faults;                   // io thread only
  uint64_t next_id = 0;                  // io thread only
  uint32_t active = 0;                   // io thread only
  std::deque<slot_waiter*> queue;        // io thread only
  std::unordered_set<channel*> channels; // io thread only
  bool stopping = false;                 // io thread only
  std::unique_ptr<asio::ssl::context> ssl_ctx;
  uint16_t bound_port = 0;
  std::mutex stop_mtx;
  bool stopped = false;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  template <class F>
  void update(F f) {
    std::lock_guard guard{stats_mtx};
    f(counters);
  }

  // -- slots --------------------------------------------------------------

  void note_generation() {
    update([this](sim_stats& s) {
      s.max_concurrent_generations
        = std::max<uint64_t>(s.max_concurrent_generations, active);
    });
  }

  void release_slot() {
    if (stopping)
      return;
    if (!queue.empty()) {
      auto* next = queue.front();
      queue.pop_front();
      next->granted = true; // the slot passes on; `active` stays
      next->timer->cancel();
    } else if (active > 0) {
      --active;
    }
  }

  /// Releases a slot when the generation ends, however it ends.
  struct slot_guard {
    impl* self;
    ~slot_guard() {
      if (self)
        self->release_slot();
    }
  };

  /// Waits for a slot in FIFO order. With `sse`, sends keep-alive comments
  /// while waiting (the response head must already be out).
  awaitable<void> acquire_slot(channel& ch, bool sse) {
    if (active < std::max<uint32_t>(1, opts.slots) && queue.empty()) {
      ++active;
      note_generation();
      co_return;
    }
    asio::steady_timer timer{ioc};
    slot_waiter waiter{&timer};
    queue.push_back(&waiter);
    struct queue_guard {
      impl* self;
      slot_waiter* w;
      bool taken = false;
      ~queue_guard() {
        if (taken || self->stopping)
          return;
        if (w->granted) {
          self->release_slot();
        } else {
          auto i = std::find(self->queue.begin(), self->queue.end(), w);
          if (i != self->queue.end())
            self->queue.erase(i);
        }
      }
    } guard{this, &waiter};
    while (!waiter.granted) {
      if (sse)
        timer.expires_after(
          std::chrono::milliseconds{std::max<uint32_t>(1, opts.keepalive_ms)});
      else
        timer.expires_after(std::chrono::hours{24});
      try {
        co_await timer.async_wait(use_awaitable);
      } catch (const boost::system::system_error&) {
        // Cancelled: the slot was granted (checked below).
      }
      if (!waiter.granted && sse)
        co_await write(ch, http_chunk(sse_keep_alive));
    }
    guard.taken = true;
    note_generation();
  }

  // -- timing ---------------------------------------------------------------

  awaitable<void> sleep_until(clock_type::time_point t) {
    if (clock_type::now() >= t)
      co_return;
    asio::steady_timer timer{ioc};
    timer.expires_at(t);
    co_await timer.async_wait(use_awaitable);
  }

  /// Sleeps until `t`, sending SSE keep-alive comments every keepalive_ms.
  awaitable<void> sleep_until_sse(channel& ch, clock_type::time_point t) {
    auto interval
      = std::chrono::milliseconds{std::max<uint32_t>(1, opts.keepalive_ms)};
    for (;;) {
      auto now = clock_type::now();
      if (now >= t)
        co_return;
      if (t - now <= interval) {
        co_await sleep_until(t);
        co_return;
      }
      co_await sleep_until(now + interval);
      co_await write(ch, http_chunk(sse_keep_alive));
    }
  }

  static clock_type::duration millis(double ms) {
    return std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double, std::milli>{ms});
  }

  /// Logs one completed generation when `record_calls` is set.
  void log_call(const completion_info& info, clock_type::time_point queued,
                clock_type::time_point started) {
    if (!opts.record_calls)
      return;
    call_record rec;
    rec.request_id = info.id.substr(std::string_view{"chatcmpl-"}.size());
    rec.prompt_tokens = info.prompt_tokens;
    rec.completion_tokens = info.completion_tokens;
    rec.service_ms
      = opts.latency().service_ms(info.prompt_tokens, info.completion_tokens);
    rec.queued = queued;
    rec.started = started;
    rec.finished = started + millis(rec.service_ms);
    update([&rec, this](sim_stats&) { call_log.push_back(std::move(rec)); });
  }

  // -- writing --------------------------------------------------------------

  awaitable<void> write(channel& ch, std::string_view bytes,
                        bool drip = false) {
    auto timeout = std::chrono::milliseconds{opts.io_timeout_ms};
    if (!drip) {
      ch.tcp().expires_after(timeout);
      co_await ch.write(bytes);
      co_return;
    }
    while (!bytes.empty()) {
      auto n = std::min(drip_bytes, bytes.size());
      ch.tcp().expires_after(timeout);
      co_await ch.write(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (!bytes.empty())
        co_await sleep_until(clock_type::now()
                             + std::chrono::milliseconds{opts.drip_pause_ms});
    }
  }

  std::string request_id() { return "sim-" + std::to_string(++next_id); }

  /// Writes a complete response with a body.
  awaitable<after_reply> reply(channel& ch, int status,
                               std::string_view content_type,
                               std::string_view body, const std::string& rid,
                               bool keep_alive, field_list extra = {},
                               bool drip = false) {
    extra.emplace_back("x-request-id", rid);
    auto bytes
      = response_head(status, content_type, extra, body.size(), keep_alive);
    bytes += body;
    co_await write(ch, bytes, drip);
    co_return keep_alive ? after_reply::keep_open : after_reply::close;
  }

  awaitable<after_reply>
  reply_error(channel& ch, int status, std::string_view message,
              std::string_view type, std::string_view code,
              std::string_view param, const std::string& rid, bool keep_alive,
              field_list extra = {}) {
    auto body = error_body(opts.shape, status, message, type, code, param);
    co_return co_await reply(ch, status, "application/json", body, rid,
                             keep_alive, std::move(extra));
  }

  // -- endpoints ------------------------------------------------------------

  awaitable<after_reply> handle(channel& ch,
                                http::request<http::string_body>& req) {
    auto keep_alive = req.keep_alive();
    auto rid = request_id();
    auto target = std::string_view{req.target()};
    if (auto q = target.find('?'); q != std::string_view::npos)
      target = target.substr(0, q);
    auto method = req.method();
    update([](sim_stats& s) { ++s.requests; });
    logger()->debug("sim: {} {} ({})", std::string_view{req.method_string()},
                    target, rid);
    if (target == "/health") {
      co_return co_await reply(ch, 200, "application/json",
                               R"({"status":"ok"})", rid, keep_alive);
    }
    if (!opts.api_key.empty()) {
      auto auth = std::string_view{req[http::field::authorization]};
      if (auth != "Bearer " + opts.api_key) {
        update([](sim_stats& s) { ++s.rejected; });
        co_return co_await reply_error(ch, 401, "Incorrect or missing API key.",
                                       "invalid_request_error",
                                       "invalid_api_key", "", rid, keep_alive);
      }
    }
    struct route {
      std::string_view path;
      http::verb verb;
    };
    static constexpr route routes[] = {
      {"/v1/chat/completions", http::verb::post},
      {"/v1/models", http::verb::get},
      {"/tokenize", http::verb::post},
      {"/props", http::verb::get},
    };
    for (const auto& r : routes) {
      if (r.path != target)
        continue;
      if (r.verb != method)
        co_return co_await reply_error(
          ch, 405,
          "Method " + std::string{req.method_string()} + " is not allowed on "
            + std::string{target},
          "invalid_request_error", "method_not_allowed", "", rid, keep_alive);
      if (target == "/v1/chat/completions")
        co_return co_await chat(ch, req, rid, keep_alive);
      if (target == "/v1/models") {
        json body{{"object", "list"},
                  {"data", json::array(
                             {json{{"id", opts.model},
                                   {"object", "model"},
                                   {"created", unix_now()},
                                   {"owned_by", "llmmr-sim"},
                                   {"max_model_len", opts.context_window}}})}};
        co_return co_await reply(ch, 200, "application/json", body.dump(), rid,
                                 keep_alive);
      }
      if (target == "/props") {
        json body{{"default_generation_settings",
                   {{"n_ctx", opts.context_window}, {"model", opts.model}}},
                  {"n_ctx", opts.context_window},
                  {"total_slots", opts.slots},
                  {"model_path", opts.model}};
        co_return co_await reply(ch, 200, "application/json", body.dump(), rid,
                                 keep_alive);
      }
      // /tokenize
      auto text = parse_tokenize_request(req.body());
      if (!text) {
        update([](sim_stats& s) { ++s.rejected; });
        co_return co_await reply_error(ch, 400, describe(text.error()),
                                       "invalid_request_error", "", "", rid,
                                       keep_alive);
      }
      json tokens = json::array();
      for (auto piece : split_tokens(*text))
        tokens.push_back(token_id(piece));
      json body{{"count", tokens.size()},
                {"max_model_len", opts.context_window},
                {"tokens", std::move(tokens)}};
      co_return co_await reply(ch, 200, "application/json", body.dump(), rid,
                               keep_alive);
    }
    co_return co_await reply_error(
      ch, 404, "No route for " + std::string{target}, "invalid_request_error",
      "not_found", "", rid, keep_alive);
  }

  awaitable<after_reply> chat(channel& ch,
                              http::request<http::string_body>& req,
                              const std::string& rid, bool keep_alive) {
    auto fault = faults.next();
    if (fault != fault_kind::none)
      update([fault](sim_stats& s) {
        ++s.faults_injected;
        ++s.faults_by_kind[static_cast<size_t>(fault)];
      });
    // Faults that do not look at the request.
    switch (fault) {
    case fault_kind::rate_limit: {
      auto secs = (opts.retry_after_ms + 999) / 1000;
      field_list extra{
        {"retry-after-ms", std::to_string(opts.retry_after_ms)},
        {"retry-after", std::to_string(std::max<uint32_t>(1, secs))}};
      co_return co_await reply_error(
        ch, 429, "Rate limit reached for requests. Please retry shortly.",
        "requests", "rate_limit_exceeded", "", rid, keep_alive,
        std::move(extra));
    }
    case fault_kind::quota:
      co_return co_await reply_error(
        ch, 429,
        "You exceeded your current quota, please check your plan and "
        "billing details.",
        "insufficient_quota", "insufficient_quota", "", rid, keep_alive);
    case fault_kind::server_error:
      co_return co_await reply_error(
        ch, 500, "The server had an error while processing your request.",
        "server_error", "", "", rid, keep_alive);
    case fault_kind::unavailable:
      co_return co_await reply_error(
        ch, 503, "The server is overloaded or not ready yet.", "server_error",
        "", "", rid, keep_alive);
    case fault_kind::reset:
      ch.reset();
      co_return after_reply::closed;
    case fault_kind::stall:
      try {
        co_await sleep_until(clock_type::now()
                             + std::chrono::milliseconds{opts.stall_ms});
      } catch (const boost::system::system_error&) {
      }
      co_return after_reply::close;
    default:
      break;
    }
    auto parsed = parse_chat_request(req.body());
    if (!parsed) {
      update([](sim_stats& s) { ++s.rejected; });
      co_return co_await reply_error(ch, 400, describe(parsed.error()),
                                     "invalid_request_error", "", "", rid,
                                     keep_alive);
    }
    auto& creq = *parsed;
    if (opts.strict_model && !creq.model.empty() && creq.model != opts.model) {
      update([](sim_stats& s) { ++s.rejected; });
      co_return co_await reply_error(
        ch, 404, "The model '" + creq.model + "' does not exist.",
        "invalid_request_error", "model_not_found", "model", rid, keep_alive);
    }
    auto ptokens = prompt_tokens(creq);
    if (ptokens > opts.context_window) {
      update([](sim_stats& s) { ++s.rejected; });
      auto msg = "This model's maximum context length is "
                 + std::to_string(opts.context_window)
                 + " tokens. However, your messages resulted in "
                 + std::to_string(ptokens)
                 + " tokens. Please reduce the length of the messages.";
      co_return co_await reply_error(ch, 400, msg, "invalid_request_error",
                                     "context_length_exceeded", "messages", rid,
                                     keep_alive);
    }
    // The reply text.
    std::vector<std::string> contents;
    for (const auto& m : creq.messages)
      contents.push_back(m.content);
    auto answer = answer_prompt(contents);
    auto style = opts.replies.by_kind[static_cast<size_t>(answer.parts.kind)];
    if (style == reply_style::reject_schema && creq.json_output) {
      update([](sim_stats& s) { ++s.rejected; });
      co_return co_await reply_error(
        ch, 400, "response_format json_schema is not supported by this server",
        "invalid_request_error", "", "response_format", rid, keep_alive);
    }
    if (style == reply_style::truncated_first) {
      bool reask = false;
      for (const auto& c : contents)
        reask = reask || c.find("previous reply") != std::string::npos
                || c.find("上一次的回复") != std::string::npos;
      style = reask ? reply_style::normal : reply_style::truncated;
    }
    if (style == reply_style::evidence && !answer.fields.empty()) {
      for (auto& [label, value] : answer.fields)
        if (label == "Answer" || label == "答案")
          value = answer.parts.chinese ? "无相关信息" : "No information";
      std::string rebuilt;
      for (const auto& [label, value] : answer.fields) {
        if (!rebuilt.empty())
          rebuilt += '\n';
        rebuilt += label + (answer.parts.chinese ? "：" : ": ") + value;
      }
      answer.text = std::move(rebuilt);
    }
    std::string text
      = creq.json_output
          ? fill_schema(creq.json_schema, answer.fields, answer.text)
          : answer.text;
    if (style == reply_style::null_content)
      text.clear();
    auto pieces = split_tokens(text);
    std::string finish = "stop";
    if (creq.max_tokens && pieces.size() > *creq.max_tokens) {
      pieces.resize(*creq.max_tokens);
      finish = "length";
    }
    if (style == reply_style::truncated) {
      pieces.resize(std::min<size_t>(pieces.size(), 2));
      finish = "length";
    }
    completion_info info;
    info.id = "chatcmpl-" + rid;
    info.created = unix_now();
    info.model = opts.model;
    for (auto p : pieces)
      info.content += p;
    info.finish_reason = finish;
    info.null_content = style == reply_style::null_content;
    info.prompt_tokens = ptokens;
    info.completion_tokens = pieces.size();
    update([&](sim_stats& s) {
      s.prompt_tokens += ptokens;
      s.completion_tokens += pieces.size();
    });
    if (fault == fault_kind::wrong_content_type) {
      co_return co_await reply(
        ch, 200, "text/html; charset=utf-8",
        "<html><head><title>Gateway</title></head><body><h1>Welcome"
        "</h1><p>This is not the API you are looking for.</p></body></html>",
        rid, keep_alive);
    }
    if (creq.stream)
      co_return co_await stream_reply(ch, info, pieces, creq.include_usage,
                                      fault, rid, keep_alive);
    // Plain reply: hold a slot for the generation time, then answer.
    auto queued = clock_type::now();
    auto started = queued;
    {
      co_await acquire_slot(ch, false);
      slot_guard slot{this};
      started = clock_type::now();
      co_await sleep_until(
        started + millis(opts.latency().service_ms(ptokens, pieces.size())));
    }
    auto body = completion_json(info);
    switch (fault) {
    case fault_kind::truncated_stream: {
      field_list extra{{"x-request-id", rid}};
      auto bytes = response_head(200, "application/json", extra, body.size(),
                                 keep_alive);
      bytes += std::string_view{body}.substr(0, body.size() / 2);
      co_await write(ch, bytes);
      co_return after_reply::close;
    }
    case fault_kind::error_mid_stream: {
      auto err = error_body(opts.shape, 500,
                            "The model failed while generating the reply.",
                            "server_error");
      co_return co_await reply(ch, 200, "application/json", err, rid,
                               keep_alive);
    }
    case fault_kind::invalid_json:
      body.resize(body.size() / 2);
      co_return co_await reply(ch, 200, "application/json", body, rid,
                               keep_alive);
    default:
      break;
    }
    // Counted before the last write so that a client holding the reply
    // also sees it in the stats.
    log_call(info, queued, started);
    update([](sim_stats& s) { ++s.completions; });
    co_return co_await reply(ch, 200, "application/json", body, rid, keep_alive,
                             {}, fault == fault_kind::slow_drip);
  }

  awaitable<after_reply>
  stream_reply(channel& ch, completion_info& info,
               const std::vector<std::string_view>& pieces, bool include_usage,
               fault_kind fault, const std::string& rid, bool keep_alive) {
    auto drip = fault == fault_kind::slow_drip;
    field_list extra{{"Cache-Control", "no-cache"}, {"x-request-id", rid}};
    co_await write(ch,
                   response_head(200, "text/event-stream; charset=utf-8", extra,
                                 std::nullopt, keep_alive),
                   drip);
    auto event = [&](std::string_view json_text) {
      return http_chunk(sse_event(json_text));
    };
    auto queued = clock_type::now();
    co_await acquire_slot(ch, true);
    slot_guard slot{this};
    auto start = clock_type::now();
    auto model = opts.latency();
    auto ptokens = info.prompt_tokens;
    co_await sleep_until_sse(ch, start + millis(model.first_token_ms(ptokens)));
    co_await write(ch, event(role_chunk_json(info)), drip);
    auto fault_at = pieces.size() / 2;
    for (size_t i = 0; i <= pieces.size(); ++i) {
      if (i == fault_at) {
        if (fault == fault_kind::truncated_stream) {
          co_await ch.close();
          co_return after_reply::closed;
        }
        if (fault == fault_kind::error_mid_stream) {
          auto err = error_body(opts.shape, 500,
                                "The model failed while generating the "
                                "reply.",
                                "server_error");
          co_await write(ch, event(err) + http_chunk(sse_done)
                               + std::string{http_last_chunk});
          co_return keep_alive ? after_reply::keep_open : after_reply::close;
        }
        if (fault == fault_kind::invalid_json) {
          auto broken = delta_chunk_json(info, "x");
          broken.resize(broken.size() / 2);
          co_await write(ch, event(broken) + http_chunk(sse_done)
                               + std::string{http_last_chunk});
          co_return keep_alive ? after_reply::keep_open : after_reply::close;
        }
      }
      if (i == pieces.size())
        break;
      co_await sleep_until(start + millis(model.token_ms(ptokens, i + 1)));
      co_await write(ch, event(delta_chunk_json(info, pieces[i])), drip);
    }
    std::string tail = event(finish_chunk_json(info));
    if (include_usage)
      tail += event(usage_chunk_json(info));
    tail += http_chunk(sse_done);
    tail += http_last_chunk;
    log_call(info, queued, start);
    update([](sim_stats& s) { ++s.completions; });
    co_await write(ch, tail, drip);
    co_return keep_alive ? after_reply::keep_open : after_reply::close;
  }

  // -- connections ----------------------------------------------------------

  awaitable<void> session(std::unique_ptr<channel> ch) {
    struct registration {
      impl* self;
      channel* ch;
      ~registration() { self->channels.erase(ch); }
    };
    channels.insert(ch.get());
    registration reg{this, ch.get()};
    auto closed = false;
    auto in_request = false;
    try {
      ch->tcp().expires_after(std::chrono::milliseconds{opts.io_timeout_ms});
      co_await ch->handshake();
      beast::flat_buffer buf;
      for (;;) {
        request_parser parser;
        parser.body_limit(64u << 20);
        ch->tcp().expires_after(std::chrono::milliseconds{opts.io_timeout_ms});
        co_await ch->read(buf, parser);
        auto req = parser.release();
        in_request = true;
        auto next = co_await handle(*ch, req);
        in_request = false;
        if (next == after_reply::closed) {
          closed = true;
          break;
        }
        if (next == after_reply::close || stopping)
          break;
      }
    } catch (const boost::system::system_error& ex) {
      if (in_request && !stopping)
        update([](sim_stats& s) { ++s.client_aborts; });
      if (ex.code() != http::error::end_of_stream
          && ex.code() != asio::error::operation_aborted)
        logger()->debug("sim: connection ended: {}", ex.what());
    } catch (const std::exception& ex) {
      logger()->warn("sim: connection failed: {}", ex.what());
    }
    if (!closed && !stopping) {
      try {
        co_await ch->close();
      } catch (const std::exception&) {
      }
    }
  }

  awaitable<void> accept_loop() {
    for (;;) {
      try {
        auto sock = co_await acceptor.async_accept(use_awaitable);
        if (stopping)
          co_return;
        update([](sim_stats& s) { ++s.connections_accepted; });
        // Small SSE events must leave at once, not wait for Nagle's timer.
        boost::system::error_code nodelay_ec;
        sock.set_option(tcp::no_delay{true}, nodelay_ec);
        std::unique_ptr<channel> ch;
        if (ssl_ctx)
          ch = std::make_unique<tls_channel>(std::move(sock), *ssl_ctx);
        else
          ch = std::make_unique<plain_channel>(std::move(sock));
        asio::co_spawn(ioc, session(std::move(ch)), asio::detached);
      } catch (const boost::system::system_error& ex) {
        if (stopping || !acceptor.is_open())
          co_return;
        logger()->warn("sim: accept failed: {}", ex.what());
      }
    }
  }
};

expected<std::unique_ptr<sim_server>> sim_server::start(sim_options opts) {
  auto where = opts.host + ":" + std::to_string(opts.port);
  auto self = std::make_unique<impl>(std::move(opts));
  auto& o = self->opts;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return make_error(error_kind::config,
                      "TLS needs both a certificate and a key file");
  if (!o.tls_cert_file.empty()) {
    try {
      auto ctx
        = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      ctx->set_options(asio::ssl::context::default_workarounds
                       | asio::ssl::context::no_sslv2
                       | asio::ssl::context::no_sslv3);
      ctx->use_certificate_chain_file(o.tls_cert_file);
      ctx->use_private_key_file(o.tls_key_file, asio::ssl::context::pem);
      self->ssl_ctx = std::move(ctx);
    } catch (const std::exception& ex) {
      return make_error(error_kind::config,
                        "cannot load the TLS certificate or key ("
                          + o.tls_cert_file + ", " + o.tls_key_file
                          + "): " + ex.what());
    }
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.host, ec);
  if (ec)
    return make_error(error_kind::config, "cannot listen on " + where
                                            + ": bad address: " + ec.message());
  tcp::endpoint ep{addr, o.port};
  auto& acc = self->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec)
    acc.set_option(asio::socket_base::reuse_address{true}, ec);
  if (!ec)
    acc.bind(ep, ec);
  if (!ec)
    acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(error_kind::unreachable,
                      "cannot listen on " + where + ": " + ec.message());
  self->bound_port = acc.local_endpoint().port();
  auto* raw = self.get();
  asio::co_spawn(raw->ioc, raw->accept_loop(), asio::detached);
  raw->thread = std::thread{[raw] {
    for (;;) {
      try {
        raw->ioc.run();
        break;
      } catch (const std::exception& ex) {
        logger()->error("sim: io thread: {}", ex.what());
      }
    }
  }};
  logger()->debug("sim: listening on {}:{}{}", o.host, raw->bound_port,
                  raw->ssl_ctx ? " (TLS)" : "");
  return std::unique_ptr<sim_server>{new sim_server(std::move(self))};
}

sim_server::sim_server(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

sim_server::~sim_server() {
  stop();
}

uint16_t sim_server::port() const noexcept {
  return impl_->bound_port;
}

const sim_options& sim_server::options() const noexcept {
  return impl_->opts;
}

sim_stats sim_server::stats() const {
  std::lock_guard guard{impl_->stats_mtx};
  return impl_->counters;
}

std::vector<call_record> sim_server::calls() const {
  std::lock_guard guard{impl_->stats_mtx};
  return impl_->call_log;
}

double sim_server::io_cpu_seconds() const {
  auto& th = impl_->thread;
  if (!th.joinable())
    return -1;
  clockid_t id;
  if (pthread_getcpuclockid(th.native_handle(), &id) != 0)
    return -1;
  timespec ts{};
  if (clock_gettime(id, &ts) != 0)
    return -1;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sim_server::stop() {
  auto& self = *impl_;
  {
    std::lock_guard guard{self.stop_mtx};
    if (self.stopped)
      return;
    self.stopped = true;
  }
  // Close the listener and every connection on the io thread, then stop it.
  std::promise<void> done;
  auto fut = done.get_future();
  asio::post(self.ioc, [&self, &done] {
    self.stopping = true;
    boost::system::error_code ec;
    self.acceptor.close(ec);
    for (auto* ch : self.channels) {
      ch->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
      ch->tcp().socket().close(ec);
    }
    done.set_value();
  });
  if (self.thread.joinable()) {
    fut.wait_for(std::chrono::seconds{5});
    self.ioc.stop();
    self.thread.join();
  }
}

} // namespace llmmr::sim

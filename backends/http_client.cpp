// The only translation unit of backends/ that includes Beast: the HTTP(S)
// transport, the connection pool and the request state machine of
// `http_client`, written as one coroutine per call on the client's strand of
// the shared I/O runtime.

#include <utility> // before the first asio header (Boost 1.74 with g++ 12)

#include "llmmr/backends/http_client.hpp"
#include "llmmr/core/log.hpp"

#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "call_queue.hpp"
#include "llmmr/backends/io_runtime.hpp"
#include "llmmr/backends/profile.hpp"
#include "llmmr/backends/wire.hpp"

namespace llmmr {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr size_t max_error_text = 300;

auto with(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

uint64_t micros_since(steady_clock::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now()
                                                          - t0)
      .count());
}

/// One open connection, plain or TLS.
struct connection {
  std::optional<beast::tcp_stream> tcp_stream;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() {
    return tls_stream ? tls_stream->next_layer() : *tcp_stream;
  }

  void close() {
    error_code ec;
    lowest().socket().close(ec);
  }

  /// When the connection went back to the pool.
  steady_clock::time_point idle_since{};

  /// Whether its last exchange was a streamed reply.
  bool after_stream = false;

  /// Returns whether the peer already closed the connection (a pending
  /// end of stream) or it holds unexpected bytes: either way it cannot
  /// carry another request. Servers such as llama.cpp close after a
  /// streamed reply although their headers said keep-alive.
  bool peer_closed() {
    char byte;
    auto fd = lowest().socket().native_handle();
    auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || n > 0)
      return true;
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
};

using connection_ptr = std::unique_ptr<connection>;

/// One queued or running request.
struct call_state {
  bool is_chat = false;
  chat_request req;
  std::string method;
  std::string target;
  std::string body;
  attempt_handler on_chat;
  raw_handler on_raw;
  delta_handler on_delta;
  // The following fields are touched on the client's strand only.
  /// The connection carrying the call right now, if any.
  connection* conn = nullptr;
  /// `chat_request::cancel` fired.
  bool cancelled = false;
  /// The handler ran.
  bool finished = false;
  /// The callback registered with `req.cancel` (0: none).
  cancellation::callback_id cancel_id = 0;
  /// The concurrency limit's ticket and the start of the call on the wire.
  uint64_t limit_ticket = 0;
  std::chrono::steady_clock::time_point started;
};

using call_ptr = std::shared_ptr<call_state>;

/// What one exchange produced.
struct exchange_result {
  error err;
  attempt_info info;
  raw_response raw;
  chat_reply reply;
  bool has_usage = false;
  bool reusable = false;
  bool stale = false; // failed before any response byte on a reused connection
  bool after_stream = false; // the exchange was a streamed reply
};

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  // -- configuration ----------------------------------------------------------

  endpoint_options opts;
  client_timeouts timeouts;
  endpoint_url url;
  std::string name;
  std::string host_header;
  retry_policy classifier;

  // -- I/O --------------------------------------------------------------------

  io_runtime_ptr rt;
  /// Serializes everything below (the runtime may run several threads).
  asio::strand<asio::io_context::executor_type> strand;
  std::optional<ssl::context> ssl_ctx;
  /// The runtime's stop hook of this client.
  uint64_t stop_hook = 0;

  // -- state owned by the strand ---------------------------------------------

  std::vector<connection_ptr> idle;
  /// Idle connections older than this are closed instead of reused: below
  /// the keep-alive timeouts servers use (llama.cpp: 5 s), so a request never
  /// races the server closing the socket.
  static constexpr std::chrono::milliseconds idle_expiry{2000};
  /// Set once the server was seen closing a connection after a streamed
  /// reply (strand only).
  bool closes_after_stream = false;
  std::set<connection*> busy;
  /// Calls between `start` and their end.
  std::set<call_ptr> active;
  std::deque<call_ptr> waiting;
  uint32_t running = 0;
  /// How many calls may be on the wire (adapts below `max_concurrency`).
  adaptive_limit limit;

  // -- state shared with other threads ----------------------------------------

  std::atomic<bool> stopping{false};
  std::atomic<size_t> outstanding{0};
  std::atomic<uint64_t> n_calls{0}, n_ok{0}, n_failed{0}, n_prompt{0},
    n_completion{0}, n_estimated{0}, n_opened{0}, n_reused{0}, n_expired{0},
    n_in_flight{0}, n_queued{0}, n_peak{0};
  /// A copy of `limit` for `stats()` from other threads.
  mutable std::mutex limit_mtx;
  std::vector<limit_change> limit_history;
  std::atomic<uint32_t> limit_now{0}, limit_lowest{0};

  impl(io_runtime_ptr r, endpoint_options o, client_timeouts t, endpoint_url u)
    : opts(std::move(o)), timeouts(t), url(std::move(u)), name(url.to_string()),
      rt(std::move(r)), strand(asio::make_strand(rt->context())),
      limit(limit_options(opts), steady_clock::now()) {
    publish_limit();
    host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]"
                                                          : url.host;
    if (url.port != (url.tls() ? 443 : 80))
      host_header += ":" + std::to_string(url.port);
  }

  static adaptive_limit_options limit_options(const endpoint_options& o) {
    adaptive_limit_options out;
    out.cap = std::max<uint32_t>(o.max_concurrency, 1);
    out.enabled = o.adaptive_concurrency;
    return out;
  }

  /// Copies the limit's state for `stats()`. On the strand.
  void publish_limit() {
    limit_now = limit.limit();
    limit_lowest = limit.lowest();
    std::lock_guard guard{limit_mtx};
    if (limit_history.size() != limit.history().size()
        || limit_history.back() != limit.history().back())
      limit_history = limit.history();
  }

  /// Feeds the outcome of a chat call to the limit. On the strand.
  void update_limit(const call_state& call, const exchange_result& res) {
    if (!call.is_chat || call.limit_ticket == 0)
      return;
    auto now = steady_clock::now();
    if (res.err) {
      if (kind_of(res.err) == error_kind::rate_limited)
        limit.on_overload(call.limit_ticket, now);
    } else {
      limit.on_success(call.limit_ticket,
                       std::chrono::duration_cast<std::chrono::microseconds>(
                         now - call.started),
                       res.reply.usage.completion_tokens, now);
    }
    publish_limit();
  }

  /// Replaces every occurrence of the API key in `text`.
  std::string redact(std::string text) const {
    if (opts.api_key.empty())
      return text;
    for (auto pos = text.find(opts.api_key); pos != std::string::npos;
         pos = text.find(opts.api_key, pos))
      text.replace(pos, opts.api_key.size(), "***");
    return text;
  }

  // -- submission -------------------------------------------------------------

  void submit(call_ptr call) {
    ++outstanding;
    if (stopping || rt->stopping()) {
      finish_cancelled(call);
      return;
    }
    auto self = shared_from_this();
    if (call->is_chat && call->req.cancel) {
      std::weak_ptr<impl> weak = self;
      call->cancel_id = call->req.cancel->on_cancel([weak, call] {
        if (auto s = weak.lock())
          asio::dispatch(s->strand, [s, call] { s->cancel_call(call); });
      });
    }
    auto posted = rt->post([self, call] {
      asio::dispatch(self->strand, [self, call] { self->enqueue(call); });
    });
    if (!posted)
      finish_cancelled(call);
  }

  /// Drops a queued call or closes the connection of a running one; the
  /// call's coroutine then reports `cancelled`. On the strand.
  void cancel_call(const call_ptr& call) {
    if (call->finished || call->cancelled)
      return;
    call->cancelled = true;
    auto i = std::find(waiting.begin(), waiting.end(), call);
    if (i != waiting.end()) {
      waiting.erase(i);
      --n_queued;
      finish_cancelled(call);
      return;
    }
    if (call->conn) {
      error_code ec;
      call->conn->lowest().socket().cancel(ec);
      call->conn->close();
    }
  }

  void enqueue(call_ptr call) {
    if (stopping || call->cancelled) {
      finish_cancelled(call);
      return;
    }
    // Only completions take a generation slot of the server: tokenize and
    // discovery requests never wait behind queued calls (the chunker counts
    // through them while the map calls fill every slot).
    if (!call->is_chat || running < limit.limit()) {
      start(std::move(call));
    } else {
      insert_by_priority(waiting, std::move(call));
      ++n_queued;
    }
  }

  void start(call_ptr call) {
    if (call->is_chat)
      ++running;
    call->started = steady_clock::now();
    if (call->is_chat)
      call->limit_ticket = limit.on_start(running);
    active.insert(call);
    auto now = ++n_in_flight;
    auto peak = n_peak.load();
    while (now > peak && !n_peak.compare_exchange_weak(peak, now))
      ; // nop
    asio::co_spawn(strand, run(shared_from_this(), std::move(call)),
                   asio::detached);
  }

  void slot_freed(bool chat) {
    if (chat)
      --running;
    --n_in_flight;
    // The limit may have grown: start as many waiting calls as it allows.
    while (!waiting.empty() && !stopping && running < limit.limit()) {
      auto next = std::move(waiting.front());
      waiting.pop_front();
      --n_queued;
      start(std::move(next));
    }
  }

  error cancelled_error(const call_state& call) const {
    if (call.cancelled)
      return make_error(
        error_kind::cancelled,
        "the call to " + name + " was cancelled"
          + (call.req.label.empty() ? "" : " (" + call.req.label + ")"));
    return make_error(error_kind::cancelled,
                      "the client for " + name + " was shut down");
  }

  void finish_cancelled(const call_ptr& call) {
    exchange_result res;
    res.err = cancelled_error(*call);
    res.info.reason = "cancelled";
    deliver(*call, std::move(res));
  }

  /// Calls the handler of `call` with `res` and updates the counters.
  void deliver(call_state& call, exchange_result res) {
    if (call.finished)
      return;
    call.finished = true;
    if (call.cancel_id != 0 && call.req.cancel)
      call.req.cancel->remove(call.cancel_id);
    res.info.endpoint = name;
    if (call.is_chat) {
      ++n_calls;
      if (res.err) {
        ++n_failed;
        auto handler = std::move(call.on_chat);
        --outstanding;
        handler(expected<chat_reply>{std::move(res.err)}, std::move(res.info));
        return;
      }
      if (!res.has_usage) {
        uint64_t prompt = 0;
        for (const auto& m : call.req.messages)
          prompt += estimate_tokens(m.content) + 4;
        res.reply.usage.prompt_tokens = prompt;
        res.reply.usage.completion_tokens = estimate_tokens(res.reply.text);
        res.reply.usage_estimated = true;
        ++n_estimated;
      }
      ++n_ok;
      n_prompt += res.reply.usage.prompt_tokens;
      n_completion += res.reply.usage.completion_tokens;
      res.reply.endpoint = name;
      auto handler = std::move(call.on_chat);
      --outstanding;
      handler(expected<chat_reply>{std::move(res.reply)}, std::move(res.info));
      return;
    }
    auto handler = std::move(call.on_raw);
    --outstanding;
    if (res.err)
      handler(expected<raw_response>{std::move(res.err)});
    else
      handler(expected<raw_response>{std::move(res.raw)});
  }

  // -- the call coroutine -----------------------------------------------------

  static asio::awaitable<void> run(std::shared_ptr<impl> self, call_ptr call) {
    exchange_result res;
    try {
      res = co_await self->perform(*call);
    } catch (const std::exception& ex) {
      res = exchange_result{};
      res.err
        = make_error(error_kind::bad_reply, "internal failure talking to "
                                              + self->name + ": " + ex.what());
    } catch (...) {
      res = exchange_result{};
      res.err = make_error(error_kind::bad_reply,
                           "unknown failure talking to " + self->name);
    }
    if (res.err && (self->stopping || call->cancelled)) {
      res.err = self->cancelled_error(*call);
      res.info.retryable = false;
      res.info.reason = "cancelled";
    }
    self->update_limit(*call, res);
    try {
      self->deliver(*call, std::move(res));
    } catch (const std::exception& ex) {
      logger()->error("llmmr client {}: a reply handler threw: {}", self->name,
                      ex.what());
    } catch (...) {
      logger()->error("llmmr client {}: a reply handler threw", self->name);
    }
    self->active.erase(call);
    self->slot_freed(call->is_chat);
  }

  asio::awaitable<exchange_result> perform(call_state& call) {
    auto t0 = steady_clock::now();
    auto deadline = t0 + timeouts.total;
    if (call.req.deadline && *call.req.deadline < deadline)
      deadline = *call.req.deadline;
    bool fresh = false;
    for (int round = 0;; ++round) {
      connection_ptr conn;
      bool reused = false;
      // Idle connections past their expiry, or already closed by the peer,
      // are dropped rather than tried.
      auto now = steady_clock::now();
      while (!fresh && !idle.empty()) {
        auto candidate = std::move(idle.back());
        idle.pop_back();
        bool closed = candidate->peer_closed();
        if (closed && candidate->after_stream)
          closes_after_stream = true;
        if (now - candidate->idle_since > idle_expiry || closed) {
          candidate->close();
          ++n_expired;
          continue;
        }
        conn = std::move(candidate);
        break;
      }
      bool reused_after_stream = false;
      if (conn) {
        reused = true;
        reused_after_stream = conn->after_stream;
        ++n_reused;
      } else {
        exchange_result res;
        conn = co_await connect(call, deadline, res);
        call.conn = nullptr;
        if (!conn)
          co_return res;
        ++n_opened;
        if (stopping || call.cancelled) {
          conn->close();
          res.err = make_error(error_kind::cancelled,
                               "the client for " + name + " was shut down");
          res.info.reason = "cancelled";
          co_return res;
        }
      }
      busy.insert(conn.get());
      call.conn = conn.get();
      exchange_result res;
      if (conn->tls_stream)
        res = co_await exchange(*conn->tls_stream, *conn, call, reused, t0,
                                deadline);
      else
        res = co_await exchange(*conn->tcp_stream, *conn, call, reused, t0,
                                deadline);
      busy.erase(conn.get());
      call.conn = nullptr;
      if (res.reusable && !stopping && !call.cancelled
          && idle.size() < timeouts.max_idle_connections) {
        conn->lowest().expires_never();
        conn->idle_since = steady_clock::now();
        conn->after_stream = res.after_stream;
        idle.push_back(std::move(conn));
      } else {
        conn->close();
      }
      if (res.stale && reused_after_stream)
        closes_after_stream = true;
      if (res.stale && round == 0 && !stopping && !call.cancelled) {
        logger()->debug("llmmr client {}: kept-alive connection was closed by "
                        "the server, reconnecting",
                        name);
        // The other pooled connections are likely dead too (a restart):
        // drop them and connect fresh.
        for (auto& c : idle)
          c->close();
        idle.clear();
        fresh = true;
        continue;
      }
      co_return res;
    }
  }

  /// Returns the expiry for the next step and names the step for errors.
  milliseconds step_budget(milliseconds step, steady_clock::time_point deadline,
                           std::string_view step_name, std::string& phase) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                         - steady_clock::now());
    if (left < milliseconds{1})
      left = milliseconds{1};
    if (left < step) {
      phase = "total (" + std::to_string(timeouts.total.count()) + " ms)";
      return left;
    }
    phase
      = std::string{step_name} + " (" + std::to_string(step.count()) + " ms)";
    return step;
  }

  error transport_error(const error_code& ec, const std::string& phase,
                        std::string_view what) {
    if (ec == beast::error::timeout)
      return make_error(error_kind::timeout, std::string{what} + " to " + name
                                               + ": " + phase + " timeout");
    if (ec == asio::error::operation_aborted && stopping)
      return make_error(error_kind::cancelled,
                        "the client for " + name + " was shut down");
    if (ec.category() == asio::error::get_ssl_category()
        || ec == asio::ssl::error::stream_truncated)
      return make_error(error_kind::tls, std::string{what} + " to " + name
                                           + ": " + ec.message());
    return make_error(error_kind::unreachable,
                      std::string{what} + " to " + name + ": " + ec.message());
  }

  asio::awaitable<connection_ptr> connect(call_state& call,
                                          steady_clock::time_point deadline,
                                          exchange_result& res) {
    std::string phase;
    error_code ec;
    tcp::resolver resolver{strand};
    auto endpoints = co_await resolver.async_resolve(
      url.host, std::to_string(url.port), with(ec));
    if (ec) {
      res.err = make_error(error_kind::unreachable,
                           "cannot resolve " + name + ": " + ec.message());
      res.info.retryable = true;
      res.info.reason = "resolve failed";
      co_return nullptr;
    }
    auto conn = std::make_unique<connection>();
    if (ssl_ctx)
      conn->tls_stream.emplace(strand, *ssl_ctx);
    else
      conn->tcp_stream.emplace(strand);
    if (call.cancelled) {
      res.err = cancelled_error(call);
      res.info.reason = "cancelled";
      co_return nullptr;
    }
    call.conn = conn.get();
    auto& low = conn->lowest();
    low.expires_after(
      step_budget(timeouts.connect, deadline, "connect", phase));
    co_await low.async_connect(endpoints, with(ec));
    if (ec) {
      res.err = transport_error(ec, phase, "connecting");
      res.info.retryable = kind_of(res.err) != error_kind::cancelled;
      res.info.reason
        = ec == beast::error::timeout ? "connect timeout" : "connect failed";
      co_return nullptr;
    }
    low.socket().set_option(tcp::no_delay{true}, ec);
    if (conn->tls_stream) {
      auto& tls = *conn->tls_stream;
      error_code addr_ec;
      asio::ip::make_address(url.host, addr_ec);
      if (addr_ec) // a name, not an address: send SNI
        SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str());
      if (opts.verify_tls)
        tls.set_verify_callback(ssl::host_name_verification(url.host));
      low.expires_after(
        step_budget(timeouts.connect, deadline, "TLS handshake", phase));
      co_await tls.async_handshake(ssl::stream_base::client, with(ec));
      if (ec) {
        if (ec == beast::error::timeout) {
          res.err = transport_error(ec, phase, "TLS handshake");
          res.info.retryable = true;
          res.info.reason = "TLS handshake timeout";
        } else {
          std::string detail = ec.message();
          auto verify = SSL_get_verify_result(tls.native_handle());
          if (verify != X509_V_OK)
            detail += std::string{" ("} + X509_verify_cert_error_string(verify)
                      + ")";
          res.err = make_error(error_kind::tls, "TLS handshake with " + name
                                                  + " failed: " + detail);
          res.info.retryable = false;
          res.info.reason = "TLS failure";
        }
        co_return nullptr;
      }
    }
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<exchange_result>
  exchange(Stream& stream, connection& conn, call_state& call, bool reused,
           steady_clock::time_point t0, steady_clock::time_point deadline) {
    exchange_result res;
    std::string phase;
    error_code ec;
    auto& low = conn.lowest();
    // Build and send the request.
    http::request<http::string_body> req;
    req.method(call.method == "GET" ? http::verb::get : http::verb::post);
    req.target(call.target);
    req.version(11);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, "llmmr/0.1");
    bool want_stream = call.is_chat && call.req.stream;
    req.set(http::field::accept,
            want_stream ? "text/event-stream" : "application/json");
    if (!opts.api_key.empty())
      req.set(http::field::authorization, "Bearer " + opts.api_key);
    if (!call.body.empty() || req.method() == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = call.body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    low.expires_after(step_budget(timeouts.idle, deadline, "send", phase));
    co_await http::async_write(stream, req, with(ec));
    if (ec) {
      res.stale = reused && ec != beast::error::timeout;
      res.err = transport_error(ec, phase, "sending the request");
      res.info.retryable = kind_of(res.err) != error_kind::cancelled;
      res.info.reason = "send failed";
      co_return res;
    }
    // Read the header.
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(rt->options().max_reply_bytes);
    low.expires_after(
      step_budget(timeouts.first_byte, deadline, "first byte", phase));
    co_await http::async_read_header(stream, conn.buffer, parser, with(ec));
    if (ec) {
      res.stale
        = reused && ec != beast::error::timeout
          && (ec == http::error::end_of_stream
              || ec == asio::error::connection_reset || ec == asio::error::eof
              || ec == asio::error::broken_pipe);
      res.err = transport_error(ec, phase, "waiting for the reply");
      res.info.retryable = kind_of(res.err) != error_kind::cancelled;
      res.info.reason = ec == beast::error::timeout ? "first byte timeout"
                                                    : "connection lost";
      co_return res;
    }
    auto& head = parser.get();
    res.raw.status = static_cast<int>(head.result_int());
    for (const auto& field : head) {
      std::string key{field.name_string()};
      for (auto& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      res.raw.headers.emplace_back(std::move(key), std::string{field.value()});
    }
    std::string request_id;
    if (auto x = find_header(res.raw.headers, "x-request-id"))
      request_id = std::string{*x};
    else if (auto y = find_header(res.raw.headers, "request-id"))
      request_id = std::string{*y};
    std::string content_type;
    if (auto x = find_header(res.raw.headers, "content-type"))
      content_type = std::string{*x};
    bool ok_status = res.raw.status >= 200 && res.raw.status < 300;
    bool sse = call.is_chat && ok_status
               && content_type.find("text/event-stream") != std::string::npos;
    // Read the body piece by piece.
    sse_parser events;
    chat_stream assembled;
    error stream_err;
    std::string& body = res.raw.body;
    char piece[16 * 1024];
    bool truncated = false;
    // Reply bytes held by this call, counted against the runtime's budget.
    struct budget_share {
      io_runtime& rt;
      size_t held = 0;
      ~budget_share() { rt.release_reply_bytes(held); }
    } share{*rt};
    while (!parser.is_done()) {
      parser.get().body().data = piece;
      parser.get().body().size = sizeof(piece);
      low.expires_after(step_budget(timeouts.idle, deadline, "idle", phase));
      co_await http::async_read_some(stream, conn.buffer, parser, with(ec));
      if (ec == http::error::need_buffer)
        ec = {};
      auto got = sizeof(piece) - parser.get().body().size;
      if (got > 0) {
        if (!rt->reserve_reply_bytes(got)) {
          auto limit = rt->options().max_reply_bytes_in_flight;
          res.err = make_error(
            error_kind::bad_reply,
            "the reply from " + name + " does not fit the reply byte budget ("
              + std::to_string(limit) + " bytes for all calls in flight, "
              + std::to_string(share.held) + " held by this one)"
              + (request_id.empty() ? "" : " (request id " + request_id + ")"));
          // Worth another attempt only when the reply could fit alone.
          res.info.retryable = share.held + got <= limit / 2;
          res.info.reason = "reply byte budget";
          co_return res;
        }
        share.held += got;
        std::string_view bytes{piece, got};
        if (sse) {
          events.feed(bytes, [&](std::string_view data) {
            if (stream_err || assembled.done())
              return;
            stream_err = assembled.on_event(data, call.on_delta);
          });
          if (stream_err)
            break;
        } else {
          body.append(bytes);
        }
      }
      if (ec) {
        if (sse && assembled.done()) {
          ec = {}; // the reply is complete; only the framing broke
          res.reusable = false;
          break;
        }
        if (ec == beast::error::timeout) {
          res.err = transport_error(ec, phase, "reading the reply");
          res.info.retryable = true;
          res.info.reason = "idle timeout";
        } else if (stopping || call.cancelled) {
          res.err = cancelled_error(call);
          res.info.reason = "cancelled";
          co_return res;
        } else {
          truncated = true;
          res.err = make_error(
            error_kind::server_error,
            "the reply from " + name + " broke off: " + ec.message()
              + (request_id.empty() ? "" : " (request id " + request_id + ")"));
          res.info.retryable = true;
          res.info.reason = "reply broke off";
        }
        co_return res;
      }
    }
    res.reusable = parser.is_done() && parser.keep_alive() && !stream_err;
    // Some servers (llama.cpp's) close the connection after every streamed
    // reply although their headers say keep-alive; once that was seen, such
    // a connection is not kept, since reusing it would race the close.
    res.after_stream = want_stream;
    if (want_stream && closes_after_stream)
      res.reusable = false;
    res.raw.latency_us = micros_since(t0);
    auto with_id = [&](std::string text, const std::string& id) {
      if (!id.empty())
        text += " (request id " + id + ")";
      return text;
    };
    if (!call.is_chat)
      co_return res;
    // Interpret a chat reply.
    if (!ok_status) {
      auto decision
        = classifier.classify(res.raw.status, body, res.raw.headers);
      auto err = parse_api_error(body);
      std::string text
        = "HTTP " + std::to_string(res.raw.status) + " from " + name;
      if (err.found && !err.message.empty())
        text += ": " + err.message.substr(0, max_error_text);
      if (!err.found && !body.empty() && body.size() < max_error_text
          && content_type.find("json") == std::string::npos
          && content_type.find("text/plain") != std::string::npos)
        text += ": " + body;
      if (!decision.reason.empty())
        text += " [" + decision.reason + "]";
      res.err = make_error(decision.kind, redact(with_id(text, request_id)));
      res.info.retryable = decision.retry;
      res.info.reason = decision.reason;
      if (decision.delay)
        res.info.retry_after_ms = decision.delay->count();
      co_return res;
    }
    if (sse) {
      if (events.pending())
        events.feed("\n\n", [&](std::string_view data) {
          if (!stream_err && !assembled.done())
            stream_err = assembled.on_event(data, call.on_delta);
        });
      auto id = request_id.empty() ? assembled.reply().request_id : request_id;
      if (stream_err) {
        auto kind = kind_of(stream_err);
        std::string text = stream_err.what();
        res.err = make_error(kind, redact(with_id(text + " from " + name, id)));
        auto decision = classifier.classify(kind);
        res.info.retryable = decision.retry;
        res.info.reason = kind == error_kind::bad_reply ? "bad stream event"
                                                        : "error mid-stream";
        res.reusable = false;
        co_return res;
      }
      if (!assembled.done() && !assembled.finished()) {
        (void)truncated;
        res.err = make_error(
          error_kind::server_error,
          with_id("the stream from " + name + " ended before its final chunk",
                  id));
        res.info.retryable = true;
        res.info.reason = "truncated stream";
        co_return res;
      }
      res.reply = std::move(assembled.reply());
      res.reply.request_id = id;
      res.has_usage = assembled.has_usage();
    } else {
      auto parsed = parse_chat_reply(body, res.has_usage);
      if (!parsed) {
        auto kind = kind_of(parsed.error());
        std::string text = parsed.error().what();
        if (!content_type.empty()
            && content_type.find("json") == std::string::npos)
          text += ", content type '" + content_type.substr(0, 60) + "'";
        res.err = make_error(
          kind, redact(with_id(text + " from " + name, request_id)));
        auto decision = classifier.classify(kind);
        res.info.retryable = decision.retry;
        res.info.reason
          = kind == error_kind::bad_reply ? "bad reply" : "error object";
        co_return res;
      }
      res.reply = std::move(*parsed);
      if (!request_id.empty())
        res.reply.request_id = request_id;
    }
    res.reply.latency_us = micros_since(t0);
    co_return res;
  }

  // -- shutdown ---------------------------------------------------------------

  void shutdown_on_io() {
    stopping = true;
    std::vector<call_ptr> dropped{waiting.begin(), waiting.end()};
    waiting.clear();
    for (auto& call : dropped) {
      --n_queued;
      finish_cancelled(call);
    }
    for (auto& conn : idle)
      conn->close();
    idle.clear();
    for (const auto& call : active) {
      if (call->conn) {
        error_code ec;
        call->conn->lowest().socket().cancel(ec);
        call->conn->close();
      }
    }
  }
};

// -- http_client --------------------------------------------------------------

expected<std::shared_ptr<http_client>>
http_client::make(endpoint_options opts, client_timeouts timeouts) {
  return make(io_runtime::make(), std::move(opts), timeouts);
}

expected<std::shared_ptr<http_client>>
http_client::make(io_runtime_ptr runtime, endpoint_options opts,
                  client_timeouts timeouts) {
  if (!runtime)
    return make_error(error_kind::usage, "http_client::make: no I/O runtime");
  auto url = parse_endpoint_url(opts.url);
  if (!url)
    return std::move(url.error());
  auto ptr = std::make_shared<impl>(std::move(runtime), std::move(opts),
                                    timeouts, std::move(*url));
  if (ptr->url.tls()) {
    ptr->ssl_ctx.emplace(ssl::context::tls_client);
    auto& ctx = *ptr->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                    | ssl::context::no_sslv3);
    error_code ec;
    if (!ptr->opts.ca_file.empty()) {
      ctx.load_verify_file(ptr->opts.ca_file, ec);
      if (ec)
        return make_error(error_kind::config, "cannot load the CA file '"
                                                + ptr->opts.ca_file
                                                + "': " + ec.message());
    } else {
      ctx.set_default_verify_paths(ec);
    }
    if (ptr->opts.verify_tls) {
      ctx.set_verify_mode(ssl::verify_peer);
    } else {
      ctx.set_verify_mode(ssl::verify_none);
      logger()->warn("llmmr client {}: TLS certificate verification is OFF; "
                     "the connection can be intercepted",
                     ptr->name);
    }
  }
  // When the runtime stops, the client cancels its calls on its strand.
  std::weak_ptr<impl> weak = ptr;
  ptr->stop_hook = ptr->rt->add_stop_hook([weak] {
    if (auto s = weak.lock())
      asio::dispatch(s->strand, [s] { s->shutdown_on_io(); });
  });
  return std::shared_ptr<http_client>{new http_client(std::move(ptr))};
}

http_client::http_client(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

http_client::~http_client() {
  shutdown();
}

void http_client::shutdown() {
  // Never blocks and never joins: the calls end on the strand, whose
  // coroutines keep the state alive until they are done.
  auto& d = *impl_;
  if (d.stopping.exchange(true))
    return;
  d.rt->remove_stop_hook(d.stop_hook);
  asio::dispatch(d.strand, [ptr = impl_] { ptr->shutdown_on_io(); });
}

void http_client::try_chat(chat_request req, attempt_handler done,
                           delta_handler on_delta) {
  auto call = std::make_shared<call_state>();
  call->is_chat = true;
  call->method = "POST";
  call->target = impl_->url.base_path + "/v1/chat/completions";
  call->body = render_chat_body(impl_->opts.profile, req, impl_->opts.model);
  call->req = std::move(req);
  call->on_chat = std::move(done);
  call->on_delta = std::move(on_delta);
  impl_->submit(std::move(call));
}

bool http_client::supports_json_schema() const {
  return profile() != endpoint_profile::generic;
}

size_t http_client::outstanding() const {
  return impl_->outstanding.load();
}

size_t http_client::capacity() const {
  return impl_->limit_now.load();
}

void http_client::request(std::string method, std::string path,
                          std::string body, raw_handler done) {
  auto call = std::make_shared<call_state>();
  call->method = std::move(method);
  call->target = impl_->url.base_path + path;
  call->body = std::move(body);
  call->on_raw = std::move(done);
  impl_->submit(std::move(call));
}

void http_client::schedule(std::chrono::milliseconds delay,
                           std::function<void()> fn) {
  impl_->rt->schedule(delay, std::move(fn));
}

const io_runtime_ptr& http_client::runtime() const noexcept {
  return impl_->rt;
}

endpoint_stats http_client::stats() const {
  const auto& d = *impl_;
  endpoint_stats result;
  result.calls = d.n_calls;
  result.succeeded = d.n_ok;
  result.failed = d.n_failed;
  result.prompt_tokens = d.n_prompt;
  result.completion_tokens = d.n_completion;
  result.estimated_usage = d.n_estimated;
  result.connections_opened = d.n_opened;
  result.connections_reused = d.n_reused;
  result.in_flight = d.n_in_flight;
  result.queued = d.n_queued;
  result.peak_in_flight = d.n_peak;
  result.concurrency_limit = d.limit_now;
  result.lowest_concurrency_limit = d.limit_lowest;
  {
    std::lock_guard guard{d.limit_mtx};
    result.limit_history = d.limit_history;
  }
  return result;
}

const endpoint_url& http_client::url() const noexcept {
  return impl_->url;
}

const std::string& http_client::name() const noexcept {
  return impl_->name;
}

endpoint_profile http_client::profile() const noexcept {
  return impl_->opts.profile;
}

const std::string& http_client::model() const noexcept {
  return impl_->opts.model;
}

} // namespace llmmr

#pragma once

// The wire format of the simulator without any networking: token counting,
// request parsing, the JSON of replies, SSE events and error bodies, and the
// fault draw. Pure functions, usable and testable without Boost.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/messages/expected.hpp"

namespace llmmr::sim {

/// The faults the simulator can inject into a chat request.
enum class fault_kind : uint8_t {
  /// No fault: a normal reply.
  none,
  /// 429 `rate_limit_exceeded` with `retry-after-ms` and `retry-after`.
  rate_limit,
  /// 500 server error.
  server_error,
  /// 503 service unavailable.
  unavailable,
  /// The connection is closed abruptly (RST) without a response.
  reset,
  /// The connection stays silent for `stall_ms`, then closes.
  stall,
  /// The stream stops without `[DONE]`; a plain body is shorter than its
  /// Content-Length. Then the connection closes.
  truncated_stream,
  /// An error object arrives after HTTP 200 (as an SSE event when streaming,
  /// as the whole body otherwise).
  error_mid_stream,
  /// HTTP 200 with a body (or SSE event) that is not valid JSON.
  invalid_json,
  /// HTTP 200 with `Content-Type: text/html`.
  wrong_content_type,
  /// A correct reply whose bytes trickle with small pauses.
  slow_drip,
  /// 429 `insufficient_quota` (never retriable). Not part of `--fault-rate`.
  quota,
};

/// Number of values of `fault_kind`, `none` included.
inline constexpr size_t fault_kind_count = 12;

/// Returns the name of `x`, e.g. `"rate_limit"`.
std::string_view to_string(fault_kind x) noexcept;

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, fault_kind& x) noexcept;

/// Probability of each fault kind per chat request. When the rates add up to
/// more than 1 they are scaled down proportionally.
struct fault_rates {
  /// See `fault_kind::rate_limit`.
  double rate_limit = 0;
  /// See `fault_kind::server_error`.
  double server_error = 0;
  /// See `fault_kind::unavailable`.
  double unavailable = 0;
  /// See `fault_kind::reset`.
  double reset = 0;
  /// See `fault_kind::stall`.
  double stall = 0;
  /// See `fault_kind::truncated_stream`.
  double truncated_stream = 0;
  /// See `fault_kind::error_mid_stream`.
  double error_mid_stream = 0;
  /// See `fault_kind::invalid_json`.
  double invalid_json = 0;
  /// See `fault_kind::wrong_content_type`.
  double wrong_content_type = 0;
  /// See `fault_kind::slow_drip`.
  double slow_drip = 0;
  /// See `fault_kind::quota`.
  double quota = 0;

  /// Returns the rate of `x` (0 for `none`).
  double get(fault_kind x) const noexcept;

  /// Sets the rate of `x` (ignored for `none`).
  void set(fault_kind x, double rate) noexcept;

  /// Returns rates where each of the ten transient kinds (all but `quota`)
  /// has `total / 10`, so that a request is faulted with probability `total`.
  static fault_rates uniform(double total) noexcept;
};

/// Parses `kind=rate,kind=rate` (e.g. `reset=0.1,stall=0.05`) on top of
/// `base`. Fails with `error_kind::usage` naming the bad item.
expected<fault_rates> parse_fault_spec(std::string_view spec,
                                       fault_rates base = {});

/// Draws the fault of one request from `u`, uniform in [0, 1): the kinds
/// take consecutive sub-intervals of [0, 1) in enum order.
fault_kind pick_fault(const fault_rates& rates, double u) noexcept;

/// The deterministic fault sequence of a server: one draw per chat request.
class fault_source {
public:
  /// Creates a source drawing from `rates` with a generator seeded by `seed`.
  fault_source(fault_rates rates, uint64_t seed) : rates_(rates), gen_(seed) {}

  /// Returns the fault of the next request.
  fault_kind next();

private:
  fault_rates rates_;
  std::mt19937_64 gen_;
};

/// The JSON shape of error bodies, one per server family.
enum class error_shape : uint8_t {
  /// `{"error":{"message","type","param","code"}}` (OpenAI, llama.cpp).
  openai,
  /// `{"object":"error","message","type","param","code":<status>}` (vLLM).
  vllm,
  /// `{"error":"...","error_type":"..."}` (TGI).
  tgi,
};

/// Returns the name of `x`, e.g. `"vllm"`.
std::string_view to_string(error_shape x) noexcept;

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, error_shape& x) noexcept;

/// Splits `text` into the simulator's tokens: pieces of four bytes, each
/// extended to the next UTF-8 character boundary. Never splits a character.
std::vector<std::string_view> split_tokens(std::string_view text);

/// Returns the number of the simulator's tokens in `text`; equals
/// ceil(bytes / 4) for ASCII text.
size_t count_tokens(std::string_view text) noexcept;

/// One message of a chat request.
struct chat_message {
  /// `system`, `user`, `assistant`, ...
  std::string role;
  /// The text (array-of-parts contents are concatenated).
  std::string content;
};

/// The parts of a chat-completions request the simulator uses.
struct chat_request {
  /// The requested model (any name is accepted).
  std::string model;
  /// The conversation.
  std::vector<chat_message> messages;
  /// Whether to reply with SSE.
  bool stream = false;
  /// Whether `stream_options.include_usage` is true.
  bool include_usage = false;
  /// `max_tokens` or `max_completion_tokens`, when given.
  std::optional<uint32_t> max_tokens;
  /// True when JSON output was requested (`response_format` of type
  /// `json_object` or `json_schema`, vLLM's `guided_json`, llama.cpp's
  /// `json_schema`).
  bool json_output = false;
  /// The requested JSON schema as text, empty when none was given.
  std::string json_schema;
};

/// Parses a chat-completions body. Fails with `error_kind::bad_request`
/// and a message naming the problem.
expected<chat_request> parse_chat_request(std::string_view body);

/// Returns the prompt tokens of `req`: the sum of `count_tokens` over every
/// message content (no per-message overhead).
size_t prompt_tokens(const chat_request& req) noexcept;

/// Parses a `/tokenize` body (`prompt` string or `messages`) and returns the
/// text to tokenize, or an `error_kind::bad_request` error.
expected<std::string> parse_tokenize_request(std::string_view body);

/// Returns a JSON document that satisfies `schema` (JSON text; empty means
/// any object): object properties named like a record field
/// (`extracted_information`, `rationale`, `answer`, `confidence`, `summary`)
/// take their value from `fields`, other strings take `text`, numbers 0,
/// booleans true, arrays one element.
std::string
fill_schema(std::string_view schema,
            const std::vector<std::pair<std::string, std::string>>& fields,
            std::string_view text);

/// Returns the error body for `status` in `shape`. `type` and `code` are the
/// OpenAI-style type and code (empty code means null).
std::string error_body(error_shape shape, int status, std::string_view message,
                       std::string_view type, std::string_view code = {},
                       std::string_view param = {});

/// Everything the JSON of one completion reply needs.
struct completion_info {
  /// The completion id, e.g. `chatcmpl-sim-1`.
  std::string id;
  /// Creation time, seconds since the epoch.
  int64_t created = 0;
  /// Model name.
  std::string model;
  /// The output text.
  std::string content;
  /// `stop` or `length`.
  std::string finish_reason;
  /// Send `content: null` instead of the (empty) text.
  bool null_content = false;
  /// Prompt tokens.
  size_t prompt_tokens = 0;
  /// Output tokens.
  size_t completion_tokens = 0;
};

/// Returns the `chat.completion` JSON object of a plain reply.
std::string completion_json(const completion_info& info);

/// Returns the JSON of a `chat.completion.chunk` with only the role.
std::string role_chunk_json(const completion_info& info);

/// Returns the JSON of a chunk carrying the content delta `text`.
std::string delta_chunk_json(const completion_info& info,
                             std::string_view text);

/// Returns the JSON of the chunk carrying `finish_reason` and an empty delta.
std::string finish_chunk_json(const completion_info& info);

/// Returns the JSON of the usage chunk (empty `choices`).
std::string usage_chunk_json(const completion_info& info);

/// Frames `json` as one SSE event: `data: <json>\n\n`.
std::string sse_event(std::string_view json);

/// The SSE comment sent while waiting.
inline constexpr std::string_view sse_keep_alive = ": keep-alive\n\n";

/// The SSE terminator.
inline constexpr std::string_view sse_done = "data: [DONE]\n\n";

/// Frames `data` as one HTTP/1.1 chunk of a chunked body.
std::string http_chunk(std::string_view data);

/// The last chunk of a chunked body.
inline constexpr std::string_view http_last_chunk = "0\r\n\r\n";

/// Returns the reason phrase of `status`, e.g. "Too Many Requests".
std::string_view reason_phrase(int status) noexcept;

/// Builds the bytes of an HTTP/1.1 response head. `fields` holds extra
/// header fields. Appends `Content-Length: <content_length>` when given,
/// `Transfer-Encoding: chunked` otherwise, and `Connection: close` when
/// `keep_alive` is false.
std::string
response_head(int status, std::string_view content_type,
              const std::vector<std::pair<std::string, std::string>>& fields,
              std::optional<size_t> content_length, bool keep_alive);

} // namespace llmmr::sim

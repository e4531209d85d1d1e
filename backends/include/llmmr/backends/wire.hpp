#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// Splits a server-sent-events byte stream into events, however the network
/// cut it. Lines starting with `:` (e.g. `: keep-alive`) are comments; the
/// `data:` lines of one event are joined with newlines; other fields are
/// ignored. Accepts `\n`, `\r\n` and `\r` line ends.
class sse_parser {
public:
  /// Receives the data of one complete event.
  using event_handler = std::function<void(std::string_view data)>;

  /// Feeds the next bytes, calling `on_event` for every event they complete.
  void feed(std::string_view bytes, const event_handler& on_event);

  /// Returns the number of comment lines seen.
  uint64_t comments() const noexcept { return comments_; }

  /// Returns whether bytes of an unfinished line or event are buffered.
  bool pending() const noexcept { return !line_.empty() || has_data_; }

private:
  void line_done(const event_handler& on_event);

  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  uint64_t comments_ = 0;
};

/// Assembles a streamed chat completion from its `data:` payloads.
class chat_stream {
public:
  /// Handles one event's data. Returns an error for an error object in the
  /// stream (kind from its code, `server_error` by default) or unparsable
  /// JSON (`bad_reply`). `on_delta` receives content deltas.
  error on_event(std::string_view data, const delta_handler& on_delta);

  /// Returns whether `data: [DONE]` arrived.
  bool done() const noexcept { return done_; }

  /// Returns whether a final chunk with a finish reason arrived.
  bool finished() const noexcept { return !reply_.finish_reason.empty(); }

  /// Returns whether the server reported usage.
  bool has_usage() const noexcept { return has_usage_; }

  /// Returns the reply assembled so far.
  chat_reply& reply() noexcept { return reply_; }

private:
  chat_reply reply_;
  bool done_ = false;
  bool has_usage_ = false;
};

/// Parses a non-streamed chat-completions reply body. Sets `has_usage` to
/// whether the server reported usage.
expected<chat_reply> parse_chat_reply(std::string_view body, bool& has_usage);

/// Estimates the tokens of `text` when the server reports none (about four
/// bytes per token, rounded up).
uint64_t estimate_tokens(std::string_view text) noexcept;

/// Maps an error object's code and type to an error kind for an error that
/// arrived with HTTP status 200 (mid-stream).
error_kind kind_of_stream_error(std::string_view code, std::string_view type);

} // namespace llmmr

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/llm_client.hpp"

namespace llmmr {

/// A server's error object, parsed from any of the known shapes: OpenAI's
/// nested `{"error": {"message", "type", "code"}}` (also llama.cpp), vLLM's
/// flat `{"object": "error", "message", "type", "code"}` and TGI's flat
/// `{"error": "...", "error_type": "..."}`.
struct api_error {
  /// True when the body held a recognizable error object.
  bool found = false;
  /// The human-readable message.
  std::string message;
  /// The error type, e.g. "invalid_request_error", "validation".
  std::string type;
  /// The error code as text, e.g. "context_length_exceeded", "429".
  std::string code;

  /// Returns whether the error says the prompt is over the context window,
  /// by code or by the wording each server uses.
  bool context_length_exceeded() const;

  /// Returns whether the error says the account's quota is exhausted.
  bool insufficient_quota() const;
};

/// Parses an error body of any known shape; `found` is false otherwise.
api_error parse_api_error(std::string_view body);

/// Renders the JSON body of a chat-completions request for `profile`.
/// `default_model` is used when `req.model` is empty. Streaming requests ask
/// for usage in a final chunk (`stream_options.include_usage`).
std::string render_chat_body(endpoint_profile profile, const chat_request& req,
                             std::string_view default_model);

/// Returns the path of the tokenize endpoint of `profile`, or an empty string
/// when the profile has none.
std::string tokenize_path(endpoint_profile profile);

/// Renders the body of a tokenize request.
std::string render_tokenize_body(endpoint_profile profile,
                                 std::string_view model, std::string_view text);

/// Extracts the token count from a tokenize reply.
std::optional<uint64_t> parse_tokenize_reply(std::string_view body);

/// Returns the path that reveals the context window for `profile`
/// (`/props`, `/v1/models`, `/info`), or an empty string.
std::string context_window_path(endpoint_profile profile);

/// Extracts the context window from the reply of `context_window_path`.
/// Understands llama.cpp's `/props`, vLLM's `/v1/models` (`max_model_len`,
/// preferring the entry of `model`) and TGI's `/info`.
std::optional<uint64_t> parse_context_window(std::string_view body,
                                             std::string_view model = {});

/// Guesses the profile from what a server answered (empty views for
/// requests that failed): llama.cpp answers `/props`, TGI answers `/info`,
/// vLLM lists `max_model_len` in `/v1/models`, OpenAI is recognized by host.
endpoint_profile guess_profile(std::string_view host, std::string_view props,
                               std::string_view info, std::string_view models);

} // namespace llmmr

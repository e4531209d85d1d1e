#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/http_client.hpp"

namespace llmmr {

// Blocking helpers for set-up and `llmmr probe`. They wait for the client's
// I/O thread, so never call them from a reply handler or inside an actor.

/// Sends one request and waits for its response.
expected<raw_response> fetch(http_client& client, std::string method,
                             std::string path, std::string body = {});

/// Detects the server kind from `/props`, `/info` and `/v1/models` (see
/// `guess_profile`). Fails with the transport error when the endpoint
/// answered none of them.
expected<endpoint_profile> detect_profile(http_client& client);

/// Asks the server for its context window the way `profile` allows;
/// nothing when it does not say.
std::optional<uint64_t> discover_context_window(http_client& client,
                                                endpoint_profile profile);

/// Counts the tokens of `text` with the server's `/tokenize`; nothing when
/// the profile has none or the request failed.
std::optional<uint64_t> remote_token_count(http_client& client,
                                           endpoint_profile profile,
                                           std::string_view text);

/// Makes one chat call and waits for it.
expected<chat_reply> chat_blocking(llm_client& client, chat_request req,
                                   delta_handler on_delta = {});

} // namespace llmmr

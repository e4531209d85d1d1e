#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

bool is_transient(error_kind x) noexcept {
  switch (x) {
  case error_kind::unreachable:
  case error_kind::rate_limited:
  case error_kind::server_error:
  case error_kind::timeout:
  case error_kind::bad_reply:
  case error_kind::node_down:
    return true;
  default:
    return false;
  }
}

bool is_recurring(error_kind x) noexcept {
  switch (x) {
  case error_kind::auth:
  case error_kind::quota:
  case error_kind::bad_request:
  case error_kind::tls:
  case error_kind::policy:
    return true;
  default:
    return false;
  }
}

} // namespace llmmr

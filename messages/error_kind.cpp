#include "llmmr/messages/error_kind.hpp"

#include <caf/message.hpp>

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

error make_error(error_kind x, std::string what) {
  return error{x, std::move(what)};
}

error_kind kind_of(const error& err) noexcept {
  if (!err)
    return error_kind::none;
  if (err.category() != caf::atom("llmmr"))
    return error_kind::internal;
  return static_cast<error_kind>(err.code());
}

std::string describe(const error& err) {
  if (!err)
    return "no error";
  if (err.category() != caf::atom("llmmr"))
    return caf::to_string(err);
  std::string result = to_string(static_cast<error_kind>(err.code()));
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    result += ": ";
    result += ctx.get_as<std::string>(0);
  } else if (!ctx.empty()) {
    result += ": ";
    result += caf::to_string(ctx);
  }
  return result;
}

} // namespace llmmr

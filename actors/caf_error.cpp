#include "llmmr/actors/caf_error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace llmmr {

caf::error to_caf(const error& err) {
  if (!err)
    return caf::none;
  return caf::error{err.kind(), err.what()};
}

error from_caf(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == caf::atom("llmmr")) {
    std::string what;
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      what = ctx.get_as<std::string>(0);
    else if (!ctx.empty())
      what = caf::to_string(ctx);
    return error{static_cast<error_kind>(err.code()), std::move(what)};
  }
  auto kind = error_kind::internal;
  if (err == caf::sec::request_timeout)
    kind = error_kind::timeout;
  else if (err == caf::sec::request_receiver_down)
    kind = error_kind::node_down;
  return error{kind, caf::to_string(err)};
}

error_kind kind_of(const caf::error& err) {
  return from_caf(err).kind();
}

std::string describe(const caf::error& err) {
  return describe(from_caf(err));
}

} // namespace llmmr

#include "llmmr/messages/error.hpp"

namespace llmmr {

std::string describe(const error& err) {
  if (!err)
    return "no error";
  auto result = to_string(err.kind());
  if (!err.what().empty()) {
    result += ": ";
    result += err.what();
  }
  return result;
}

std::string to_string(const error& err) {
  return describe(err);
}

} // namespace llmmr

#pragma once

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

// The actor boundary: below the actors layer errors are `llmmr::error`;
// actors send and receive `caf::error` with category `llmmr`, whose code is
// the error kind and whose context is the description.

namespace llmmr {

/// Converts `err` to a `caf::error` of category `llmmr`; no error stays none.
caf::error to_caf(const error& err);

/// Converts `err` back. Errors of other categories (CAF's own, e.g. a request
/// that timed out or an actor that went down) become `internal`, `timeout` or
/// `node_down` errors carrying CAF's rendering of them.
error from_caf(const caf::error& err);

/// Converts an `expected` across the boundary.
template <class T>
caf::expected<T> to_caf(expected<T> x) {
  if (x)
    return std::move(*x);
  return to_caf(x.error());
}

/// Converts an `expected` across the boundary.
template <class T>
expected<T> from_caf(caf::expected<T> x) {
  if (x)
    return std::move(*x);
  return from_caf(x.error());
}

/// Creates a `caf::error` of kind `x` carrying `what` as its description.
inline caf::error make_caf_error(error_kind x, std::string what) {
  return to_caf(error{x, std::move(what)});
}

/// Returns the llmmr kind of a `caf::error` (see `from_caf`).
error_kind kind_of(const caf::error& err);

/// Renders a `caf::error` as `kind: description`.
std::string describe(const caf::error& err);

} // namespace llmmr

CAF_ERROR_CODE_ENUM(llmmr::error_kind, "llmmr")

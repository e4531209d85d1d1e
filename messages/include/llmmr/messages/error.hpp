#pragma once

#include <string>
#include <utility>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

/// A failure: what kind it is and a human-readable description naming the
/// problem. A default-constructed error means "no error". The actors layer
/// converts to and from `error` at the actor boundary
/// (`llmmr/actors/caf_error.hpp`); below it, nothing depends on CAF.
class error {
public:
  /// Constructs "no error".
  error() noexcept = default;

  /// Constructs an error of kind `kind` described by `what`.
  error(error_kind kind, std::string what)
    : kind_(kind), what_(std::move(what)) {
    // nop
  }

  /// Returns whether this is an error (kind other than `none`).
  explicit operator bool() const noexcept { return kind_ != error_kind::none; }

  /// Returns the kind of failure.
  error_kind kind() const noexcept { return kind_; }

  /// Returns the description, without the kind.
  const std::string& what() const noexcept { return what_; }

  friend bool operator==(const error&, const error&) = default;

  /// Serializes `x` for CAF (errors travel inside llmmr messages).
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, error& x) {
    return f(x.kind_, x.what_);
  }

private:
  error_kind kind_ = error_kind::none;
  std::string what_;
};

/// Creates an error of kind `x` carrying `what` as its description.
inline error make_error(error_kind x, std::string what) {
  return error{x, std::move(what)};
}

/// Returns the kind of `err`, `error_kind::none` for no error.
inline error_kind kind_of(const error& err) noexcept {
  return err.kind();
}

/// Renders `err` as `kind: description` (just `kind` without one), or
/// "no error".
std::string describe(const error& err);

/// Same as `describe`.
std::string to_string(const error& err);

} // namespace llmmr

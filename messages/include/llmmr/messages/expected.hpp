#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "llmmr/messages/error.hpp"

namespace llmmr {

/// Either a value of type `T` or the `error` that prevented computing it.
/// Both convert implicitly, so a function returns its value or its error
/// directly. Reading the value of an `expected` that holds an error is a
/// precondition violation; the error of one that holds a value is "no error".
template <class T>
class expected {
public:
  static_assert(!std::is_same_v<T, llmmr::error>,
                "expected<error> is ambiguous; return error directly");

  /// The type of the value.
  using value_type = T;

  /// Holds a value constructed from `x`.
  template <
    class U = T,
    class = std::enable_if_t<
      std::is_constructible_v<
        T,
        U&&> && !std::is_same_v<std::decay_t<U>, expected> && !std::is_same_v<std::decay_t<U>, llmmr::error>>>
  expected(U&& x) : state_(std::in_place_index<0>, std::forward<U>(x)) {
    // nop
  }

  /// Holds the error `err`. An empty `err` (no error) is a bug in the caller
  /// and becomes an `internal` error rather than a silent success.
  expected(llmmr::error err)
    : state_(std::in_place_index<1>,
             err ? std::move(err)
                 : llmmr::error{error_kind::internal,
                                "an empty error was returned as a failure"}) {
    // nop
  }

  /// Returns whether a value is present.
  explicit operator bool() const noexcept { return state_.index() == 0; }

  /// Returns whether a value is present.
  bool has_value() const noexcept { return state_.index() == 0; }

  /// Returns the value.
  T& value() & {
    assert(has_value());
    return std::get<0>(state_);
  }

  /// Returns the value.
  const T& value() const& {
    assert(has_value());
    return std::get<0>(state_);
  }

  /// Returns the value.
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(state_));
  }

  /// Returns the value.
  T& operator*() & { return value(); }

  /// Returns the value.
  const T& operator*() const& { return value(); }

  /// Returns the value.
  T&& operator*() && { return std::move(*this).value(); }

  /// Accesses the value's members.
  T* operator->() { return &value(); }

  /// Accesses the value's members.
  const T* operator->() const { return &value(); }

  /// Returns the error, or "no error" while a value is present (so that a
  /// diagnostic may name the error unconditionally).
  const llmmr::error& error() const& {
    static const llmmr::error none;
    return has_value() ? none : std::get<1>(state_);
  }

  /// Returns the error; a value must not be present.
  llmmr::error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(state_));
  }

private:
  std::variant<T, llmmr::error> state_;
};

} // namespace llmmr

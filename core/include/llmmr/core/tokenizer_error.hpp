#pragma once

#include <string>
#include <utility>
#include <variant>

namespace llmmr {

/// Why a tokenizer could not be loaded or built. The message names the file
/// (and line or component) that is at fault.
struct tokenizer_error {
  /// A human-readable explanation, e.g.
  /// `"foo.json: unsupported model type 'WordPiece'"`.
  std::string message;
};

/// Either a `T` or a `tokenizer_error`: the return type of the tokenizer
/// loaders, which never throw. A small stand-in for `std::expected`, which
/// C++20 lacks.
template <class T>
class tokenizer_result {
public:
  /// Holds a value.
  tokenizer_result(T value) : data_(std::in_place_index<0>, std::move(value)) {
    // nop
  }

  /// Holds an error.
  tokenizer_result(tokenizer_error err)
    : data_(std::in_place_index<1>, std::move(err)) {
    // nop
  }

  /// Returns whether this holds a value.
  bool has_value() const noexcept { return data_.index() == 0; }

  /// Returns whether this holds a value.
  explicit operator bool() const noexcept { return has_value(); }

  /// Returns the value; requires `has_value()`.
  T& value() & { return std::get<0>(data_); }

  /// Returns the value; requires `has_value()`.
  const T& value() const& { return std::get<0>(data_); }

  /// Moves the value out; requires `has_value()`.
  T&& value() && { return std::get<0>(std::move(data_)); }

  /// Returns the value; requires `has_value()`.
  T& operator*() & { return value(); }

  /// Returns the value; requires `has_value()`.
  T* operator->() { return &value(); }

  /// Returns the value; requires `has_value()`.
  const T* operator->() const { return &value(); }

  /// Returns the error; requires `!has_value()`.
  const tokenizer_error& error() const { return std::get<1>(data_); }

private:
  std::variant<T, tokenizer_error> data_;
};

} // namespace llmmr

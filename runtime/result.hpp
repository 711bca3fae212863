// result<T, E>: either a value or an error, the one "expected" of the code base (C++20 has
// no std::expected). Every layer that reports errors by value uses it with its own error
// type: storage::result<T> (a storage::status), accounts::result<T> (an accounts::error),
// cluster::etcd results.
//
// An error type E is usable when ADL finds `code_of(const E&)` returning an enum whose
// value-initialised member (0) means "ok": a result never holds an "ok" error, and
// `code()` answers that enum for both states.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace sb {

/// The usual error of a layer: a stable code (an enum whose 0 is "ok") and a message for
/// people and logs (never user content). The cluster layer's errors are these;
/// storage::status and accounts::error predate it and have the same shape.
template <class Errc>
struct coded_error {
  Errc code{};
  std::string message;
};

template <class Errc>
Errc code_of(const coded_error<Errc>& e) noexcept {
  return e.code;
}

template <class T, class E>
class result {
public:
  using error_type = E;
  using code_type = decltype(code_of(std::declval<const E&>()));

  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(E error) : v_(std::in_place_index<1>, std::move(error)) {
    // A result built from an error must carry one, or callers would read no value.
    assert(code_of(std::get<1>(v_)) != code_type{});
  }

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; only valid when `!has_value()`.
  const E& error() const { return std::get<1>(v_); }
  /// The error's code; the "ok" code (0) when a value is held.
  code_type code() const noexcept { return has_value() ? code_type{} : code_of(error()); }

private:
  std::variant<T, E> v_;
};

} // namespace sb

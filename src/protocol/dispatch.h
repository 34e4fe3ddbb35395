#pragma once
// From a run-time API key to the generated request/response type, so that a
// handler table can be declared as data:
//
//   visit_request_type(api_key, [&]<class Request>(std::type_identity<Request>) {
//     Request request;
//     Status status = request.decode(reader, api_version);
//     ...
//   });
//
// If `f` returns void, the visit returns true when the key was known and
// false otherwise. If `f` returns a value (the same type for every message),
// the visit returns std::optional of it, empty for an unknown key.

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "protocol/messages.h"

namespace sluice::protocol {

// Calls f(std::type_identity<T>{}) for every T in the list, in order.
template <class... T, class F>
void for_each_type(TypeList<T...>, F&& f) {
  (f(std::type_identity<T>{}), ...);
}

namespace detail {

template <class First, class... Rest, class F>
auto visit_by_api_key(TypeList<First, Rest...>, int16_t api_key, F& f) {
  using R = decltype(f(std::type_identity<First>{}));
  if constexpr (std::is_void_v<R>) {
    bool found = false;
    auto try_one = [&]<class T>(std::type_identity<T> type) {
      if (!found && T::api_key == api_key) {
        f(type);
        found = true;
      }
    };
    try_one(std::type_identity<First>{});
    (try_one(std::type_identity<Rest>{}), ...);
    return found;
  } else {
    std::optional<R> out;
    auto try_one = [&]<class T>(std::type_identity<T> type) {
      if (!out && T::api_key == api_key) out.emplace(f(type));
    };
    try_one(std::type_identity<First>{});
    (try_one(std::type_identity<Rest>{}), ...);
    return out;
  }
}

}  // namespace detail

template <class F>
auto visit_request_type(int16_t api_key, F&& f) {
  return detail::visit_by_api_key(RequestTypes{}, api_key, f);
}

template <class F>
auto visit_response_type(int16_t api_key, F&& f) {
  return detail::visit_by_api_key(ResponseTypes{}, api_key, f);
}

}  // namespace sluice::protocol

#pragma once
// Random values for generated message fields, drawn from RapidCheck inside a
// property (so failures shrink). Included by the generated fill.h after it
// declares fill() for every generated struct; fill_value dispatches to them.

#include <rapidcheck.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "protocol/records.h"
#include "protocol/wire.h"

namespace sluice::protocol::testing {

// Collections stay small so that a message with nested arrays stays small.
inline constexpr int max_collection_size = 3;

template <class T>
void fill_value(T& value, int16_t version, bool nullable);

inline size_t pick_count() { return *rc::gen::inRange(0, max_collection_size + 1); }
inline bool pick_null(bool nullable) { return nullable && *rc::gen::inRange(0, 4) == 0; }

template <class T>
void fill_scalar(T& value) {
  if constexpr (std::is_same_v<T, double>) {
    // Finite values only: NaN != NaN would break the round-trip equality.
    value = static_cast<double>(*rc::gen::arbitrary<int32_t>()) / 8.0;
  } else {
    value = *rc::gen::arbitrary<T>();
  }
}

inline void fill_bytes(std::vector<uint8_t>& value) {
  value = *rc::gen::container<std::vector<uint8_t>>(pick_count() * 3, rc::gen::arbitrary<uint8_t>());
}

template <class T>
void fill_value(T& value, int16_t version, bool nullable) {
  if constexpr (std::is_arithmetic_v<T>) {
    fill_scalar(value);
  } else if constexpr (std::is_same_v<T, Uuid>) {
    for (uint8_t& byte : value.bytes) byte = *rc::gen::arbitrary<uint8_t>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    value = *rc::gen::container<std::string>(pick_count() * 2, rc::gen::inRange<char>('a', 'z' + 1));
  } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
    fill_bytes(value);
  } else if constexpr (std::is_same_v<T, Records>) {
    auto storage = std::make_shared<std::vector<uint8_t>>();
    fill_bytes(*storage);
    value.bytes = Bytes(*storage);
    value.owner = storage;
  } else if constexpr (requires { value.has_value(); }) {  // std::optional
    if (pick_null(nullable)) {
      value.reset();
    } else {
      value.emplace();
      fill_value(*value, version, false);
    }
  } else if constexpr (requires { value.push_back(value[0]); }) {  // arrays
    value.resize(pick_count());
    for (auto& item : value) fill_value(item, version, false);
  } else {
    fill(value, version);  // a generated struct
  }
}

// Unknown tags a newer peer might send: never one of this struct's known tags,
// ascending, as a decoder produces them.
inline void fill_unknown_tags(std::vector<TaggedField>& fields, std::vector<uint32_t> known) {
  fields.clear();
  size_t count = *rc::gen::inRange(0, 3);
  uint32_t tag = *rc::gen::inRange<uint32_t>(0, 4);
  for (size_t i = 0; i < count; ++i) {
    while (std::find(known.begin(), known.end(), tag) != known.end()) ++tag;
    TaggedField field;
    field.tag = tag;
    fill_bytes(field.data);
    fields.push_back(std::move(field));
    tag += *rc::gen::inRange<uint32_t>(1, 200);
  }
}

}  // namespace sluice::protocol::testing

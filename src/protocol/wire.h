#pragma once
// Field-level encoding rules shared by every generated codec.
//
// The generated encode/decode/size of a struct call `wire::write`, `wire::read`
// and `wire::size` once per field with a `Format` saying, for the version at
// hand, whether the compact (flexible) encoding applies and whether null is
// allowed. `Codec<T>` holds the rules per C++ type:
//   integers, bool, double, Uuid     fixed width, big-endian
//   std::string                      int16 length (-1 null) | compact: uvarint length+1 (0 null)
//   std::vector<uint8_t>, Records    int32 length (-1 null) | compact: uvarint length+1
//   std::vector<T> (arrays)          int32 count (-1 null)  | compact: uvarint count+1
//   generated structs                fields in order; nullable struct: int8 -1 (null) or 1 first
//   std::optional<T>                 T, or T's null marker in versions where null is allowed
//
// Decoding never trusts input: lengths are checked against `remaining()`
// before anything is allocated; a null where the version forbids it is
// Errc::invalid_value; negative or oversized lengths are Errc::invalid_length.
// Encoding a null in a version that cannot carry it is a programmer error
// (SLUICE_ASSERT): the broker fills every field its response version needs.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/result.h"
#include "base/uuid.h"
#include "protocol/records.h"

namespace sluice::protocol {

// A tagged field this build does not know (a newer peer's extension), kept so
// that re-encoding a decoded message loses nothing.
struct TaggedField {
  uint32_t tag = 0;
  std::vector<uint8_t> data;
  friend bool operator==(const TaggedField&, const TaggedField&) = default;
};

namespace wire {

struct Format {
  int16_t version;
  bool compact;   // flexible version: compact lengths (uvarint n+1)
  bool nullable;  // null may be written / read in this version
};

// A generated struct: has encode/size/decode members.
template <class T>
concept Struct = requires(const T& value, T& out, WireWriter& writer, WireReader& reader) {
  value.encode(writer, int16_t{0});
  { value.size(int16_t{0}) } -> std::same_as<size_t>;
  { out.decode(reader, int16_t{0}) } -> std::same_as<Status>;
};

template <class T>
struct Codec;

template <class T>
void write(WireWriter& writer, const T& value, Format format) {
  Codec<T>::write(writer, value, format);
}
template <class T>
size_t size(const T& value, Format format) {
  return Codec<T>::size(value, format);
}
template <class T>
void read(WireReader& reader, T& value, Format format) {
  Codec<T>::read(reader, value, format);
}

// --- lengths -------------------------------------------------------------

enum class LengthWidth { int16, int32 };

inline void write_length(WireWriter& writer, int64_t length, LengthWidth width, bool compact) {
  if (compact) {
    writer.write_uvarint(static_cast<uint64_t>(length + 1));
  } else if (width == LengthWidth::int16) {
    writer.write_int16(static_cast<int16_t>(length));
  } else {
    writer.write_int32(static_cast<int32_t>(length));
  }
}
inline size_t length_size(int64_t length, LengthWidth width, bool compact) {
  if (compact) return uvarint_size(static_cast<uint64_t>(length + 1));
  return width == LengthWidth::int16 ? 2 : 4;
}

// Reads a length or count; returns -1 for null. Fails the reader (and returns
// -1) for a null where not allowed, a negative length other than -1, or a
// length whose `min_unit_bytes`-sized items cannot fit in what is left.
int64_t read_length(WireReader& reader, LengthWidth width, Format format, size_t min_unit_bytes,
                    const char* what);

// --- fixed-width values ---------------------------------------------------

template <class T>
  requires std::is_arithmetic_v<T>
struct Codec<T> {
  static void write(WireWriter& writer, T value, Format) {
    if constexpr (std::is_same_v<T, bool>) writer.write_bool(value);
    else if constexpr (std::is_same_v<T, double>) writer.write_float64(value);
    else if constexpr (std::is_same_v<T, int8_t>) writer.write_int8(value);
    else if constexpr (std::is_same_v<T, int16_t>) writer.write_int16(value);
    else if constexpr (std::is_same_v<T, int32_t>) writer.write_int32(value);
    else if constexpr (std::is_same_v<T, int64_t>) writer.write_int64(value);
    else if constexpr (std::is_same_v<T, uint16_t>) writer.write_uint16(value);
    else if constexpr (std::is_same_v<T, uint32_t>) writer.write_uint32(value);
    else static_assert(sizeof(T) == 0, "no wire encoding for this arithmetic type");
  }
  static size_t size(T, Format) { return std::is_same_v<T, bool> ? 1 : sizeof(T); }
  static void read(WireReader& reader, T& value, Format) {
    if constexpr (std::is_same_v<T, bool>) value = reader.read_bool();
    else if constexpr (std::is_same_v<T, double>) value = reader.read_float64();
    else if constexpr (std::is_same_v<T, int8_t>) value = reader.read_int8();
    else if constexpr (std::is_same_v<T, int16_t>) value = reader.read_int16();
    else if constexpr (std::is_same_v<T, int32_t>) value = reader.read_int32();
    else if constexpr (std::is_same_v<T, int64_t>) value = reader.read_int64();
    else if constexpr (std::is_same_v<T, uint16_t>) value = reader.read_uint16();
    else if constexpr (std::is_same_v<T, uint32_t>) value = reader.read_uint32();
  }
};

template <>
struct Codec<Uuid> {
  static void write(WireWriter& writer, const Uuid& value, Format) { writer.write_uuid(value); }
  static size_t size(const Uuid&, Format) { return 16; }
  static void read(WireReader& reader, Uuid& value, Format) { value = reader.read_uuid(); }
};

// --- length-prefixed values -------------------------------------------------
// Each provides write_null, read_length and read_body so that std::optional<T>
// can share the length with T.

template <>
struct Codec<std::string> {
  static constexpr LengthWidth width = LengthWidth::int16;
  static void write(WireWriter& writer, const std::string& value, Format format) {
    SLUICE_ASSERT(format.compact || value.size() <= 0x7fff, "string too long for an int16 length");
    write_length(writer, static_cast<int64_t>(value.size()), width, format.compact);
    writer.write_raw(std::string_view(value));
  }
  static size_t size(const std::string& value, Format format) {
    return length_size(static_cast<int64_t>(value.size()), width, format.compact) + value.size();
  }
  static void write_null(WireWriter& writer, Format format) {
    write_length(writer, -1, width, format.compact);
  }
  static size_t null_size(Format format) { return length_size(-1, width, format.compact); }
  static int64_t read_length(WireReader& reader, Format format) {
    return wire::read_length(reader, width, format, 1, "string");
  }
  static void read_body(WireReader& reader, std::string& value, int64_t length, Format) {
    value.assign(reader.read_string_view(static_cast<size_t>(length)));
  }
  static void read(WireReader& reader, std::string& value, Format format) {
    int64_t length = read_length(reader, {format.version, format.compact, false});
    if (length >= 0) read_body(reader, value, length, format);
  }
};

template <>
struct Codec<std::vector<uint8_t>> {
  static constexpr LengthWidth width = LengthWidth::int32;
  static void write(WireWriter& writer, const std::vector<uint8_t>& value, Format format) {
    write_length(writer, static_cast<int64_t>(value.size()), width, format.compact);
    writer.write_raw(Bytes(value));
  }
  static size_t size(const std::vector<uint8_t>& value, Format format) {
    return length_size(static_cast<int64_t>(value.size()), width, format.compact) + value.size();
  }
  static void write_null(WireWriter& writer, Format format) {
    write_length(writer, -1, width, format.compact);
  }
  static size_t null_size(Format format) { return length_size(-1, width, format.compact); }
  static int64_t read_length(WireReader& reader, Format format) {
    return wire::read_length(reader, width, format, 1, "bytes");
  }
  static void read_body(WireReader& reader, std::vector<uint8_t>& value, int64_t length, Format) {
    Bytes raw = reader.read_bytes(static_cast<size_t>(length));
    value.assign(raw.begin(), raw.end());
  }
  static void read(WireReader& reader, std::vector<uint8_t>& value, Format format) {
    int64_t length = read_length(reader, {format.version, format.compact, false});
    if (length >= 0) read_body(reader, value, length, format);
  }
};

template <>
struct Codec<Records> {
  static constexpr LengthWidth width = LengthWidth::int32;
  static void write(WireWriter& writer, const Records& value, Format format) {
    write_length(writer, static_cast<int64_t>(value.bytes.size()), width, format.compact);
    writer.write_external(value.bytes);  // referenced, not copied, when large
  }
  static size_t size(const Records& value, Format format) {
    return length_size(static_cast<int64_t>(value.bytes.size()), width, format.compact) +
           value.bytes.size();
  }
  static void write_null(WireWriter& writer, Format format) {
    write_length(writer, -1, width, format.compact);
  }
  static size_t null_size(Format format) { return length_size(-1, width, format.compact); }
  static int64_t read_length(WireReader& reader, Format format) {
    return wire::read_length(reader, width, format, 1, "records");
  }
  // A view into the reader's input: no copy.
  static void read_body(WireReader& reader, Records& value, int64_t length, Format) {
    value.bytes = reader.read_bytes(static_cast<size_t>(length));
    value.owner.reset();
  }
  static void read(WireReader& reader, Records& value, Format format) {
    int64_t length = read_length(reader, {format.version, format.compact, false});
    if (length >= 0) read_body(reader, value, length, format);
  }
};

// Arrays of primitives or structs (std::vector<uint8_t> is `bytes`, above).
template <class T>
  requires(!std::is_same_v<T, uint8_t>)
struct Codec<std::vector<T>> {
  static constexpr LengthWidth width = LengthWidth::int32;
  static void write(WireWriter& writer, const std::vector<T>& value, Format format) {
    write_length(writer, static_cast<int64_t>(value.size()), width, format.compact);
    Format element{format.version, format.compact, false};
    for (const T& item : value) Codec<T>::write(writer, item, element);
  }
  static size_t size(const std::vector<T>& value, Format format) {
    size_t total = length_size(static_cast<int64_t>(value.size()), width, format.compact);
    Format element{format.version, format.compact, false};
    for (const T& item : value) total += Codec<T>::size(item, element);
    return total;
  }
  static void write_null(WireWriter& writer, Format format) {
    write_length(writer, -1, width, format.compact);
  }
  static size_t null_size(Format format) { return length_size(-1, width, format.compact); }
  // Every element takes at least one byte, so a count above remaining() is a
  // lie; checking it first bounds what a hostile count can make us allocate.
  static int64_t read_length(WireReader& reader, Format format) {
    return wire::read_length(reader, width, format, 1, "array");
  }
  static void read_body(WireReader& reader, std::vector<T>& value, int64_t count, Format format) {
    Format element{format.version, format.compact, false};
    value.clear();
    value.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
    for (int64_t i = 0; i < count && reader.ok(); ++i) {
      value.emplace_back();
      Codec<T>::read(reader, value.back(), element);
    }
  }
  static void read(WireReader& reader, std::vector<T>& value, Format format) {
    int64_t count = read_length(reader, {format.version, format.compact, false});
    if (count >= 0) read_body(reader, value, count, format);
  }
};

template <Struct T>
struct Codec<T> {
  static void write(WireWriter& writer, const T& value, Format format) {
    value.encode(writer, format.version);
  }
  static size_t size(const T& value, Format format) { return value.size(format.version); }
  static void write_null(WireWriter& writer, Format) { writer.write_int8(-1); }
  static size_t null_size(Format) { return 1; }
  static void read(WireReader& reader, T& value, Format format) {
    (void)value.decode(reader, format.version);  // the reader keeps the first error
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static void write(WireWriter& writer, const std::optional<T>& value, Format format) {
    if (!value) {
      SLUICE_ASSERT(format.nullable, "null field in a version where it is not nullable");
      Codec<T>::write_null(writer, format);
      return;
    }
    if constexpr (Struct<T>) {
      if (format.nullable) writer.write_int8(1);
    }
    Codec<T>::write(writer, *value, format);
  }
  static size_t size(const std::optional<T>& value, Format format) {
    if (!value) return Codec<T>::null_size(format);
    size_t marker = 0;
    if constexpr (Struct<T>) marker = format.nullable ? 1 : 0;
    return marker + Codec<T>::size(*value, format);
  }
  static void read(WireReader& reader, std::optional<T>& value, Format format) {
    if constexpr (Struct<T>) {
      if (format.nullable && reader.read_int8() < 0) {
        value.reset();
        return;
      }
      value.emplace();
      Codec<T>::read(reader, *value, format);
    } else {
      int64_t length = Codec<T>::read_length(reader, format);
      if (length < 0) {
        value.reset();
        return;
      }
      value.emplace();
      Codec<T>::read_body(reader, *value, length, format);
    }
  }
};

// --- tagged fields ----------------------------------------------------------
// A flexible struct ends with: uvarint count, then per field (ascending tag):
// uvarint tag, uvarint size, the value in compact encoding. Known fields with
// their default value are not written. Unknown fields are written back as
// they came, merged into tag order.

class TaggedFieldsWriter {
 public:
  TaggedFieldsWriter(WireWriter& writer, const std::vector<TaggedField>& unknown,
                     uint32_t known_count)
      : writer_(writer), unknown_(unknown) {
    writer_.write_uvarint(known_count + unknown_.size());
  }
  template <class T>
  void write(uint32_t tag, const T& value, Format format) {
    flush_below(tag);
    writer_.write_uvarint(tag);
    writer_.write_uvarint(wire::size(value, format));
    wire::write(writer_, value, format);
  }
  void finish() { flush_below(UINT32_MAX); }

 private:
  void flush_below(uint64_t tag);
  WireWriter& writer_;
  const std::vector<TaggedField>& unknown_;
  size_t next_unknown_ = 0;
};

class TaggedFieldsSizer {
 public:
  TaggedFieldsSizer(const std::vector<TaggedField>& unknown, uint32_t known_count);
  template <class T>
  void add(uint32_t tag, const T& value, Format format) {
    size_t value_size = wire::size(value, format);
    total_ += uvarint_size(tag) + uvarint_size(value_size) + value_size;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

// Reads a tagged-field section. `read_known(tag, sub_reader)` decodes a tag
// this version knows and returns true, or returns false for an unknown tag,
// which is then kept in `unknown`. Tags must be strictly ascending, and a
// known field must fill exactly its declared size.
template <class ReadKnown>
void read_tagged_fields(WireReader& reader, std::vector<TaggedField>& unknown,
                        ReadKnown&& read_known);

// Implementation detail of read_tagged_fields, out of line to keep the
// generated code small.
bool read_tagged_header(WireReader& reader, uint32_t& count);
bool read_tagged_entry(WireReader& reader, int64_t& previous_tag, uint32_t& tag, Bytes& data);
void finish_known_tag(WireReader& reader, const WireReader& sub, uint32_t tag);

template <class ReadKnown>
void read_tagged_fields(WireReader& reader, std::vector<TaggedField>& unknown,
                        ReadKnown&& read_known) {
  uint32_t count = 0;
  if (!read_tagged_header(reader, count)) return;
  int64_t previous_tag = -1;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag = 0;
    Bytes data;
    if (!read_tagged_entry(reader, previous_tag, tag, data)) return;
    WireReader sub(data);
    if (read_known(tag, sub)) {
      finish_known_tag(reader, sub, tag);
      if (!reader.ok()) return;
    } else {
      unknown.push_back({tag, std::vector<uint8_t>(data.begin(), data.end())});
    }
  }
}

inline void read_tagged_fields(WireReader& reader, std::vector<TaggedField>& unknown) {
  read_tagged_fields(reader, unknown, [](uint32_t, WireReader&) { return false; });
}
inline void write_tagged_fields(WireWriter& writer, const std::vector<TaggedField>& unknown) {
  TaggedFieldsWriter(writer, unknown, 0).finish();
}
inline size_t tagged_fields_size(const std::vector<TaggedField>& unknown) {
  return TaggedFieldsSizer(unknown, 0).total();
}

// Called by a top-level message's decode before anything else.
bool check_version(WireReader& reader, int16_t version, int16_t min_version,
                   int16_t max_version, const char* message_name);

}  // namespace wire
}  // namespace sluice::protocol

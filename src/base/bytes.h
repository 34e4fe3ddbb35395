#pragma once
// Big-endian and varint encoding of Kafka's primitive types.
//
// WireReader never reads past its input: every read checks the remaining
// length, and the first failure is sticky (later reads return zero values and
// leave the first error in place), so generated decoders check `ok()` once per
// structure instead of after every field. Lengths read from input must be
// checked against `remaining()` before anything is allocated for them.
//
// WireWriter appends to an owned buffer, except for large byte ranges passed
// to `write_external`, which it references instead of copying (record sets in
// Produce and Fetch). `slices()` yields the output as a scatter-gather list.

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/uuid.h"

namespace sluice {

// std::byteswap is C++23; Kafka's wire order is big-endian.
template <class U>
constexpr U to_big_endian(U value) {
  static_assert(std::endian::native == std::endian::little, "big-endian hosts are not supported");
  if constexpr (sizeof(U) == 2) return static_cast<U>(__builtin_bswap16(value));
  if constexpr (sizeof(U) == 4) return static_cast<U>(__builtin_bswap32(value));
  if constexpr (sizeof(U) == 8) return static_cast<U>(__builtin_bswap64(value));
  return value;
}

using Bytes = std::span<const uint8_t>;

// An allocator that default-initialises: a buffer a read is about to fill
// (a request frame from the socket) is not zero-filled first, which cost 5%
// of the broker's CPU on 1 MiB produce requests.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::construct_at(p, std::forward<Args>(args)...);
  }
};

// One request frame as read from a connection.
using FrameBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

class WireReader {
 public:
  WireReader() = default;
  explicit WireReader(Bytes input) : data_(input.data()), size_(input.size()) {}

  bool ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  size_t remaining() const { return size_ - position_; }
  size_t position() const { return position_; }
  bool at_end() const { return position_ == size_; }

  // Records the first failure; later failures keep the first message.
  void fail(Errc code, std::string message) {
    if (ok()) status_ = Status(code, std::move(message));
    position_ = size_;
  }

  int8_t read_int8() { return static_cast<int8_t>(read_fixed<uint8_t>()); }
  int16_t read_int16() { return static_cast<int16_t>(read_fixed<uint16_t>()); }
  int32_t read_int32() { return static_cast<int32_t>(read_fixed<uint32_t>()); }
  int64_t read_int64() { return static_cast<int64_t>(read_fixed<uint64_t>()); }
  uint16_t read_uint16() { return read_fixed<uint16_t>(); }
  uint32_t read_uint32() { return read_fixed<uint32_t>(); }
  bool read_bool() { return read_fixed<uint8_t>() != 0; }
  double read_float64() { return std::bit_cast<double>(read_fixed<uint64_t>()); }
  Uuid read_uuid() {
    Uuid uuid;
    Bytes raw = read_bytes(16);
    if (raw.size() == 16) std::memcpy(uuid.bytes.data(), raw.data(), 16);
    return uuid;
  }

  // Unsigned LEB128 of at most 5 bytes (32 bits) / 10 bytes (64 bits).
  uint32_t read_uvarint() { return static_cast<uint32_t>(read_unsigned_varint(5, 32)); }
  uint64_t read_uvarlong() { return read_unsigned_varint(10, 64); }
  // Zig-zag signed varints as used inside record batches.
  int32_t read_varint() {
    uint32_t raw = read_uvarint();
    return static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  int64_t read_varlong() {
    uint64_t raw = read_uvarlong();
    return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }

  // A view of the next `count` bytes, valid as long as the input is.
  Bytes read_bytes(size_t count) {
    if (count > remaining()) {
      fail(Errc::truncated, "need " + std::to_string(count) + " bytes, " +
                                std::to_string(remaining()) + " left");
      return {};
    }
    Bytes view(data_ + position_, count);
    position_ += count;
    return view;
  }
  std::string_view read_string_view(size_t count) {
    Bytes raw = read_bytes(count);
    return {reinterpret_cast<const char*>(raw.data()), raw.size()};
  }
  void skip(size_t count) { (void)read_bytes(count); }

  // A reader over the next `count` bytes; this reader moves past them.
  WireReader sub_reader(size_t count) {
    Bytes raw = read_bytes(count);
    WireReader sub(raw);
    if (!ok()) sub.fail(status_.code(), status_.message());
    return sub;
  }

 private:
  template <class U>
  U read_fixed() {
    if (sizeof(U) > remaining()) {
      fail(Errc::truncated, "need " + std::to_string(sizeof(U)) + " bytes, " +
                                std::to_string(remaining()) + " left");
      return 0;
    }
    U value;
    std::memcpy(&value, data_ + position_, sizeof(U));
    position_ += sizeof(U);
    value = to_big_endian(value);
    return value;
  }

  uint64_t read_unsigned_varint(int max_bytes, int bits) {
    uint64_t value = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (position_ >= size_) {
        fail(Errc::truncated, "varint runs past the end of the input");
        return 0;
      }
      uint8_t byte = data_[position_++];
      uint64_t chunk = byte & 0x7f;
      int shift = 7 * i;
      if (shift + 7 > bits && (chunk >> (bits - shift)) != 0) {
        fail(Errc::varint_overflow, "varint exceeds " + std::to_string(bits) + " bits");
        return 0;
      }
      value |= chunk << shift;
      if ((byte & 0x80) == 0) return value;
    }
    fail(Errc::varint_overflow, "varint longer than " + std::to_string(max_bytes) + " bytes");
    return 0;
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t position_ = 0;
  Status status_;
};

// Byte count of each encoding, for size() computations.
constexpr size_t uvarint_size(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}
constexpr uint32_t zigzag32(int32_t value) {
  return (static_cast<uint32_t>(value) << 1) ^ static_cast<uint32_t>(value >> 31);
}
constexpr uint64_t zigzag64(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
constexpr size_t varint_size(int32_t value) { return uvarint_size(zigzag32(value)); }
constexpr size_t varlong_size(int64_t value) { return uvarint_size(zigzag64(value)); }

class WireWriter {
 public:
  // Byte ranges at least this long are referenced by write_external, not copied.
  static constexpr size_t external_threshold_bytes = 4096;

  struct Slice {
    const uint8_t* data;
    size_t size;
  };

  void reserve(size_t bytes) { buffer_.reserve(bytes); }

  void write_int8(int8_t v) { write_fixed(static_cast<uint8_t>(v)); }
  void write_int16(int16_t v) { write_fixed(static_cast<uint16_t>(v)); }
  void write_int32(int32_t v) { write_fixed(static_cast<uint32_t>(v)); }
  void write_int64(int64_t v) { write_fixed(static_cast<uint64_t>(v)); }
  void write_uint16(uint16_t v) { write_fixed(v); }
  void write_uint32(uint32_t v) { write_fixed(v); }
  void write_bool(bool v) { write_fixed(static_cast<uint8_t>(v ? 1 : 0)); }
  void write_float64(double v) { write_fixed(std::bit_cast<uint64_t>(v)); }
  void write_uuid(const Uuid& uuid) { write_raw(uuid.bytes); }

  void write_uvarint(uint64_t value) {
    uint8_t scratch[10];
    size_t n = 0;
    while (value >= 0x80) {
      scratch[n++] = static_cast<uint8_t>(value | 0x80);
      value >>= 7;
    }
    scratch[n++] = static_cast<uint8_t>(value);
    write_raw(Bytes(scratch, n));
  }
  void write_varint(int32_t value) { write_uvarint(zigzag32(value)); }
  void write_varlong(int64_t value) { write_uvarint(zigzag64(value)); }

  void write_raw(Bytes bytes) {
    if (bytes.empty()) return;
    size_t old_size = buffer_.size();
    buffer_.resize(old_size + bytes.size());
    std::memcpy(buffer_.data() + old_size, bytes.data(), bytes.size());
  }
  void write_raw(std::string_view text) {
    write_raw(Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }

  // References `bytes` instead of copying them when they are large: the caller
  // keeps them alive until the output (slices) has been consumed.
  void write_external(Bytes bytes) {
    if (bytes.size() < external_threshold_bytes) {
      write_raw(bytes);
      return;
    }
    externals_.push_back({buffer_.size(), bytes});
    external_bytes_ += bytes.size();
  }

  size_t size() const { return buffer_.size() + external_bytes_; }

  // The output in order, as views into this writer and the external ranges.
  std::vector<Slice> slices() const;
  // The output copied into one buffer.
  std::vector<uint8_t> to_vector() const;

 private:
  template <class U>
  void write_fixed(U value) {
    value = to_big_endian(value);
    size_t old_size = buffer_.size();
    buffer_.resize(old_size + sizeof(U));
    std::memcpy(buffer_.data() + old_size, &value, sizeof(U));
  }

  struct External {
    size_t buffer_offset;  // where in buffer_ the external range belongs
    Bytes bytes;
  };

  std::vector<uint8_t> buffer_;
  std::vector<External> externals_;
  size_t external_bytes_ = 0;
};

}  // namespace sluice

#include "streams/join_stores.h"

namespace sluice::streams::join_bytes {
namespace {

constexpr size_t kTimestampBytes = 8;
constexpr size_t kSequenceBytes = 4;
constexpr size_t kIntBytes = 4;
constexpr char kVariableSize = 1;  // ListSerde's SerializationStrategy.VARIABLE_SIZE

void put_big_endian(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = bytes; i > 0; --i)
    out.push_back(static_cast<char>((value >> (8 * (i - 1))) & 0xff));
}

uint64_t get_big_endian(std::string_view in, size_t offset, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i)
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  return value;
}

}  // namespace

std::string window_key(std::string_view key, int64_t timestamp, uint32_t sequence) {
  std::string out(key);
  put_big_endian(out, static_cast<uint64_t>(timestamp), kTimestampBytes);
  put_big_endian(out, sequence, kSequenceBytes);
  return out;
}

std::optional<WindowKey> parse_window_key(std::string_view bytes) {
  if (bytes.size() < kTimestampBytes + kSequenceBytes) return std::nullopt;
  size_t key_size = bytes.size() - kTimestampBytes - kSequenceBytes;
  return WindowKey{
      std::string(bytes.substr(0, key_size)),
      static_cast<int64_t>(get_big_endian(bytes, key_size, kTimestampBytes)),
      static_cast<uint32_t>(get_big_endian(bytes, key_size + kTimestampBytes, kSequenceBytes))};
}

std::string outer_key(std::string_view key, int64_t timestamp, bool left_side) {
  std::string out;
  out.reserve(kTimestampBytes + 1 + key.size());
  put_big_endian(out, static_cast<uint64_t>(timestamp), kTimestampBytes);
  out.push_back(left_side ? '\1' : '\0');
  out.append(key);
  return out;
}

std::optional<OuterKey> parse_outer_key(std::string_view bytes) {
  if (bytes.size() < kTimestampBytes + 1) return std::nullopt;
  return OuterKey{std::string(bytes.substr(kTimestampBytes + 1)),
                  static_cast<int64_t>(get_big_endian(bytes, 0, kTimestampBytes)),
                  bytes[kTimestampBytes] != 0};
}

std::vector<std::string> list_entries(std::string_view list) {
  std::vector<std::string> entries;
  if (list.size() < 1 + kIntBytes || list[0] != kVariableSize) return entries;
  auto count = static_cast<uint32_t>(get_big_endian(list, 1, kIntBytes));
  size_t offset = 1 + kIntBytes;
  for (uint32_t i = 0; i < count && offset + kIntBytes <= list.size(); ++i) {
    auto size = static_cast<int32_t>(get_big_endian(list, offset, kIntBytes));
    offset += kIntBytes;
    if (size < 0) continue;  // a null entry (never written here)
    if (offset + static_cast<size_t>(size) > list.size()) break;  // truncated: keep what is whole
    entries.emplace_back(list.substr(offset, static_cast<size_t>(size)));
    offset += static_cast<size_t>(size);
  }
  return entries;
}

std::string list_append(const std::optional<std::string>& list, std::string_view entry) {
  std::vector<std::string> entries;
  if (list) entries = list_entries(*list);
  entries.emplace_back(entry);
  std::string out(1, kVariableSize);
  put_big_endian(out, entries.size(), kIntBytes);
  for (const std::string& item : entries) {
    put_big_endian(out, item.size(), kIntBytes);
    out += item;
  }
  return out;
}

}  // namespace sluice::streams::join_bytes

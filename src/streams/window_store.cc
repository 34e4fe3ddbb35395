#include "streams/window_store.h"

namespace sluice::streams {
namespace {
constexpr size_t kTimestampBytes = 8;
constexpr size_t kSequenceBytes = 4;
}  // namespace

std::string window_store_key(const std::string& key, int64_t window_start) {
  std::string out = key;
  auto start = static_cast<uint64_t>(window_start);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((start >> shift) & 0xff));
  out.append(kSequenceBytes, '\0');
  return out;
}

std::optional<WindowStoreKey> parse_window_store_key(const std::string& bytes) {
  if (bytes.size() < kTimestampBytes + kSequenceBytes) return std::nullopt;
  size_t key_size = bytes.size() - kTimestampBytes - kSequenceBytes;
  uint64_t start = 0;
  for (size_t i = 0; i < kTimestampBytes; ++i) {
    start = (start << 8) | static_cast<unsigned char>(bytes[key_size + i]);
  }
  return WindowStoreKey{bytes.substr(0, key_size), static_cast<int64_t>(start)};
}

}  // namespace sluice::streams

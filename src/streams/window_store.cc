#include "streams/window_store.h"

#include <stdexcept>

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

namespace stores {
namespace {

// Kafka's Stores checks of a window store's durations.
void check_window_durations(const std::string& name, int64_t retention_ms, int64_t window_size_ms) {
  if (retention_ms < 0) throw std::invalid_argument("retentionPeriod cannot be negative");
  if (window_size_ms < 0) throw std::invalid_argument("windowSize cannot be negative");
  if (window_size_ms > retention_ms) {
    throw std::invalid_argument("The retention period of the window store " + name +
                                " must be no smaller than its window size. Got size=[" +
                                std::to_string(window_size_ms) + "], retention=[" +
                                std::to_string(retention_ms) + "]");
  }
}

}  // namespace

WindowBytesStoreSupplier in_memory_window_store(std::string name, int64_t retention_ms,
                                                int64_t window_size_ms) {
  check_window_durations(name, retention_ms, window_size_ms);
  return {in_memory_key_value_store(std::move(name)), retention_ms, window_size_ms};
}

WindowBytesStoreSupplier persistent_window_store(std::string name, int64_t retention_ms,
                                                 int64_t window_size_ms) {
  check_window_durations(name, retention_ms, window_size_ms);
  return {persistent_key_value_store(std::move(name)), retention_ms, window_size_ms};
}

}  // namespace stores

}  // namespace sluice::streams

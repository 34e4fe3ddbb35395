#include "streams/session_store.h"

namespace sluice::streams {
namespace {
constexpr size_t kSessionTimeBytes = 8;

void append_session_time(std::string& out, int64_t value) {
  auto bits = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((bits >> shift) & 0xff));
}

int64_t read_session_time(std::string_view bytes) {
  uint64_t bits = 0;
  for (size_t i = 0; i < kSessionTimeBytes; ++i)
    bits = (bits << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<int64_t>(bits);
}
}  // namespace

std::string session_store_key(const std::string& key, int64_t start, int64_t end) {
  std::string out = key;
  // The end first: a key's sessions sort by end, which is what searches
  // bound (Kafka's layout).
  append_session_time(out, end);
  append_session_time(out, start);
  return out;
}

std::optional<SessionStoreKey> parse_session_store_key(std::string_view bytes) {
  if (bytes.size() < 2 * kSessionTimeBytes) return std::nullopt;
  size_t key_size = bytes.size() - 2 * kSessionTimeBytes;
  return SessionStoreKey{std::string(bytes.substr(0, key_size)),
                         read_session_time(bytes.substr(key_size + kSessionTimeBytes)),
                         read_session_time(bytes.substr(key_size))};
}

}  // namespace sluice::streams

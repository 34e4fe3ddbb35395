#pragma once
// Time windows (Kafka's TimeWindows, Window, Windowed): fixed-size windows
// aligned to the epoch, tumbling (advance = size) or hopping (advance <
// size), with a grace period after a window's end during which late
// records still count. Sliding windows (SlidingWindows) are defined by the
// records themselves, session windows (SessionWindows) by gaps of
// inactivity; their aggregations are in sliding_windows.h and
// session_windows.h.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "streams/serde.h"

namespace sluice::streams {

// [start, end) in milliseconds.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
  auto operator<=>(const Window&) const = default;
};

template <class K>
struct Windowed {
  K key{};
  Window window;
  auto operator<=>(const Windowed&) const = default;
};

class TimeWindows {
 public:
  // Kafka's ofSizeWithNoGrace / ofSizeAndGrace.
  static TimeWindows of_size_with_no_grace(std::chrono::milliseconds size) {
    return of_size_and_grace(size, std::chrono::milliseconds(0));
  }
  static TimeWindows of_size_and_grace(std::chrono::milliseconds size,
                                       std::chrono::milliseconds grace) {
    if (size.count() <= 0)
      throw std::invalid_argument("Window size (sizeMs) must be larger than zero.");
    if (grace.count() < 0) throw std::invalid_argument("Grace period must not be negative.");
    return TimeWindows(size.count(), size.count(), grace.count());
  }
  // Hopping windows: a new window every `advance`.
  TimeWindows advance_by(std::chrono::milliseconds advance) const {
    if (advance.count() <= 0 || advance.count() > size_) {
      throw std::invalid_argument(
          "Window advancement interval should be more than zero and less "
          "than window duration which is " +
          std::to_string(size_) +
          " ms, but given advancement interval is: " + std::to_string(advance.count()) + " ms");
    }
    return TimeWindows(size_, advance.count(), grace_);
  }

  int64_t size_ms() const { return size_; }
  int64_t advance_ms() const { return advance_; }
  int64_t grace_ms() const { return grace_; }

  // Every window that holds `timestamp` (Kafka's windowsFor), oldest first.
  std::vector<Window> windows_for(int64_t timestamp) const {
    std::vector<Window> windows;
    int64_t first = std::max<int64_t>(0, timestamp - size_ + advance_);
    int64_t start = first - first % advance_;
    for (; start <= timestamp; start += advance_) {
      int64_t end = start > std::numeric_limits<int64_t>::max() - size_
                        ? std::numeric_limits<int64_t>::max()
                        : start + size_;
      windows.push_back({start, end});
    }
    return windows;
  }

 private:
  TimeWindows(int64_t size, int64_t advance, int64_t grace)
      : size_(size), advance_(advance), grace_(grace) {}

  int64_t size_;
  int64_t advance_;
  int64_t grace_;
};

// Kafka's SlidingWindows: windows [t - difference, t] ending at each
// record and (t, t + 1 + difference] starting after it, both ends inclusive.
class SlidingWindows {
 public:
  static SlidingWindows of_time_difference_with_no_grace(std::chrono::milliseconds difference) {
    return of_time_difference_and_grace(difference, std::chrono::milliseconds(0));
  }
  static SlidingWindows of_time_difference_and_grace(std::chrono::milliseconds difference,
                                                     std::chrono::milliseconds grace) {
    if (difference.count() < 0)
      throw std::invalid_argument("Window time difference must not be negative.");
    if (grace.count() < 0) throw std::invalid_argument("Window grace period must not be negative.");
    return SlidingWindows(difference.count(), grace.count());
  }
  int64_t time_difference_ms() const { return difference_; }
  int64_t grace_ms() const { return grace_; }

 private:
  SlidingWindows(int64_t difference, int64_t grace) : difference_(difference), grace_(grace) {}
  int64_t difference_;
  int64_t grace_;
};

// Kafka's SessionWindows: records of a key closer than the inactivity gap
// form one session [first, last] (both inclusive).
class SessionWindows {
 public:
  static SessionWindows of_inactivity_gap_with_no_grace(std::chrono::milliseconds gap) {
    return of_inactivity_gap_and_grace(gap, std::chrono::milliseconds(0));
  }
  static SessionWindows of_inactivity_gap_and_grace(std::chrono::milliseconds gap,
                                                    std::chrono::milliseconds grace) {
    if (gap.count() <= 0) throw std::invalid_argument("Gap time cannot be zero or negative.");
    if (grace.count() < 0) throw std::invalid_argument("Grace period must not be negative.");
    return SessionWindows(gap.count(), grace.count());
  }
  int64_t inactivity_gap_ms() const { return gap_; }
  int64_t grace_ms() const { return grace_; }

 private:
  SessionWindows(int64_t gap, int64_t grace) : gap_(gap), grace_(grace) {}
  int64_t gap_;
  int64_t grace_;
};

namespace serdes {

// Kafka's TimeWindowedSerializer/Deserializer: the inner key's bytes and the
// window start (8 bytes, big-endian); the end is start + window_size
// (Kafka's default window size, Long.MAX_VALUE, when none is given).
template <class K>
Serde<Windowed<K>> time_windowed(Serde<K> inner,
                                 int64_t window_size = std::numeric_limits<int64_t>::max()) {
  Serde<int64_t> start_serde = long_();
  return {[inner, start_serde](const std::string& topic,
                               const Windowed<K>& windowed) -> std::optional<std::string> {
            std::optional<std::string> key = inner.serialize(topic, windowed.key);
            return key.value_or("") + *start_serde.serialize(topic, windowed.window.start);
          },
          [inner, start_serde, window_size](const std::string& topic,
                                            std::optional<std::string_view> bytes) {
            if (!bytes || bytes->size() < 8) {
              throw SerializationError("a time-windowed key needs at least 8 bytes");
            }
            std::string_view key = bytes->substr(0, bytes->size() - 8);
            int64_t start = start_serde.deserialize(topic, bytes->substr(bytes->size() - 8));
            int64_t end = start > std::numeric_limits<int64_t>::max() - window_size
                              ? std::numeric_limits<int64_t>::max()
                              : start + window_size;
            return Windowed<K>{inner.deserialize(topic, key), Window{start, end}};
          }};
}

}  // namespace serdes

template <class K>
struct DefaultSerde<Windowed<K>> {
  static constexpr bool available = DefaultSerde<K>::available;
  static Serde<Windowed<K>> get() { return serdes::time_windowed(DefaultSerde<K>::get()); }
};

}  // namespace sluice::streams

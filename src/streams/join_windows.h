#pragma once
// What a windowed stream-stream join is given (Kafka's JoinWindows and
// StreamJoined): how far apart in time two records may be to join, how
// long after that records may still arrive late, and the serdes and names
// of the join's stores and repartition topics.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "streams/serde.h"
#include "streams/store.h"

namespace sluice::streams {

// A record at time t joins the other side's records in
// [t - before, t + after]; the other side sees the mirror image. Records
// more than the grace period late are no longer joined, and a left or
// outer join emits an unmatched record only once its window has closed
// (Kafka 3.x's fix of eager, spurious results).
class JoinWindows {
 public:
  // Kafka's ofTimeDifferenceAndGrace: before = after = time_difference.
  static JoinWindows of_time_difference_and_grace(std::chrono::milliseconds time_difference,
                                                  std::chrono::milliseconds grace) {
    return JoinWindows(time_difference.count(), time_difference.count(), grace.count());
  }
  // Kafka's ofTimeDifferenceWithNoGrace.
  static JoinWindows of_time_difference_with_no_grace(std::chrono::milliseconds time_difference) {
    return of_time_difference_and_grace(time_difference, std::chrono::milliseconds(0));
  }
  // The window's lower and upper bound alone (either may be negative while
  // their sum is not).
  JoinWindows before(std::chrono::milliseconds time_difference) const {
    return JoinWindows(time_difference.count(), after_, grace_);
  }
  JoinWindows after(std::chrono::milliseconds time_difference) const {
    return JoinWindows(before_, time_difference.count(), grace_);
  }

  int64_t before_ms() const { return before_; }
  int64_t after_ms() const { return after_; }
  int64_t grace_ms() const { return grace_; }
  // Kafka's size(): before + after. The join's stores keep records for
  // size + grace of stream time.
  int64_t size_ms() const { return before_ + after_; }
  int64_t retention_ms() const { return size_ms() + grace_; }

 private:
  JoinWindows(int64_t before, int64_t after, int64_t grace)
      : before_(before), after_(after), grace_(grace) {
    if (before + after < 0) {
      throw std::invalid_argument("Window interval (ie, beforeMs+afterMs) must not be negative.");
    }
    if (grace < 0) throw std::invalid_argument("Grace period must not be negative.");
  }

  int64_t before_;
  int64_t after_;
  int64_t grace_;
};

// Serdes and names of a stream-stream join (Kafka's StreamJoined): the
// key's, this side's and the other side's value serdes (unset: the
// streams' own, else the types' defaults); `name` names the processors
// (`<name>-this-join`, ...) and repartition topics (`<name>-left`,
// `<name>-right`); `store_name` the stores (`<store_name>-this-join-store`,
// ...); without logging the stores have no changelog.
template <class K, class V, class VO>
struct StreamJoined {
  std::optional<Serde<K>> key_serde;
  std::optional<Serde<V>> value_serde;
  std::optional<Serde<VO>> other_value_serde;
  std::string name;
  std::string store_name;
  bool logging_enabled = true;
  // Where each side's window keeps its records (Kafka's
  // withThisStoreSupplier/withOtherStoreSupplier; unset: RocksDB, named as
  // above). The unmatched records of a left or outer join are kept in
  // RocksDB too unless this side's supplier is in memory, as Kafka does.
  std::optional<WindowBytesStoreSupplier> this_store_supplier;
  std::optional<WindowBytesStoreSupplier> other_store_supplier;

  static StreamJoined with(Serde<K> key, Serde<V> value, Serde<VO> other_value) {
    StreamJoined joined;
    joined.key_serde = std::move(key);
    joined.value_serde = std::move(value);
    joined.other_value_serde = std::move(other_value);
    return joined;
  }
  static StreamJoined as(std::string store_name) {
    StreamJoined joined;
    joined.store_name = std::move(store_name);
    return joined;
  }
  StreamJoined with_name(std::string processor_name) && {
    name = std::move(processor_name);
    return std::move(*this);
  }
  StreamJoined with_store_name(std::string store) && {
    store_name = std::move(store);
    return std::move(*this);
  }
  StreamJoined with_this_store_supplier(WindowBytesStoreSupplier supplier) && {
    this_store_supplier = std::move(supplier);
    return std::move(*this);
  }
  StreamJoined with_other_store_supplier(WindowBytesStoreSupplier supplier) && {
    other_store_supplier = std::move(supplier);
    return std::move(*this);
  }
  StreamJoined with_logging_disabled() && {
    logging_enabled = false;
    return std::move(*this);
  }
};

namespace detail {
// Which records a join emits without a partner (dsl.h's join templates).
enum JoinKind : int { join_inner = 0, join_left = 1, join_outer = 2 };
}  // namespace detail

}  // namespace sluice::streams

#include "cluster/replica_placer.h"

#include <algorithm>
#include <map>
#include <utility>

namespace sluice::cluster {
namespace {

// Uniform in [0, bound) (bound > 0); the bias of a modulo over 64 bits is
// negligible for broker counts.
size_t random_below(RandomSource& random, size_t bound) {
  return static_cast<size_t>(random.next() % bound);
}

template <class T>
void shuffle(RandomSource& random, std::vector<T>& items) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[random_below(random, i)]);
}

// The brokers of one rack with one kind (fenced or not), walked from a
// rotating offset: each placement epoch starts one broker further.
class BrokerList {
 public:
  void add(int32_t broker) { brokers_.push_back(broker); }
  void initialize(RandomSource& random) {
    if (brokers_.empty()) return;
    std::sort(brokers_.begin(), brokers_.end());
    offset_ = random_below(random, brokers_.size());
  }
  void shuffle_brokers(RandomSource& random) { shuffle(random, brokers_); }
  // The next broker not yet used in `epoch`, or -1.
  int32_t next(int epoch) {
    if (brokers_.empty()) return -1;
    if (epoch_ != epoch) {
      epoch_ = epoch;
      index_ = 0;
      offset_ = (offset_ + 1) % brokers_.size();
    }
    if (index_ >= brokers_.size()) return -1;
    return brokers_[(index_++ + offset_) % brokers_.size()];
  }

 private:
  std::vector<int32_t> brokers_;
  size_t index_ = 0;
  size_t offset_ = 0;
  int epoch_ = 0;
};

struct Rack {
  BrokerList fenced;
  BrokerList unfenced;
  int32_t next(int epoch) {
    int32_t broker = unfenced.next(epoch);
    return broker >= 0 ? broker : fenced.next(epoch);
  }
};

class RackList {
 public:
  RackList(RandomSource& random, const std::vector<UsableBroker>& brokers) : random_(random) {
    for (const UsableBroker& broker : brokers) {
      auto [rack, added] = racks_.try_emplace(broker.rack);
      if (added) names_.push_back(broker.rack);
      (broker.fenced ? rack->second.fenced : rack->second.unfenced).add(broker.id);
      if (!broker.fenced) ++unfenced_;
    }
    for (auto& [name, rack] : racks_) {
      rack.fenced.initialize(random);
      rack.unfenced.initialize(random);
    }
    // No rack sorts first (Kafka's OptionalStringComparator): std::optional
    // orders nullopt before any value.
    std::sort(names_.begin(), names_.end());
    offset_ = names_.empty() ? 0 : random_below(random, names_.size());
  }

  size_t unfenced() const { return unfenced_; }

  std::vector<int32_t> place(int32_t replication_factor) {
    // After one replica list per unfenced broker, shuffle so the next round
    // differs (not with one broker: it would never move).
    if (epoch_ == static_cast<int>(unfenced_) && unfenced_ > 1) {
      shuffle(random_, names_);
      for (auto& [name, rack] : racks_) {
        rack.fenced.shuffle_brokers(random_);
        rack.unfenced.shuffle_brokers(random_);
      }
      epoch_ = 0;
    }
    if (offset_ == names_.size()) offset_ = 0;
    std::vector<int32_t> replicas;
    replicas.reserve(static_cast<size_t>(replication_factor));
    // The leader: the first unfenced broker from the starting rack on.
    size_t first_rack = offset_;
    for (;;) {
      int32_t broker = racks_[names_[first_rack]].unfenced.next(epoch_);
      if (broker >= 0) {
        replicas.push_back(broker);
        break;
      }
      first_rack = (first_rack + 1) % names_.size();
    }
    // The others: one per rack in turn, skipping the leader's rack once.
    size_t rack_index = offset_;
    bool leader_rack_skipped = false;
    for (int32_t replica = 1; replica < replication_factor; ++replica) {
      int32_t broker = -1;
      do {
        if (!leader_rack_skipped && rack_index == first_rack)
          leader_rack_skipped = true;
        else
          broker = racks_[names_[rack_index]].next(epoch_);
        rack_index = (rack_index + 1) % names_.size();
      } while (broker < 0);
      replicas.push_back(broker);
    }
    ++epoch_;
    ++offset_;
    return replicas;
  }

 private:
  RandomSource& random_;
  std::map<std::optional<std::string>, Rack> racks_;
  std::vector<std::optional<std::string>> names_;
  size_t unfenced_ = 0;
  int epoch_ = 0;
  size_t offset_ = 0;
};

}  // namespace

Status check_placement(const std::vector<UsableBroker>& brokers, int32_t replication_factor) {
  if (replication_factor <= 0)
    return Status(Errc::invalid_value, "Invalid replication factor " +
                                           std::to_string(replication_factor) +
                                           ": the replication factor must be positive.");
  if (std::none_of(brokers.begin(), brokers.end(),
                   [](const UsableBroker& broker) { return !broker.fenced; }))
    return Status(Errc::invalid_value, "All brokers are currently fenced.");
  if (static_cast<size_t>(replication_factor) > brokers.size())
    return Status(Errc::invalid_value,
                  "The target replication factor of " + std::to_string(replication_factor) +
                      " cannot be reached because only " + std::to_string(brokers.size()) +
                      " broker(s) are registered.");
  return Status::ok();
}

Result<std::vector<std::vector<int32_t>>> place_replicas(RandomSource& random,
                                                         const std::vector<UsableBroker>& brokers,
                                                         int32_t partitions,
                                                         int32_t replication_factor) {
  if (Status s = check_placement(brokers, replication_factor); !s) return s;
  RackList racks(random, brokers);
  std::vector<std::vector<int32_t>> out;
  out.reserve(static_cast<size_t>(std::max(partitions, 0)));
  for (int32_t partition = 0; partition < partitions; ++partition)
    out.push_back(racks.place(replication_factor));
  return out;
}

}  // namespace sluice::cluster

#pragma once
// Followers (Kafka's ReplicaFetcherManager / ReplicaFetcherThread): one
// ReplicaFetcher per broker this node follows partitions of, each on its own
// thread ("fetch-<leader>") with its own Asio io_context and
// net::KafkaClient to the leader's inter-broker listener. It sends Fetch as
// a replica (replica id, and from v15 the ReplicaState with this broker's
// epoch) from each partition's log end with its last fetched epoch,
// appends what comes back as a follower, takes the leader's high watermark,
// and on a DivergingEpoch truncates the divergent tail and fetches again
// (KIP-320/595). Disk I/O (appends, truncations) happens on that thread,
// never on a reactor.
//
// The manager follows the hosted partitions (`follow()` after each image
// the ReplicaManager applied, on the metadata loader thread): partitions
// another broker leads go to that broker's fetcher; a partition that this
// node leads, or that is gone, leaves its fetcher (a fetch already sent for
// it is dropped: Partition refuses a follower append in another leader
// epoch). A fetcher with nothing to fetch is stopped.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "net/transport.h"

namespace sluice::cluster {

struct ReplicaFetcherOptions {
  int32_t node_id = 1;
  std::string listener_name;  // inter.broker.listener.name
  std::function<int64_t()> broker_epoch = [] { return int64_t{-1}; };
  int32_t fetch_max_bytes = 10 << 20;     // replica.fetch.response.max.bytes
  int32_t partition_max_bytes = 1 << 20;  // replica.fetch.max.bytes
  int32_t max_wait_ms = 500;       // replica.fetch.wait.max.ms: the leader parks an empty fetch
  int32_t idle_backoff_ms = 100;   // before looking again with nothing to fetch
  int32_t error_backoff_ms = 100;  // after a failed fetch
  // num.replica.fetchers: fetcher threads per source broker; a partition
  // goes to fetcher_id_for() of them.
  int32_t num_fetchers = 1;
  const Clock* clock = &system_clock();
};

class ReplicaFetcher;

// Kafka's AbstractFetcherManager.getFetcherId: which of `num_fetchers`
// fetchers of a source broker serves a partition: Utils.abs(31 * the
// topic's Java String.hashCode + partition) % num_fetchers, in Java's
// wrapping 32-bit arithmetic (Utils.abs(Integer.MIN_VALUE) is 0).
int32_t fetcher_id_for(std::string_view topic, int32_t partition, int32_t num_fetchers);

class ReplicaFetcherManager {
 public:
  explicit ReplicaFetcherManager(ReplicaFetcherOptions options);
  ~ReplicaFetcherManager();
  ReplicaFetcherManager(const ReplicaFetcherManager&) = delete;
  ReplicaFetcherManager& operator=(const ReplicaFetcherManager&) = delete;

  // Assigns every partition of `hosted` that another broker of `image`
  // leads to that broker's fetcher. One caller at a time.
  void follow(const std::vector<std::shared_ptr<Partition>>& hosted, const MetadataImage& image);
  // Stops every fetcher (joins their threads).
  void stop();
  size_t fetcher_count() const;

 private:
  ReplicaFetcherOptions options_;
  mutable std::mutex mutex_;
  bool stopped_ = false;
  // By (source broker, fetcher id).
  std::map<std::pair<int32_t, int32_t>, std::unique_ptr<ReplicaFetcher>> fetchers_;
};

}  // namespace sluice::cluster

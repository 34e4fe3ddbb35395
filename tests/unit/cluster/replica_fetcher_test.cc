// num.replica.fetchers (issue 16): which fetcher of a source broker serves a
// partition (Kafka's AbstractFetcherManager.getFetcherId, values computed
// with Java's String.hashCode and Utils.abs), and a ReplicaFetcherManager
// spreading one leader's partitions over that many fetcher threads.
#include "cluster/replica_fetcher.h"

#include <gtest/gtest.h>

#include <set>

#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

TEST(FetcherId, KafkasHashOfTopicAndPartition) {
  // 31 * "orders".hashCode() + 0 = -1207109189 in Java's int arithmetic.
  EXPECT_EQ(fetcher_id_for("orders", 0, 3), 2);
  EXPECT_EQ(fetcher_id_for("orders", 1, 3), 1);
  EXPECT_EQ(fetcher_id_for("orders", 2, 3), 0);
  EXPECT_EQ(fetcher_id_for("orders", 3, 3), 2);
  EXPECT_EQ(fetcher_id_for("orders", 0, 2), 1);
  EXPECT_EQ(fetcher_id_for("__consumer_offsets", 7, 3), 1);
  EXPECT_EQ(fetcher_id_for("a-very-long-topic-name-for-overflow", 5, 3), 0);
  // Kafka's default, one fetcher: always 0.
  EXPECT_EQ(fetcher_id_for("orders", 3, 1), 0);
}

struct Follower {
  explicit Follower(int partitions) {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    logs = std::move(storage::LogManager::open(fs, std::move(options))).value();
    for (int32_t id = 0; id < partitions; ++id) {
      storage::TopicPartition tp{"orders", id};
      auto partition = std::make_shared<Partition>(tp, Uuid{}, *logs->create_log(tp, Uuid{}), 2);
      // Node 1 leads, this node (2) follows.
      partition->update(PartitionImage{id, {1, 2}, {1, 2}, 1, 0, 0}, AppendPolicy{});
      hosted.push_back(std::move(partition));
    }
    // Node 1 at a port nothing listens on: the fetchers only retry.
    BrokerImage leader;
    leader.node_id = 1;
    leader.endpoints.push_back({"PLAINTEXT", "127.0.0.1", 1, 0});
    image.brokers[1] = leader;
  }
  storage::MemoryFileSystem fs;
  std::unique_ptr<storage::LogManager> logs;
  std::vector<std::shared_ptr<Partition>> hosted;
  MetadataImage image;
};

ReplicaFetcherOptions options_with(int32_t num_fetchers) {
  ReplicaFetcherOptions options;
  options.node_id = 2;
  options.listener_name = "PLAINTEXT";
  options.num_fetchers = num_fetchers;
  options.error_backoff_ms = 1000;
  return options;
}

TEST(ReplicaFetcherManager, OneLeadersPartitionsSpreadOverNumReplicaFetchers) {
  Follower follower(8);
  std::set<int32_t> ids;
  for (int32_t id = 0; id < 8; ++id) ids.insert(fetcher_id_for("orders", id, 3));
  ASSERT_EQ(ids.size(), 3u);  // 8 partitions use all three
  {
    ReplicaFetcherManager manager(options_with(3));
    manager.follow(follower.hosted, follower.image);
    EXPECT_EQ(manager.fetcher_count(), 3u);
    // Only partitions 0 and 3 left (both fetcher 2): one fetcher.
    manager.follow({follower.hosted[0], follower.hosted[3]}, follower.image);
    EXPECT_EQ(manager.fetcher_count(), 1u);
    manager.stop();
    EXPECT_EQ(manager.fetcher_count(), 0u);
  }
  ReplicaFetcherManager single(options_with(1));
  single.follow(follower.hosted, follower.image);
  EXPECT_EQ(single.fetcher_count(), 1u);
}

}  // namespace
}  // namespace sluice::cluster

// The partition table the ReplicaManager swaps in for each image: lookups by
// name and id (dense and sparse ids), and lookups concurrent with swaps (run
// under ASan in the _asan twin): a reader always sees one whole table, the
// image and the partitions of the same apply.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cluster/replica_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

constexpr int32_t local_node = 1;

Uuid id_of(uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

// Topic `name` with `partitions`, hosted here unless listed in `elsewhere`.
void add_topic(MetadataImage& image, const std::string& name, uint8_t id, int partitions,
               std::vector<int> elsewhere = {}) {
  TopicImage topic;
  topic.name = name;
  topic.id = id_of(id);
  for (int p = 0; p < partitions; ++p) {
    bool remote = std::find(elsewhere.begin(), elsewhere.end(), p) != elsewhere.end();
    int32_t node = remote ? 2 : local_node;
    topic.partitions.push_back(PartitionImage{p, {node}, {node}, node, 0, 0});
  }
  image.put_topic(std::move(topic));
}

class PartitionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    auto manager = storage::LogManager::open(fs_, std::move(options));
    ASSERT_TRUE(manager.is_ok()) << manager.status().to_string();
    logs_ = std::move(manager).value();
    ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{local_node};
    replica_options.log_manager = logs_.get();
    replica_options.logger = [](std::string_view) {};
    replicas_ = std::make_unique<ReplicaManager>(std::move(replica_options));
  }

  storage::MemoryFileSystem fs_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<ReplicaManager> replicas_;
};

TEST_F(PartitionTableTest, EmptyBeforeTheFirstImage) {
  PartitionTablePtr table = replicas_->table();
  ASSERT_NE(table, nullptr);
  ASSERT_NE(table->image(), nullptr);
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->find("a", 0), nullptr);
}

TEST_F(PartitionTableTest, FindsDenseAndSparseIds) {
  auto image = std::make_shared<MetadataImage>();
  add_topic(*image, "dense", 1, 5);
  add_topic(*image, "sparse", 2, 6, /*elsewhere=*/{0, 2, 3});
  ASSERT_TRUE(replicas_->apply_image(image).is_ok());
  PartitionTablePtr table = replicas_->table();
  EXPECT_EQ(table->image(), image);
  EXPECT_EQ(table->size(), 8u);
  for (int p = 0; p < 5; ++p) {
    ASSERT_NE(table->find("dense", p), nullptr) << p;
    EXPECT_EQ(table->find("dense", p)->topic_partition(), (storage::TopicPartition{"dense", p}));
  }
  for (int p : {1, 4, 5}) {
    ASSERT_NE(table->find("sparse", p), nullptr) << p;
    EXPECT_EQ(table->find("sparse", p)->topic_partition().partition, p);
  }
  for (int p : {0, 2, 3, 6, -1, 1 << 30}) EXPECT_EQ(table->find("sparse", p), nullptr) << p;
  EXPECT_EQ(table->find("dense", 5), nullptr);
  EXPECT_EQ(table->find("dens", 0), nullptr);
  EXPECT_EQ(table->find("", 0), nullptr);
  // partitions() is ordered by topic, then id.
  std::vector<storage::TopicPartition> order;
  for (const auto& partition : table->partitions()) order.push_back(partition->topic_partition());
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(PartitionTableTest, AnOldTableStaysValidAfterASwap) {
  auto with_b = std::make_shared<MetadataImage>();
  add_topic(*with_b, "a", 1, 1);
  add_topic(*with_b, "b", 2, 1);
  ASSERT_TRUE(replicas_->apply_image(with_b).is_ok());
  PartitionTablePtr old_table = replicas_->table();
  auto without_b = std::make_shared<MetadataImage>();
  add_topic(*without_b, "a", 1, 1);
  ASSERT_TRUE(replicas_->apply_image(without_b).is_ok());
  EXPECT_EQ(replicas_->partition("b", 0), nullptr);
  ASSERT_NE(old_table->find("b", 0), nullptr) << "a reader's table is not changed under it";
  EXPECT_EQ(old_table->find("a", 0), replicas_->partition("a", 0))
      << "a kept partition keeps its object";
}

// Readers on several threads look partitions up while the applier swaps
// between two images. Every table a reader loads must be whole: its image
// and its partitions agree, and the partition present in both is found.
TEST_F(PartitionTableTest, LookupsConcurrentWithSwapsSeeWholeTables) {
  auto small = std::make_shared<MetadataImage>();
  add_topic(*small, "a", 1, 2);
  auto large = std::make_shared<MetadataImage>();
  add_topic(*large, "a", 1, 8);
  add_topic(*large, "b", 2, 4);
  ASSERT_TRUE(replicas_->apply_image(small).is_ok());

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, broken{0};
  auto reader = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (!replicas_->partition("a", 0)) broken.fetch_add(1);
      PartitionTablePtr table = replicas_->table();
      bool has_b = table->image()->topic("b") != nullptr;
      if ((table->find("b", 3) != nullptr) != has_b) broken.fetch_add(1);
      if ((table->find("a", 7) != nullptr) != has_b) broken.fetch_add(1);
      if (table->size() != (has_b ? 12u : 2u)) broken.fetch_add(1);
      lookups.fetch_add(1, std::memory_order_relaxed);
      // Let the applier run: on a 2-core machine spinning readers would
      // otherwise leave it little CPU.
      std::this_thread::yield();
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader);
  for (int swap = 0; swap < 100; ++swap)
    ASSERT_TRUE(replicas_->apply_image(swap % 2 == 0 ? large : small).is_ok());
  stop = true;
  for (auto& thread : readers) thread.join();
  EXPECT_EQ(broken.load(), 0u);
  EXPECT_GT(lookups.load(), 0u);
}

}  // namespace
}  // namespace sluice::cluster

// The replication collector (admin/replication_metrics.cc) from hand-built
// partition states and images: Kafka's under-replicated, under/at min ISR,
// leader counts, followers' lag and its max, and the active controller's
// offline and under-replicated counts (0 on other nodes).
#include "admin/replication_metrics.h"

#include <gtest/gtest.h>

namespace sluice::admin {
namespace {

double value(const metrics::CollectorSink& sink, const std::string& name,
             const metrics::Labels& labels = {}) {
  auto family = sink.families().find(name);
  EXPECT_NE(family, sink.families().end()) << name;
  if (family == sink.families().end()) return -1;
  for (const auto& sample : family->second.samples)
    if (sample.labels == labels) return sample.value;
  ADD_FAILURE() << name << " has no sample with those labels";
  return -1;
}

HostedReplication led(std::string topic, std::vector<int32_t> replicas, std::vector<int32_t> isr,
                      int32_t min_isr, std::vector<std::pair<int32_t, int64_t>> lags = {}) {
  HostedReplication out;
  out.topic = std::move(topic);
  out.partition = 0;
  out.status.leader = true;
  out.status.replicas = std::move(replicas);
  out.status.isr = std::move(isr);
  out.status.min_insync_replicas = min_isr;
  out.status.log_end_offset = 100;
  out.status.follower_lag_records = std::move(lags);
  return out;
}

TEST(ReplicationMetrics, LeaderGaugesAndFollowerLag) {
  std::vector<HostedReplication> hosted = {
      led("full", {1, 2, 3}, {1, 2, 3}, 2, {{2, 0}, {3, 5}}),
      led("short", {1, 2, 3}, {1, 2}, 2, {{2, 1}, {3, 70}}),
      led("refusing", {1, 2, 3}, {1}, 2, {{2, 40}, {3, 100}}),
  };
  HostedReplication follower;
  follower.topic = "followed";
  follower.status.leader = false;
  follower.status.replicas = {2, 1};
  follower.status.isr = {2};
  hosted.push_back(follower);
  metrics::CollectorSink sink;
  collect_replication(hosted, nullptr, sink);
  EXPECT_EQ(value(sink, "sluice_under_replicated_partitions"), 2);
  EXPECT_EQ(value(sink, "sluice_under_min_isr_partitions"), 1);
  EXPECT_EQ(value(sink, "sluice_at_min_isr_partitions"), 1);
  EXPECT_EQ(value(sink, "sluice_leader_partitions"), 3);
  EXPECT_EQ(value(sink, "sluice_partitions"), 4);
  EXPECT_EQ(value(sink, "sluice_follower_max_lag_records"), 100);
  EXPECT_EQ(value(sink, "sluice_follower_lag_records",
                  {{"topic", "short"}, {"partition", "0"}, {"replica", "3"}}),
            70);
  // Not the active controller: the cluster's counts are 0 here.
  EXPECT_EQ(value(sink, "sluice_offline_partitions"), 0);
  EXPECT_EQ(value(sink, "sluice_active_controller"), 0);
}

TEST(ReplicationMetrics, TheActiveControllerCountsOfflineAndUnderReplicatedPartitions) {
  cluster::MetadataImage image;
  cluster::TopicImage topic;
  topic.name = "t";
  topic.id = Uuid{std::array<uint8_t, 16>{1}};
  for (int32_t p = 0; p < 3; ++p) {
    cluster::PartitionImage& partition = topic.partitions.emplace_back();
    partition.partition = p;
    partition.replicas = {1, 2};
  }
  topic.partitions[0].isr = {1, 2};
  topic.partitions[0].leader = 1;
  topic.partitions[1].isr = {2};
  topic.partitions[1].leader = 2;
  topic.partitions[2].isr = {2};
  topic.partitions[2].leader = -1;
  image.put_topic(std::move(topic));
  metrics::CollectorSink sink;
  collect_replication({}, &image, sink);
  EXPECT_EQ(value(sink, "sluice_offline_partitions"), 1);
  EXPECT_EQ(value(sink, "sluice_cluster_under_replicated_partitions"), 2);
  EXPECT_EQ(value(sink, "sluice_active_controller"), 1);
  EXPECT_EQ(value(sink, "sluice_under_replicated_partitions"), 0);
  EXPECT_EQ(value(sink, "sluice_follower_max_lag_records"), 0);
}

}  // namespace
}  // namespace sluice::admin

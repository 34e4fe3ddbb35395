#pragma once
// One broker's replica of partition t-0 (replicas 1 and 2) on an in-memory
// log dir, and the record batches the replication tests append: the fixture
// replication_test.cc, replication_rules_test.cc and client_reads_test.cc
// share (each adds the fetch loop it checks).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "record/batch_builder.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster::testing {

// A batch of `records` values "value-<i>".
inline std::vector<uint8_t> batch_of(int records) {
  record::BatchBuilder builder;
  for (int i = 0; i < records; ++i) {
    std::string value = "value-" + std::to_string(i);
    builder.append(1'700'000'000'000 + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  return std::move(builder.build()).value();
}

// A LogManager over `fs`'s /data without background threads or log lines.
inline std::unique_ptr<storage::LogManager> in_memory_log_manager(storage::MemoryFileSystem& fs) {
  storage::LogManagerOptions options;
  options.log_dirs = {"/data"};
  options.background_threads = false;
  options.logger = [](std::string_view) {};
  return std::move(storage::LogManager::open(fs, std::move(options))).value();
}

struct ReplicaNode {
  explicit ReplicaNode(int32_t id) : id(id) { open(); }
  // (Re)opens the log dir and the partition on it.
  void open() {
    logs = in_memory_log_manager(fs);
    partition = std::make_shared<Partition>(tp, topic_id, *logs->create_log(tp, topic_id), id);
  }
  // The image's word on t-0: replicas 1 and 2, `leader` in `leader_epoch`.
  void follow(int32_t leader, int32_t leader_epoch, std::vector<int32_t> isr,
              int32_t partition_epoch) {
    partition->update(
        PartitionImage{0, {1, 2}, std::move(isr), leader, leader_epoch, partition_epoch},
        AppendPolicy{});
  }
  int64_t end() const { return partition->offsets().log_end_offset; }

  int32_t id;
  storage::TopicPartition tp{"t", 0};
  Uuid topic_id{};
  storage::MemoryFileSystem fs;
  std::unique_ptr<storage::LogManager> logs;
  std::shared_ptr<Partition> partition;
};

}  // namespace sluice::cluster::testing

// DescribeLogDirs (v1+): every log dir with its partitions (size, offset
// lag: 0 for a leader), total and usable bytes (v4), KAFKA_STORAGE_ERROR for
// an offline dir. A null topic list means every partition.
#include <sys/statvfs.h>

#include <map>
#include <set>

#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::DescribeLogDirsRequest;
using protocol::DescribeLogDirsResponse;

namespace {

void fill_space(DescribeLogDirsResponse::DescribeLogDirsResult& result) {
  struct statvfs stats {};
  if (::statvfs(result.log_dir.c_str(), &stats) != 0) return;
  result.total_bytes = static_cast<int64_t>(stats.f_blocks) * static_cast<int64_t>(stats.f_frsize);
  result.usable_bytes = static_cast<int64_t>(stats.f_bavail) * static_cast<int64_t>(stats.f_frsize);
}

}  // namespace

void handle_describe_log_dirs(Broker& broker, RequestContext context, DescribeLogDirsRequest request) {
  // Kafka: DESCRIBE on the cluster, else no directory (and, v3+, the error).
  if (!broker.authorization().allows_cluster(context.connection(),
                                             security::AclOperation::DESCRIBE)) {
    DescribeLogDirsResponse refused;
    refused.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    return context.reply(refused);
  }
  std::optional<std::set<storage::TopicPartition>> wanted;
  if (request.topics) {
    wanted.emplace();
    for (const auto& topic : *request.topics)
      for (int32_t partition : topic.partitions) wanted->insert({topic.topic, partition});
  }
  // dir -> topic -> partitions
  std::map<std::string, std::map<std::string, std::vector<DescribeLogDirsResponse::DescribeLogDirsPartition>>> found;
  for (const auto& partition : broker.replica_manager().partitions()) {
    const storage::TopicPartition& tp = partition->topic_partition();
    if (wanted && !wanted->contains(tp)) continue;
    cluster::PartitionOffsets offsets = partition->offsets();
    DescribeLogDirsResponse::DescribeLogDirsPartition out;
    out.partition_index = tp.partition;
    out.partition_size = static_cast<int64_t>(offsets.size_bytes);
    out.offset_lag = std::max<int64_t>(0, offsets.high_watermark - offsets.log_end_offset);
    found[partition->managed_log()->log_dir()][tp.topic].push_back(out);
  }
  DescribeLogDirsResponse response;
  for (const storage::LogDirStatus& dir : broker.log_manager().dir_status()) {
    auto& result = response.results.emplace_back();
    result.log_dir = dir.path;
    if (!dir.online) {
      result.error_code = to_wire(ErrorCode::KAFKA_STORAGE_ERROR);
      continue;
    }
    fill_space(result);
    for (auto& [topic, partitions] : found[dir.path]) {
      auto& topic_out = result.topics.emplace_back();
      topic_out.name = topic;
      topic_out.partitions = std::move(partitions);
    }
  }
  context.reply(response);
}

}  // namespace sluice::broker

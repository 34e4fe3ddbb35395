#include "admin/collectors.h"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "broker/broker.h"
#include "protocol/protocol.h"

namespace sluice::admin {
namespace {

using metrics::CollectorSink;
using metrics::MetricType;

void collect_partitions(broker::Broker& broker, CollectorSink& sink) {
  for (const auto& partition : broker.replica_manager().partitions()) {
    const storage::TopicPartition& tp = partition->topic_partition();
    cluster::PartitionOffsets offsets = partition->offsets();
    metrics::Labels labels{{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}};
    sink.add("sluice_log_start_offset", MetricType::gauge, "First offset of the partition's log.", labels,
             static_cast<double>(offsets.log_start_offset));
    sink.add("sluice_log_end_offset", MetricType::gauge, "Offset the next record appended will get.", labels,
             static_cast<double>(offsets.log_end_offset));
    sink.add("sluice_log_high_watermark", MetricType::gauge, "Offset up to which consumers may read.", labels,
             static_cast<double>(offsets.high_watermark));
    sink.add("sluice_log_size_bytes", MetricType::gauge, "Bytes of the partition's segments.", labels,
             static_cast<double>(offsets.size_bytes));
  }
}

// 1 for a lost (offline) or a full log dir, 0 otherwise, so an alert needs
// no log scraping.
void collect_log_dirs(broker::Broker& broker, CollectorSink& sink) {
  for (const storage::LogDirStatus& dir : broker.log_manager().dir_status()) {
    metrics::Labels labels{{"dir", dir.path}};
    sink.add("sluice_log_dir_offline", MetricType::gauge,
             "1 if the log dir is offline (lost: its partitions answer KAFKA_STORAGE_ERROR).", labels,
             dir.online ? 0.0 : 1.0);
    sink.add("sluice_log_dir_full", MetricType::gauge,
             "1 if the log dir is full (appends refused until space is freed; reads go on).", labels,
             dir.online && dir.full ? 1.0 : 0.0);
  }
}

void collect_group(broker::Broker& broker, const std::string& group_id, CollectorSink& sink) {
  protocol::OffsetFetchRequest request;
  request.group_id = group_id;
  request.topics = std::nullopt;  // every committed offset
  auto committed = broker.groups().coordinator().offset_fetch(request, 7);
  for (const auto& topic : committed.topics) {
    for (const auto& partition : topic.partitions) {
      if (partition.committed_offset < 0) continue;
      auto hosted = broker.replica_manager().partition(topic.name, partition.partition_index);
      if (!hosted) continue;
      metrics::Labels labels{
          {"group", group_id}, {"topic", topic.name}, {"partition", std::to_string(partition.partition_index)}};
      int64_t lag = std::max<int64_t>(0, hosted->high_watermark() - partition.committed_offset);
      sink.add("sluice_consumer_group_committed_offset", MetricType::gauge, "Offset the group committed.", labels,
               static_cast<double>(partition.committed_offset));
      sink.add("sluice_consumer_group_lag", MetricType::gauge,
               "Records between the group's committed offset and the high watermark.", labels,
               static_cast<double>(lag));
    }
  }
}

void collect_groups(broker::Broker& broker, CollectorSink& sink) {
  auto listed = broker.groups().coordinator().list_groups(protocol::ListGroupsRequest{}, 4);
  std::map<std::string, int> by_state;
  for (const auto& group : listed.groups) {
    ++by_state[group.group_state];
    collect_group(broker, group.group_id, sink);
  }
  for (const auto& [state, count] : by_state)
    sink.add("sluice_consumer_groups", MetricType::gauge, "Consumer groups by state.", {{"state", state}}, count);
}

constexpr raft::Role all_roles[] = {raft::Role::unattached, raft::Role::prospective,
                                    raft::Role::candidate, raft::Role::leader,
                                    raft::Role::follower};

void collect_quorum(broker::Broker& broker, CollectorSink& sink) {
  cluster::Controller& controller = broker.controller();
  const cluster::QuorumStatus status = controller.quorum().status();
  for (raft::Role role : all_roles) {
    sink.add("sluice_quorum_role", MetricType::gauge,
             "1 for this node's role in the metadata quorum.", {{"role", raft::role_name(role)}},
             role == status.role ? 1.0 : 0.0);
  }
  sink.add("sluice_quorum_epoch", MetricType::gauge,
           "The metadata quorum's epoch as this node knows it.", {}, status.epoch);
  sink.add("sluice_quorum_leader_id", MetricType::gauge,
           "The quorum leader's node id (-1: none known).", {}, status.leader);
  sink.add("sluice_quorum_high_watermark", MetricType::gauge,
           "The metadata log's high watermark as this node knows it (-1: not known yet).", {},
           static_cast<double>(status.high_watermark));
  sink.add("sluice_quorum_log_end_offset", MetricType::gauge,
           "The end of this node's metadata log.", {}, static_cast<double>(status.log_end_offset));
  sink.add("sluice_quorum_leader_changes_total", MetricType::counter,
           "Leaders this node has seen take over the quorum since it started.", {},
           static_cast<double>(status.leader_changes));
  sink.add("sluice_metadata_applied_offset", MetricType::gauge,
           "Offset up to which this node's metadata image applies the log.", {},
           static_cast<double>(controller.applied_offset()));
  const cluster::MetadataImagePtr image = broker.metadata_image();
  double fenced = 0;
  for (const auto& [id, registration] : image->brokers)
    if (registration.fenced) ++fenced;
  sink.add("sluice_brokers_registered", MetricType::gauge,
           "Brokers the metadata image lists, fenced or not.", {},
           static_cast<double>(image->brokers.size()));
  sink.add("sluice_brokers_fenced", MetricType::gauge,
           "Brokers the metadata image lists as fenced.", {}, fenced);
}

std::string read_file(const char* path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

size_t open_fds() {
  size_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir))
      if (entry->d_name[0] != '.') ++count;
    closedir(dir);
  }
  return count > 0 ? count - 1 : 0;  // the directory stream's own descriptor
}

// /proc/self/stat (proc(5)): fields after the parenthesised command name;
// utime and stime are fields 14 and 15, starttime 22, vsize 23, rss 24.
void collect_process(CollectorSink& sink) {
  std::string stat = read_file("/proc/self/stat");
  size_t after_name = stat.rfind(')');
  if (after_name == std::string::npos) return;
  std::istringstream fields(stat.substr(after_name + 2));
  std::vector<std::string> values;
  for (std::string value; fields >> value;) values.push_back(value);
  if (values.size() < 22) return;
  auto field = [&](int number) { return std::stod(values[static_cast<size_t>(number - 3)]); };
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  sink.add("process_cpu_seconds_total", MetricType::counter, "User and system CPU time spent in seconds.", {},
           (field(14) + field(15)) / ticks_per_second);
  sink.add("process_virtual_memory_bytes", MetricType::gauge, "Virtual memory size in bytes.", {}, field(23));
  sink.add("process_resident_memory_bytes", MetricType::gauge, "Resident memory size in bytes.", {},
           field(24) * page_bytes);
  sink.add("process_open_fds", MetricType::gauge, "Number of open file descriptors.", {},
           static_cast<double>(open_fds()));
  // starttime is in ticks since boot; boot time is /proc/stat's btime.
  std::istringstream proc_stat(read_file("/proc/stat"));
  for (std::string line; std::getline(proc_stat, line);)
    if (line.rfind("btime ", 0) == 0)
      sink.add("process_start_time_seconds", MetricType::gauge, "Start time of the process since the epoch.", {},
               std::stod(line.substr(6)) + field(22) / ticks_per_second);
}

}  // namespace

metrics::CollectorHandle add_partition_collector(metrics::Registry& registry, broker::Broker& broker) {
  return registry.add_collector([&broker](CollectorSink& sink) {
    collect_partitions(broker, sink);
    collect_log_dirs(broker, sink);
  });
}

metrics::CollectorHandle add_group_collector(metrics::Registry& registry, broker::Broker& broker) {
  return registry.add_collector([&broker](CollectorSink& sink) { collect_groups(broker, sink); });
}

metrics::CollectorHandle add_quorum_collector(metrics::Registry& registry, broker::Broker& broker) {
  return registry.add_collector([&broker](CollectorSink& sink) { collect_quorum(broker, sink); });
}

metrics::CollectorHandle add_process_collector(metrics::Registry& registry) {
  return registry.add_collector(collect_process);
}

}  // namespace sluice::admin

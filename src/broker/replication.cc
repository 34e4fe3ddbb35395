// The leader's side of replication: followers' Fetch requests and acks=all
// Produce answers that wait for the ISR (replication.h).
#include "broker/replication.h"

#include <spdlog/spdlog.h>

#include "base/task_pool.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "cluster/replication_rules.h"

namespace sluice::broker {
namespace {

using protocol::FetchRequest;
using protocol::FetchResponse;
using protocol::ProduceResponse;

// Reads `range` into `out` (a fetch-read worker: it may wait on the disk).
Status read_range(const storage::FileRange& range, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    auto n = range.file->pread(range.position + done, out.subspan(done));
    if (!n) return n.status();
    if (*n == 0) return Status(Errc::io_error, "short read of " + range.file->path());
    done += *n;
  }
  return Status::ok();
}

FetchResponse::PartitionData answer_partition(
    Broker& broker, int32_t replica_id, int64_t replica_epoch,
    const std::shared_ptr<cluster::Partition>& partition, const FetchRequest::FetchPartition& asked,
    uint64_t& bytes_left, std::vector<std::shared_ptr<const void>>& keep_alive) {
  FetchResponse::PartitionData data;
  data.partition_index = asked.partition;
  data.records = protocol::Records{};
  data.aborted_transactions = std::nullopt;
  if (!partition) {
    data.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    data.high_watermark = -1;
    return data;
  }
  uint64_t limit =
      std::min<uint64_t>(static_cast<uint64_t>(std::max(asked.partition_max_bytes, 0)), bytes_left);
  cluster::ReplicaReadResult result = partition->read_for_replica(
      replica_id, replica_epoch, Offset{asked.fetch_offset}, LeaderEpoch{asked.last_fetched_epoch},
      LeaderEpoch{asked.current_leader_epoch}, limit, cluster::Partition::monotonic_ms());
  const cluster::PartitionReadResult& read = result.read;
  data.error_code = to_wire(read.error);
  data.high_watermark = read.high_watermark;
  data.last_stable_offset = read.last_stable_offset;
  data.log_start_offset = read.log_start_offset;
  if (result.diverging_epoch) {
    // A leader with no epoch at or below the follower's: the follower cuts
    // back to this log's start.
    data.diverging_epoch.epoch = std::max(*result.diverging_epoch, 0);
    data.diverging_epoch.end_offset =
        *result.diverging_epoch < 0 ? read.log_start_offset : result.diverging_end_offset;
  }
  if (read.error == ErrorCode::NONE && read.range.length > 0) {
    auto buffer = std::make_shared<std::vector<uint8_t>>(read.range.length);
    if (Status status = read_range(read.range, *buffer); !status) {
      data.error_code = to_wire(ErrorCode::KAFKA_STORAGE_ERROR);
    } else {
      data.records = protocol::Records{Bytes(buffer->data(), buffer->size()), nullptr};
      bytes_left -= std::min<uint64_t>(bytes_left, buffer->size());
      keep_alive.push_back(std::move(buffer));
    }
  }
  if (result.may_join_isr) {
    if (auto change = partition->isr_expand(replica_id))
      broker.isr_manager().submit(partition, std::move(*change));
  }
  return data;
}

// The partitions a follower's Fetch names (topic ids from v13).
std::vector<std::shared_ptr<cluster::Partition>> fetched_partitions(Broker& broker,
                                                                    const FetchRequest& request,
                                                                    int16_t version) {
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  std::vector<std::shared_ptr<cluster::Partition>> partitions;
  for (const auto& topic : request.topics) {
    std::string name = topic.topic;
    if (version >= 13) {
      const cluster::TopicImage* known = image->topic(topic.topic_id);
      name = known ? known->name : std::string();
    }
    for (const auto& asked : topic.partitions)
      partitions.push_back(
          name.empty() ? nullptr : broker.replica_manager().partition(name, asked.partition));
  }
  return partitions;
}

// Builds the answer; false when it carries nothing (no records, no error,
// no divergence): such a fetch may park.
bool build_replica_answer(Broker& broker, const FetchRequest& request, int16_t version,
                          const std::vector<std::shared_ptr<cluster::Partition>>& partitions,
                          FetchResponse& response,
                          std::vector<std::shared_ptr<const void>>& keep_alive) {
  const int32_t replica_id = version >= 15 ? request.replica_state.replica_id : request.replica_id;
  const int64_t replica_epoch = version >= 15 ? request.replica_state.replica_epoch : -1;
  uint64_t bytes_left = static_cast<uint64_t>(std::max(request.max_bytes, 0));
  bool worth_answering = false;
  size_t at = 0;
  response.session_id = 0;
  for (const auto& topic : request.topics) {
    auto& out = response.responses.emplace_back();
    out.topic = topic.topic;
    out.topic_id = topic.topic_id;
    for (const auto& asked : topic.partitions) {
      const std::shared_ptr<cluster::Partition>& partition = partitions[at++];
      out.partitions.push_back(answer_partition(broker, replica_id, replica_epoch, partition, asked,
                                                bytes_left, keep_alive));
      FetchResponse::PartitionData& data = out.partitions.back();
      if (!partition && version >= 13) data.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_ID);
      // A high watermark move wakes a parked fetch too (Partition wakes
      // its waiters), so followers learn it without waiting max_wait_ms.
      worth_answering = worth_answering || data.error_code != 0 ||
                        data.diverging_epoch.end_offset >= 0 ||
                        (data.records && !data.records->bytes.empty());
    }
  }
  return worth_answering;
}

// A follower's Fetch with nothing to answer yet (Kafka's DelayedFetch for
// replicas): parked until an append or a high watermark move in one of its
// partitions, or until its max_wait_ms, then answered on a fetch-read worker.
class ParkedReplicaFetch final : public DelayedOperation,
                                 public cluster::AppendWaiter,
                                 public std::enable_shared_from_this<ParkedReplicaFetch> {
 public:
  ParkedReplicaFetch(Broker& broker, RequestContext context, FetchRequest request)
      : broker_(broker), context_(std::move(context)), request_(std::move(request)) {}

  // On a fetch-read worker.
  void start() {
    const int16_t version = context_.api_version();
    auto partitions = fetched_partitions(broker_, request_, version);
    // Registered before the first look: an append between the two wakes it.
    if (request_.max_wait_ms > 0)
      for (const auto& partition : partitions)
        if (partition) partition->add_waiter(weak_from_this());
    FetchResponse response;
    std::vector<std::shared_ptr<const void>> keep_alive;
    bool worth = build_replica_answer(broker_, request_, version, partitions, response, keep_alive);
    if (worth || request_.max_wait_ms <= 0) {
      if (claim()) context_.reply(response, std::move(keep_alive));
      return;
    }
    broker_.delayed_operations().schedule(shared_from_this(),
                                          std::chrono::milliseconds(request_.max_wait_ms));
  }

  void on_new_data() override { answer_later(); }
  void expire() override { answer_later(); }

 private:
  // From the appending thread or the timer: neither reads the disk.
  void answer_later() {
    if (!claim()) return;
    broker_.fetch_reads().post([self = shared_from_this()] { self->answer(); });
  }

  void answer() {
    const int16_t version = context_.api_version();
    FetchResponse response;
    std::vector<std::shared_ptr<const void>> keep_alive;
    build_replica_answer(broker_, request_, version, fetched_partitions(broker_, request_, version),
                         response, keep_alive);
    context_.reply(response, std::move(keep_alive));
  }

  Broker& broker_;
  RequestContext context_;
  FetchRequest request_;
};

// Kafka's DelayedProduce over the partitions' high watermarks.
class ReplicationWait final : public DelayedOperation,
                              public cluster::AppendWaiter,
                              public std::enable_shared_from_this<ReplicationWait> {
 public:
  ReplicationWait(int32_t node_id, RequestContext context, ProduceResponse response,
                  std::vector<ReplicationTarget> targets, ProduceContinuation then)
      : node_id_(node_id),
        context_(std::move(context)),
        response_(std::move(response)),
        targets_(std::move(targets)),
        then_(std::move(then)) {}

  void start(Broker& broker, int32_t timeout_ms) {
    for (const ReplicationTarget& target : targets_) target.partition->add_waiter(weak_from_this());
    broker.delayed_operations().schedule(shared_from_this(),
                                         std::chrono::milliseconds(std::max(timeout_ms, 1)));
    on_new_data();
  }

  void on_new_data() override {
    if (done()) return;
    std::lock_guard lock(mutex_);
    for (const ReplicationTarget& target : targets_)
      if (!settled(target)) return;
    if (claim()) finish(false);
  }

  void expire() override {
    if (!claim()) return;
    std::lock_guard lock(mutex_);
    finish(true);
  }

 private:
  // Committed, or this node no longer leads in the batch's epoch (the
  // batch may be lost): cluster::acks_all_outcome, the rule the partition
  // simulation checks.
  cluster::AckOutcome outcome(const ReplicationTarget& target, bool timed_out) const {
    return cluster::acks_all_outcome(*target.partition, node_id_, target.leader_epoch,
                                     target.end_offset, timed_out);
  }
  bool settled(const ReplicationTarget& target) const { return outcome(target, false).settled; }

  void finish(bool timed_out) {
    for (const ReplicationTarget& target : targets_) {
      auto& out =
          response_.responses[target.topic_index].partition_responses[target.partition_index];
      const ErrorCode error = outcome(target, timed_out).error;
      if (error != ErrorCode::NONE) {
        out.error_code = to_wire(error);
        out.base_offset = -1;
        context_.note_error();
      }
    }
    then_(std::move(context_), std::move(response_));
  }

  const int32_t node_id_;
  std::mutex mutex_;
  RequestContext context_;
  ProduceResponse response_;
  std::vector<ReplicationTarget> targets_;
  ProduceContinuation then_;
};

}  // namespace

void handle_replica_fetch(Broker& broker, RequestContext context, FetchRequest request) {
  auto parked =
      std::make_shared<ParkedReplicaFetch>(broker, std::move(context), std::move(request));
  broker.fetch_reads().post([parked] { parked->start(); });
}

void answer_when_replicated(Broker& broker, RequestContext context, ProduceResponse response,
                            std::vector<ReplicationTarget> targets, int32_t timeout_ms,
                            ProduceContinuation then) {
  auto wait =
      std::make_shared<ReplicationWait>(broker.config().node_id, std::move(context),
                                        std::move(response), std::move(targets), std::move(then));
  wait->start(broker, timeout_ms);
}

}  // namespace sluice::broker

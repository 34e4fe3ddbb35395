// The leader's side of replication: followers' Fetch requests and acks=all
// Produce answers that wait for the ISR (replication.h).
#include "broker/replication.h"

#include <spdlog/spdlog.h>

#include "base/metrics.h"
#include "base/task_pool.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"
#include "cluster/replica_state.h"
#include "cluster/replication_rules.h"

namespace sluice::broker {
namespace {

using protocol::FetchRequest;
using protocol::FetchResponse;
using protocol::ProduceResponse;

// The bytes of a follower's answer beyond the response body: what keeps
// them alive until sent, and the file slices sendfile sends, in the order
// the response encodes their placeholders.
struct ReplicaAnswerBytes {
  std::vector<std::shared_ptr<const void>> keep_alive;
  std::vector<net::FileSlice> file_slices;
};

// sluice_replica_fetch_bytes_total{path}: record bytes answered to followers
// by sendfile (in the page cache) or copied (read into memory: cold, small
// or not a real file).
metrics::Counter& replica_fetch_bytes(const char* path) {
  static auto& family = metrics::default_registry().counter_family(
      "sluice_replica_fetch_bytes_total",
      "Record bytes answered to followers' Fetch, by path: sendfile (from the page cache, no "
      "copy) or copied (read into memory).",
      {"path"});
  return family.labels({path});
}

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

// The follower's broker as this node's metadata image has it (Kafka's
// isReplicaIsrEligible): an expansion the controller would refuse is not asked.
bool follower_isr_eligible(Broker& broker, int32_t replica_id, int64_t replica_epoch) {
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  auto found = image->brokers.find(replica_id);
  return cluster::isr_eligible(found == image->brokers.end() ? nullptr : &found->second,
                               replica_epoch);
}

// Puts a partition's records in the answer: by sendfile when the range is
// in the page cache, else read into memory here (a fetch-read worker).
// Unlike a consumer's, a follower's range may reach above the high
// watermark, which a leader losing its leadership can truncate before the
// slice is sent: the file then ends early, the server closes the
// connection (net/server.cc send_file) and the follower fetches again;
// bytes rewritten in place belong to another leader epoch, whose answer the
// follower drops (Partition::append_as_follower).
bool answer_records(const storage::FileRange& range, FetchResponse::PartitionData& data,
                    ReplicaAnswerBytes& bytes) {
  if (zero_copy_sendable(range) && range.file->cached(range.position, range.length)) {
    data.records = protocol::Records{Bytes(net::file_slice_placeholder(), range.length), nullptr};
    bytes.keep_alive.push_back(range.file);  // the descriptor stays open until sent
    bytes.file_slices.push_back(
        {range.file->native_handle(), static_cast<int64_t>(range.position), range.length});
    replica_fetch_bytes("sendfile").inc(range.length);
    return true;
  }
  auto buffer = std::make_shared<std::vector<uint8_t>>(range.length);
  if (Status status = read_range(range, *buffer); !status) return false;
  data.records = protocol::Records{Bytes(buffer->data(), buffer->size()), nullptr};
  bytes.keep_alive.push_back(std::move(buffer));
  replica_fetch_bytes("copied").inc(range.length);
  return true;
}

FetchResponse::PartitionData answer_partition(Broker& broker, int32_t replica_id,
                                              int64_t replica_epoch,
                                              const std::shared_ptr<cluster::Partition>& partition,
                                              const std::string& name,
                                              const FetchRequest::FetchPartition& asked,
                                              uint64_t& bytes_left, ReplicaAnswerBytes& bytes) {
  FetchResponse::PartitionData data;
  data.partition_index = asked.partition;
  data.records = protocol::Records{};
  data.aborted_transactions = std::nullopt;
  if (!partition) {
    data.error_code =
        to_wire(missing_partition_error(*broker.replica_manager().image(), name, asked.partition));
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
    if (!answer_records(read.range, data, bytes))
      data.error_code = to_wire(ErrorCode::KAFKA_STORAGE_ERROR);
    else
      bytes_left -= std::min<uint64_t>(bytes_left, read.range.length);
  }
  if (result.may_join_isr && follower_isr_eligible(broker, replica_id, replica_epoch)) {
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
                          FetchResponse& response, ReplicaAnswerBytes& bytes) {
  const int32_t replica_id = version >= 15 ? request.replica_state.replica_id : request.replica_id;
  const int64_t replica_epoch = version >= 15 ? request.replica_state.replica_epoch : -1;
  uint64_t bytes_left = static_cast<uint64_t>(std::max(request.max_bytes, 0));
  bool worth_answering = false;
  size_t at = 0;
  response.session_id = 0;
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  for (const auto& topic : request.topics) {
    auto& out = response.responses.emplace_back();
    out.topic = topic.topic;
    out.topic_id = topic.topic_id;
    std::string name = topic.topic;
    if (version >= 13) {
      const cluster::TopicImage* known = image->topic(topic.topic_id);
      name = known ? known->name : std::string();
    }
    for (const auto& asked : topic.partitions) {
      const std::shared_ptr<cluster::Partition>& partition = partitions[at++];
      out.partitions.push_back(answer_partition(broker, replica_id, replica_epoch, partition, name,
                                                asked, bytes_left, bytes));
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
    ReplicaAnswerBytes bytes;
    bool worth = build_replica_answer(broker_, request_, version, partitions, response, bytes);
    if (worth || request_.max_wait_ms <= 0) {
      if (claim()) reply(response, std::move(bytes));
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
    ReplicaAnswerBytes bytes;
    build_replica_answer(broker_, request_, version, fetched_partitions(broker_, request_, version),
                         response, bytes);
    reply(response, std::move(bytes));
  }

  // KIP-951: a follower is told the current leader too (Fetch v16+).
  void reply(FetchResponse& response, ReplicaAnswerBytes bytes) {
    add_leader_hints(broker_, context_.connection().listener_name, context_.api_version(),
                     response);
    context_.reply(response, std::move(bytes.keep_alive), std::move(bytes.file_slices));
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
  ReplicationWait(RequestContext context, ProduceResponse response,
                  std::vector<ReplicationTarget> targets, ProduceContinuation then)
      : context_(std::move(context)),
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
    return cluster::acks_all_outcome(*target.partition, target.leader_epoch, target.end_offset,
                                     timed_out);
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
  auto wait = std::make_shared<ReplicationWait>(std::move(context), std::move(response),
                                                std::move(targets), std::move(then));
  wait->start(broker, timeout_ms);
}

}  // namespace sluice::broker

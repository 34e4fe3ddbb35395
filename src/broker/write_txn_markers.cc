// WriteTxnMarkers (API 27, v0-1; inter-broker, from the transaction
// coordinator): a commit or abort marker (a control batch,
// record::build_end_txn_marker) appended as leader to each partition of a
// transaction, as Kafka's handleWriteTxnMarkersRequest: origin coordinator
// (the producer state checks the producer epoch and fences a coordinator
// epoch below the producer's last: TRANSACTION_COORDINATOR_FENCED), acks=-1
// (answered once every ISR member has the marker, through Produce's
// replication wait), a partition not hosted here UNKNOWN_TOPIC_OR_PARTITION.
// Once a marker is in the ISR of __consumer_offsets partitions, the group
// coordinator is told (GroupService::handle_txn_completion) before the
// answer leaves. Appends run on the partitions' append lanes, never on the
// reactor.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/replication.h"
#include "group/group_service.h"
#include "record/batch_builder.h"

namespace sluice::broker {

using protocol::ProduceResponse;
using protocol::WriteTxnMarkersRequest;
using protocol::WriteTxnMarkersResponse;

namespace {

struct MarkerAppend {
  size_t marker;     // index in the request/response
  size_t topic;      // index in the marker's topics
  size_t partition;  // index in the topic's partitions
  size_t slot;       // index in the job's replication shadow response
  std::shared_ptr<cluster::Partition> target;
  size_t lane = 0;
  std::vector<uint8_t> batch;
  int64_t replicate_to = -1;
  int32_t replicate_in_epoch = -1;
};

// Markers on their way through the append lanes; the last lane to finish
// hands the acks=-1 wait to answer_when_replicated.
struct MarkerJob {
  Broker& broker;
  RequestContext context;
  WriteTxnMarkersRequest request;
  WriteTxnMarkersResponse response;
  std::vector<MarkerAppend> appends;
  std::atomic<size_t> remaining{0};

  MarkerJob(Broker& b, RequestContext c, WriteTxnMarkersRequest r)
      : broker(b), context(std::move(c)), request(std::move(r)) {}

  int16_t& error_of(const MarkerAppend& append) {
    return response.markers[append.marker]
        .topics[append.topic]
        .partitions[append.partition]
        .error_code;
  }
};

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// After the wait: Kafka's maybeSendResponseCallback, per marker: the
// __consumer_offsets partitions that took it complete the group side.
void tell_groups_and_answer(MarkerJob& job) {
  for (size_t m = 0; m < job.request.markers.size(); ++m) {
    const auto& marker = job.request.markers[m];
    std::vector<int32_t> offsets_partitions;
    const auto& result = job.response.markers[m];
    for (const auto& topic : result.topics) {
      if (topic.name != group::offsets_topic) continue;
      for (const auto& partition : topic.partitions)
        if (partition.error_code == 0) offsets_partitions.push_back(partition.partition_index);
    }
    if (!offsets_partitions.empty())
      job.broker.groups().handle_txn_completion(ProducerId{marker.producer_id}, offsets_partitions,
                                                marker.transaction_result);
  }
  job.context.reply(job.response);
}

void finish(const std::shared_ptr<MarkerJob>& job) {
  std::vector<ReplicationTarget> targets;
  ProduceResponse shadow;
  auto& slots = shadow.responses.emplace_back().partition_responses;
  slots.resize(job->appends.size());
  for (const MarkerAppend& append : job->appends)
    if (append.replicate_to >= 0)
      targets.push_back(
          {0, append.slot, append.target, append.replicate_to, append.replicate_in_epoch});
  if (targets.empty()) return tell_groups_and_answer(*job);
  RequestContext context = std::move(job->context);
  // Kafka waits request.timeout.ms (default 30 s) for the ISR.
  constexpr int32_t timeout_ms = 30000;
  answer_when_replicated(job->broker, std::move(context), std::move(shadow), std::move(targets),
                         timeout_ms, [job](RequestContext context, ProduceResponse waited) {
                           job->context = std::move(context);
                           for (const MarkerAppend& append : job->appends) {
                             const int16_t error =
                                 waited.responses[0].partition_responses[append.slot].error_code;
                             if (error != 0) job->error_of(append) = error;
                           }
                           tell_groups_and_answer(*job);
                         });
}

void append_on_lane(const std::shared_ptr<MarkerJob>& job, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    MarkerAppend& append = job->appends[i];
    cluster::PartitionAppendResult appended = append.target->append_as_leader(
        append.batch, -1, wall_clock_ms(), storage::AppendOrigin::coordinator);
    if (appended.error != ErrorCode::NONE) {
      job->error_of(append) = to_wire(appended.error);
      continue;
    }
    append.replicate_to = appended.next_offset;
    append.replicate_in_epoch = appended.leader_epoch;
  }
  if (job->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) finish(job);
}

void hand_to_lanes(const std::shared_ptr<MarkerJob>& job) {
  std::vector<MarkerAppend>& appends = job->appends;
  std::stable_sort(appends.begin(), appends.end(),
                   [](const MarkerAppend& a, const MarkerAppend& b) { return a.lane < b.lane; });
  for (size_t i = 0; i < appends.size(); ++i) appends[i].slot = i;
  size_t lanes = 0;
  for (size_t i = 0; i < appends.size(); ++i)
    if (i == 0 || appends[i].lane != appends[i - 1].lane) ++lanes;
  job->remaining.store(lanes, std::memory_order_relaxed);
  for (size_t begin = 0; begin < appends.size();) {
    size_t end = begin + 1;
    while (end < appends.size() && appends[end].lane == appends[begin].lane) ++end;
    job->broker.appends().post(appends[begin].lane,
                               [job, begin, end] { append_on_lane(job, begin, end); });
    begin = end;
  }
}

// The marker batch for one partition, or nullopt (the response says why).
std::optional<std::vector<uint8_t>> marker_batch(
    const WriteTxnMarkersRequest::WritableTxnMarker& marker, int64_t now_ms) {
  record::BatchOptions options;
  options.producer_id = marker.producer_id;
  options.producer_epoch = marker.producer_epoch;
  auto built = record::build_end_txn_marker(
      marker.transaction_result ? record::ControlType::commit : record::ControlType::abort,
      marker.coordinator_epoch, now_ms, options);
  if (!built) return std::nullopt;
  return std::move(built).value();
}

}  // namespace

void handle_write_txn_markers(Broker& broker, RequestContext context,
                              WriteTxnMarkersRequest request) {
  // Kafka: only brokers (CLUSTER_ACTION) write markers.
  const bool denied = !broker.authorization().allows_cluster(
      context.connection(), security::AclOperation::CLUSTER_ACTION);
  auto job = std::make_shared<MarkerJob>(broker, std::move(context), std::move(request));
  const int64_t now_ms = wall_clock_ms();
  for (size_t m = 0; m < job->request.markers.size(); ++m) {
    const auto& marker = job->request.markers[m];
    auto& marker_out = job->response.markers.emplace_back();
    marker_out.producer_id = marker.producer_id;
    for (size_t t = 0; t < marker.topics.size(); ++t) {
      const auto& topic = marker.topics[t];
      auto& topic_out = marker_out.topics.emplace_back();
      topic_out.name = topic.name;
      for (size_t p = 0; p < topic.partition_indexes.size(); ++p) {
        const int32_t index = topic.partition_indexes[p];
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = index;
        if (denied) {
          out.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
          continue;
        }
        // Kafka's getMagic: a partition with no local log is unknown here.
        auto partition = broker.replica_manager().partition(topic.name, index);
        if (!partition) {
          out.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        auto batch = marker_batch(marker, now_ms);
        if (!batch) {
          out.error_code = to_wire(ErrorCode::UNKNOWN_SERVER_ERROR);
          continue;
        }
        job->appends.push_back({m, t, p, 0, std::move(partition),
                                broker.append_lane(topic.name, index), std::move(*batch)});
      }
    }
  }
  if (job->appends.empty()) return tell_groups_and_answer(*job);
  hand_to_lanes(job);
}

}  // namespace sluice::broker

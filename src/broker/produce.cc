// Produce. v3+ carries one record batch v2 per partition; v0-2 may also
// carry legacy message sets (magic 0/1), converted here to one batch v2
// before the append, as Kafka's broker does (record/legacy_convert.h).
//
// Threads (issue 13, point 2: no reactor waits on a disk). The reactor
// checks each partition's batch (leadership aside, everything that needs no
// partition lock: the record set, up-conversion) and hands the batches to
// the append threads (`Broker::appends()`, num.io.threads lanes; Kafka does
// its appends on request-handler threads, never on network threads). A
// partition always goes to the same lane, so the appends of pipelined
// requests keep their request order per partition, and two appends to one
// partition never contend for its lock. One request is one task per lane it
// touches, not one per partition. The append (the partition's checks under
// its lock, pwrite to the page cache, index upkeep, waking parked fetches,
// which answer on their own reactor) runs there; a pwrite the kernel
// throttles for writeback stalls that lane, not a reactor and its other
// connections. The lane that finishes a request's last append answers it:
// net::Respond posts the answer to the connection's reactor, which sends
// answers in request order. acks=all with sluice.produce.fsync answers after
// the group-commit flusher made the data durable (DESIGN.md "Durability").
// acks=0 gets no answer, and a connection whose acks=0 request failed is
// closed, as Kafka does, so the producer notices.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"
#include "broker/replication.h"
#include "cluster/controller.h"
#include "record/batch.h"
#include "record/legacy_convert.h"
#include "record/record_set.h"

namespace sluice::broker {
namespace {

using protocol::ProduceRequest;
using protocol::ProduceResponse;
using PartitionResponse = ProduceResponse::PartitionProduceResponse;

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void fail(PartitionResponse& out, ErrorCode error, std::string message = {}) {
  out.error_code = to_wire(error);
  out.base_offset = -1;
  if (!message.empty()) out.error_message = std::move(message);
}

// Kafka's rules for the offsets of a client's batch: a base offset of 0
// (UnifiedLog.analyzeAndValidateRecords), and as many records as its offset
// range spans (LogValidator.validateBatch), so the offsets the leader
// assigns cover exactly the records.
ErrorCode check_batch_offsets(const record::BatchHeader& header, std::string& message) {
  if (header.base_offset != 0) {
    message = fmt::format("The baseOffset of the record batch should be 0, but it is {}",
                          header.base_offset);
    return ErrorCode::INVALID_RECORD;
  }
  int64_t count_from_offsets = static_cast<int64_t>(header.last_offset_delta) + 1;
  if (count_from_offsets <= 0) {
    message = fmt::format("Batch has an invalid offset range: [0, {}]", header.last_offset_delta);
    return ErrorCode::INVALID_RECORD;
  }
  if (header.record_count <= 0) {
    message = fmt::format("Invalid reported count for record batch: {}", header.record_count);
    return ErrorCode::INVALID_RECORD;
  }
  if (count_from_offsets != header.record_count) {
    message = fmt::format("Inconsistent batch offset range [0, {}] and count of records {}",
                          header.last_offset_delta, header.record_count);
    return ErrorCode::INVALID_RECORD;
  }
  return ErrorCode::NONE;
}

// Kafka's rules for a Produce record set of batches v2, checked before the
// append: exactly one batch, magic 2 from v3 on, no zstd in v3-6, no control
// batch (commit and abort markers are the transaction coordinator's to
// write; a client's would end or corrupt other producers' transactions),
// offsets as above. v0-2 requests may carry any magic: Kafka's request check
// starts at v3.
ErrorCode check_record_set(Bytes records, int16_t version, std::string& message) {
  if (records.size() > record::layout::magic &&
      records[record::layout::magic] != record::current_magic) {
    auto magic = static_cast<int8_t>(records[record::layout::magic]);
    message = version >= 3 ? "Produce v3+ carries record batches of magic 2 only"
                           : "magic " + std::to_string(magic) + " is not a message format";
    return version >= 3 ? ErrorCode::INVALID_RECORD : ErrorCode::CORRUPT_MESSAGE;
  }
  record::RecordSetReader reader(records);
  record::BatchView view;
  if (!reader.next(view)) {
    message =
        reader.status() ? "the record set holds no complete batch" : reader.status().message();
    return reader.status().code() == Errc::unsupported_compression ? ErrorCode::CORRUPT_MESSAGE
           : records.empty()                                       ? ErrorCode::INVALID_RECORD
                                                                   : ErrorCode::CORRUPT_MESSAGE;
  }
  if (view.header.is_control()) {
    message = "Clients are not allowed to write control records";
    return ErrorCode::INVALID_RECORD;
  }
  if (version >= 3 && version < 7 && view.header.compression() == record::Compression::zstd) {
    message = "zstd needs Produce v7 or later";
    return ErrorCode::UNSUPPORTED_COMPRESSION_TYPE;
  }
  record::BatchView extra;
  if (reader.next(extra) || reader.incomplete()) {
    message = "Produce v3+ carries exactly one record batch per partition";
    return ErrorCode::INVALID_RECORD;
  }
  return check_batch_offsets(view.header, message);
}

// Kafka's timestamp rule for a message the client marked LogAppendTime
// (LogValidator.validateTimestamp): only a CreateTime topic, and only for
// messages that carry a timestamp, lets it through.
bool client_log_append_time_refused(const record::LegacyRecords& legacy,
                                    const cluster::AppendPolicy& policy, int32_t& record_index) {
  if (!legacy.client_log_append_time) return false;
  for (size_t i = 0; i < legacy.records.size(); ++i) {
    if (policy.log_append_time || legacy.records[i].timestamp_ms == record::no_timestamp) {
      record_index = static_cast<int32_t>(i);
      return true;
    }
  }
  return false;
}

// Produce v0-2 with a legacy message set: Kafka's up-conversion to one
// batch v2 (offsets assigned by the append, the client's timestamps, the
// topic's compression.type or else the client's codec). Fills `out` with
// Kafka's error (CORRUPT_MESSAGE, INVALID_RECORD, INVALID_TIMESTAMP) and
// returns nullopt when the set is refused.
std::optional<std::vector<uint8_t>> up_convert_legacy(Bytes records,
                                                      const cluster::AppendPolicy& policy,
                                                      PartitionResponse& out) {
  auto legacy = record::read_legacy_records(records);
  if (!legacy) {
    ErrorCode error = cluster::error_code_for(legacy.status());
    if (error == ErrorCode::INVALID_RECORD)
      out.record_errors.push_back({0, legacy.status().message(), {}});
    fail(out, error, legacy.status().message());
    return std::nullopt;
  }
  int32_t record_index = 0;
  if (client_log_append_time_refused(*legacy, policy, record_index)) {
    std::string message = "Producer should not set timestamp type to LogAppendTime";
    out.record_errors.push_back({record_index, message, {}});
    fail(out, ErrorCode::INVALID_TIMESTAMP, std::move(message));
    return std::nullopt;
  }
  auto batch = record::up_convert(*legacy, policy.compression_type.value_or(legacy->compression));
  if (!batch) {
    fail(out, ErrorCode::CORRUPT_MESSAGE, batch.status().message());
    return std::nullopt;
  }
  return std::move(batch).value();
}

// One partition's batch, checked on the reactor, waiting for its lane.
struct PendingAppend {
  size_t topic_index = 0;
  size_t partition_index = 0;
  size_t lane = 0;
  std::shared_ptr<cluster::Partition> partition;
  // Into the request frame (kept by the job's context), or into `converted`.
  std::span<uint8_t> records;
  std::shared_ptr<std::vector<uint8_t>> converted;  // a legacy set up-converted
  size_t bytes_in = 0;                              // as the client sent them
  // acks=all: the high watermark the batch needs (set by its lane; -1: none).
  int64_t replicate_to = -1;
  int32_t replicate_in_epoch = -1;  // the leader epoch of that append
};

// One Produce request on its way through the append lanes. Each lane writes
// only the response slots of its own partitions; the last one to finish
// (`remaining`, acquire-release) reads them all and answers.
struct ProduceJob {
  Broker& broker;
  RequestContext context;
  ProduceRequest request;  // its record views point into context.frame()
  ProduceResponse response;
  int16_t acks = 1;
  std::vector<PendingAppend> appends;  // grouped by lane, request order within one
  // Lanes still appending + flushes not yet answered (acks=all).
  std::atomic<size_t> remaining{0};
  std::atomic<bool> any_error{false};

  ProduceJob(Broker& b, RequestContext c, ProduceRequest r)
      : broker(b), context(std::move(c)), request(std::move(r)) {}
};

// Checks one partition's batch on the reactor: fills `out` and returns
// nullopt when refused, else what its lane must append.
std::optional<PendingAppend> check_partition(Broker& broker, const std::string& topic,
                                             const ProduceRequest::PartitionProduceData& data,
                                             int16_t version, PartitionResponse& out) {
  out.index = data.index;
  // Internal topics hold the coordinators' state, written only by them
  // (Kafka: "Cannot append to internal topic", without a custom message).
  if (cluster::is_internal_topic(topic)) {
    fail(out, ErrorCode::INVALID_TOPIC_EXCEPTION);
    return std::nullopt;
  }
  auto partition = broker.replica_manager().partition(topic, data.index);
  if (!partition) {
    fail(out, missing_partition_error(*broker.replica_manager().image(), topic, data.index));
    return std::nullopt;
  }
  PendingAppend pending;
  Bytes bytes = data.records ? data.records->bytes : Bytes{};
  pending.bytes_in = bytes.size();
  // The batch headers are rewritten in place (offsets, epoch). The frame's
  // bytes are ours: the vector was moved into the context and nothing else
  // reads them, so dropping the const of the view is safe.
  pending.records = std::span<uint8_t>(const_cast<uint8_t*>(bytes.data()), bytes.size());
  if (version < 3 && record::is_legacy_message_set(bytes)) {
    auto converted = up_convert_legacy(bytes, partition->append_policy(), out);
    if (!converted) return std::nullopt;
    pending.converted = std::make_shared<std::vector<uint8_t>>(std::move(*converted));
    pending.records = *pending.converted;
  } else {
    std::string message;
    if (ErrorCode error = check_record_set(bytes, version, message); error != ErrorCode::NONE) {
      fail(out, error, std::move(message));
      return std::nullopt;
    }
  }
  pending.partition = std::move(partition);
  pending.lane = broker.append_lane(topic, data.index);
  return pending;
}

// KIP-951: v10+ answers name the current leader of each partition this
// broker does not lead (leader_hints.h).
void reply_with_hints(Broker& broker, RequestContext& context, ProduceResponse& response) {
  add_leader_hints(broker, context.connection().listener_name, context.api_version(), response);
  context.reply(response);
}

// On the lane, or (all refused) on the reactor: the answer, once.
void finish(ProduceJob& job) {
  RequestContext& context = job.context;
  const bool any_error = job.any_error.load(std::memory_order_acquire);
  if (job.acks == 0) {
    if (!any_error) return context.reply_none();
    spdlog::info("closing connection {} from {}: an acks=0 produce request failed",
                 context.connection().connection_id, context.connection().peer_address);
    return context.close_connection();
  }
  if (any_error) context.note_error();
  // acks=all waits for the ISR to have each batch (replication.h). Every
  // lane is done here, so the slots its appends set are read safely.
  std::vector<ReplicationTarget> targets;
  for (const PendingAppend& pending : job.appends)
    if (pending.replicate_to >= 0)
      targets.push_back({pending.topic_index, pending.partition_index, pending.partition,
                         pending.replicate_to, pending.replicate_in_epoch});
  if (targets.empty()) return reply_with_hints(job.broker, context, job.response);
  answer_when_replicated(job.broker, std::move(context), std::move(job.response),
                         std::move(targets), job.request.timeout_ms,
                         [&broker = job.broker](RequestContext context, ProduceResponse response) {
                           reply_with_hints(broker, context, response);
                         });
}

void complete_one(const std::shared_ptr<ProduceJob>& job) {
  if (job->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) finish(*job);
}

// acks=all: the answer waits for the flusher to make the data durable.
void flush_before_answer(const std::shared_ptr<ProduceJob>& job, const PendingAppend& pending,
                         int64_t up_to_offset) {
  job->remaining.fetch_add(1, std::memory_order_relaxed);  // before this lane's own completion
  auto done = [job, topic = pending.topic_index,
               partition = pending.partition_index](Status status) {
    if (!status) {
      PartitionResponse& out = job->response.responses[topic].partition_responses[partition];
      fail(out,
           status.code() == Errc::offset_out_of_range ? ErrorCode::NOT_LEADER_OR_FOLLOWER
                                                      : ErrorCode::KAFKA_STORAGE_ERROR,
           status.message());
      job->any_error.store(true, std::memory_order_release);
    }
    complete_one(job);
  };
  job->broker.log_manager().flusher().request_flush(pending.partition->managed_log(), up_to_offset,
                                                    std::move(done));
}

// On the append lane: one partition's append.
void append_one(const std::shared_ptr<ProduceJob>& job, PendingAppend& pending) {
  PartitionResponse& out =
      job->response.responses[pending.topic_index].partition_responses[pending.partition_index];
  cluster::Partition& partition = *pending.partition;
  cluster::PartitionAppendResult appended =
      partition.append_as_leader(pending.records, job->acks, wall_clock_ms());
  if (appended.error != ErrorCode::NONE) {
    if (appended.record_error_index)
      out.record_errors.push_back({*appended.record_error_index, appended.error_message, {}});
    fail(out, appended.error, std::move(appended.error_message));
    job->any_error.store(true, std::memory_order_relaxed);
    return;
  }
  if (!appended.duplicate) {
    const cluster::TopicMetrics& metrics = partition.metrics();
    metrics.bytes_in->inc(pending.bytes_in);
    metrics.messages_in->inc(static_cast<uint64_t>(appended.next_offset - appended.base_offset));
  }
  out.base_offset = appended.base_offset;
  out.log_append_time_ms = appended.log_append_time_ms;
  out.log_start_offset = appended.log_start_offset;
  if (job->acks == -1 && partition.high_watermark() < appended.next_offset) {
    pending.replicate_to = appended.next_offset;
    pending.replicate_in_epoch = appended.leader_epoch;
  }
  if (job->acks == -1 && job->broker.config().produce_fsync)
    flush_before_answer(job, pending, appended.next_offset);
  else if (appended.flush_due)
    job->broker.log_manager().flusher().request_flush(partition.managed_log(), appended.next_offset,
                                                      {});
}

// On the append lane: its partitions of the request, in request order.
void append_on_lane(const std::shared_ptr<ProduceJob>& job, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) append_one(job, job->appends[i]);
  complete_one(job);
}

// One task per lane the request touches (the appends are grouped by lane).
void hand_to_lanes(const std::shared_ptr<ProduceJob>& job) {
  std::vector<PendingAppend>& appends = job->appends;
  std::stable_sort(appends.begin(), appends.end(),
                   [](const PendingAppend& a, const PendingAppend& b) { return a.lane < b.lane; });
  size_t lanes = 0;
  for (size_t i = 0; i < appends.size(); ++i)
    if (i == 0 || appends[i].lane != appends[i - 1].lane) ++lanes;
  job->remaining.store(lanes, std::memory_order_relaxed);
  LanePool& pool = job->broker.appends();
  for (size_t begin = 0; begin < appends.size();) {
    size_t end = begin + 1;
    while (end < appends.size() && appends[end].lane == appends[begin].lane) ++end;
    pool.post(appends[begin].lane, [job, begin, end] { append_on_lane(job, begin, end); });
    begin = end;
  }
}

}  // namespace

void handle_produce(Broker& broker, RequestContext context, ProduceRequest request) {
  const int16_t version = context.api_version();
  auto job = std::make_shared<ProduceJob>(broker, std::move(context), std::move(request));
  job->acks = job->request.acks;
  const bool acks_valid = job->acks == 0 || job->acks == 1 || job->acks == -1;
  ProduceResponse& response = job->response;
  bool any_error = false;
  response.responses.reserve(job->request.topic_data.size());
  for (size_t t = 0; t < job->request.topic_data.size(); ++t) {
    const auto& topic = job->request.topic_data[t];
    auto& topic_out = response.responses.emplace_back();
    topic_out.name = topic.name;
    topic_out.partition_responses.resize(topic.partition_data.size());
    for (size_t p = 0; p < topic.partition_data.size(); ++p) {
      PartitionResponse& out = topic_out.partition_responses[p];
      if (!acks_valid) {
        out.index = topic.partition_data[p].index;
        fail(out, ErrorCode::INVALID_REQUIRED_ACKS);
      } else if (auto pending =
                     check_partition(broker, topic.name, topic.partition_data[p], version, out)) {
        pending->topic_index = t;
        pending->partition_index = p;
        job->appends.push_back(std::move(*pending));
      }
      any_error = any_error || out.error_code != 0;
    }
  }
  job->any_error.store(any_error, std::memory_order_relaxed);
  if (job->appends.empty()) return finish(*job);
  hand_to_lanes(job);
}

}  // namespace sluice::broker

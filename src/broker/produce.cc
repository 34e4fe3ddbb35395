// Produce. v3+ carries one record batch v2 per partition; v0-2 may also
// carry legacy message sets (magic 0/1), converted here to one batch v2
// before the append, as Kafka's broker does (record/legacy_convert.h).
// Appends happen here, in request
// order, inside the handler call (net/request.h); only the answer of an
// acks=all request waits, for the group-commit flusher when
// sluice.produce.fsync is on (DESIGN.md "Durability"). acks=0 gets no
// answer, and a connection whose acks=0 request failed is closed, as Kafka
// does, so the producer notices.
#include <spdlog/spdlog.h>

#include <chrono>

#include "broker/broker.h"
#include "broker/handlers.h"
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
    message = reader.status() ? "the record set holds no complete batch" : reader.status().message();
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

// An acks=all answer waiting for its partitions to be durable.
struct DurableWait {
  std::mutex mutex;
  RequestContext context;
  ProduceResponse response;
  size_t remaining = 0;
  explicit DurableWait(RequestContext c) : context(std::move(c)) {}
};

struct Flushed {
  size_t topic_index;
  size_t partition_index;
  std::shared_ptr<storage::ManagedLog> log;
  int64_t up_to_offset;
};

void produce_partition(Broker& broker, const std::string& topic,
                       const ProduceRequest::PartitionProduceData& data, int16_t acks,
                       int16_t version, PartitionResponse& out, std::vector<Flushed>& to_flush,
                       size_t topic_index, size_t partition_index,
                       std::vector<ReplicationTarget>& to_replicate) {
  out.index = data.index;
  // Internal topics hold the coordinators' state, written only by them
  // (Kafka: "Cannot append to internal topic", without a custom message).
  if (cluster::is_internal_topic(topic)) return fail(out, ErrorCode::INVALID_TOPIC_EXCEPTION);
  auto partition = broker.replica_manager().partition(topic, data.index);
  if (!partition) return fail(out, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  Bytes bytes = data.records ? data.records->bytes : Bytes{};
  // The batch headers are rewritten in place (offsets, epoch). The frame's
  // bytes are ours: the vector was moved into the context and nothing else
  // reads them, so dropping the const of the view is safe.
  std::span<uint8_t> records(const_cast<uint8_t*>(bytes.data()), bytes.size());
  std::optional<std::vector<uint8_t>> converted;
  if (version < 3 && record::is_legacy_message_set(bytes)) {
    converted = up_convert_legacy(bytes, partition->append_policy(), out);
    if (!converted) return;
    records = *converted;
  } else {
    std::string message;
    if (ErrorCode error = check_record_set(bytes, version, message); error != ErrorCode::NONE)
      return fail(out, error, std::move(message));
  }
  cluster::PartitionAppendResult appended = partition->append_as_leader(records, acks, wall_clock_ms());
  if (appended.error != ErrorCode::NONE) {
    if (appended.record_error_index)
      out.record_errors.push_back({*appended.record_error_index, appended.error_message, {}});
    return fail(out, appended.error, std::move(appended.error_message));
  }
  const cluster::TopicMetrics& metrics = partition->metrics();
  metrics.bytes_in->inc(bytes.size());
  metrics.messages_in->inc(static_cast<uint64_t>(appended.next_offset - appended.base_offset));
  out.base_offset = appended.base_offset;
  out.log_append_time_ms = appended.log_append_time_ms;
  out.log_start_offset = appended.log_start_offset;
  // acks=all waits for the ISR to have the batch (replication.h).
  if (acks == -1 && partition->high_watermark() < appended.next_offset)
    to_replicate.push_back({topic_index, partition_index, partition, appended.next_offset});
  const auto& log = partition->managed_log();
  if (acks == -1 && broker.config().produce_fsync)
    to_flush.push_back({topic_index, partition_index, log, appended.next_offset});
  else if (appended.flush_due)
    broker.log_manager().flusher().request_flush(log, appended.next_offset, {});
}

void answer_when_durable(Broker& broker, RequestContext context, ProduceResponse response,
                         std::vector<Flushed> to_flush) {
  auto wait = std::make_shared<DurableWait>(std::move(context));
  wait->response = std::move(response);
  wait->remaining = to_flush.size();
  for (Flushed& flushed : to_flush) {
    auto done = [wait, topic = flushed.topic_index, partition = flushed.partition_index](Status status) {
      std::lock_guard lock(wait->mutex);
      if (!status) {
        wait->context.note_error();
        PartitionResponse& out = wait->response.responses[topic].partition_responses[partition];
        fail(out, status.code() == Errc::offset_out_of_range ? ErrorCode::NOT_LEADER_OR_FOLLOWER
                                                             : ErrorCode::KAFKA_STORAGE_ERROR,
             status.message());
      }
      if (--wait->remaining == 0) wait->context.reply(wait->response);
    };
    broker.log_manager().flusher().request_flush(std::move(flushed.log), flushed.up_to_offset, std::move(done));
  }
}

}  // namespace

void handle_produce(Broker& broker, RequestContext context, ProduceRequest request) {
  const int16_t version = context.api_version();
  const int16_t acks = request.acks;
  ProduceResponse response;
  std::vector<Flushed> to_flush;
  std::vector<ReplicationTarget> to_replicate;
  bool any_error = false;
  response.responses.reserve(request.topic_data.size());
  for (size_t t = 0; t < request.topic_data.size(); ++t) {
    const auto& topic = request.topic_data[t];
    auto& topic_out = response.responses.emplace_back();
    topic_out.name = topic.name;
    topic_out.partition_responses.resize(topic.partition_data.size());
    for (size_t p = 0; p < topic.partition_data.size(); ++p) {
      PartitionResponse& out = topic_out.partition_responses[p];
      if (acks != 0 && acks != 1 && acks != -1) {
        out.index = topic.partition_data[p].index;
        fail(out, ErrorCode::INVALID_REQUIRED_ACKS);
      } else {
        produce_partition(broker, topic.name, topic.partition_data[p], acks, version, out, to_flush,
                          t, p, to_replicate);
      }
      any_error = any_error || out.error_code != 0;
    }
  }
  if (acks == 0) {
    if (!any_error) return context.reply_none();
    spdlog::info("closing connection {} from {}: an acks=0 produce request failed",
                 context.connection().connection_id, context.connection().peer_address);
    return context.close_connection();
  }
  if (any_error) context.note_error();
  if (!to_replicate.empty()) {
    auto then = [&broker, to_flush = std::move(to_flush)](RequestContext context,
                                                          ProduceResponse response) mutable {
      if (to_flush.empty()) return context.reply(response);
      answer_when_durable(broker, std::move(context), std::move(response), std::move(to_flush));
    };
    return answer_when_replicated(broker, std::move(context), std::move(response),
                                  std::move(to_replicate), request.timeout_ms, std::move(then));
  }
  if (to_flush.empty()) return context.reply(response);
  answer_when_durable(broker, std::move(context), std::move(response), std::move(to_flush));
}

}  // namespace sluice::broker

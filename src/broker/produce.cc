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
//
// KIP-890 (transaction.partition.verification.enable): a transactional
// batch for a partition where its producer has no ongoing transaction is
// not appended at once. Its lane takes a verification guard from the
// partition's producer state (Kafka's maybeStartTransactionVerification)
// and leaves it; once every lane is done, the request's waiting partitions
// go to the transaction coordinator in one verification (txn::TxnVerifier,
// its own thread: no reactor or lane waits for it), and when the answer
// comes the verified partitions are handed to their lanes again and
// appended with their guard (a marker in between makes that append fail
// INVALID_TXN_STATE); the others get Kafka's errors
// (txn::produce_error_for_verification). Produce v12 (transactions v2)
// asks the coordinator to add the partitions instead (KIP-890 part 2).
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
#include "txn/txn_verifier.h"

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

// Where a partition's batch is on its way (KIP-890 adds the middle two).
enum class AppendStage {
  append,             // appended by the first round of lanes
  await_coordinator,  // its lane took a guard: waits for the verification
  verified,           // appended by the second round, with its guard
  done,               // appended, or refused
};

// A transactional batch's producer, read on the reactor (v3+ batches).
struct TxnBatch {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
};

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
  AppendStage stage = AppendStage::append;
  // Set when the batch is transactional and verification is on.
  std::optional<TxnBatch> txn;
  storage::AppendVerification verification;
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
  // Read and written only by whoever brings `remaining` to 0.
  bool verification_sent = false;

  ProduceJob(Broker& b, RequestContext c, ProduceRequest r)
      : broker(b), context(std::move(c)), request(std::move(r)) {}
};

// Checks one partition's batch on the reactor: fills `out` and returns
// nullopt when refused, else what its lane must append.
// A transactional batch that KIP-890 verification applies to: its producer.
std::optional<TxnBatch> txn_batch_of(Bytes records) {
  auto header = record::read_batch_header(records);
  if (!header || !header->is_transactional() || header->producer_id < 0) return std::nullopt;
  return TxnBatch{header->producer_id, header->producer_epoch, header->base_sequence};
}

// `verify_txn`: the request is transactional and verification is on.
std::optional<PendingAppend> check_partition(Broker& broker, const std::string& topic,
                                             const ProduceRequest::PartitionProduceData& data,
                                             int16_t version, bool verify_txn,
                                             PartitionResponse& out) {
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
    if (verify_txn) pending.txn = txn_batch_of(bytes);
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

void send_verification(const std::shared_ptr<ProduceJob>& job);

// The last lane (or flush) of a round: the verification's round next, if
// any partition waits for it, else the answer.
void complete_one(const std::shared_ptr<ProduceJob>& job) {
  if (job->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (!job->verification_sent)
    for (const PendingAppend& pending : job->appends)
      if (pending.stage == AppendStage::await_coordinator) return send_verification(job);
  finish(*job);
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

PartitionResponse& response_of(ProduceJob& job, const PendingAppend& pending) {
  return job.response.responses[pending.topic_index].partition_responses[pending.partition_index];
}

// On the append lane, first round: a transactional batch whose producer
// has no transaction ongoing here takes a guard and waits for the
// coordinator (Kafka's maybeStartTransactionVerificationForPartition).
// False when the batch is not appended now.
bool start_verification(ProduceJob& job, PendingAppend& pending) {
  if (!pending.txn || pending.stage != AppendStage::append) return true;
  const TxnBatch& batch = *pending.txn;
  auto started = pending.partition->start_txn_verification(batch.producer_id, batch.base_sequence,
                                                           batch.producer_epoch, wall_clock_ms());
  if (started.error != ErrorCode::NONE) {
    fail(response_of(job, pending), started.error);
    job.any_error.store(true, std::memory_order_relaxed);
    pending.stage = AppendStage::done;
    return false;
  }
  pending.verification = {true, started.guard};
  if (started.guard == storage::no_verification_guard) return true;  // ongoing already
  pending.stage = AppendStage::await_coordinator;
  return false;
}

// On the append lane: one partition's append.
void append_one(const std::shared_ptr<ProduceJob>& job, PendingAppend& pending) {
  if (!start_verification(*job, pending)) return;
  pending.stage = AppendStage::done;
  PartitionResponse& out = response_of(*job, pending);
  cluster::Partition& partition = *pending.partition;
  cluster::PartitionAppendResult appended =
      partition.append_as_leader(pending.records, job->acks, wall_clock_ms(),
                                 storage::AppendOrigin::client, pending.verification);
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

// On the append lane: its partitions of the request in `stage`, in
// request order.
void append_on_lane(const std::shared_ptr<ProduceJob>& job, size_t begin, size_t end,
                    AppendStage stage) {
  for (size_t i = begin; i < end; ++i)
    if (job->appends[i].stage == stage) append_one(job, job->appends[i]);
  complete_one(job);
}

// One task per lane that has partitions in `stage` (the appends are
// grouped by lane: hand_to_lanes sorted them).
void post_round(const std::shared_ptr<ProduceJob>& job, AppendStage stage) {
  const std::vector<PendingAppend>& appends = job->appends;
  std::vector<std::pair<size_t, size_t>> tasks;  // [begin, end) of one lane
  for (size_t begin = 0; begin < appends.size();) {
    size_t end = begin + 1;
    while (end < appends.size() && appends[end].lane == appends[begin].lane) ++end;
    for (size_t i = begin; i < end; ++i)
      if (appends[i].stage == stage) {
        tasks.emplace_back(begin, end);
        break;
      }
    begin = end;
  }
  if (tasks.empty()) return finish(*job);
  job->remaining.store(tasks.size(), std::memory_order_release);
  LanePool& pool = job->broker.appends();
  for (const auto& [first, last] : tasks) {
    // Plain copies: clang before 16 (clang-tidy here) cannot capture structured bindings.
    size_t begin = first;
    size_t end = last;
    pool.post(appends[begin].lane,
              [job, begin, end, stage] { append_on_lane(job, begin, end, stage); });
  }
}

void hand_to_lanes(const std::shared_ptr<ProduceJob>& job) {
  std::stable_sort(job->appends.begin(), job->appends.end(),
                   [](const PendingAppend& a, const PendingAppend& b) { return a.lane < b.lane; });
  post_round(job, AppendStage::append);
}

// Kafka's postVerificationCallback: the coordinator's refusals answered as
// Produce errors, the verified partitions appended with their guards.
void on_verified(const std::shared_ptr<ProduceJob>& job, const txn::TxnVerificationErrors& errors) {
  const ProduceRequest& request = job->request;
  for (PendingAppend& pending : job->appends) {
    if (pending.stage != AppendStage::await_coordinator) continue;
    const std::string& topic = request.topic_data[pending.topic_index].name;
    const int32_t index =
        request.topic_data[pending.topic_index].partition_data[pending.partition_index].index;
    auto error = errors.find({topic, index});
    if (error == errors.end()) {
      pending.stage = AppendStage::verified;
      continue;
    }
    pending.stage = AppendStage::done;
    const ErrorCode code = txn::produce_error_for_verification(error->second);
    std::string message;
    if (code == ErrorCode::INVALID_TXN_STATE)
      message = "Partition was not added to the transaction";
    else if (code != error->second)
      message = fmt::format(
          "Unable to verify the partition has been added to the transaction. Underlying error: {}",
          error_name(error->second));
    fail(response_of(*job, pending), code, std::move(message));
    job->any_error.store(true, std::memory_order_relaxed);
  }
  post_round(job, AppendStage::verified);
}

// One verification for the request's waiting partitions (one producer:
// a Produce carries one transactional id).
void send_verification(const std::shared_ptr<ProduceJob>& job) {
  job->verification_sent = true;
  const ProduceRequest& request = job->request;
  const int16_t version = job->context.api_version();
  txn::TxnVerification verification;
  verification.transactional_id = request.transactional_id.value_or("");
  verification.add_partitions = version >= 12;
  verification.abortable_error_supported = version >= 11;
  for (const PendingAppend& pending : job->appends) {
    if (pending.stage != AppendStage::await_coordinator) continue;
    verification.producer_id = pending.txn->producer_id;
    verification.producer_epoch = pending.txn->producer_epoch;
    verification.partitions.push_back(
        {request.topic_data[pending.topic_index].name,
         request.topic_data[pending.topic_index].partition_data[pending.partition_index].index});
  }
  job->broker.txn_verifier().verify(
      std::move(verification),
      [job](txn::TxnVerificationErrors errors) { on_verified(job, errors); });
}

// Kafka's handleProduceAppend refuses transactional batches of more than
// one producer in one request (one verification names one producer):
// INVALID_PRODUCER_ID_MAPPING for each of them, nothing appended.
bool refuse_mixed_producers(ProduceJob& job) {
  std::optional<int64_t> producer_id;
  bool mixed = false;
  for (const PendingAppend& pending : job.appends)
    if (pending.txn) {
      mixed = mixed || (producer_id && *producer_id != pending.txn->producer_id);
      producer_id = pending.txn->producer_id;
    }
  if (!mixed) return false;
  std::erase_if(job.appends, [&job](const PendingAppend& pending) {
    if (!pending.txn) return false;
    fail(response_of(job, pending), ErrorCode::INVALID_PRODUCER_ID_MAPPING,
         "Transactional records contained more than one producer ID");
    return true;
  });
  return true;
}

}  // namespace

void handle_produce(Broker& broker, RequestContext context, ProduceRequest request) {
  const int16_t version = context.api_version();
  auto job = std::make_shared<ProduceJob>(broker, std::move(context), std::move(request));
  job->acks = job->request.acks;
  // Kafka's produce quota counts the whole request (acks=0 too: the
  // connection is muted though nothing is answered).
  if (broker.quotas().produce.enabled())
    job->context.throttle(broker.quotas().produce.record(
        quota_client_of(job->context), static_cast<double>(job->context.frame()->size()),
        quota_clock_ms()));
  // Kafka verifies only requests naming their transactional id.
  const bool verify_txn =
      broker.config().transaction_partition_verification && job->request.transactional_id;
  const bool acks_valid = job->acks == 0 || job->acks == 1 || job->acks == -1;
  // Kafka: a transactional Produce needs WRITE on its transactional id (every
  // partition then fails), and each topic WRITE on the topic.
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo& connection = job->context.connection();
  const bool txn_denied = job->request.transactional_id &&
                          !authorization.allows(connection, security::AclOperation::WRITE,
                                                security::ResourceType::TRANSACTIONAL_ID,
                                                *job->request.transactional_id);
  ProduceResponse& response = job->response;
  bool any_error = false;
  response.responses.reserve(job->request.topic_data.size());
  for (size_t t = 0; t < job->request.topic_data.size(); ++t) {
    const auto& topic = job->request.topic_data[t];
    auto& topic_out = response.responses.emplace_back();
    topic_out.name = topic.name;
    topic_out.partition_responses.resize(topic.partition_data.size());
    const bool topic_denied = !authorization.allows(connection, security::AclOperation::WRITE,
                                                    security::ResourceType::TOPIC, topic.name);
    for (size_t p = 0; p < topic.partition_data.size(); ++p) {
      PartitionResponse& out = topic_out.partition_responses[p];
      if (!acks_valid || txn_denied || topic_denied) {
        out.index = topic.partition_data[p].index;
        fail(out, !acks_valid  ? ErrorCode::INVALID_REQUIRED_ACKS
                  : txn_denied ? ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                               : ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      } else if (auto pending = check_partition(broker, topic.name, topic.partition_data[p],
                                                version, verify_txn, out)) {
        pending->topic_index = t;
        pending->partition_index = p;
        job->appends.push_back(std::move(*pending));
      }
      any_error = any_error || out.error_code != 0;
    }
  }
  any_error = refuse_mixed_producers(*job) || any_error;
  job->any_error.store(any_error, std::memory_order_relaxed);
  if (job->appends.empty()) return finish(*job);
  hand_to_lanes(job);
}

}  // namespace sluice::broker

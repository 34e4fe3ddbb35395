// Fetch (topic ids from v13): consumers read whole batches below the high
// watermark. Clients of v0-3 cannot read record batches v2: their
// partitions are read into memory and down-converted to message sets of
// magic 0 (v0-1) or 1 (v2-3) (record/legacy_convert.h), unless the topic's
// message.downconversion.enable is false (UNSUPPORTED_VERSION, as Kafka);
// v4+ keeps the zero-copy path below. A fetch with less than min_bytes
// available parks as a delayed operation (DelayedFetch) woken by appends to
// its partitions or by its max_wait_ms deadline. Incremental sessions
// (KIP-227) in fetch_session.h. Followers' fetches: replication.cc.
//
// Bytes: the log hands out file ranges. Ranges of at least
// WireWriter::external_threshold_bytes go out with sendfile (net::FileSlice):
// page cache to socket with no user-space copy, which took the broker's CPU
// for a 1 KiB consume from ~24 to ~18 ticks per 500 MB (bench/RESULTS.md).
// Smaller ranges, and files without a descriptor (the in-memory file system),
// are pread into one buffer the response owns.
//
// No reactor waits on a disk (issue 13): on a reactor (and on the timer
// thread) the logs are read with ReadWait::nowait, small ranges with
// File::pread_nowait, and a sendfile range is checked to be in the page cache
// (File::cached) first. When a page is not there, the step (the look at the
// logs, or the answer) moves to the broker's fetch-read threads
// (Broker::fetch_reads), which bring the pages in with no partition lock held
// (ReadResult::cold), read cold sendfile ranges into memory instead, and do
// the down-conversion of Fetch v0-3. Counted in
// sluice_fetch_reads_offloaded_total{reason}.
#include <atomic>
#include <chrono>
#include <map>

#include "base/metrics.h"
#include "base/task_pool.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"
#include "broker/replication.h"
#include "record/legacy_convert.h"

namespace sluice::broker {
namespace {

using protocol::FetchRequest;
using protocol::FetchResponse;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One partition of the fetch, resolved once at request time.
struct PlannedPartition {
  FetchPartitionRequest request;
  std::shared_ptr<cluster::Partition> partition;  // null: unknown
  ErrorCode unknown_error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  // KIP-392: the replica this leader sends the consumer to (-1: none);
  // nothing is read, the answer carries offsets and PreferredReadReplica.
  int32_t preferred_read_replica = -1;
};

struct Collected {
  std::vector<cluster::PartitionReadResult> reads;
  uint64_t bytes = 0;
  bool any_error = false;
  storage::FileRange cold;  // length > 0: a read needed pages not cached; the rest is incomplete
  bool busy = false;        // a partition lock was held (an append writing); the rest is incomplete
  bool preferred = false;   // a partition names a preferred read replica: answer at once (Kafka)
};

// Where a step of a fetch runs. A reactor (or the timer thread, which serves
// every deadline) never waits on a device; a fetch-read worker may.
enum class Thread { reactor, worker };

// How many times a worker brings a cold range in and looks again before it
// reads with the partition lock held (pages evicted again at once: a machine
// short of memory).
constexpr int cold_retries = 4;

metrics::Counter& offloaded(const char* reason) {
  static auto& family = metrics::default_registry().counter_family(
      "sluice_fetch_reads_offloaded_total",
      "Fetch steps moved off a reactor to the fetch-read threads: a header (cold_header) or a "
      "range "
      "(cold_range) not in the page cache, a partition lock held by an append (partition_busy), "
      "or a down-conversion for Fetch v0-3 (down_conversion).",
      {"reason"});
  return family.labels({reason});
}

// Reads `range` (with no lock held) so that its pages are in the page cache.
void bring_in(const storage::FileRange& range) {
  thread_local std::vector<uint8_t> scratch(1 << 20);
  for (uint64_t done = 0; done < range.length;) {
    std::span<uint8_t> out(scratch.data(), std::min<uint64_t>(scratch.size(), range.length - done));
    auto n = range.file->pread(range.position + done, out);
    if (!n || *n == 0) return;  // an error shows again on the real read
    done += *n;
  }
}

class DelayedFetch final : public DelayedOperation,
                           public cluster::AppendWaiter,
                           public std::enable_shared_from_this<DelayedFetch> {
 public:
  DelayedFetch(Broker& broker, RequestContext context, FetchSessionContext session,
               std::vector<PlannedPartition> plan, int32_t min_bytes, uint64_t max_bytes,
               int16_t version)
      : broker_(broker),
        context_(std::move(context)),
        session_(std::move(session)),
        plan_(std::move(plan)),
        min_bytes_(min_bytes),
        max_bytes_(max_bytes),
        version_(version),
        topic_ids_(version >= 13),
        legacy_magic_(legacy_magic_for(version)) {}

  // Fetch v4+ isolation_level 1 (READ_COMMITTED): reads stop at the last
  // stable offset and answer the aborted transactions they overlap.
  void set_read_committed(bool read_committed) { read_committed_ = read_committed; }

  // Answers now if enough is there (or nothing can arrive); else parks.
  // Called on the request's reactor.
  void start(int32_t max_wait_ms) {
    max_wait_ms_ = max_wait_ms;
    look(Step::start, Thread::reactor);
  }

  // Called by whoever appended: a reactor serving another connection, or
  // the flusher's thread. The look at the logs (partition locks, header and
  // small-range preads) and the encoding run on this fetch's own reactor,
  // not on theirs. One pending wake-up is enough: it looks at everything
  // appended until it runs.
  void on_new_data() override {
    if (done()) return;
    const std::shared_ptr<net::ReactorExecutor>& reactor = context_.connection().reactor;
    if (!reactor) return look(Step::wake, Thread::reactor);  // no server (tests): on the caller
    if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
    // Weak: a task the server drops at stop must not keep the fetch (and
    // its partitions) alive past the broker.
    reactor->post([weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->wake_pending_.store(false, std::memory_order_release);
        self->look(Step::wake, Thread::reactor);
      }
    });
  }

  // On the timer thread: it must not wait on a disk either (every other
  // deadline waits behind it).
  void expire() override { look(Step::expire, Thread::reactor); }

 private:
  enum class Step { start, wake, expire };

  // Looks at the logs, then answers or parks as `step` calls for. A look
  // that needs pages not cached moves, whole, to a fetch-read worker.
  void look(Step step, Thread where) {
    if (step != Step::start && done()) return;
    Collected collected = collect(where);
    if (collected.cold.length > 0 || collected.busy) {
      offloaded(collected.busy ? "partition_busy" : "cold_header").inc();
      broker_.fetch_reads().post(
          [self = shared_from_this(), step] { self->look(step, Thread::worker); });
      return;
    }
    switch (step) {
      case Step::start:
        if (max_wait_ms_ <= 0 || ready(collected) || plan_.empty()) {
          if (claim()) answer(std::move(collected), where);
          return;
        }
        // Register first, then look again: an append between the two is seen.
        for (const PlannedPartition& planned : plan_)
          if (planned.partition) planned.partition->add_waiter(weak_from_this());
        broker_.delayed_operations().schedule(shared_from_this(),
                                              std::chrono::milliseconds(max_wait_ms_));
        return look(Step::wake, where);
      case Step::wake:
        if (ready(collected) && claim()) answer(std::move(collected), where);
        return;
      case Step::expire:
        if (claim()) answer(std::move(collected), where);
        return;
    }
  }

  bool ready(const Collected& collected) const {
    return collected.any_error || collected.preferred ||
           collected.bytes >= static_cast<uint64_t>(std::max(min_bytes_, 0));
  }

  // Kafka's limits: max_bytes over the response, partition_max_bytes each,
  // and the first batch found is returned whole even if larger (KIP-74).
  // On a reactor a cold header ends the look early (Collected::cold); a
  // worker brings the cold range in, with no lock held, and looks again.
  // A partition lock held by an append (Collected::busy) ends it early too;
  // a worker then waits for the lock.
  Collected collect(Thread where) const {
    bool wait_for_locks = false;
    for (int attempt = 0;; ++attempt) {
      const bool may_block = where == Thread::worker && (wait_for_locks || attempt >= cold_retries);
      Collected collected =
          collect_once(may_block ? storage::ReadWait::may_block : storage::ReadWait::nowait);
      if (where == Thread::reactor) return collected;
      if (collected.busy) {
        wait_for_locks = true;
        continue;
      }
      if (collected.cold.length == 0) return collected;
      bring_in(collected.cold);
    }
  }

  Collected collect_once(storage::ReadWait wait) const {
    Collected collected;
    collected.reads.resize(plan_.size());
    for (size_t i = 0; i < plan_.size(); ++i) {
      const PlannedPartition& planned = plan_[i];
      cluster::PartitionReadResult& read = collected.reads[i];
      if (!planned.partition) {
        read.error = planned.unknown_error;
      } else if (ErrorCode refused = refuse_down_conversion(*planned.partition);
                 refused != ErrorCode::NONE) {
        read.error = refused;
      } else {
        uint64_t remaining = max_bytes_ > collected.bytes ? max_bytes_ - collected.bytes : 0;
        uint64_t limit = std::min<uint64_t>(
            static_cast<uint64_t>(std::max(planned.request.max_bytes, 0)), remaining);
        // Sent to another replica: only the offsets (Kafka's fetchOffsetSnapshot).
        if (planned.preferred_read_replica >= 0) {
          limit = 0;
          collected.preferred = true;
        }
        read = planned.partition->read(Offset{planned.request.fetch_offset},
                                       LeaderEpoch{planned.request.current_leader_epoch}, limit,
                                       collected.bytes == 0, wait, read_from(), read_committed_);
        if (read.cold.length > 0 || read.busy) {
          collected.cold = read.cold;
          collected.busy = read.busy;
          return collected;
        }
      }
      collected.bytes += read.range.length;
      collected.any_error = collected.any_error || read.error != ErrorCode::NONE;
    }
    return collected;
  }

  // Kafka's FetchParams.fetchOnlyLeader: a consumer's Fetch v11+ carries
  // client metadata (KIP-392) and may be served by a follower, up to its
  // high watermark; an older one needs the leader.
  cluster::ReadFrom read_from() const {
    return version_ >= 11 ? cluster::ReadFrom::any_replica : cluster::ReadFrom::leader;
  }

  // Fetch v0-3 clients read message sets of this magic; nullopt for v4+.
  static std::optional<int8_t> legacy_magic_for(int16_t version) {
    if (version >= 4) return std::nullopt;
    return static_cast<int8_t>(version <= 1 ? 0 : 1);
  }

  // Kafka's refusals before reading for an old client: the topic disabled
  // down-conversion (UNSUPPORTED_VERSION), or stores zstd, which no message
  // format below 2 can carry (UNSUPPORTED_COMPRESSION_TYPE).
  ErrorCode refuse_down_conversion(const cluster::Partition& partition) const {
    if (!legacy_magic_) return ErrorCode::NONE;
    cluster::AppendPolicy policy = partition.append_policy();
    if (policy.compression_type == record::Compression::zstd)
      return ErrorCode::UNSUPPORTED_COMPRESSION_TYPE;
    if (!policy.message_downconversion_enable) return ErrorCode::UNSUPPORTED_VERSION;
    return ErrorCode::NONE;
  }

  // Replaces the batches read for an old client by their down-converted
  // message set, bounded by the partition's and the response's bytes left.
  void down_convert(size_t index, cluster::PartitionReadResult& read, Bytes& records,
                    uint64_t& converted_bytes,
                    std::vector<std::shared_ptr<const void>>& keep_alive) const {
    uint64_t left = max_bytes_ > converted_bytes ? max_bytes_ - converted_bytes : 0;
    uint64_t limit = std::min<uint64_t>(
        static_cast<uint64_t>(std::max(plan_[index].request.max_bytes, 0)), left);
    auto converted =
        record::down_convert(records, *legacy_magic_, plan_[index].request.fetch_offset, limit);
    if (!converted) {
      bool zstd = converted.status().code() == Errc::unsupported_compression;
      read.error = zstd ? ErrorCode::UNSUPPORTED_COMPRESSION_TYPE : ErrorCode::CORRUPT_MESSAGE;
      records = {};
      return;
    }
    auto owned = std::make_shared<std::vector<uint8_t>>(std::move(converted).value());
    records = *owned;
    converted_bytes += owned->size();
    keep_alive.push_back(std::move(owned));
  }

  // Moves the answer to a fetch-read worker (the fetch is claimed already).
  void answer_on_worker(Collected collected, const char* reason) {
    offloaded(reason).inc();
    broker_.fetch_reads().post(
        [self = shared_from_this(), collected = std::move(collected)]() mutable {
          self->answer(std::move(collected), Thread::worker);
        });
  }

  void answer(Collected collected, Thread where) {
    if (!quota_checked_) {
      quota_checked_ = true;
      if (answered_throttled(collected)) return;
    }
    // Down-conversion reads every byte into memory and rewrites it.
    if (legacy_magic_ && where == Thread::reactor)
      return answer_on_worker(std::move(collected), "down_conversion");
    std::vector<bool> by_sendfile(plan_.size());
    uint64_t pread_bytes = 0;
    for (size_t i = 0; i < plan_.size(); ++i) {
      // Batches to down-convert are read into memory first.
      const storage::FileRange& range = collected.reads[i].range;
      by_sendfile[i] = !legacy_magic_ && sendable(range);
      // sendfile would wait for pages not cached: a worker reads them.
      if (by_sendfile[i] && !range.file->cached(range.position, range.length)) {
        if (where == Thread::reactor) return answer_on_worker(std::move(collected), "cold_range");
        by_sendfile[i] = false;
      }
      if (!by_sendfile[i]) pread_bytes += range.length;
    }
    std::shared_ptr<uint8_t[]> buffer;
    if (pread_bytes > 0) buffer = std::make_shared_for_overwrite<uint8_t[]>(pread_bytes);
    std::vector<std::shared_ptr<const void>> keep_alive;
    if (buffer) keep_alive.push_back(std::shared_ptr<const void>(buffer, buffer.get()));
    std::vector<Bytes> records(plan_.size());
    uint64_t at = 0;
    for (size_t i = 0; i < plan_.size(); ++i) {
      cluster::PartitionReadResult& read = collected.reads[i];
      if (read.range.length == 0) continue;
      if (by_sendfile[i]) {
        records[i] = Bytes(net::file_slice_placeholder(), read.range.length);
        keep_alive.push_back(read.range.file);  // the descriptor stays open until sent
      } else {
        std::span<uint8_t> out(buffer.get() + at, read.range.length);
        Status status = read_fully(read.range, out, where);
        if (status.code() == Errc::would_block)
          return answer_on_worker(std::move(collected), "cold_range");
        if (!status) {
          read.error = ErrorCode::KAFKA_STORAGE_ERROR;
          continue;
        }
        records[i] = out;
        at += out.size();
      }
    }
    for (size_t i = 0; i < plan_.size(); ++i)
      if (!records[i].empty())
        plan_[i].partition->metrics().bytes_out->inc(collected.reads[i].range.length);
    uint64_t converted_bytes = 0;
    for (size_t i = 0; legacy_magic_ && i < plan_.size(); ++i)
      if (!records[i].empty())
        down_convert(i, collected.reads[i], records[i], converted_bytes, keep_alive);
    std::vector<FetchPartitionState> states(plan_.size());
    for (size_t i = 0; i < plan_.size(); ++i) {
      const auto& read = collected.reads[i];
      // A preferred read replica is always sent, as Kafka's fetch session does.
      const bool must_send = !records[i].empty() || plan_[i].preferred_read_replica >= 0;
      states[i] = {read.error, must_send, read.high_watermark, read.last_stable_offset,
                   read.log_start_offset};
    }
    std::vector<bool> include = broker_.fetch_sessions().complete(session_, states);
    FetchResponse response;
    response.session_id = session_.session_id;
    std::vector<net::FileSlice> file_slices;  // in the order the response encodes them
    for (size_t i = 0; i < plan_.size(); ++i) {
      if (!include[i]) continue;
      if (by_sendfile[i] && !records[i].empty()) {
        const storage::FileRange& range = collected.reads[i].range;
        file_slices.push_back(
            {range.file->native_handle(), static_cast<int64_t>(range.position), range.length});
      }
      const FetchPartitionKey& key = plan_[i].request.key;
      bool same_topic = !response.responses.empty() &&
                        (topic_ids_ ? response.responses.back().topic_id == key.topic_id
                                    : response.responses.back().topic == key.topic);
      if (!same_topic) {
        auto& topic = response.responses.emplace_back();
        topic.topic = key.topic;
        topic.topic_id = key.topic_id;
      }
      response.responses.back().partitions.push_back(
          partition_data(key.partition, collected.reads[i], records[i], version_));
      response.responses.back().partitions.back().preferred_read_replica =
          plan_[i].preferred_read_replica;
    }
    for (const auto& read : collected.reads)
      if (read.error != ErrorCode::NONE) context_.note_error();
    add_leader_hints(broker_, context_.connection().listener_name, version_, response);
    context_.reply(response, std::move(keep_alive), std::move(file_slices));
  }

  // The fetch quota (consumer_byte_rate): a client already over it gets an
  // empty answer (nothing counted, the session unchanged) carrying its
  // throttle time, as Kafka answers a throttled fetch; otherwise the bytes
  // about to be sent are counted and the answer carries the throttle they
  // cause. Either way the connection then waits out the throttle. Deciding
  // before counting means an answer larger than the quota allows at once
  // (one batch above it) is still sent, then paid for by the wait.
  bool answered_throttled(const Collected& collected) {
    QuotaManager& quota = broker_.quotas().fetch;
    if (!quota.enabled()) return false;
    const QuotaClient client = quota_client_of(context_);
    const int64_t now = quota_clock_ms();
    if (const int32_t throttle = quota.throttle_ms(client, now); throttle > 0) {
      context_.throttle(throttle);
      FetchResponse response;
      response.session_id = session_.session_id;
      context_.reply(response);
      return true;
    }
    double bytes = 0;
    for (const auto& read : collected.reads) bytes += static_cast<double>(read.range.length);
    context_.throttle(quota.record(client, bytes, now));
    return false;
  }

  static FetchResponse::PartitionData partition_data(int32_t index,
                                                     const cluster::PartitionReadResult& read,
                                                     Bytes records, int16_t version) {
    FetchResponse::PartitionData data;
    data.partition_index = index;
    // Clients of v0-5 do not know KAFKA_STORAGE_ERROR; Kafka tells them
    // NOT_LEADER_OR_FOLLOWER, after which they look for the leader again.
    bool storage_error_unknown = version <= 5 && read.error == ErrorCode::KAFKA_STORAGE_ERROR;
    data.error_code =
        to_wire(storage_error_unknown ? ErrorCode::NOT_LEADER_OR_FOLLOWER : read.error);
    data.high_watermark = read.high_watermark;
    data.last_stable_offset = read.last_stable_offset;
    data.log_start_offset = read.log_start_offset;
    data.aborted_transactions = aborted_transactions(read);
    data.records = protocol::Records{records, nullptr};
    return data;
  }

  // Kafka answers null for read_uncommitted, the list (maybe empty) for
  // read_committed.
  static std::optional<std::vector<FetchResponse::AbortedTransaction>> aborted_transactions(
      const cluster::PartitionReadResult& read) {
    if (!read.aborted_txns) return std::nullopt;
    std::vector<FetchResponse::AbortedTransaction> out;
    out.reserve(read.aborted_txns->size());
    for (const storage::AbortedTxn& txn : *read.aborted_txns) {
      auto& entry = out.emplace_back();
      entry.producer_id = txn.producer_id;
      entry.first_offset = txn.first_offset;
    }
    return out;
  }

  // Ranges of real files large enough to be referenced rather than copied
  // into the body go out with sendfile; small ones are cheaper to pread.
  static bool sendable(const storage::FileRange& range) { return zero_copy_sendable(range); }

  // On a reactor: Errc::would_block when a page is not cached.
  static Status read_fully(const storage::FileRange& range, std::span<uint8_t> out, Thread where) {
    size_t done = 0;
    while (done < out.size()) {
      auto n = where == Thread::reactor
                   ? range.file->pread_nowait(range.position + done, out.subspan(done))
                   : range.file->pread(range.position + done, out.subspan(done));
      if (!n) return n.status();
      if (*n == 0) return Status(Errc::io_error, "short read of " + range.file->path());
      done += *n;
    }
    return Status::ok();
  }

  Broker& broker_;
  RequestContext context_;
  FetchSessionContext session_;
  std::vector<PlannedPartition> plan_;
  int32_t min_bytes_;
  uint64_t max_bytes_;
  int16_t version_;
  bool topic_ids_;
  std::optional<int8_t> legacy_magic_;
  bool read_committed_ = false;
  bool quota_checked_ = false;  // answer() may run twice (reactor, then worker)
  int32_t max_wait_ms_ = 0;
  std::atomic<bool> wake_pending_{false};  // a wake-up is posted to the reactor, not yet run
};

// The partitions a request names, with topic ids resolved (v13+).
std::vector<FetchPartitionRequest> requested_partitions(const FetchRequest& request, bool topic_ids,
                                                        const cluster::MetadataImage& image) {
  std::vector<FetchPartitionRequest> requested;
  for (const auto& topic : request.topics) {
    std::string name = topic.topic;
    if (topic_ids) {
      const cluster::TopicImage* known = image.topic(topic.topic_id);
      name = known ? known->name : std::string();
    }
    for (const auto& partition : topic.partitions)
      requested.push_back({{topic_ids ? topic.topic_id : Uuid{}, name, partition.partition},
                           partition.fetch_offset,
                           partition.current_leader_epoch,
                           partition.partition_max_bytes});
  }
  return requested;
}

std::vector<FetchPartitionKey> forgotten_partitions(const FetchRequest& request, bool topic_ids,
                                                    const cluster::MetadataImage& image) {
  std::vector<FetchPartitionKey> forgotten;
  for (const auto& topic : request.forgotten_topics_data) {
    std::string name = topic.topic;
    if (topic_ids) {
      const cluster::TopicImage* known = image.topic(topic.topic_id);
      name = known ? known->name : std::string();
    }
    for (int32_t partition : topic.partitions)
      forgotten.push_back({topic_ids ? topic.topic_id : Uuid{}, name, partition});
  }
  return forgotten;
}

// A consumer needs READ on each topic (Kafka: TOPIC_AUTHORIZATION_FAILED
// for the partitions of a topic it may not read, whether it exists or not).
std::vector<PlannedPartition> plan_partitions(Broker& broker, const net::ConnectionInfo& connection,
                                              const std::vector<FetchPartitionRequest>& partitions,
                                              bool topic_ids) {
  std::vector<PlannedPartition> plan;
  plan.reserve(partitions.size());
  for (const FetchPartitionRequest& request : partitions) {
    PlannedPartition planned{request, nullptr, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION};
    if (topic_ids && request.key.topic.empty()) {
      planned.unknown_error = ErrorCode::UNKNOWN_TOPIC_ID;
    } else if (!broker.authorization().allows_topic(connection, security::AclOperation::READ,
                                                    request.key.topic)) {
      planned.unknown_error = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
      plan.push_back(std::move(planned));
      continue;
    } else {
      planned.partition =
          broker.replica_manager().partition(request.key.topic, request.key.partition);
    }
    if (!planned.partition && !request.key.topic.empty())
      planned.unknown_error = missing_partition_error(*broker.replica_manager().image(),
                                                      request.key.topic, request.key.partition);
    plan.push_back(std::move(planned));
  }
  return plan;
}

// KIP-392 on the leader (Kafka's ReplicaManager.findPreferredReadReplica):
// with replica.selector.class the rack-aware selector, a consumer's Fetch
// v11+ naming its rack is sent to an in-sync follower in that rack, for each
// partition led here. Racks are the brokers' as the client's listener lists
// them (a broker fenced or without that listener has none: never chosen).
void choose_read_replicas(Broker& broker, const std::string& listener_name,
                          const std::string& client_rack, std::vector<PlannedPartition>& plan) {
  if (!broker.config().rack_aware_replica_selector || client_rack.empty()) return;
  std::map<int32_t, std::optional<std::string>> racks;
  for (const BrokerAddress& address :
       brokers_for_listener(*broker.replica_manager().image(), listener_name))
    racks[address.node_id] = address.rack;
  const int64_t now_ms = cluster::Partition::monotonic_ms();
  for (PlannedPartition& planned : plan) {
    if (!planned.partition) continue;
    std::vector<cluster::ReadReplica> replicas =
        planned.partition->read_replicas(Offset{planned.request.fetch_offset}, now_ms);
    if (replicas.empty()) continue;  // not the leader
    for (cluster::ReadReplica& replica : replicas) {
      auto known = racks.find(replica.node_id);
      if (known != racks.end()) replica.rack = known->second;
    }
    const cluster::ReadReplica leader = replicas.front();
    replicas.erase(replicas.begin());
    int32_t chosen = cluster::select_read_replica(client_rack, leader, replicas);
    if (chosen != leader.node_id) planned.preferred_read_replica = chosen;
  }
}

void reply_error(RequestContext& context, ErrorCode error) {
  FetchResponse response;
  response.error_code = to_wire(error);
  context.reply(response);
}

}  // namespace

bool zero_copy_sendable(const storage::FileRange& range) {
  return range.length >= WireWriter::external_threshold_bytes &&
         range.length < net::file_slice_length_max && range.file &&
         range.file->native_handle() >= 0;
}

void handle_fetch(Broker& broker, RequestContext context, FetchRequest request) {
  if (listener_role(broker.config(), context.connection().listener_name) ==
      ListenerRole::controller)
    return handle_metadata_fetch(broker, std::move(context), std::move(request));
  const int16_t version = context.api_version();
  const bool topic_ids = version >= 13;
  int32_t replica_id = version >= 15 ? request.replica_state.replica_id : request.replica_id;
  // A follower (issue 16): read up to the log end, tracked by the leader.
  if (replica_id >= 0) {
    if (!broker.authorization().allows_cluster(context.connection(),
                                               security::AclOperation::CLUSTER_ACTION))
      return reply_error(context, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    context.exempt_from_request_quota();
    return handle_replica_fetch(broker, std::move(context), std::move(request));
  }
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  FetchSessionContext session = broker.fetch_sessions().begin(
      request.session_id, request.session_epoch, requested_partitions(request, topic_ids, *image),
      forgotten_partitions(request, topic_ids, *image), steady_ms());
  if (session.error != ErrorCode::NONE) return reply_error(context, session.error);
  std::vector<PlannedPartition> plan =
      plan_partitions(broker, context.connection(), session.partitions, topic_ids);
  if (version >= 11)
    choose_read_replicas(broker, context.connection().listener_name, request.rack_id, plan);
  uint64_t max_bytes = static_cast<uint64_t>(
      std::max<int64_t>(0, std::min<int64_t>(request.max_bytes, broker.config().fetch_max_bytes)));
  // No more than the quota's burst (one window) at once (Kafka caps at what
  // its sampled rate lets through), so answers come steadily.
  if (broker.quotas().fetch.enabled())
    if (auto burst = broker.quotas().fetch.burst_max(quota_client_of(context)))
      max_bytes = std::min<uint64_t>(max_bytes, static_cast<uint64_t>(std::max(*burst, 1.0)));
  auto fetch =
      std::make_shared<DelayedFetch>(broker, std::move(context), std::move(session),
                                     std::move(plan), request.min_bytes, max_bytes, version);
  fetch->set_read_committed(version >= 4 && request.isolation_level == 1);
  fetch->start(request.max_wait_ms);
}

}  // namespace sluice::broker

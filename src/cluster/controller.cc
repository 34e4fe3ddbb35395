#include "cluster/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>

#include "base/metrics.h"
#include "base/thread_name.h"
#include "cluster/ids.h"
#include "cluster/meta_properties.h"
#include "cluster/replica_placer.h"
#include "cluster/topic_config.h"
#include "protocol/record_framing.h"
#include "record/batch.h"
#include "record/record_reader.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

constexpr size_t topic_name_length_max = 249;
// The committed bytes the quorum thread hands the loader at a time.
constexpr uint64_t loader_chunk_bytes = 1 << 20;

// Kafka treats '.' and '_' as the same in metric names, so two topics may
// not differ only by them.
std::string collision_key(const std::string& name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

std::vector<uint8_t> config_record(int8_t resource_type, const std::string& resource,
                                   const std::string& name,
                                   const std::optional<std::string>& value) {
  md::ConfigRecord record;
  record.resource_type = resource_type;
  record.resource_name = resource;
  record.name = name;
  record.value = value;
  return md::encode_framed(record, 0);
}

// ConfigRecords turning `current` overrides into `wanted`.
void config_diff(int8_t resource_type, const std::string& resource,
                 const std::map<std::string, std::string>& current,
                 const std::map<std::string, std::string>& wanted,
                 std::vector<std::vector<uint8_t>>& records) {
  for (const auto& [name, value] : wanted) {
    auto found = current.find(name);
    if (found == current.end() || found->second != value)
      records.push_back(config_record(resource_type, resource, name, value));
  }
  for (const auto& [name, value] : current)
    if (!wanted.count(name))
      records.push_back(config_record(resource_type, resource, name, std::nullopt));
}

// Every existing topic by collision_key(), so checking a new name is one
// lookup rather than a scan of all topics per name.
std::map<std::string, std::string> collision_keys(const MetadataImage& image) {
  std::map<std::string, std::string> out;
  for (const auto& [name, topic] : image.topics) out.emplace(collision_key(name), name);
  return out;
}

// So a new topic's partition ids always fit the image.
static_assert(records_per_operation_max < static_cast<size_t>(partitions_per_topic_max));

// Kafka's answer to an operation of more than records_per_operation_max
// records (QuorumController turns BoundedListTooLongException into it).
ApiError too_many_records() {
  return ApiError::of(ErrorCode::POLICY_VIOLATION,
                      "Unable to perform excessively large batch operation.");
}

// Brokers new replicas may go to: registered, unfenced and not shutting
// down (Kafka's isActive).
std::vector<int32_t> live_brokers(const std::map<int32_t, BrokerImage>& brokers) {
  std::vector<int32_t> out;
  for (const auto& [id, broker] : brokers)
    if (broker.active()) out.push_back(id);
  return out;
}

std::vector<UsableBroker> usable_brokers(const std::map<int32_t, BrokerImage>& brokers) {
  std::vector<UsableBroker> out;
  for (const auto& [id, broker] : brokers)
    if (broker.active()) out.push_back({id, broker.rack, false});
  return out;
}

// Kafka's answer when placement is impossible (an InvalidReplicationFactor
// caught by ReplicationControlManager).
ApiError replication_error(int32_t replication_factor, const Status& placement) {
  return ApiError::of(ErrorCode::INVALID_REPLICATION_FACTOR,
                      "Unable to replicate the partition " + std::to_string(replication_factor) +
                          " time(s): " + placement.message());
}

// A manual assignment needs one active replica to lead.
ApiError check_manual_leader(const std::map<int32_t, BrokerImage>& brokers,
                             const std::vector<int32_t>& replicas, int32_t partition) {
  for (int32_t replica : replicas) {
    auto found = brokers.find(replica);
    if (found != brokers.end() && found->second.active()) return ApiError::none();
  }
  return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                      "All brokers specified in the manual partition assignment for partition " +
                          std::to_string(partition) + " are fenced or in controlled shutdown.");
}

}  // namespace

ApiError validate_topic_name(const std::string& name) {
  if (name.empty())
    return ApiError::of(ErrorCode::INVALID_TOPIC_EXCEPTION,
                        "Topic name is illegal, it can't be empty");
  if (name == "." || name == "..")
    return ApiError::of(ErrorCode::INVALID_TOPIC_EXCEPTION, "Topic name cannot be \".\" or \"..\"");
  if (name.size() > topic_name_length_max)
    return ApiError::of(
        ErrorCode::INVALID_TOPIC_EXCEPTION,
        "Topic name is illegal, it can't be longer than 249 characters, topic name: " + name);
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
    if (!allowed)
      return ApiError::of(
          ErrorCode::INVALID_TOPIC_EXCEPTION,
          "Topic name \"" + name +
              "\" is illegal, it contains a character other than ASCII alphanumerics, "
              "'.', '_' and '-'");
  }
  return ApiError::none();
}

void add_checked_record(MetadataDelta& scratch, std::vector<uint8_t> record,
                        std::vector<std::vector<uint8_t>>& records) {
  Status s = scratch.replay(record, scratch.offset() + 1);
  SLUICE_ASSERT(s.is_ok(), "the controller built a metadata record its own image rejects");
  records.push_back(std::move(record));
}

bool is_internal_topic(const std::string& name) {
  return name == "__consumer_offsets" || name == "__transaction_state";
}

Controller::Controller(storage::FileSystem& fs, ControllerOptions options)
    : fs_(fs), options_(std::move(options)) {
  const Config& config = *options_.broker_config;
  const int64_t session_timeout_ms = config.defs().find("broker.session.timeout.ms") != nullptr
                                         ? config.get_int("broker.session.timeout.ms")
                                         : 9000;
  heartbeats_ = std::make_unique<BrokerHeartbeatManager>(
      *options_.clock, std::chrono::milliseconds(session_timeout_ms));
  heartbeats_->set_exempt(options_.node_id);
  local_incarnation_ = random_uuid(*options_.random);
}

Controller::~Controller() { stop(); }

Result<std::unique_ptr<Controller>> Controller::open(storage::FileSystem& fs,
                                                     ControllerOptions options) {
  SLUICE_ASSERT(options.broker_config != nullptr, "the controller needs the broker config");
  std::unique_ptr<Controller> controller(new Controller(fs, std::move(options)));
  if (Status s = controller->load(); !s) return s;
  if (Status s = controller->open_quorum(); !s) return s;
  controller->thread_ = std::thread([raw = controller.get()] { raw->run(); });
  return controller;
}

Status Controller::load() {
  std::vector<std::string> dirs = options_.log_dirs;
  dirs.push_back(options_.metadata_log_dir);
  auto cluster_id = ensure_meta_properties(fs_, dirs, options_.node_id, options_.cluster_id,
                                           *options_.random, options_.unformatted_dirs);
  if (!cluster_id) return cluster_id.status();
  cluster_id_ = *cluster_id;
  auto log = MetadataLog::open(fs_, options_.metadata_log_dir, options_.clock,
                               options_.metadata_segment_bytes);
  if (!log) return log.status();
  log_ = std::move(log.value());
  log_->set_fatal_hook([this](const std::string& message) { halt("metadata: " + message); });
  if (Status s = open_snapshots(); !s) return s;
  auto image = std::make_shared<MetadataImage>();
  image->cluster_id = cluster_id_;
  image->controller_id = options_.node_id;
  image_.store(std::move(image));
  return Status::ok();
}

// The image is built from committed records only: the loader applies them
// as the quorum commits. A lone node elects itself at once and commits its
// whole log, so open() waits for that (the data path then starts with every
// topic); a node of a larger quorum serves at once and follows the image
// as it arrives (it cannot wait: the other voters need it to elect).
Status Controller::open_quorum() {
  const std::string state_path = storage::join_path(log_->dir(), quorum_state_file_name);
  quorum_state_ = std::make_unique<QuorumStateFile>(
      fs_, state_path, cluster_id_, log_->last_epoch(),
      [this](const std::string& message) { halt("metadata: " + message); });
  if (Status s = quorum_state_->load(); !s) return s;
  RaftManagerOptions quorum;
  quorum.node_id = options_.node_id;
  quorum.cluster_id = cluster_id_;
  quorum.voters = options_.quorum_voters;
  quorum.bootstrap_servers = options_.quorum_bootstrap_servers;
  if (quorum.voters.empty() && quorum.bootstrap_servers.empty())
    quorum.voters[options_.node_id] = net::Endpoint{};
  quorum.controller_listener = options_.controller_listener;
  quorum.endpoints = options_.controller_endpoints;
  // KIP-853 names a voter by id and the directory id of its metadata log dir.
  if (auto meta = read_meta_properties(fs_, options_.metadata_log_dir); meta && *meta)
    quorum.directory_id = (*meta)->directory_id;
  quorum.election_timeout_ms = options_.election_timeout_ms;
  quorum.fetch_timeout_ms = options_.fetch_timeout_ms;
  quorum.request_timeout_ms = options_.request_timeout_ms;
  quorum.clock = options_.clock;
  quorum.random_seed = options_.random->next();
  quorum.on_commit = [this](int64_t high_watermark) { on_commit(high_watermark); };
  quorum.on_fatal = [this](const std::string& message) { halt("metadata: " + message); };
  quorum.snapshots = snapshots_.get();
  quorum.snapshot_voters = [this]() -> std::optional<VoterSet> {
    const std::optional<raft::SnapshotId> latest = snapshots_->latest();
    return latest ? snapshots_->voter_set(*latest) : std::nullopt;
  };
  const bool alone = quorum.voters.size() == 1 && quorum.voters.count(options_.node_id);
  // Everything in a lone node's log is committed once it leads.
  const int64_t end = log_->end_offset();
  startup_end_offset_ = end;
  startup_began_ = std::chrono::steady_clock::now();
  raft_ = std::make_unique<RaftManager>(*log_, *quorum_state_, std::move(quorum));
  snapshots_->set_voter_details(
      [this](const std::set<raft::NodeId>& ids) { return raft_->voter_details(ids); });
  loader_thread_ = std::thread([this] { run_loader(); });
  raft_->start();
  if (alone) {
    if (!wait_applied(end, options_.activation_wait_ms * 12))
      return Status(Errc::io_error, log_->dir() + ": the metadata log was not loaded in time");
    spdlog::info("metadata: cluster {} loaded {} topics from {} records of {}", cluster_id_,
                 image()->topics.size(), applied_offset(), log_->dir());
  }
  return Status::ok();
}

void Controller::on_commit(int64_t high_watermark) {
  if (delivered_offset_ < log_->start_offset() && !deliver_snapshot()) return;
  while (delivered_offset_ < high_watermark) {
    auto bytes = log_->read_batches(delivered_offset_, loader_chunk_bytes);
    if (!bytes || bytes->empty()) {
      halt("metadata: reading committed records of " + log_->dir() + " at offset " +
           std::to_string(delivered_offset_) +
           " failed: " + (bytes ? std::string("nothing there") : bytes.status().to_string()));
      return;
    }
    // Whole batches below the high watermark only (a batch is committed
    // whole: the quorum's offsets are batch boundaries).
    Bytes rest(*bytes);
    size_t taken = 0;
    int64_t end = delivered_offset_;
    while (rest.size() >= record::batch_header_bytes) {
      auto header = record::read_batch_header(rest);
      if (!header || header->size_bytes() > rest.size() || header->next_offset() > high_watermark)
        break;
      taken += header->size_bytes();
      end = header->next_offset();
      rest = rest.subspan(header->size_bytes());
    }
    if (taken == 0) return;
    bytes->resize(taken);
    delivered_offset_ = end;
    std::lock_guard lock(loader_mutex_);
    loader_queue_.push_back({std::move(*bytes), end});
    loader_changed_.notify_all();
  }
}

void Controller::run_loader() {
  set_current_thread_name("metadata-load");
  for (;;) {
    std::deque<Committed> work;
    {
      std::unique_lock lock(loader_mutex_);
      loader_changed_.wait(lock, [&] { return loader_stopping_ || !loader_queue_.empty(); });
      if (loader_stopping_) return;
      work.swap(loader_queue_);
    }
    for (const Committed& committed : work) {
      if (committed.snapshot)
        apply_snapshot(committed);
      else
        apply_committed(committed.batches, committed.end_offset);
      after_apply(committed);
    }
  }
}

void Controller::apply_committed(const std::vector<uint8_t>& batches, int64_t end_offset) {
  std::lock_guard listeners_lock(listeners_mutex_);
  MetadataDelta delta(image());
  Bytes rest(batches);
  while (!rest.empty()) {
    auto header = record::read_batch_header(rest);
    if (!header)
      return halt("metadata: a committed batch does not parse: " + header.status().to_string());
    Bytes batch = rest.first(header->size_bytes());
    rest = rest.subspan(header->size_bytes());
    if (header->is_control()) continue;
    auto reader = record::RecordReader::open(batch);
    if (!reader)
      return halt("metadata: a committed batch does not parse: " + reader.status().to_string());
    record::Record record;
    while (reader->next(record)) {
      if (!record.value) return halt("metadata: a committed record has a null value");
      if (Status s = delta.replay(*record.value, record.offset); !s)
        return halt(log_->dir() + ": metadata record at offset " + std::to_string(record.offset) +
                    ": " + s.message());
    }
  }
  MetadataImagePtr published = delta.apply();
  image_.store(published);
  for (MetadataListener* listener : listeners_) listener->on_metadata_update(delta, published);
  std::lock_guard lock(loader_mutex_);
  applied_offset_ = end_offset;
  loader_changed_.notify_all();
}

bool Controller::wait_applied(int64_t end_offset, int64_t timeout_ms) {
  std::unique_lock lock(loader_mutex_);
  return loader_changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return applied_offset_ >= end_offset || loader_stopping_;
  }) && applied_offset_ >= end_offset;
}

int64_t Controller::applied_offset() const {
  std::lock_guard lock(loader_mutex_);
  return applied_offset_;
}

bool Controller::is_active() const {
  if (!raft_) return false;
  const QuorumStatus status = raft_->status();
  return status.role == raft::Role::leader && status.high_watermark >= 0 &&
         applied_offset() >= status.high_watermark;
}

Status Controller::wait_active() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.activation_wait_ms);
  for (;;) {
    const QuorumStatus status = raft_->status();
    if (status.role == raft::Role::leader && status.high_watermark >= 0 &&
        wait_applied(status.high_watermark, 100))
      return Status::ok();
    if (status.leader >= 0 && status.leader != options_.node_id)
      return Status(Errc::not_leader,
                    "node " + std::to_string(status.leader) + " is the active controller");
    // Shutting down (stop_work): waiting for an election the others may
    // never hold would only hold up the stop.
    if (stop_requested()) return Status(Errc::not_leader, "the controller is stopping");
    if (std::chrono::steady_clock::now() >= deadline)
      return Status(Errc::not_leader, "no active controller yet");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Controller::run() {
  for (;;) {
    Work work;
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // stop_work() cancels what is queued
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work.run();
  }
}

void Controller::submit(std::function<void()> work, std::function<void()> cancel) {
  {
    std::lock_guard lock(queue_mutex_);
    if (!stopping_) {
      queue_.push_back({std::move(work), std::move(cancel)});
      queue_changed_.notify_one();
      return;
    }
  }
  if (cancel) cancel();
}

void Controller::stop_work() {
  std::deque<Work> cancelled;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    cancelled.swap(queue_);
  }
  queue_changed_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  if (!cancelled.empty())
    spdlog::info("metadata: stopping; {} queued controller request(s) cancelled", cancelled.size());
  for (Work& work : cancelled)
    if (work.cancel) work.cancel();
}

void Controller::stop() {
  stop_work();
  if (raft_) raft_->stop();
  {
    std::lock_guard lock(loader_mutex_);
    loader_stopping_ = true;
    loader_changed_.notify_all();
  }
  if (loader_thread_.joinable()) loader_thread_.join();
  std::lock_guard lock(mutex_);
  if (log_) {
    if (Status s = log_->close(); !s) spdlog::error("metadata: closing the log: {}", s.to_string());
    log_.reset();
  }
}

void Controller::subscribe(MetadataListener* listener) {
  std::lock_guard lock(listeners_mutex_);
  auto empty = std::make_shared<MetadataImage>();
  empty->cluster_id = cluster_id_;
  empty->controller_id = options_.node_id;
  MetadataImagePtr current = image();
  listener->on_metadata_update(MetadataDelta::between(std::move(empty), *current), current);
  listeners_.push_back(listener);
}

void Controller::unsubscribe(MetadataListener* listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

Status Controller::commit(std::vector<std::vector<uint8_t>> records) {
  if (records.empty()) return Status::ok();
  if (!log_ || !raft_) return Status(Errc::io_error, "the metadata log is closed");
  if (Status active = wait_active(); !active) return active;
  LeaderElections elections;
  {
    MetadataDelta delta(image());
    for (const auto& record : records) {
      Status s = delta.replay(record, raft_->status().log_end_offset);
      SLUICE_ASSERT(s.is_ok(), "the controller built a metadata record the image rejects");
    }
    elections = count_leader_elections(delta);
  }
  // sluice_metadata_commit_seconds: append to applied, what an admin call waits.
  static metrics::Histogram& commit_seconds = metrics::default_registry().histogram(
      "sluice_metadata_commit_seconds",
      "Metadata commits: from the append to the image applying it.",
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  const auto started = std::chrono::steady_clock::now();
  std::promise<std::pair<std::optional<AppendError>, int64_t>> appended;
  raft_->append(std::move(records), [&appended](std::optional<AppendError> error, int64_t end) {
    appended.set_value({error, end});
  });
  auto [error, end] = appended.get_future().get();
  if (error) {
    switch (*error) {
      case AppendError::write_failed:
        return Status(Errc::io_error, "the metadata log write failed");
      case AppendError::stopped:
        return Status(Errc::io_error, "the metadata quorum is stopping");
      case AppendError::not_leader:
      case AppendError::lost_leadership:
        return Status(Errc::not_leader, "this node is no longer the active controller");
    }
  }
  if (!wait_applied(end, options_.activation_wait_ms * 12))
    return Status(Errc::io_error, "a committed metadata change was not applied in time");
  commit_seconds.observe(std::chrono::steady_clock::now() - started);
  record_leader_elections(elections);
  return Status::ok();
}

// Kafka halts on a metadata-log write it cannot vouch for (its fault
// handler terminates the process): serving on would publish images the log
// on disk may contradict.
void Controller::halt(const std::string& message) {
  spdlog::critical("{}; halting", message);
  if (options_.on_fatal) return options_.on_fatal(message);
  spdlog::default_logger()->flush();
  std::_Exit(1);
}

ApiError Controller::commit_or_error(std::vector<std::vector<uint8_t>> records) {
  Status s = commit(std::move(records));
  if (!s && s.code() == Errc::not_leader)
    return ApiError::of(ErrorCode::NOT_CONTROLLER, s.message());
  if (!s) return ApiError::of(ErrorCode::KAFKA_STORAGE_ERROR, "metadata log: " + s.message());
  return ApiError::none();
}

int64_t Controller::broker_int(const char* name, int64_t fallback) const {
  const Config& config = *options_.broker_config;
  if (config.defs().find(name) == nullptr) return fallback;
  auto dynamic = image()->dynamic_broker_config(options_.node_id, name);
  if (dynamic) {
    char* end = nullptr;
    long long value = std::strtoll(dynamic->c_str(), &end, 10);
    if (!dynamic->empty() && *end == '\0') return value;
  }
  return config.get_int(name);
}

ApiError Controller::check_new_topic(const MetadataDelta& image,
                                     const std::map<std::string, std::string>& collisions,
                                     const NewTopic& topic, int32_t& partitions,
                                     int16_t& replication_factor) const {
  if (ApiError name = validate_topic_name(topic.name); !name.ok()) return name;
  if (image.topic(topic.name) != nullptr)
    return ApiError::of(ErrorCode::TOPIC_ALREADY_EXISTS,
                        "Topic '" + topic.name + "' already exists.");
  if (auto collision = collisions.find(collision_key(topic.name)); collision != collisions.end())
    return ApiError::of(
        ErrorCode::INVALID_TOPIC_EXCEPTION,
        "Topic '" + topic.name + "' collides with existing topic: " + collision->second);
  if (!topic.assignments.empty()) {
    if (topic.num_partitions != -1 || topic.replication_factor != -1)
      return ApiError::of(
          ErrorCode::INVALID_REQUEST,
          "Both numPartitions or replicationFactor and replicasAssignments were set. "
          "Both cannot be used at the same time.");
    partitions = static_cast<int32_t>(topic.assignments.size());
    int32_t expected = 0;
    for (const auto& [partition, replicas] : topic.assignments) {
      if (partition != expected++)
        return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "Partitions should be a consecutive 0-based integer sequence");
      if (replicas.empty())
        return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "The manual partition assignment includes an empty replica list.");
      std::set<int32_t> unique(replicas.begin(), replicas.end());
      if (unique.size() != replicas.size())
        return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "The manual partition assignment includes duplicate replicas.");
      for (int32_t replica : replicas)
        if (!image.brokers().count(replica))
          return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                              "The manual partition assignment includes broker " +
                                  std::to_string(replica) + ", but no such broker is registered.");
      if (ApiError leader = check_manual_leader(image.brokers(), replicas, partition); !leader.ok())
        return leader;
      if (replicas.size() != topic.assignments.begin()->second.size())
        return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "The manual partition assignment includes partitions with different "
                            "replication factors.");
    }
    replication_factor = static_cast<int16_t>(topic.assignments.begin()->second.size());
  } else {
    partitions = topic.num_partitions == -1 ? static_cast<int32_t>(broker_int("num.partitions", 1))
                                            : topic.num_partitions;
    replication_factor = topic.replication_factor == -1
                             ? static_cast<int16_t>(broker_int("default.replication.factor", 1))
                             : topic.replication_factor;
    if (partitions <= 0)
      return ApiError::of(ErrorCode::INVALID_PARTITIONS,
                          "Number of partitions was set to an invalid non-positive value.");
    if (replication_factor <= 0)
      return ApiError::of(
          ErrorCode::INVALID_REPLICATION_FACTOR,
          "Replication factor must be larger than 0, or -1 to use the default value.");
    if (Status placement = check_placement(usable_brokers(image.brokers()), replication_factor);
        !placement)
      return replication_error(replication_factor, placement);
  }
  if (Status s = validate_topic_configs(topic.configs); !s)
    return ApiError::of(ErrorCode::INVALID_CONFIG, s.message());
  for (const std::string& warning : deprecated_topic_config_warnings(topic.configs))
    spdlog::warn("{} (topic {})", warning, topic.name);
  return ApiError::none();
}

std::vector<std::vector<int32_t>> Controller::assign_replicas(const MetadataDelta& image,
                                                              int32_t /*first_partition*/,
                                                              int32_t count,
                                                              int16_t replication_factor) const {
  // Checked by the caller (check_placement), so placement cannot fail here.
  auto placed =
      place_replicas(*options_.random, usable_brokers(image.brokers()), count, replication_factor);
  SLUICE_ASSERT(placed.is_ok(), "replica placement failed after its checks passed");
  return std::move(placed.value());
}

namespace {

// A new partition: its ISR is its active replicas (all of them when placed
// automatically), led by the first (Kafka's buildPartitionRegistration).
std::vector<uint8_t> partition_record(const std::map<int32_t, BrokerImage>& brokers,
                                      const Uuid& topic_id, int32_t partition,
                                      const std::vector<int32_t>& replicas) {
  md::PartitionRecord record;
  record.partition_id = partition;
  record.topic_id = topic_id;
  record.replicas = replicas;
  for (int32_t replica : replicas) {
    auto found = brokers.find(replica);
    if (found != brokers.end() && found->second.active()) record.isr.push_back(replica);
  }
  SLUICE_ASSERT(!record.isr.empty(), "a new partition without an active replica");
  record.leader = record.isr.front();
  record.leader_epoch = 0;
  record.partition_epoch = 0;
  return md::encode_framed(record, 0);
}

}  // namespace

// The records of a new topic (checked, with its id, partition count and
// replication factor in `result`), applied to `scratch` and added to `records`.
void Controller::append_topic_records(MetadataDelta& scratch, const NewTopic& topic,
                                      const CreateTopicResult& result,
                                      std::vector<std::vector<uint8_t>>& records) const {
  std::vector<std::vector<uint8_t>> topic_records;
  topic_records.push_back(md::encode_framed(md::TopicRecord{topic.name, result.topic_id, {}}, 0));
  std::vector<std::vector<int32_t>> assignment;
  if (topic.assignments.empty())
    assignment = assign_replicas(scratch, 0, result.num_partitions, result.replication_factor);
  else
    for (const auto& [partition, replicas] : topic.assignments) assignment.push_back(replicas);
  for (int32_t p = 0; p < result.num_partitions; ++p)
    topic_records.push_back(partition_record(scratch.brokers(), result.topic_id, p,
                                             assignment[static_cast<size_t>(p)]));
  for (const auto& [name, value] : topic.configs)
    topic_records.push_back(config_record(config_resource_topic, topic.name, name, value));
  for (auto& record : topic_records) add_checked_record(scratch, std::move(record), records);
}

bool Controller::forward_create_topics_async(
    const std::vector<NewTopic>& topics, bool validate_only,
    std::function<void(std::vector<CreateTopicResult>)> done) {
  if (!raft_ || is_active()) return false;
  const QuorumStatus status = raft_->status();
  const bool lone = raft_->voters().size() == 1 && raft_->is_voter();
  if (lone || status.leader == options_.node_id) return false;
  protocol::CreateTopicsRequest request;
  request.timeout_ms = 30000;
  request.validate_only = validate_only;
  for (const NewTopic& topic : topics) {
    auto& out = request.topics.emplace_back();
    out.name = topic.name;
    out.num_partitions = topic.num_partitions;
    out.replication_factor = topic.replication_factor;
    for (const auto& [partition, replicas] : topic.assignments)
      out.assignments.push_back({partition, replicas, {}});
    for (const auto& [name, value] : topic.configs) out.configs.push_back({name, value, {}});
  }
  std::vector<std::string> names;
  for (const NewTopic& topic : topics) names.push_back(topic.name);
  raft_->send_to_leader(
      std::move(request), protocol::CreateTopicsRequest::max_version,
      [names = std::move(names),
       done = std::move(done)](net::ClientResult<protocol::CreateTopicsResponse> result) {
        std::vector<CreateTopicResult> results(names.size());
        for (size_t i = 0; i < names.size(); ++i) {
          results[i].error = ApiError::of(
              ErrorCode::NOT_CONTROLLER,
              result.ok() ? "no answer for the topic from the active controller"
                          : "forwarding to the active controller failed: " + result.status.message);
          if (!result.ok()) continue;
          for (const auto& answer : result.message.topics) {
            if (answer.name != names[i]) continue;
            results[i].error = ApiError{static_cast<ErrorCode>(answer.error_code),
                                        answer.error_message.value_or("")};
            results[i].topic_id = answer.topic_id;
            results[i].num_partitions = answer.num_partitions;
            results[i].replication_factor = answer.replication_factor;
          }
        }
        done(std::move(results));
      });
  return true;
}

// Creations this node's own code asks for on the controller thread (the
// coordinators' internal topics) while another node is the active
// controller: the blocking form of forward_create_topics_async.
// Clients' CreateTopics are forwarded before they get here (forwarding.h).
std::optional<std::vector<CreateTopicResult>> Controller::forward_create_topics(
    const std::vector<NewTopic>& topics, bool validate_only) {
  std::promise<std::vector<CreateTopicResult>> answered;
  auto future = answered.get_future();
  if (!forward_create_topics_async(topics, validate_only,
                                   [&answered](std::vector<CreateTopicResult> results) {
                                     answered.set_value(std::move(results));
                                   }))
    return std::nullopt;
  return future.get();
}

std::vector<CreateTopicResult> Controller::create_topics(const std::vector<NewTopic>& topics,
                                                         bool validate_only) {
  if (auto forwarded = forward_create_topics(topics, validate_only)) return *forwarded;
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());  // sees the topics created earlier in this call
  std::map<std::string, std::string> collisions = collision_keys(scratch.base());
  std::vector<CreateTopicResult> results;
  std::vector<std::vector<uint8_t>> records;
  std::vector<size_t> created;
  for (const NewTopic& topic : topics) {
    CreateTopicResult result;
    int32_t partitions = 0;
    int16_t replication_factor = 0;
    result.error = check_new_topic(scratch, collisions, topic, partitions, replication_factor);
    if (result.error.ok()) {
      // TopicRecord, PartitionRecords, ConfigRecords: counted before any
      // partition is assigned, so a request for billions costs nothing.
      const size_t needed = 1 + static_cast<size_t>(partitions) + topic.configs.size();
      if (needed > records_per_operation_max - records.size()) {
        spdlog::warn(
            "metadata: refused a topic creation of more than {} records (topic {}: {} "
            "partitions)",
            records_per_operation_max, topic.name, partitions);
        CreateTopicResult refused;
        refused.error = too_many_records();
        return std::vector<CreateTopicResult>(topics.size(), refused);
      }
      result.topic_id = random_uuid(*options_.random);
      result.num_partitions = partitions;
      result.replication_factor = replication_factor;
      append_topic_records(scratch, topic, result, records);
      collisions.emplace(collision_key(topic.name), topic.name);
      created.push_back(results.size());
    }
    results.push_back(std::move(result));
  }
  if (validate_only || records.empty()) return results;
  ApiError committed = commit_or_error(std::move(records));
  if (!committed.ok()) {
    for (size_t index : created) results[index].error = committed;
    return results;
  }
  for (size_t index : created)
    spdlog::info("metadata: created topic {} ({} partitions, replication factor {})",
                 topics[index].name, results[index].num_partitions,
                 results[index].replication_factor);
  return results;
}

CreateTopicResult Controller::ensure_internal_topic(
    const std::string& name, int32_t num_partitions, int16_t replication_factor,
    const std::map<std::string, std::string>& configs) {
  MetadataImagePtr current = image();
  if (const TopicImage* existing = current->topic(name)) {
    CreateTopicResult result;
    result.topic_id = existing->id;
    result.num_partitions = static_cast<int32_t>(existing->partitions.size());
    result.replication_factor =
        existing->partitions.empty()
            ? int16_t{0}
            : static_cast<int16_t>(existing->partitions.front().replicas.size());
    return result;
  }
  const auto brokers =
      static_cast<int16_t>(std::max<size_t>(1, live_brokers(current->brokers).size()));
  if (replication_factor > brokers) {
    spdlog::warn(
        "metadata: internal topic {} gets replication factor {} instead of the "
        "configured {}: only {} broker(s) are registered",
        name, brokers, replication_factor, brokers);
    replication_factor = brokers;
  }
  NewTopic topic{name, num_partitions, replication_factor, {}, configs};
  return create_topics({topic}, false).front();
}

std::vector<DeleteTopicResult> Controller::delete_topics(const std::vector<TopicRef>& topics) {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<DeleteTopicResult> results;
  std::vector<std::vector<uint8_t>> records;
  std::vector<size_t> deleted;
  const bool enabled = options_.broker_config->get_bool("delete.topic.enable");
  for (const TopicRef& ref : topics) {
    DeleteTopicResult result;
    result.name = ref.name;
    result.topic_id = ref.id;
    const TopicImage* topic = ref.name.empty() ? scratch.topic(ref.id) : scratch.topic(ref.name);
    if (topic == nullptr) {
      result.error = ref.name.empty()
                         ? ApiError::of(ErrorCode::UNKNOWN_TOPIC_ID,
                                        "This server does not host this topic ID.")
                         : ApiError::of(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                        "This server does not host this topic-partition.");
    } else if (!enabled) {
      result.error = ApiError::of(ErrorCode::TOPIC_DELETION_DISABLED,
                                  "Topic deletion is disabled (delete.topic.enable=false)");
    } else if (is_internal_topic(topic->name)) {
      // The coordinators' state (committed offsets, groups) lives there:
      // deleting it loses that state for every group at once.
      result.name = topic->name;
      result.topic_id = topic->id;
      result.error = ApiError::of(ErrorCode::INVALID_TOPIC_EXCEPTION,
                                  "Cannot delete internal topic " + topic->name);
    } else {
      result.name = topic->name;
      result.topic_id = topic->id;
      add_checked_record(scratch, md::encode_framed(md::RemoveTopicRecord{topic->id, {}}, 0),
                         records);
      deleted.push_back(results.size());
    }
    results.push_back(std::move(result));
  }
  if (records.empty()) return results;
  ApiError committed = commit_or_error(std::move(records));
  for (size_t index : deleted) {
    if (!committed.ok())
      results[index].error = committed;
    else
      spdlog::info("metadata: deleted topic {}", results[index].name);
  }
  return results;
}

ApiError Controller::create_partitions(const std::string& topic, int32_t count,
                                       const std::vector<std::vector<int32_t>>& assignments,
                                       bool validate_only) {
  return create_partitions({NewPartitions{topic, count, assignments}}, validate_only).front();
}

std::vector<ApiError> Controller::create_partitions(const std::vector<NewPartitions>& topics,
                                                    bool validate_only) {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<ApiError> results;
  std::vector<std::vector<uint8_t>> records;
  std::vector<size_t> grown;
  for (const NewPartitions& growth : topics) {
    std::vector<std::vector<int32_t>> assignment;
    ApiError result = plan_new_partitions(scratch, growth,
                                          records_per_operation_max - records.size(), assignment);
    if (result.ok()) {
      const TopicImage& topic = *scratch.topic(growth.topic);
      const auto first = static_cast<int32_t>(topic.partitions.size());
      const Uuid topic_id = topic.id;
      for (size_t i = 0; i < assignment.size(); ++i) {
        add_checked_record(scratch,
                           partition_record(scratch.brokers(), topic_id,
                                            first + static_cast<int32_t>(i), assignment[i]),
                           records);
      }
      grown.push_back(results.size());
    }
    results.push_back(std::move(result));
  }
  if (validate_only || records.empty()) return results;
  ApiError committed = commit_or_error(std::move(records));
  for (size_t index : grown) {
    if (!committed.ok())
      results[index] = committed;
    else
      spdlog::info("metadata: topic {} now has {} partitions", topics[index].topic,
                   topics[index].count);
  }
  return results;
}

ApiError Controller::plan_new_partitions(const MetadataDelta& image, const NewPartitions& growth,
                                         size_t records_left,
                                         std::vector<std::vector<int32_t>>& assignment) const {
  const std::string& name = growth.topic;
  const int32_t count = growth.count;
  const TopicImage* topic = image.topic(name);
  if (topic == nullptr)
    return ApiError::of(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        "The topic '" + name + "' does not exist.");
  const auto existing = static_cast<int32_t>(topic->partitions.size());
  if (count == existing)
    return ApiError::of(ErrorCode::INVALID_PARTITIONS,
                        "Topic already has " + std::to_string(existing) + " partition(s).");
  if (count < existing)
    return ApiError::of(ErrorCode::INVALID_PARTITIONS,
                        "The topic " + name + " currently has " + std::to_string(existing) +
                            " partition(s); " + std::to_string(count) +
                            " would not be an increase.");
  if (count > partitions_per_topic_max)
    return ApiError::of(ErrorCode::INVALID_PARTITIONS,
                        "A topic may have at most " + std::to_string(partitions_per_topic_max) +
                            " partitions; " + std::to_string(count) + " were asked for.");
  const auto additional = static_cast<size_t>(count - existing);
  if (!growth.assignments.empty() && growth.assignments.size() != additional)
    return ApiError::of(
        ErrorCode::INVALID_REPLICA_ASSIGNMENT,
        "Attempted to add " + std::to_string(additional) + " additional partition(s), but only " +
            std::to_string(growth.assignments.size()) + " assignment(s) were specified.");
  // Before any partition is assigned: asking for two billion costs nothing.
  if (additional > records_left) return too_many_records();
  const auto replication_factor =
      static_cast<int16_t>(topic->partitions.empty() ? 1 : topic->partitions[0].replicas.size());
  if (growth.assignments.empty()) {
    if (Status placement = check_placement(usable_brokers(image.brokers()), replication_factor);
        !placement)
      return replication_error(replication_factor, placement);
    assignment = assign_replicas(image, existing, count - existing, replication_factor);
    return ApiError::none();
  }
  for (size_t i = 0; i < growth.assignments.size(); ++i) {
    const std::vector<int32_t>& replicas = growth.assignments[i];
    std::set<int32_t> unique(replicas.begin(), replicas.end());
    if (replicas.empty() || unique.size() != replicas.size())
      return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                          "A partition assignment is empty or has duplicate replicas.");
    for (int32_t replica : replicas)
      if (!image.brokers().count(replica))
        return ApiError::of(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "The manual partition assignment includes broker " +
                                std::to_string(replica) + ", but no such broker is registered.");
    if (replicas.size() != static_cast<size_t>(replication_factor))
      return ApiError::of(
          ErrorCode::INVALID_REPLICA_ASSIGNMENT,
          "The manual partition assignment includes a partition with " +
              std::to_string(replicas.size()) +
              " replica(s), but this is not consistent with previous partitions, which "
              "have " +
              std::to_string(replication_factor) + " replica(s).");
    if (ApiError leader =
            check_manual_leader(image.brokers(), replicas, existing + static_cast<int32_t>(i));
        !leader.ok())
      return leader;
  }
  assignment = growth.assignments;
  return ApiError::none();
}

ApiError Controller::replace_topic_configs(const std::string& name,
                                           const std::map<std::string, std::string>& configs,
                                           bool validate_only) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  const TopicImage* topic = current->topic(name);
  if (topic == nullptr)
    return ApiError::of(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        "The topic '" + name + "' does not exist.");
  if (Status s = validate_topic_configs(configs); !s)
    return ApiError::of(ErrorCode::INVALID_CONFIG, s.message());
  for (const std::string& warning : deprecated_topic_config_warnings(configs))
    spdlog::warn("{} (topic {})", warning, name);
  if (validate_only) return ApiError::none();
  std::vector<std::vector<uint8_t>> records;
  config_diff(config_resource_topic, name, topic->configs, configs, records);
  return commit_or_error(std::move(records));
}

ApiError Controller::replace_broker_configs(const std::string& resource_name,
                                            const std::map<std::string, std::string>& configs,
                                            bool validate_only) {
  std::lock_guard lock(mutex_);
  if (!resource_name.empty() && resource_name != std::to_string(options_.node_id))
    return ApiError::of(ErrorCode::INVALID_REQUEST,
                        "Unexpected broker id, expected " + std::to_string(options_.node_id) +
                            " or empty string, but received " + resource_name);
  if (Status s =
          validate_broker_configs(configs, options_.broker_config->defs(), !resource_name.empty());
      !s)
    return ApiError::of(ErrorCode::INVALID_REQUEST, s.message());
  if (validate_only) return ApiError::none();
  MetadataImagePtr current = image();
  static const std::map<std::string, std::string> none;
  auto found = current->broker_configs.find(resource_name);
  const auto& existing = found == current->broker_configs.end() ? none : found->second;
  std::vector<std::vector<uint8_t>> records;
  config_diff(config_resource_broker, resource_name, existing, configs, records);
  return commit_or_error(std::move(records));
}

}  // namespace sluice::cluster

// The controller's brokers (Kafka's ClusterControlManager and the broker
// half of ReplicationControlManager): registration, heartbeats, fencing,
// controlled shutdown and unregistration, and the partition leadership and
// ISR changes each of them implies. Sessions live in a
// BrokerHeartbeatManager (memory only); everything else is records.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/metrics.h"
#include "cluster/controller.h"
#include "cluster/features.h"
#include "cluster/ids.h"
#include "cluster/partition_change.h"
#include "cluster/topic_config.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

ApiError unsupported_feature(const std::string& name, int16_t finalized, int16_t min, int16_t max) {
  return ApiError::of(ErrorCode::UNSUPPORTED_VERSION,
                      "Unable to register because the broker does not support finalized version " +
                          std::to_string(finalized) + " of " + name +
                          ". The broker wants a version between " + std::to_string(min) + " and " +
                          std::to_string(max) + ", inclusive.");
}

// Every finalized feature level must be in the range the broker supports;
// a broker naming no metadata.version supports only the first KRaft one (1).
ApiError check_features(const MetadataImage& image, const std::vector<BrokerFeatureRange>& wanted) {
  std::vector<BrokerFeatureRange> ranges = wanted;
  auto named = [&](const std::string& name) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const BrokerFeatureRange& range) { return range.name == name; });
  };
  if (!named("metadata.version")) ranges.push_back({"metadata.version", 1, 1});
  for (const auto& [name, level] : image.features)
    if (level != 0 && !named(name)) ranges.push_back({name, 0, 0});
  for (const BrokerFeatureRange& range : ranges) {
    const int16_t finalized = finalized_level(image, range.name);
    if (finalized < range.min_version || finalized > range.max_version)
      return unsupported_feature(range.name, finalized, range.min_version, range.max_version);
  }
  return ApiError::none();
}

// A new cluster's feature levels, committed with its first broker's
// registration (the levels that broker supports).
void bootstrap_features(MetadataDelta& scratch, const std::vector<BrokerFeatureRange>& broker,
                        std::vector<std::vector<uint8_t>>& records) {
  for (const auto& [name, level] : bootstrap_feature_levels(broker)) {
    md::FeatureLevelRecord record;
    record.name = name;
    record.feature_level = level;
    add_checked_record(scratch, md::encode_framed(record, 0), records);
    spdlog::info("metadata: a new cluster: finalizing {} at level {}", name, level);
  }
}

bool leads_a_partition(const MetadataImage& image, int32_t broker_id) {
  for (const auto& [name, topic] : image.topics)
    for (const PartitionImage& partition : topic->partitions)
      if (partition.leader == broker_id) return true;
  return false;
}

bool state_fenced(BrokerControlState state) {
  return state == BrokerControlState::fenced || state == BrokerControlState::shutdown_now;
}

}  // namespace

void Controller::partition_changes(MetadataDelta& scratch, int32_t remove, int32_t add,
                                   std::vector<std::vector<uint8_t>>& records) const {
  // Kafka's isAcceptableLeader: never the broker leaving, always the one
  // arriving (the image still says fenced while its records are built),
  // else any active broker.
  auto acceptable = [&](int32_t replica) {
    if (replica == remove) return false;
    if (replica == add) return true;
    return broker_active(scratch, replica);
  };
  size_t changed = 0;
  // Scans every partition: fine for the partition counts a node holds
  // today; Kafka keeps a broker -> ISR index for this (BrokersToIsrs).
  for (const auto& [name, base_topic] : scratch.base().topics) {
    const TopicImage* topic = scratch.topic(name);
    if (topic == nullptr) continue;
    const Uuid topic_id = topic->id;
    const size_t partitions = topic->partitions.size();
    std::optional<bool> unclean;  // looked up once per topic, when needed
    for (size_t index = 0; index < partitions; ++index) {
      // Looked up again: an earlier record may have copied the topic.
      const PartitionImage& partition = scratch.topic(topic_id)->partitions[index];
      const bool leaves = remove >= 0 && contains(partition.isr, remove);
      const bool may_lead = add >= 0 && partition.leader == -1 &&
                            (contains(partition.isr, add) || contains(partition.replicas, add));
      if (!leaves && !may_lead) continue;
      if (!unclean) unclean = unclean_election_enabled(scratch, *topic);
      PartitionChange change;
      change.topic_id = topic_id;
      change.topic_name = name;
      change.partition = &partition;
      change.acceptable_leader = acceptable;
      change.election = *unclean ? Election::unclean : Election::online;
      std::vector<int32_t> target_isr;
      for (int32_t replica : partition.isr)
        if (replica != remove) target_isr.push_back(replica);
      change.target_isr = std::move(target_isr);
      auto record = build_partition_change(change);
      if (!record) continue;
      add_checked_record(scratch, md::encode_framed(*record, 0), records);
      ++changed;
    }
  }
  if (changed > 0)
    spdlog::info("metadata: {} partition(s) change leader or ISR (broker {} leaves, {} arrives)",
                 changed, remove, add);
}

std::vector<std::vector<uint8_t>> Controller::fence_records(int32_t broker_id) const {
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  auto found = scratch.brokers().find(broker_id);
  if (found == scratch.brokers().end()) return records;
  const int64_t epoch = found->second.epoch;
  partition_changes(scratch, broker_id, -1, records);
  md::FenceBrokerRecord fence;
  fence.id = broker_id;
  fence.epoch = epoch;
  add_checked_record(scratch, md::encode_framed(fence), records);
  return records;
}

void Controller::sync_sessions() {
  MetadataImagePtr current = image();
  for (const auto& [id, broker] : current->brokers)
    if (!heartbeats_->known(id)) heartbeats_->register_broker(id, broker.fenced);
  for (int32_t id : heartbeats_->ids())
    if (!current->brokers.count(id)) heartbeats_->remove(id);
}

ApiError Controller::register_broker(const std::vector<BrokerEndpoint>& endpoints,
                                     const std::optional<std::string>& rack) {
  std::lock_guard lock(mutex_);
  local_endpoints_ = endpoints;
  local_rack_ = rack;
  local_registered_ = true;
  // The broker registers its own node right after the controller opened:
  // every broker of the image gets its session from now.
  sync_sessions();
  return register_local();
}

ApiError Controller::register_local() {
  MetadataImagePtr current = image();
  auto found = current->brokers.find(options_.node_id);
  if (found != current->brokers.end() && found->second.active() &&
      found->second.rack == local_rack_ && found->second.endpoints == local_endpoints_ &&
      features_bootstrapped(*current)) {
    if (!heartbeats_->known(options_.node_id))
      heartbeats_->register_broker(options_.node_id, false);
    return ApiError::none();
  }
  if (found != current->brokers.end())
    spdlog::info("metadata: registering this node {} again", options_.node_id);
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  if (!features_bootstrapped(*current)) bootstrap_features(scratch, supported_features(), records);
  md::RegisterBrokerRecord record;
  record.broker_id = options_.node_id;
  record.incarnation_id = local_incarnation_;
  record.broker_epoch = next_write_offset() + static_cast<int64_t>(records.size());
  for (const BrokerEndpoint& endpoint : local_endpoints_)
    record.end_points.push_back(
        {endpoint.listener_name, endpoint.host, endpoint.port, endpoint.security_protocol, {}});
  for (const BrokerFeatureRange& feature : supported_features())
    record.features.push_back({feature.name, feature.min_version, feature.max_version, {}});
  record.rack = local_rack_;
  record.fenced = false;
  add_checked_record(scratch, md::encode_framed(record), records);
  ApiError committed = commit_or_error(std::move(records));
  if (committed.ok()) {
    heartbeats_->remove(options_.node_id);
    heartbeats_->register_broker(options_.node_id, false);
  }
  return committed;
}

void Controller::commit_logged(std::vector<std::vector<uint8_t>> records, const char* what) {
  ApiError committed = commit_or_error(std::move(records));
  if (!committed.ok()) spdlog::error("metadata: {} failed: {}", what, committed.message);
}

BrokerRegistrationReply Controller::register_broker(const BrokerRegistration& registration) {
  std::lock_guard lock(mutex_);
  sync_sessions();
  const int32_t id = registration.broker_id;
  if (registration.cluster_id != cluster_id_)
    return {ApiError::of(ErrorCode::INCONSISTENT_CLUSTER_ID, "Expected cluster ID " + cluster_id_ +
                                                                 ", but got cluster ID " +
                                                                 registration.cluster_id),
            -1};
  MetadataImagePtr current = image();
  auto found = current->brokers.find(id);
  const BrokerImage* existing = found == current->brokers.end() ? nullptr : &found->second;
  const bool same_incarnation =
      existing != nullptr && existing->incarnation_id == registration.incarnation_id;
  if (existing != nullptr && !same_incarnation && heartbeats_->has_valid_session(id))
    return {ApiError::of(ErrorCode::DUPLICATE_BROKER_REGISTRATION,
                         "Another broker is registered with that broker id."),
            -1};
  if (registration.is_migrating_zk_broker)
    return {ApiError::of(ErrorCode::BROKER_ID_NOT_REGISTERED,
                         "Controller does not support registering ZK brokers."),
            -1};
  if (ApiError features = check_features(*current, registration.features); !features.ok())
    return {features, -1};

  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  if (!features_bootstrapped(*current)) bootstrap_features(scratch, registration.features, records);
  // An earlier incarnation that still leads or sits in ISRs (its session
  // expired but no tick fenced it yet) leaves them first: the new one
  // starts fenced and earns them back by catching up.
  if (existing != nullptr && !same_incarnation && !existing->fenced)
    partition_changes(scratch, id, -1, records);
  md::RegisterBrokerRecord record;
  record.broker_id = id;
  record.incarnation_id = registration.incarnation_id;
  record.rack = registration.rack;
  for (const BrokerEndpoint& endpoint : registration.listeners)
    record.end_points.push_back(
        {endpoint.listener_name, endpoint.host, endpoint.port, endpoint.security_protocol, {}});
  for (const BrokerFeatureRange& feature : registration.features)
    record.features.push_back({feature.name, feature.min_version, feature.max_version, {}});
  if (same_incarnation) {
    // A retry of the same process: its epoch and state stay.
    record.broker_epoch = existing->epoch;
    record.fenced = existing->fenced;
    record.in_controlled_shutdown = existing->in_controlled_shutdown;
  } else {
    // The broker epoch is the offset the RegisterBrokerRecord lands at.
    record.broker_epoch = next_write_offset() + static_cast<int64_t>(records.size());
    record.fenced = true;
  }
  add_checked_record(scratch, md::encode_framed(record), records);
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok())
    return {committed, -1};
  if (!same_incarnation || !heartbeats_->known(id)) {
    heartbeats_->remove(id);
    heartbeats_->register_broker(id, record.fenced);
  }
  spdlog::info("metadata: registered broker {} (incarnation {}, epoch {}{})", id,
               uuid_to_string(registration.incarnation_id), record.broker_epoch,
               same_incarnation ? ", the same incarnation again" : "");
  return {ApiError::none(), record.broker_epoch};
}

ApiError Controller::check_broker_epoch(const MetadataImage& image, int32_t broker_id,
                                        int64_t broker_epoch) {
  auto found = image.brokers.find(broker_id);
  if (found == image.brokers.end())
    return ApiError::of(ErrorCode::STALE_BROKER_EPOCH,
                        "No broker registration found for broker id " + std::to_string(broker_id));
  if (found->second.epoch != broker_epoch)
    return ApiError::of(ErrorCode::STALE_BROKER_EPOCH,
                        "Expected broker epoch " + std::to_string(found->second.epoch) +
                            ", but got broker epoch " + std::to_string(broker_epoch));
  return ApiError::none();
}

bool Controller::broker_active(const MetadataDelta& scratch, int32_t broker) {
  auto found = scratch.brokers().find(broker);
  return found != scratch.brokers().end() && found->second.active();
}

bool Controller::unclean_election_enabled(const MetadataDelta& scratch,
                                          const TopicImage& topic) const {
  auto resolved = resolve_topic_config("unclean.leader.election.enable", topic.configs,
                                       scratch.base(), *options_.broker_config, options_.node_id);
  return resolved && resolved->value == "true";
}

BrokerHeartbeatReply Controller::heartbeat(const BrokerHeartbeat& request) {
  std::lock_guard lock(mutex_);
  sync_sessions();
  const int32_t id = request.broker_id;
  MetadataImagePtr current = image();
  BrokerHeartbeatReply reply;
  reply.error = check_broker_epoch(*current, id, request.broker_epoch);
  if (!reply.error.ok()) return reply;
  const BrokerImage& broker = current->brokers.at(id);
  const BrokerControlStates states = heartbeats_->next_state(
      id, request.current_metadata_offset, request.want_fence, request.want_shutdown,
      broker.registration_offset, leads_a_partition(*current, id));
  std::vector<std::vector<uint8_t>> records;
  if (states.current != states.next) {
    MetadataDelta scratch(current);
    switch (states.next) {
      case BrokerControlState::fenced:
      case BrokerControlState::shutdown_now:
        records = fence_records(id);
        break;
      case BrokerControlState::unfenced: {
        md::UnfenceBrokerRecord unfence;
        unfence.id = id;
        unfence.epoch = broker.epoch;
        add_checked_record(scratch, md::encode_framed(unfence), records);
        partition_changes(scratch, -1, id, records);
        break;
      }
      case BrokerControlState::controlled_shutdown: {
        if (!broker.in_controlled_shutdown) {
          md::BrokerRegistrationChangeRecord change;
          change.broker_id = id;
          change.broker_epoch = broker.epoch;
          change.in_controlled_shutdown = 1;
          add_checked_record(scratch, md::encode_framed(change, 1), records);
        }
        partition_changes(scratch, id, -1, records);
        spdlog::info("metadata: broker {} starts a controlled shutdown", id);
        break;
      }
    }
  }
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok()) {
    reply.error = committed;
    return reply;
  }
  heartbeats_->touch(id, state_fenced(states.next), request.current_metadata_offset);
  if (states.next == BrokerControlState::controlled_shutdown)
    heartbeats_->set_controlled_shutdown_offset(id, image()->offset);
  if (states.next == BrokerControlState::shutdown_now && states.current != states.next)
    spdlog::info("metadata: broker {} may shut down now (fenced)", id);
  reply.is_caught_up = request.current_metadata_offset >= broker.registration_offset;
  reply.is_fenced = state_fenced(states.next);
  reply.should_shutdown = states.next == BrokerControlState::shutdown_now;
  return reply;
}

ApiError Controller::unregister_broker(int32_t broker_id) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  auto found = current->brokers.find(broker_id);
  if (found == current->brokers.end())
    return ApiError::of(ErrorCode::BROKER_ID_NOT_REGISTERED,
                        "Broker ID " + std::to_string(broker_id) + " is not currently registered");
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  partition_changes(scratch, broker_id, -1, records);
  md::UnregisterBrokerRecord record;
  record.broker_id = broker_id;
  record.broker_epoch = found->second.epoch;
  add_checked_record(scratch, md::encode_framed(record), records);
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok()) return committed;
  heartbeats_->remove(broker_id);
  spdlog::info("metadata: unregistered broker {}", broker_id);
  return ApiError::none();
}

void Controller::tick() {
  if (!tick_brokers()) return;
  // Kafka schedules these after a delay once a node becomes active.
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock->monotonic()).count();
  if (next_balance_ms_ == 0 || next_unclean_ms_ == 0) {
    next_balance_ms_ = now + broker_int("leader.imbalance.check.interval.seconds", 300) * 1000;
    next_unclean_ms_ = now + broker_int("unclean.leader.election.interval.ms", 300000);
  }
  if (now >= next_balance_ms_) {
    next_balance_ms_ = now + broker_int("leader.imbalance.check.interval.seconds", 300) * 1000;
    if (options_.broker_config->get_bool("auto.leader.rebalance.enable"))
      balance_partition_leaders();
  }
  if (now >= next_unclean_ms_) {
    next_unclean_ms_ = now + broker_int("unclean.leader.election.interval.ms", 300000);
    elect_unclean_leaders();
  }
}

bool Controller::tick_brokers() {
  std::lock_guard lock(mutex_);
  // Only the active controller keeps sessions (a node that becomes active
  // starts every session afresh: sync_sessions()).
  if (!log_ || !is_active()) {
    next_balance_ms_ = next_unclean_ms_ = 0;
    return false;
  }
  sync_sessions();
  // One broker per commit, as Kafka does: each fencing's leader moves are
  // in the image before the next broker's are computed.
  for (int32_t id : heartbeats_->stale_brokers()) {
    static metrics::Counter& session_fences = metrics::default_registry().counter(
        "sluice_broker_session_fences_total",
        "Brokers fenced by this active controller: session timed out.");
    spdlog::info("metadata: fencing broker {} because its session has timed out", id);
    session_fences.inc();
    commit_logged(fence_records(id), "fencing a broker");
    heartbeats_->fence(id);
  }
  if (local_registered_) {
    if (ApiError registered = register_local(); !registered.ok())
      spdlog::error("metadata: registering this node {} again failed: {}", options_.node_id,
                    registered.message);
  }
  return true;
}

ApiError Controller::update_features(const std::vector<FeatureUpdate>& updates,
                                     bool validate_only) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  for (const FeatureUpdate& update : updates) {
    if (std::string problem = feature_update_problem(*current, options_.node_id, update);
        !problem.empty())
      return ApiError::of(ErrorCode::INVALID_UPDATE_VERSION,
                          "Invalid update version " + std::to_string(update.level) +
                              " for feature " + update.name + ". " + problem);
    // metadata.version has one level here: nothing to write.
    if (update.name == metadata_version_feature) continue;
    md::FeatureLevelRecord record;
    record.name = update.name;
    record.feature_level = update.level;
    add_checked_record(scratch, md::encode_framed(record, 0), records);
  }
  if (validate_only || records.empty()) return ApiError::none();
  ApiError committed = commit_or_error(std::move(records));
  if (committed.ok())
    for (const FeatureUpdate& update : updates)
      spdlog::info("metadata: {} finalized at level {}", update.name, update.level);
  return committed;
}

}  // namespace sluice::cluster

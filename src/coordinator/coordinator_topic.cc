// Creating a coordinator topic and following its leadership (see
// coordinator_topic.h); moved from the group coordinator's service, with the
// topic's name and settings as parameters, when the transaction coordinator
// came.
#include "coordinator/coordinator_topic.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::coordinator {

namespace {

// `spec`'s configs with min.insync.replicas capped at the replication factor
// the topic gets: a larger one would refuse every acks=all append (a single
// node's __transaction_state gets 1, where Kafka's would refuse to work).
std::map<std::string, std::string> creation_configs(const CoordinatorTopicSpec& spec,
                                                    int16_t replication_factor) {
  std::map<std::string, std::string> configs = spec.configs;
  auto min_isr = configs.find("min.insync.replicas");
  if (min_isr != configs.end() && std::stoi(min_isr->second) > replication_factor) {
    spdlog::warn(
        "metadata: internal topic {} gets min.insync.replicas {} instead of {}: its "
        "replication factor is {}",
        spec.name, replication_factor, min_isr->second, replication_factor);
    min_isr->second = std::to_string(replication_factor);
  }
  return configs;
}

}  // namespace

CoordinatorTopic::CoordinatorTopic(cluster::Controller& controller,
                                   cluster::ReplicaManager& replicas, CoordinatorTopicSpec spec,
                                   BrokerId node_id, LeadershipChange elect,
                                   LeadershipChange resign)
    : controller_(controller),
      replicas_(replicas),
      spec_(std::move(spec)),
      node_id_(node_id),
      elect_(std::move(elect)),
      resign_(std::move(resign)),
      leadership_(static_cast<size_t>(spec_.partitions)) {}

void CoordinatorTopic::set_partitions(int32_t partitions) {
  std::lock_guard lock(leadership_mutex_);
  spec_.partitions = partitions;
  leadership_.assign(static_cast<size_t>(partitions), Leadership{});
}

void CoordinatorTopic::follow_leadership(const cluster::MetadataImage& image) {
  const cluster::TopicImage* topic = image.topic(spec_.name);
  if (topic == nullptr) return;
  exists_.store(true, std::memory_order_release);
  std::lock_guard lock(leadership_mutex_);
  if (topic->partitions.size() != leadership_.size() && !partition_count_warned_) {
    partition_count_warned_ = true;
    spdlog::error("{} has {} partitions, the coordinator was started with {}: restart the broker",
                  spec_.name, topic->partitions.size(), leadership_.size());
  }
  for (size_t p = 0; p < leadership_.size(); ++p) {
    const cluster::PartitionImage* partition = topic->partition(static_cast<int32_t>(p));
    if (partition == nullptr) continue;
    const bool leads = BrokerId{partition->leader} == node_id_;
    Leadership& known = leadership_[p];
    if (known.known && known.leads == leads && known.leader_epoch == partition->leader_epoch)
      continue;
    known = {true, leads, partition->leader_epoch};
    if (leads)
      elect_(static_cast<int32_t>(p), LeaderEpoch{partition->leader_epoch});
    else
      resign_(static_cast<int32_t>(p), LeaderEpoch{partition->leader_epoch});
  }
}

void CoordinatorTopic::request() {
  if (exists() || requested_.exchange(true)) return;
  // Only the active controller creates topics: another node asks it
  // (Kafka's brokers send CreateTopics to the controller for their internal
  // topics too). A node that leads the quorum but has not caught up creates
  // it locally (its controller waits for that).
  if (!controller_.is_active() && controller_.quorum().status().leader != controller_.node_id())
    return forward_creation();
  // Creating blocks on the metadata log's fsync: the controller thread's job.
  controller_.submit(
      [this] {
        // Leadership moved while this waited: ask the new active controller
        // without holding the controller thread (creating here would wait
        // for its answer there).
        if (!controller_.is_active() &&
            controller_.quorum().status().leader != controller_.node_id())
          return forward_creation();
        if (Status created = ensure(); !created) {
          spdlog::warn("{}", created.to_string());
          requested_ = false;  // the next lookup asks again
        }
      },
      [this] { requested_ = false; });
}

int16_t CoordinatorTopic::capped_replication_factor(const cluster::MetadataImage& image) const {
  const auto live = static_cast<int16_t>(
      std::max<size_t>(1, std::count_if(image.brokers.begin(), image.brokers.end(),
                                        [](const auto& entry) { return entry.second.active(); })));
  if (spec_.replication_factor <= live) return spec_.replication_factor;
  spdlog::warn(
      "metadata: internal topic {} gets replication factor {} instead of the configured {} "
      "({}): only {} broker(s) are registered",
      spec_.name, live, spec_.replication_factor, spec_.replication_factor_key, live);
  return live;
}

void CoordinatorTopic::forward_creation() {
  protocol::CreateTopicsRequest request;
  request.timeout_ms = 30000;
  auto& topic = request.topics.emplace_back();
  topic.name = spec_.name;
  topic.num_partitions = spec_.partitions;
  topic.replication_factor = capped_replication_factor(*replicas_.image());
  for (const auto& [key, value] : creation_configs(spec_, topic.replication_factor))
    topic.configs.push_back({key, value, {}});
  // The answer comes on the quorum's thread; the image says when the topic
  // exists (follow_leadership). A failure is asked again by the next lookup.
  controller_.quorum().send_to_leader(
      std::move(request), protocol::CreateTopicsRequest::max_version, [this](auto result) {
        if (!result.ok())
          spdlog::warn("creating {}: the controller did not answer: {}", spec_.name,
                       result.status.message);
        else
          for (const auto& created : result.message.topics)
            if (created.error_code != 0 &&
                created.error_code != to_wire(ErrorCode::TOPIC_ALREADY_EXISTS))
              spdlog::warn("creating {}: {}", spec_.name,
                           created.error_message.value_or(
                               error_name(static_cast<ErrorCode>(created.error_code))));
        requested_ = false;
      });
}

Status CoordinatorTopic::ensure() {
  if (exists_.load(std::memory_order_acquire)) return Status::ok();
  std::lock_guard lock(create_mutex_);
  if (exists_.load(std::memory_order_relaxed)) return Status::ok();
  // The controller caps the replication factor at its live brokers too.
  const auto live = static_cast<int16_t>(std::max<size_t>(
      1, std::count_if(controller_.image()->brokers.begin(), controller_.image()->brokers.end(),
                       [](const auto& entry) { return entry.second.active(); })));
  auto created = controller_.ensure_internal_topic(
      spec_.name, spec_.partitions, spec_.replication_factor,
      creation_configs(spec_, std::min(spec_.replication_factor, live)));
  if (!created.error.ok())
    return Status(Errc::invalid_value, "creating " + spec_.name + ": " + created.error.message);
  exists_.store(true, std::memory_order_release);
  return Status::ok();
}

}  // namespace sluice::coordinator

#include "partition_simulation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "broker/broker_config.h"
#include "broker/handlers.h"
#include "cluster/controller.h"
#include "cluster/features.h"
#include "cluster/isr_manager.h"
#include "cluster/partition.h"
#include "cluster/replica_manager.h"
#include "cluster/replication_rules.h"
#include "record/batch_builder.h"
#include "record/record_set.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster::psim {
namespace {

const std::string topic_name = "t";
const storage::TopicPartition topic_partition{topic_name, 0};
constexpr int32_t controller_id = 0;  // the controller's place on the network

uint64_t hash_bytes(Bytes bytes) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (uint8_t byte : bytes) hash = (hash ^ byte) * 1099511628211ULL;
  return hash;
}

// One batch of a log as the checker sees it: where it lies, its epoch and a
// hash of all its bytes (offsets and epoch included), so two logs agree on
// it exactly when their batches are byte-equal.
struct BatchInfo {
  int64_t base = 0;
  int64_t end = 0;  // the offset after its last record
  int32_t epoch = -1;
  uint64_t hash = 0;
};

std::vector<BatchInfo> batches_of(Bytes records) {
  std::vector<BatchInfo> out;
  record::RecordSetReader reader(records);
  record::BatchView view;
  while (reader.next(view))
    out.push_back({view.header.base_offset, view.header.next_offset(),
                   view.header.partition_leader_epoch, hash_bytes(view.bytes)});
  return out;
}

// What one broker's log holds, kept in step with every call that changes
// it (appends, truncations, restarts) and compared with a full read of the
// log at each restart and at the end of a run.
struct Shadow {
  std::vector<BatchInfo> batches;
  int64_t start = 0;
  int64_t end() const { return batches.empty() ? start : batches.back().end; }
  void append(const std::vector<BatchInfo>& more) {
    batches.insert(batches.end(), more.begin(), more.end());
  }
  // Keeps the batches wholly below `offset`.
  void truncate(int64_t offset) {
    while (!batches.empty() && batches.back().end > offset) batches.pop_back();
  }
};

struct Broker {
  int32_t id = 0;
  std::unique_ptr<storage::MemoryFileSystem> fs;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<ReplicaManager> replicas;
  std::unique_ptr<IsrManager> isr;  // AlterPartition sender, over the simulated network
  bool alive = false;
  uint8_t life = 0;           // incarnation: bumps at each start
  int64_t broker_epoch = -1;  // -1: not registered in this life
  int group = 0;              // network side
  uint64_t fetch_sequence = 0;
  bool heard_from_leader = false;                     // applied a fetch answer in this life
  std::map<int32_t, int64_t> leader_high_watermarks;  // per leader epoch, this life
  Shadow shadow;
  size_t verified = 0;  // shadow.batches[0, verified) equal the committed ones

  std::shared_ptr<Partition> partition() const {
    return replicas ? replicas->partition(topic_name, 0) : nullptr;
  }
};

// An acks=all answer waiting, woken as the broker's ReplicationWait is: by
// the Partition's waiters (a leader's high watermark moving), else at its
// timeout. Between the two nothing looks at it, as in the broker.
struct AckWaiter final : AppendWaiter {
  bool woken = true;  // ReplicationWait::start looks once at once
  void on_new_data() override { woken = true; }
};

struct PendingAck {
  std::shared_ptr<AckWaiter> waiter = std::make_shared<AckWaiter>();
  int32_t broker = 0;
  uint8_t life = 0;
  int32_t leader_epoch = -1;
  BatchInfo batch;
  int64_t sent_ms = 0;
};

struct Event {
  int64_t time = 0;
  uint64_t sequence = 0;
  std::function<void()> run;
  bool operator>(const Event& other) const {
    return time != other.time ? time > other.time : sequence > other.sequence;
  }
};

std::string ids(const std::vector<int32_t>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + std::to_string(list[i]);
  return out + "]";
}

class Simulation {
 public:
  explicit Simulation(const Options& options)
      : options_(options), random_(options.seed), ids_random_(options.seed) {}

  Result run() {
    if (!open_controller()) return result_;
    for (int32_t id = 1; id <= options_.brokers; ++id) {
      auto broker = std::make_unique<Broker>();
      broker->id = id;
      broker->fs = std::make_unique<storage::MemoryFileSystem>(options_.seed * 31 + id);
      brokers_[id] = std::move(broker);
    }
    for (auto& [id, broker] : brokers_) start(*broker, /*registered_now=*/true);
    if (!create_topic()) return result_;
    for (auto& [id, broker] : brokers_) apply_metadata(*broker, controller_->image());
    schedule_loops();
    const int64_t end = options_.fault_phase_ms + options_.calm_phase_ms;
    bool calm = false;
    while (!queue_.empty() && result_.ok) {
      Event event = queue_.top();
      queue_.pop();
      if (event.time > end) break;
      advance_to(event.time);
      if (!calm && now_ >= options_.fault_phase_ms) {
        calm = true;
        calm_down();
      }
      event.run();
      ++result_.events;
      check();
    }
    if (result_.ok) check_converged();
    if (result_.ok) check_shadows_against_logs();
    result_.committed = committed_end();
    stop();
    return result_;
  }

 private:
  // --- the controller ---

  bool open_controller() {
    std::map<std::string, std::string> settings = {
        {"broker.session.timeout.ms", std::to_string(options_.session_timeout_ms)},
        {"unclean.leader.election.enable", options_.faults.unclean_election ? "true" : "false"},
        {"unclean.leader.election.interval.ms", "200"},
        // Preferred-leader elections now and then: clean leader moves too.
        {"leader.imbalance.check.interval.seconds", "2"},
    };
    auto config = Config::parse(broker::broker_config_defs(), settings);
    if (!config) return fail("broker config: " + config.status().to_string());
    config_ = std::make_unique<Config>(std::move(config.value()));
    if (!controller_fs_.make_dirs("/meta") || !controller_fs_.sync_dir("/"))
      return fail("controller dirs");
    ControllerOptions options;
    options.node_id = 100;  // a controller-only node: its own broker is not one of ours
    options.metadata_log_dir = "/meta";
    options.log_dirs = {"/meta"};
    options.cluster_id = "partition-simulation-0001";
    options.broker_config = config_.get();
    options.clock = &clock_;
    options.random = &ids_random_;
    options.on_fatal = [this](const std::string& message) { fail("controller: " + message); };
    auto controller = Controller::open(controller_fs_, options);
    if (!controller) return fail("controller: " + controller.status().to_string());
    controller_ = std::move(controller.value());
    return true;
  }

  bool create_topic() {
    NewTopic topic;
    topic.name = topic_name;
    // The replicas start at a seed-chosen broker, so each one leads first somewhere.
    std::vector<int32_t> replicas;
    const int first = static_cast<int>(options_.seed % static_cast<uint64_t>(options_.brokers));
    for (int i = 0; i < options_.replication_factor; ++i)
      replicas.push_back(1 + (first + i) % options_.brokers);
    topic.assignments = {{0, replicas}};
    CreateTopicResult created = controller_->create_topics({topic}, false).front();
    if (!created.error.ok()) return fail("create topic: " + created.error.message);
    trace("topic created, replicas " + ids(replicas));
    return true;
  }

  const PartitionImage& controller_partition() {
    image_ = controller_->image();
    return image_->topic(topic_name)->partitions.at(0);
  }

  BrokerRegistration registration(const Broker& broker) const {
    BrokerRegistration out;
    out.broker_id = broker.id;
    out.cluster_id = controller_->cluster_id();
    std::array<uint8_t, 16> bytes{};
    bytes[14] = static_cast<uint8_t>(broker.id);
    bytes[15] = broker.life;
    out.incarnation_id = Uuid{bytes};
    out.listeners = {{"PLAINTEXT", "localhost", static_cast<uint16_t>(9000 + broker.id), 0}};
    out.features = supported_features();
    return out;
  }

  // --- time, randomness, the network ---

  void advance_to(int64_t time) {
    if (time > now_) clock_.advance_ms(time - now_);
    now_ = time;
  }

  void at(int64_t time, std::function<void()> run) {
    queue_.push(Event{time, next_sequence_++, std::move(run)});
  }

  int64_t gap(int64_t mean) {
    return std::uniform_int_distribution<int64_t>(mean / 2, mean * 3 / 2)(random_);
  }

  bool chance(double probability) {
    return std::uniform_real_distribution<>(0, 1)(random_) < probability;
  }

  bool in_fault_phase() const { return now_ < options_.fault_phase_ms; }

  int group_of(int32_t node) const {
    return node == controller_id ? controller_group_ : brokers_.at(node)->group;
  }

  // Delivers `deliver` at `to` after a delay, unless the message is lost (a
  // drop, or `from` and `to` on two sides of a partition at either end);
  // `lost` then runs after `timeout_ms` (the sender's request timeout).
  void send(int32_t from, int32_t to, std::function<void()> deliver,
            std::function<void()> lost = {}) {
    const bool dropped = in_fault_phase() && chance(options_.drop_rate);
    const int64_t delay = std::uniform_int_distribution<int64_t>(1, options_.max_delay_ms)(random_);
    if (dropped || group_of(from) != group_of(to)) {
      if (lost) at(now_ + options_.request_timeout_ms, std::move(lost));
      return;
    }
    at(now_ + delay, [this, from, to, deliver = std::move(deliver), lost = std::move(lost)] {
      if (group_of(from) != group_of(to)) {
        if (lost) at(now_ + options_.request_timeout_ms, lost);
        return;
      }
      deliver();
    });
  }

  // --- brokers: start, crash ---

  void start(Broker& broker, bool registered_now) {
    storage::LogManagerOptions log_options;
    log_options.log_dirs = {"/data"};
    log_options.background_threads = false;
    log_options.clock = &clock_;
    log_options.random = &ids_random_;
    log_options.logger = [](std::string_view) {};
    const bool fsync_every_append = options_.power_loss_rate > 0;
    log_options.config_for = [fsync_every_append](const storage::TopicPartition&) {
      storage::LogConfig config;
      if (fsync_every_append) config.flush_messages = 1;
      return config;
    };
    auto logs = storage::LogManager::open(*broker.fs, std::move(log_options));
    if (!logs) {
      fail("broker " + std::to_string(broker.id) +
           " cannot open its logs: " + logs.status().to_string());
      return;
    }
    broker.logs = std::move(logs.value());
    ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{broker.id};
    replica_options.log_manager = broker.logs.get();
    replica_options.logger = [](std::string_view) {};
    replica_options.clock = &clock_;
    const int32_t min_insync = options_.min_insync_replicas;
    replica_options.append_policy_for = [min_insync](const TopicImage&, const MetadataImage&) {
      AppendPolicy policy;
      policy.min_insync_replicas = min_insync;
      return policy;
    };
    replica_options.log_config_for = [fsync_every_append](const TopicImage&, const MetadataImage&) {
      storage::LogConfig config;
      if (fsync_every_append) config.flush_messages = 1;
      return config;
    };
    broker.replicas = std::make_unique<ReplicaManager>(std::move(replica_options));
    Broker* self = &broker;
    broker.isr = std::make_unique<IsrManager>(
        broker.id, [self] { return self->broker_epoch; },
        [self] { return self->replicas->image(); },
        [this, self](protocol::AlterPartitionRequest request, AlterPartitionDone done) {
          send_alter_partition(*self, std::move(request), std::move(done));
        });
    broker.alive = true;
    ++broker.life;
    broker.broker_epoch = -1;
    broker.heard_from_leader = false;
    broker.leader_high_watermarks.clear();
    broker.shadow = read_log(broker);
    broker.verified = 0;
    if (registered_now) {
      BrokerRegistrationReply reply = controller_->register_broker(registration(broker));
      if (!reply.error.ok())
        fail("registration of broker " + std::to_string(broker.id) + ": " + reply.error.message);
      broker.broker_epoch = reply.broker_epoch;
      controller_->heartbeat(
          {broker.id, broker.broker_epoch, controller_->image()->offset, false, false});
    }
  }

  void crash(Broker& broker) {
    const bool power = chance(options_.power_loss_rate);
    trace("broker " + std::to_string(broker.id) + (power ? " loses power" : " is killed (-9)"));
    ++result_.crashes;
    if (power) ++result_.power_losses;
    broker.alive = false;
    broker.broker_epoch = -1;
    // Nothing the dying process would still write reaches the disk: its
    // close (flush, checkpoints, clean-shutdown marker) fails.
    broker.fs->fail_writes(true);
    broker.isr.reset();
    broker.replicas.reset();
    broker.logs.reset();
    broker.fs->fail_writes(false);
    if (power) broker.fs->simulate_crash(storage::CrashMode::drop_unsynced);
    std::erase_if(pending_acks_, [&](const PendingAck& ack) { return ack.broker == broker.id; });
    at(now_ + gap(options_.restart_after_ms), [this, &broker] { restart(broker); });
  }

  void restart(Broker& broker) {
    if (broker.alive) return;
    start(broker, false);
    if (!result_.ok) return;
    trace("broker " + std::to_string(broker.id) + " restarts, log end " +
          std::to_string(broker.shadow.end()));
    register_later(broker, broker.life);
    loops_of(broker);
  }

  // The whole log as it is on disk now (after a start's recovery).
  Shadow read_log(Broker& broker) {
    Shadow shadow;
    auto managed = broker.logs->find(topic_partition);
    if (!managed) return shadow;
    std::lock_guard lock(managed->mutex());
    if (!managed->usable()) return shadow;
    storage::Log& log = managed->log();
    shadow.start = log.log_start_offset();
    int64_t at_offset = shadow.start;
    while (at_offset < log.log_end_offset()) {
      auto read = log.read(Offset{at_offset}, 1 << 20, Offset{log.log_end_offset()}, true);
      if (!read || read->range.length == 0) {
        fail("broker " + std::to_string(broker.id) + " cannot read its log at " +
             std::to_string(at_offset));
        return shadow;
      }
      std::vector<uint8_t> bytes(read->range.length);
      auto n = read->range.file->pread(read->range.position, bytes);
      if (!n || *n != bytes.size()) {
        fail("short read of broker " + std::to_string(broker.id) + "'s log");
        return shadow;
      }
      shadow.append(batches_of(bytes));
      at_offset = read->next_offset;
    }
    return shadow;
  }

  // --- the loops of a broker's life ---

  void schedule_loops() {
    for (auto& [id, broker] : brokers_) loops_of(*broker);
    controller_tick();
    produce_loop();
    if (options_.crash_every_ms > 0) at(gap(options_.crash_every_ms), [this] { crash_loop(); });
    if (options_.partition_every_ms > 0)
      at(gap(options_.partition_every_ms), [this] { partition_loop(); });
  }

  // Runs `body` for `broker` while it lives the life it had when scheduled.
  void in_life(Broker& broker, uint8_t life, int64_t delay, std::function<void()> body) {
    at(now_ + delay, [&broker, life, body = std::move(body)] {
      if (broker.alive && broker.life == life) body();
    });
  }

  void loops_of(Broker& broker) {
    const uint8_t life = broker.life;
    fetch_later(broker, life, 1);
    heartbeat_loop(broker, life);
    metadata_loop(broker, life);
    isr_check_loop(broker, life);
  }

  void register_later(Broker& broker, uint8_t life) {
    in_life(broker, life, 1, [this, &broker, life] {
      send(broker.id, controller_id, [this, &broker, life] {
        BrokerRegistrationReply reply = controller_->register_broker(registration(broker));
        send(controller_id, broker.id, [this, &broker, life, reply] {
          if (!broker.alive || broker.life != life || !reply.error.ok()) return;
          broker.broker_epoch = reply.broker_epoch;
          trace("broker " + std::to_string(broker.id) + " registered, epoch " +
                std::to_string(reply.broker_epoch));
        });
      });
    });
  }

  void heartbeat_loop(Broker& broker, uint8_t life) {
    in_life(broker, life, gap(options_.heartbeat_every_ms), [this, &broker, life] {
      if (broker.broker_epoch < 0) {
        register_later(broker, life);  // a registration lost on the way
      } else {
        BrokerHeartbeat beat;
        beat.broker_id = broker.id;
        beat.broker_epoch = broker.broker_epoch;
        beat.current_metadata_offset = broker.replicas->image()->offset;
        send(broker.id, controller_id, [this, beat] { controller_->heartbeat(beat); });
      }
      heartbeat_loop(broker, life);
    });
  }

  void metadata_loop(Broker& broker, uint8_t life) {
    in_life(broker, life, gap(options_.metadata_every_ms), [this, &broker, life] {
      send(broker.id, controller_id, [this, &broker, life] {
        MetadataImagePtr image = controller_->image();
        send(controller_id, broker.id, [this, &broker, life, image] {
          if (broker.alive && broker.life == life) apply_metadata(broker, image);
        });
      });
      metadata_loop(broker, life);
    });
  }

  void apply_metadata(Broker& broker, const MetadataImagePtr& image) {
    // The metadata log is read in order: an older image is never applied.
    if (image->offset <= broker.replicas->image()->offset) return;
    Status applied = broker.replicas->apply_image(image);
    if (!applied)
      fail("broker " + std::to_string(broker.id) + " apply_image: " + applied.to_string());
  }

  void isr_check_loop(Broker& broker, uint8_t life) {
    in_life(broker, life, std::max<int64_t>(options_.lag_max_ms / 2, 10), [this, &broker, life] {
      // IsrManager::check_shrinks, on the simulated clock.
      if (auto partition = broker.partition()) {
        if (auto retry = partition->isr_change_to_retry()) {
          trace("leader " + std::to_string(broker.id) + " retries the ISR " + ids(retry->new_isr));
          broker.isr->submit(partition, std::move(*retry));
        }
        if (auto change = partition->isr_shrink(now_, options_.lag_max_ms)) {
          trace("leader " + std::to_string(broker.id) + " asks to shrink the ISR to " +
                ids(change->new_isr));
          broker.isr->submit(partition, std::move(*change));
        }
      }
      isr_check_loop(broker, life);
    });
  }

  using AlterPartitionDone =
      std::function<void(net::ClientResult<protocol::AlterPartitionResponse>)>;

  // The broker's send_alter_partition: the request to the controller
  // (alter_partition_here, the handler's own conversion), its answer back;
  // a lost one is a client error after the request timeout.
  void send_alter_partition(Broker& broker, protocol::AlterPartitionRequest request,
                            AlterPartitionDone done) {
    const uint8_t life = broker.life;
    auto answered = [this, &broker, life,
                     done](net::ClientResult<protocol::AlterPartitionResponse> result) {
      if (!broker.alive || broker.life != life) return;
      if (result.ok() && result.message.error_code == 0 && !result.message.topics.empty() &&
          !result.message.topics[0].partitions.empty()) {
        const auto& answer = result.message.topics[0].partitions[0];
        if (answer.error_code == 0) ++result_.isr_changes;
        trace("AlterPartition of leader " + std::to_string(broker.id) + " answered " +
              std::to_string(answer.error_code) + ": ISR " + ids(answer.isr) +
              " (partition epoch " + std::to_string(answer.partition_epoch) + ")");
      } else {
        trace("AlterPartition of leader " + std::to_string(broker.id) + " failed");
      }
      done(std::move(result));
    };
    auto lost = [answered] {
      net::ClientResult<protocol::AlterPartitionResponse> result;
      result.status = {net::ClientErrc::timed_out, "lost in the simulated network"};
      answered(std::move(result));
    };
    send(
        broker.id, controller_id,
        [this, &broker, request = std::move(request), answered, lost] {
          net::ClientResult<protocol::AlterPartitionResponse> result;
          result.version = 3;
          result.message = broker::alter_partition_here(*controller_, request, 3);
          send(
              controller_id, broker.id, [answered, result] { answered(result); }, lost);
        },
        lost);
  }

  // --- replication: the follower's fetch loop and the leader's answer ---

  void fetch_later(Broker& broker, uint8_t life, int64_t delay) {
    in_life(broker, life, delay, [this, &broker, life] { fetch(broker, life); });
  }

  struct FetchAsk {
    int32_t follower = 0;
    int64_t broker_epoch = -1;
    FollowerPosition position;
  };

  void fetch(Broker& broker, uint8_t life) {
    auto partition = broker.partition();
    FollowerPosition position = partition ? partition->follower_position() : FollowerPosition{};
    if (!position.follower || !brokers_.count(position.leader))
      return fetch_later(broker, life, 10);
    const uint64_t sequence = ++broker.fetch_sequence;
    FetchAsk ask{broker.id, broker.broker_epoch, position};
    auto lost = [this, &broker, life, sequence] {
      if (broker.alive && broker.life == life && broker.fetch_sequence == sequence)
        fetch_later(broker, life, 1);
    };
    Broker& leader = *brokers_.at(position.leader);
    send(
        broker.id, leader.id,
        [this, &broker, &leader, life, sequence, ask, lost] {
          if (!leader.alive) return lost();
          FetchedPartition answer = answer_fetch(leader, ask);
          auto kept =
              std::make_shared<std::vector<uint8_t>>(answer.records.begin(), answer.records.end());
          answer.records = Bytes(kept->data(), kept->size());
          send(
              leader.id, broker.id,
              [this, &broker, life, sequence, ask, answer, kept] {
                if (!broker.alive || broker.life != life || broker.fetch_sequence != sequence)
                  return;
                bool more = apply_answer(broker, ask, answer);
                fetch_later(broker, life, more ? 1 : 10);
              },
              lost);
        },
        lost);
  }

  // broker/replication.cc's answer_partition, on the leader.
  FetchedPartition answer_fetch(Broker& leader, const FetchAsk& ask) {
    FetchedPartition data;
    auto partition = leader.partition();
    if (!partition) {
      data.error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      return data;
    }
    const FollowerPosition& at = ask.position;
    ReplicaReadResult result =
        partition->read_for_replica(ask.follower, ask.broker_epoch, Offset{at.log_end_offset},
                                    LeaderEpoch{at.last_fetched_epoch},
                                    LeaderEpoch{at.leader_epoch}, options_.fetch_max_bytes, now_);
    const PartitionReadResult& read = result.read;
    data.error = read.error;
    data.high_watermark = read.high_watermark;
    data.log_start_offset = read.log_start_offset;
    if (result.diverging_epoch) {
      data.diverging_epoch = std::max(*result.diverging_epoch, 0);
      data.diverging_end_offset =
          *result.diverging_epoch < 0 ? read.log_start_offset : result.diverging_end_offset;
    }
    if (read.error == ErrorCode::NONE && read.range.length > 0) {
      fetched_bytes_.assign(read.range.length, 0);
      auto n = read.range.file->pread(read.range.position, fetched_bytes_);
      if (!n || *n != fetched_bytes_.size())
        data.error = ErrorCode::KAFKA_STORAGE_ERROR;
      else
        data.records = Bytes(fetched_bytes_.data(), fetched_bytes_.size());
    }
    if (result.may_join_isr)
      if (auto change = partition->isr_expand(ask.follower)) {
        trace("leader " + std::to_string(leader.id) + " asks to add " +
              std::to_string(ask.follower) + ": ISR " + ids(change->new_isr));
        leader.isr->submit(partition, std::move(*change));
      }
    return data;
  }

  // The follower applies the answer with the fetcher's own function; true
  // if it should fetch again at once.
  bool apply_answer(Broker& broker, const FetchAsk& ask, const FetchedPartition& answer) {
    auto partition = broker.partition();
    if (!partition) return false;
    const LeaderEpoch fetched_in{ask.position.leader_epoch};
    FollowerApplied applied = apply_fetched_partition(*partition, fetched_in, answer);
    switch (applied.action) {
      case FollowerAction::appended:
        broker.shadow.append(batches_of(answer.records));
        broker.heard_from_leader = true;  // flushed by apply_fetched_partition if due
        return true;
      case FollowerAction::up_to_date:
        broker.heard_from_leader = true;
        return false;
      case FollowerAction::truncated:
      case FollowerAction::restarted: {
        ++result_.truncations;
        const int64_t end = partition->offsets().log_end_offset;
        if (applied.action == FollowerAction::restarted) {
          broker.shadow.batches.clear();
          broker.shadow.start = end;
        }
        broker.shadow.truncate(end);
        broker.verified = std::min(broker.verified, broker.shadow.batches.size());
        trace("follower " + std::to_string(broker.id) + " truncates to " + std::to_string(end) +
              " (diverging epoch " + std::to_string(answer.diverging_epoch) + " ends at " +
              std::to_string(answer.diverging_end_offset) + ")");
        return true;
      }
      case FollowerAction::failed:
        return false;
    }
    return false;
  }

  // The leader's flush in power-loss runs: flush.messages=1 with
  // sluice.produce.fsync=true, whose acks=all answer waits for the
  // group-commit flush (done here at once). Followers flush in
  // apply_fetched_partition.
  void flush_if_due(Broker& broker) {
    if (options_.power_loss_rate <= 0) return;
    auto managed = broker.partition()->managed_log();
    std::lock_guard lock(managed->mutex());
    if (managed->usable() && managed->log().flush_due())
      if (Status flushed = managed->log().flush(); !flushed)
        fail("flush of broker " + std::to_string(broker.id) + ": " + flushed.to_string());
  }

  // --- producers ---

  void produce_loop() {
    // Producing stops halfway through the calm phase: the rest is for
    // every replica to catch up.
    if (now_ >= options_.fault_phase_ms + options_.calm_phase_ms / 2) return;
    produce();
    at(now_ + gap(options_.produce_every_ms), [this] { produce_loop(); });
  }

  void produce() {
    // The producer sends to the leader of the controller's image, or now
    // and then to another broker that believes it leads (stale metadata).
    std::vector<Broker*> leaders;
    for (auto& [id, broker] : brokers_)
      if (broker->alive && broker->partition() && broker->partition()->leader_id() == id)
        leaders.push_back(broker.get());
    if (leaders.empty()) return;
    Broker* target = leaders.front();
    const int32_t current = controller_partition().leader;
    for (Broker* leader : leaders)
      if (leader->id == current) target = leader;
    if (chance(0.2))
      target = leaders[std::uniform_int_distribution<size_t>(0, leaders.size() - 1)(random_)];
    Broker& broker = *target;
    record::BatchBuilder builder;
    const int records = std::uniform_int_distribution<int>(1, 3)(random_);
    for (int i = 0; i < records; ++i) {
      std::string value = "v" + std::to_string(next_value_++);
      builder.append(clock_.now_ms(), std::nullopt,
                     Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    std::vector<uint8_t> batch = std::move(builder.build()).value();
    auto partition = broker.partition();
    PartitionAppendResult appended = partition->append_as_leader(batch, -1, clock_.now_ms());
    if (appended.error != ErrorCode::NONE) return;
    std::vector<BatchInfo> written = batches_of(batch);  // rewritten in place: offsets, epoch
    broker.shadow.append(written);
    flush_if_due(broker);
    if (options_.faults.high_watermark_ignores_a_follower) pretend_a_follower_has_it(broker);
    PendingAck& ack = pending_acks_.emplace_back();
    ack.broker = broker.id;
    ack.life = broker.life;
    ack.leader_epoch = appended.leader_epoch;
    ack.batch = written.front();
    ack.batch.end = written.back().end;
    ack.sent_ms = now_;
    partition->add_waiter(ack.waiter);
  }

  // The fault: the leader records a fetch at its log end for one ISR
  // follower that did not make it, so the high watermark passes records
  // that member does not have.
  void pretend_a_follower_has_it(Broker& leader) {
    auto partition = leader.partition();
    std::vector<int32_t> isr = partition->isr();
    std::sort(isr.begin(), isr.end());
    if (isr.empty() || isr.back() == leader.id) return;
    const int32_t member = isr.back();
    partition->read_for_replica(member, -1, Offset{partition->offsets().log_end_offset},
                                LeaderEpoch{-1}, LeaderEpoch{-1}, 0, now_);
  }

  // The acks=all wait's rule, for every batch waiting that was woken or
  // timed out.
  void settle_acks() {
    for (auto at = pending_acks_.begin(); at != pending_acks_.end();) {
      Broker& broker = *brokers_.at(at->broker);
      auto partition = broker.partition();
      if (!partition) {
        ++at;
        continue;
      }
      const bool timed_out = now_ - at->sent_ms >= options_.request_timeout_ms;
      if (!at->waiter->woken && !timed_out) {
        ++at;
        continue;
      }
      at->waiter->woken = false;
      AckOutcome outcome = acks_all_outcome(*partition, at->leader_epoch, at->batch.end, timed_out);
      if (!outcome.settled) {
        ++at;
        continue;
      }
      if (outcome.error == ErrorCode::NONE) acknowledge(*at);
      at = pending_acks_.erase(at);
    }
  }

  void acknowledge(const PendingAck& ack) {
    ++result_.acknowledged;
    acknowledged_.push_back(ack.batch);
    trace("acked [" + std::to_string(ack.batch.base) + "," + std::to_string(ack.batch.end) +
          ") from leader " + std::to_string(ack.broker) + " epoch " +
          std::to_string(ack.leader_epoch));
    // Acknowledged means committed: the batch is the committed one there.
    auto found = std::lower_bound(
        committed_.begin(), committed_.end(), ack.batch.base,
        [](const BatchInfo& batch, int64_t offset) { return batch.base < offset; });
    if (found == committed_.end() || found->base != ack.batch.base || found->hash != ack.batch.hash)
      fail("acknowledged batch [" + std::to_string(ack.batch.base) + "," +
           std::to_string(ack.batch.end) + ") of leader " + std::to_string(ack.broker) +
           " (epoch " + std::to_string(ack.leader_epoch) +
           ") is not the committed batch at that offset");
  }

  // --- faults ---

  void crash_loop() {
    if (!in_fault_phase()) return;
    std::vector<Broker*> alive;
    for (auto& [id, broker] : brokers_)
      if (broker->alive) alive.push_back(broker.get());
    if (!alive.empty()) {
      Broker* victim = alive[std::uniform_int_distribution<size_t>(0, alive.size() - 1)(random_)];
      // Half the time the leader: its death is what replication is for.
      const int32_t leader = controller_partition().leader;
      if (chance(0.5))
        for (Broker* broker : alive)
          if (broker->id == leader) victim = broker;
      crash(*victim);
    }
    at(now_ + gap(options_.crash_every_ms), [this] { crash_loop(); });
  }

  void partition_loop() {
    if (!in_fault_phase()) return;
    controller_group_ = chance(0.5) ? 1 : 0;
    std::string sides = "network partition: controller " + std::to_string(controller_group_);
    for (auto& [id, broker] : brokers_) {
      broker->group = chance(0.5) ? 1 : 0;
      sides += ", " + std::to_string(id) + ":" + std::to_string(broker->group);
    }
    trace(sides);
    at(now_ + gap(1'000), [this] { heal(); });
    at(now_ + gap(options_.partition_every_ms), [this] { partition_loop(); });
  }

  void heal() {
    controller_group_ = 0;
    for (auto& [id, broker] : brokers_) broker->group = 0;
  }

  void calm_down() {
    trace("calm: the network heals, every broker runs");
    heal();
    for (auto& [id, broker] : brokers_) restart(*broker);
  }

  void controller_tick() {
    controller_->tick();
    const PartitionImage& now = controller_partition();
    if (now.leader_epoch != last_leader_epoch_) {
      ++result_.leader_changes;
      last_leader_epoch_ = now.leader_epoch;
      trace("controller: leader " + std::to_string(now.leader) + " epoch " +
            std::to_string(now.leader_epoch) + " ISR " + ids(now.isr));
    }
    at(now_ + 50, [this] { controller_tick(); });
  }

  // --- the invariants ---

  int64_t committed_end() const { return committed_.empty() ? 0 : committed_.back().end; }

  // Whether `broker`'s batches below `offset` are the committed ones (and
  // it has every committed batch below it).
  bool holds_committed(Broker& broker, int64_t offset) {
    const auto& mine = broker.shadow.batches;
    size_t& verified = broker.verified;
    while (verified < committed_.size() && committed_[verified].end <= offset) {
      if (verified >= mine.size() || mine[verified].hash != committed_[verified].hash) return false;
      ++verified;
    }
    return true;
  }

  void check() {
    if (!result_.ok) return;
    const PartitionImage& image = controller_partition();
    for (auto& [id, broker] : brokers_) {
      if (!broker->alive) continue;
      auto partition = broker->partition();
      if (!partition) continue;
      check_broker(*broker, *partition, image);
      if (!result_.ok) return;
    }
    settle_acks();
  }

  void check_broker(Broker& broker, Partition& partition, const PartitionImage& image) {
    const std::string name = "broker " + std::to_string(broker.id);
    const int64_t hw = partition.high_watermark();
    const bool leads = partition.leader_id() == broker.id;
    if (leads) {
      const int32_t epoch = partition.leader_epoch();
      auto [seen, inserted] = broker.leader_high_watermarks.emplace(epoch, hw);
      if (!inserted && hw < seen->second)
        return void(fail(name + "'s high watermark went back from " + std::to_string(seen->second) +
                         " to " + std::to_string(hw) + " while it led in epoch " +
                         std::to_string(epoch)));
      seen->second = hw;
      if (hw > committed_end()) extend_committed(broker, hw);
      if (!result_.ok) return;
    }
    // Every live ISR member, and the leader of the current epoch, holds
    // the whole committed prefix.
    const bool in_isr = std::find(image.isr.begin(), image.isr.end(), broker.id) != image.isr.end();
    const bool current_leader =
        leads && image.leader == broker.id && partition.leader_epoch() == image.leader_epoch;
    if ((in_isr && broker.broker_epoch >= 0) || current_leader) {
      if (broker.shadow.end() < committed_end() || !holds_committed(broker, committed_end()))
        return void(fail(name + (current_leader ? " leads" : " is in the ISR " + ids(image.isr)) +
                         " but lacks committed batches (log end " +
                         std::to_string(broker.shadow.end()) + ", committed " +
                         std::to_string(committed_end()) + ")"));
    }
    // Below its high watermark a replica that has heard from a leader
    // holds exactly the committed batches.
    if (leads || broker.heard_from_leader) {
      if (hw > committed_end())
        return void(fail(name + "'s high watermark " + std::to_string(hw) +
                         " is past the committed end " + std::to_string(committed_end())));
      if (!holds_committed(broker, hw))
        return void(fail(name + "'s batches below its high watermark " + std::to_string(hw) +
                         " differ from the committed ones"));
    }
  }

  // A leader's high watermark passed the committed end: its batches up to
  // it become the committed ones.
  void extend_committed(Broker& broker, int64_t hw) {
    const std::string name = "leader " + std::to_string(broker.id);
    if (!holds_committed(broker, committed_end()))
      return void(fail(name + " moved its high watermark to " + std::to_string(hw) +
                       " over batches that differ from the committed ones"));
    const auto& mine = broker.shadow.batches;
    size_t index = committed_.size();
    while (index < mine.size() && mine[index].end <= hw) committed_.push_back(mine[index++]);
    broker.verified = committed_.size();
    if (committed_end() != hw)
      fail(name + "'s high watermark " + std::to_string(hw) + " is not at a batch boundary");
  }

  void check_converged() {
    const PartitionImage& image = controller_partition();
    std::string why;
    if (image.leader < 0) why = "no leader";
    Broker* leader = image.leader < 0 ? nullptr : brokers_.at(image.leader).get();
    if (leader && (!leader->alive || !leader->partition())) why = "the leader is down";
    if (why.empty() && image.isr.size() != image.replicas.size())
      why = "the ISR " + ids(image.isr) + " did not grow back to " + ids(image.replicas);
    if (why.empty()) {
      auto partition = leader->partition();
      const int64_t end = leader->shadow.end();
      if (partition->high_watermark() != end)
        why = "the leader's high watermark " + std::to_string(partition->high_watermark()) +
              " is not its log end " + std::to_string(end);
      for (int32_t replica : image.replicas) {
        Broker& broker = *brokers_.at(replica);
        if (!why.empty()) break;
        if (!broker.alive || !broker.partition()) {
          why = "broker " + std::to_string(replica) + " is down";
        } else if (broker.shadow.end() != end || broker.partition()->high_watermark() != end ||
                   !std::equal(
                       broker.shadow.batches.begin(), broker.shadow.batches.end(),
                       leader->shadow.batches.begin(), leader->shadow.batches.end(),
                       [](const BatchInfo& a, const BatchInfo& b) { return a.hash == b.hash; })) {
          why = "broker " + std::to_string(replica) + " did not converge with leader " +
                std::to_string(leader->id);
        }
      }
    }
    if (!why.empty()) return void(fail("did not converge after the faults: " + why));
    // Nothing acknowledged lost: every acknowledged batch is in the log.
    for (const BatchInfo& acked : acknowledged_) {
      auto found = std::lower_bound(
          leader->shadow.batches.begin(), leader->shadow.batches.end(), acked.base,
          [](const BatchInfo& batch, int64_t offset) { return batch.base < offset; });
      if (found == leader->shadow.batches.end() || found->hash != acked.hash)
        return void(fail("acknowledged batch at " + std::to_string(acked.base) + " was lost"));
    }
  }

  // The shadows (what the checker compared) are the logs, read back.
  void check_shadows_against_logs() {
    for (auto& [id, broker] : brokers_) {
      if (!broker->alive) continue;
      Shadow read = read_log(*broker);
      const auto& kept = broker->shadow.batches;
      if (read.batches.size() != kept.size() ||
          !std::equal(read.batches.begin(), read.batches.end(), kept.begin(),
                      [](const BatchInfo& a, const BatchInfo& b) { return a.hash == b.hash; }))
        return void(fail("the simulator's view of broker " + std::to_string(id) +
                         "'s log is not the log (a simulator bug)"));
    }
  }

  // --- reporting ---

  void trace(const std::string& line) {
    std::string stamped = "t=" + std::to_string(now_) + " " + line;
    if (trace_all_) std::fprintf(stderr, "%s\n", stamped.c_str());
    recent_.push_back(std::move(stamped));
    if (recent_.size() > 80) recent_.pop_front();
  }

  std::string describe() {
    std::ostringstream out;
    if (controller_) {
      const PartitionImage& image = controller_partition();
      out << "  controller: leader " << image.leader << " epoch " << image.leader_epoch << " ISR "
          << ids(image.isr) << " partition epoch " << image.partition_epoch << "\n";
    }
    for (auto& [id, broker] : brokers_) {
      out << "  broker " << id << ": ";
      auto partition = broker->alive ? broker->partition() : nullptr;
      if (!partition) {
        out << (broker->alive ? "no partition yet" : "down") << "\n";
        continue;
      }
      out << "leader " << partition->leader_id() << " epoch " << partition->leader_epoch()
          << " ISR " << ids(partition->isr()) << " hw " << partition->high_watermark() << " end "
          << broker->shadow.end() << " epochs";
      int32_t run_epoch = -2;
      for (const BatchInfo& batch : broker->shadow.batches)
        if (batch.epoch != run_epoch) {
          out << " " << batch.epoch << "@" << batch.base;
          run_epoch = batch.epoch;
        }
      out << "\n";
    }
    out << "  committed end " << committed_end() << ", " << acknowledged_.size()
        << " batches acknowledged\n  last events:\n";
    for (const std::string& line : recent_) out << "    " << line << "\n";
    return out.str();
  }

  bool fail(const std::string& what) {
    if (!result_.ok) return false;
    result_.ok = false;
    result_.violation = "t=" + std::to_string(now_) + "ms event " + std::to_string(result_.events) +
                        ": " + what + "\n" + describe();
    return false;
  }

  void stop() {
    for (auto& [id, broker] : brokers_) {
      broker->isr.reset();
      broker->replicas.reset();
      broker->logs.reset();
    }
    if (controller_) controller_->stop();
  }

  Options options_;
  std::mt19937_64 random_;
  SeededRandom ids_random_;
  ManualClock clock_;
  storage::MemoryFileSystem controller_fs_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<Controller> controller_;
  MetadataImagePtr image_;
  int controller_group_ = 0;
  std::map<int32_t, std::unique_ptr<Broker>> brokers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t next_sequence_ = 0;
  int64_t now_ = 0;
  uint64_t next_value_ = 0;
  int32_t last_leader_epoch_ = -1;
  std::vector<PendingAck> pending_acks_;
  std::vector<BatchInfo> committed_;
  std::vector<BatchInfo> acknowledged_;
  std::vector<uint8_t> fetched_bytes_;
  std::deque<std::string> recent_;
  bool trace_all_ = std::getenv("PARTITION_SIM_TRACE") != nullptr;
  Result result_;
};

}  // namespace

Result run(const Options& options) { return Simulation(options).run(); }

}  // namespace sluice::cluster::psim

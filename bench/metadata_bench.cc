// What one metadata change costs a broker of 10,000 partitions: the
// controller's commit (records replayed, the new image built and published)
// and the ReplicaManager following it, with the logs on /dev/shm (tmpfs:
// fsync is free, so no disk time counts; creating the new partition's log
// still costs its file calls). Not the in-memory FS of the unit tests: its
// directory operations scan every file, which dominates at 10,000 logs. Prints the mean time and
// the mean bytes allocated (what the change copies) per change. Figures: bench/RESULTS.md, "Many
// partitions and connections", "One metadata change".
//
//   build/bench/metadata_bench [changes per case, default 50] [topics|partitions|hundred]
#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>

#include "broker/broker_config.h"
#include "cluster/controller.h"
#include "cluster/replica_manager.h"
#include "storage/log_manager.h"
#include "storage/posix_file_system.h"

namespace {

// Bytes allocated by the whole process (this program has one thread doing
// work while it is measured).
size_t allocated_bytes = 0;

}  // namespace

void* operator new(size_t size) {
  allocated_bytes += size;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace sluice {
namespace {

class Follower : public cluster::MetadataListener {
 public:
  explicit Follower(cluster::ReplicaManager& replicas) : replicas_(replicas) {}
  void on_metadata_update(const cluster::MetadataDelta& delta,
                          const cluster::MetadataImagePtr& image) override {
    (void)replicas_.apply_delta(delta, image);
  }

 private:
  cluster::ReplicaManager& replicas_;
};

struct Broker {
  storage::PosixFileSystem fs;
  std::string root;
  Config config = std::move(Config::parse(broker::broker_config_defs(), {}).value());
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<cluster::ReplicaManager> replicas;
  std::unique_ptr<cluster::Controller> controller;
  std::unique_ptr<Follower> follower;

  Broker() {
    char dir[] = "/dev/shm/sluice-metadata-bench-XXXXXX";
    root = ::mkdtemp(dir);
    storage::LogManagerOptions log_options;
    log_options.log_dirs = {root};
    log_options.background_threads = false;
    log_options.logger = [](std::string_view) {};
    logs = std::move(storage::LogManager::open(fs, std::move(log_options)).value());
    cluster::ReplicaManagerOptions replica_options;
    replica_options.log_manager = logs.get();
    replica_options.logger = [](std::string_view) {};
    replicas = std::make_unique<cluster::ReplicaManager>(std::move(replica_options));
    cluster::ControllerOptions options;
    options.metadata_log_dir = root;
    options.log_dirs = {root};
    options.broker_config = &config;
    controller = std::move(cluster::Controller::open(fs, options).value());
    (void)controller->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt);
  }
  // After the initial topics: the ReplicaManager follows every change from now.
  void follow() {
    follower = std::make_unique<Follower>(*replicas);
    controller->subscribe(follower.get());
  }
  ~Broker() {
    if (follower) controller->unsubscribe(follower.get());
    controller.reset();
    (void)logs->close();
    std::filesystem::remove_all(root);
  }
};

cluster::NewTopic new_topic(std::string name, int32_t partitions) {
  cluster::NewTopic topic;
  topic.name = std::move(name);
  topic.num_partitions = partitions;
  return topic;
}

// CPU time of this thread: the commit and the listener run on it, and on a
// shared machine wall time mostly measures the other processes.
double thread_cpu_us() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

template <class Change>
void measure(const char* label, int changes, Change change) {
  const size_t bytes_before = allocated_bytes;
  const double cpu_before = thread_cpu_us();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < changes; ++i) change(i);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const double wall_us = std::chrono::duration<double, std::micro>(elapsed).count() / changes;
  const double cpu_us = (thread_cpu_us() - cpu_before) / changes;
  const double kib = static_cast<double>(allocated_bytes - bytes_before) / changes / 1024;
  std::printf("%-58s %8.0f us CPU %8.0f us wall %8.0f KiB allocated\n", label, cpu_us, wall_us,
              kib);
}

void many_topics(int changes) {
  Broker broker;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<cluster::NewTopic> topics;
    for (int t = 0; t < 1000; ++t)
      topics.push_back(new_topic("t" + std::to_string(batch * 1000 + t), 1));
    (void)broker.controller->create_topics(topics, false);
  }
  broker.follow();
  measure("10,000 topics of 1 partition: CreateTopics of 1 more", changes, [&](int i) {
    (void)broker.controller->create_topics({new_topic("new" + std::to_string(i), 1)}, false);
  });
}

void one_big_topic(int changes) {
  Broker broker;
  (void)broker.controller->create_topics({new_topic("big", 5000)}, false);
  (void)broker.controller->create_partitions("big", 10'000, {}, false);
  broker.follow();
  measure("1 topic of 10,000 partitions: CreatePartitions +1", changes,
          [&](int i) { (void)broker.controller->create_partitions("big", 10'001 + i, {}, false); });
}

void hundred_topics(int changes) {
  Broker broker;
  std::vector<cluster::NewTopic> topics;
  for (int t = 0; t < 100; ++t) topics.push_back(new_topic("t" + std::to_string(t), 100));
  for (size_t first = 0; first < topics.size(); first += 50)
    (void)broker.controller->create_topics({topics.begin() + first, topics.begin() + first + 50},
                                           false);
  broker.follow();
  measure("100 topics of 100 partitions: CreatePartitions +1 of one", changes,
          [&](int i) { (void)broker.controller->create_partitions("t7", 101 + i, {}, false); });
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int changes = argc > 1 ? std::atoi(argv[1]) : 50;
  const std::string only = argc > 2 ? argv[2] : "";
  if (only.empty() || only == "topics") sluice::many_topics(changes);
  if (only.empty() || only == "partitions") sluice::one_big_topic(changes);
  if (only.empty() || only == "hundred") sluice::hundred_topics(changes);
  return 0;
}

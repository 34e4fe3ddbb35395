#include "streams/test_driver.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace sluice::streams {
namespace {

// A fresh directory under the system's temporary directory.
std::string make_temporary_state_dir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "kafka-streams-test-driver-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw ProcessorStateException("cannot create the test driver's state directory " + pattern);
  }
  return pattern;
}

}  // namespace

TopologyTestDriver::TopologyTestDriver(const Topology& topology, TestDriverSettings settings)
    : settings_(std::move(settings)),
      state_root_(make_temporary_state_dir()),
      wall_clock_ms_(settings_.initial_wall_clock_ms),
      cache_(settings_.cache_max_bytes),
      thread_metrics_(std::make_shared<ThreadMetrics>("main")) {
  TaskSettings task;
  task.application_id = settings_.application_id;
  task.on_deserialization_error = settings_.on_deserialization_error;
  task.system_time_ms = [this] { return wall_clock_ms_; };
  task.timestamp_extractor = settings_.timestamp_extractor;
  task.processing_exception_handler = settings_.processing_exception_handler;
  task.cache = &cache_;
  task.thread_metrics = thread_metrics_;
  task.recording_level = settings_.recording_level;
  task.state_dir = (std::filesystem::path(state_root_) / settings_.application_id / "0_0").string();
  try {
    task_ = std::make_unique<Task>(topology, std::vector<std::string>{}, std::move(task),
                                   static_cast<RecordCollector&>(*this));
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(state_root_, ignored);
    throw;
  }
}

TopologyTestDriver::~TopologyTestDriver() {
  // While the outputs still exist: closing flushes the caches into them.
  try {
    task_->close();
  } catch (const std::exception& e) {
    spdlog::warn("test driver: closing the task failed: {}", e.what());
  }
  task_.reset();  // closes the stores before their files go
  std::error_code ignored;
  std::filesystem::remove_all(state_root_, ignored);
}

std::vector<Metric> TopologyTestDriver::metrics() const {
  std::vector<Metric> out;
  ThreadMetrics::Snapshot snapshot = thread_metrics_->snapshot();
  for (const auto& task : snapshot.tasks) add_task_metrics("main", *task, out);
  for (const auto& store : snapshot.stores) add_store_metrics("main", *store, out);
  return out;
}

void TopologyTestDriver::pipe(SerializedRecord record) {
  if (task_->input_topics().count(record.topic) == 0) {
    throw std::invalid_argument("Unknown topic: " + record.topic);
  }
  pending_.push_back(std::move(record));
  process_pending();
}

void TopologyTestDriver::process_pending() {
  if (processing_) return;  // a sink inside processing: the outer loop takes it
  processing_ = true;
  try {
    while (!pending_.empty()) {
      SerializedRecord record = std::move(pending_.front());
      pending_.pop_front();
      record.offset = next_offset_[record.topic]++;
      task_->process(record);
      task_->maybe_punctuate_stream_time();
      task_->flush();  // Kafka's driver commits after every record
    }
  } catch (...) {
    processing_ = false;
    pending_.clear();
    throw;
  }
  processing_ = false;
}

void TopologyTestDriver::advance_wall_clock_time(std::chrono::milliseconds by) {
  wall_clock_ms_ += by.count();
  task_->maybe_punctuate_system_time();
  task_->flush();
  process_pending();
}

void TopologyTestDriver::send(SerializedRecord record) {
  produced_.insert(record.topic);
  if (task_->input_topics().count(record.topic) != 0) {
    SerializedRecord copy = record;
    copy.partition = 0;
    pending_.push_back(std::move(copy));
  }
  outputs_[record.topic].push_back(std::move(record));
}

// Kafka's TopologyTestDriver: every topic has one partition.
int32_t TopologyTestDriver::partition_count(const std::string&) { return 1; }

std::set<std::string> TopologyTestDriver::produced_topic_names() const { return produced_; }

}  // namespace sluice::streams

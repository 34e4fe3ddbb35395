#include "storage/flusher.h"

#include <algorithm>
#include <map>

#include "base/thread_name.h"

namespace sluice::storage {

void Flusher::request_flush(std::shared_ptr<ManagedLog> log, int64_t up_to_offset, Callback done) {
  SLUICE_ASSERT(log != nullptr, "request_flush of a null log");
  std::lock_guard lock(mutex_);
  queue_.push_back(Request{std::move(log), up_to_offset, std::move(done)});
  wake_.notify_one();
}

size_t Flusher::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

FlusherStats Flusher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

size_t Flusher::run_round() {
  std::deque<Request> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(queue_);
  }
  if (taken.empty()) return 0;
  // Group by log, keeping each log's requests in arrival order.
  std::map<ManagedLog*, std::vector<Request>> by_log;
  for (auto& request : taken) by_log[request.log.get()].push_back(std::move(request));
  std::vector<std::vector<Request>*> logs;
  for (auto& [log, requests] : by_log) logs.push_back(&requests);
  std::vector<LogOutcome> outcomes(logs.size());
  auto flush_one = [&](size_t i) { outcomes[i] = flush_log(*logs[i]); };
  if (sync_pool_) {
    sync_pool_->for_each_index(logs.size(), flush_one);
  } else {
    for (size_t i = 0; i < logs.size(); ++i) flush_one(i);
  }
  size_t synced = 0, completed = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto& outcome : outcomes) {
      synced += outcome.synced ? 1 : 0;
      completed += outcome.completions.size();
      for (auto& request : outcome.retry) queue_.push_back(std::move(request));
    }
    ++stats_.rounds;
    stats_.requests += completed;
    stats_.log_syncs += synced;
  }
  for (auto& outcome : outcomes)
    for (auto& completion : outcome.completions)
      if (completion.done) completion.done(std::move(completion.status));
  return synced;
}

Flusher::LogOutcome Flusher::flush_log(std::vector<Request>& requests) {
  LogOutcome outcome;
  ManagedLog& managed = *requests.front().log;
  int64_t target = 0;
  for (const auto& request : requests) target = std::max(target, request.up_to_offset);
  auto complete_all = [&](const Status& status) {
    for (auto& request : requests) outcome.completions.push_back({std::move(request.done), status});
  };
  std::optional<FlushPlan> plan;
  {
    std::lock_guard lock(managed.mutex());
    if (managed.offline()) {
      complete_all(Status(Errc::io_error, "log dir " + managed.log_dir() + " is offline"));
      return outcome;
    }
    if (managed.deleted()) {
      complete_all(Status(Errc::offset_out_of_range, managed.topic_partition().dir_name() + " was deleted"));
      return outcome;
    }
    if (managed.log().recovery_point() < target) plan = managed.log().prepare_flush(/*sync_active_indexes=*/false);
  }
  outcome.synced = plan.has_value();
  Status synced = Status::ok();
  if (plan) synced = managed.check(Log::execute_flush(managed.fs(), *plan));
  int64_t durable = 0, end = 0;
  {
    std::lock_guard lock(managed.mutex());
    if (!synced) {
      complete_all(synced);
      return outcome;
    }
    if (managed.offline()) {
      complete_all(Status(Errc::io_error, "log dir " + managed.log_dir() + " is offline"));
      return outcome;
    }
    if (managed.deleted()) {
      complete_all(Status(Errc::offset_out_of_range, managed.topic_partition().dir_name() + " was deleted"));
      return outcome;
    }
    if (plan) managed.log().complete_flush(*plan);
    durable = managed.log().recovery_point();
    end = managed.log().log_end_offset();
  }
  for (auto& request : requests) {
    if (request.up_to_offset <= durable) {
      outcome.completions.push_back({std::move(request.done), Status::ok()});
    } else if (request.up_to_offset > end) {
      outcome.completions.push_back({std::move(request.done),
                                     Status(Errc::offset_out_of_range,
                                            managed.topic_partition().dir_name() + " was truncated to " +
                                                std::to_string(end) + " before offset " +
                                                std::to_string(request.up_to_offset - 1) + " became durable")});
    } else {
      outcome.retry.push_back(std::move(request));  // a truncation raced the sync: sync again next round
    }
  }
  return outcome;
}

void Flusher::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    lock.unlock();
    run_round();
    lock.lock();
  }
}

void Flusher::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  if (sync_threads_ > 1) sync_pool_ = std::make_unique<WorkerPool>(sync_threads_ - 1, "flush");
  thread_ = std::thread([this] {
    set_current_thread_name("flusher");
    loop();
  });
}

void Flusher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  sync_pool_.reset();
  // Without a thread (or after it): finish what is left here. A retry loop
  // ends because each round either syncs past the request or fails it.
  for (int round = 0; round < 8 && pending() > 0; ++round) run_round();
  std::deque<Request> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& request : left)
    if (request.done) request.done(Status(Errc::io_error, "the flusher stopped before the flush completed"));
}

}  // namespace sluice::storage

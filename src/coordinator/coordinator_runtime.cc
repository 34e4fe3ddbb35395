#include "coordinator/coordinator_runtime.h"

#include <algorithm>

#include "base/assert.h"

namespace sluice::coordinator {

void InlineExecutor::post(int32_t, std::function<void()> task) {
  queue_.push_back(std::move(task));
  if (running_) return;  // the running task's loop below runs it next
  running_ = true;
  while (!queue_.empty()) {
    auto next = std::move(queue_.front());
    queue_.pop_front();
    next();
  }
  running_ = false;
}

StrandPool::StrandPool(int32_t partitions, size_t threads)
    : strands_(static_cast<size_t>(partitions)) {
  SLUICE_ASSERT(threads > 0, "a strand pool needs a thread");
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

StrandPool::~StrandPool() { stop(); }

void StrandPool::post(int32_t partition, std::function<void()> task) {
  SLUICE_ASSERT(partition >= 0 && static_cast<size_t>(partition) < strands_.size(),
                "coordinator partition out of range");
  {
    std::unique_lock lock(mutex_);
    if (stopped_) {
      // No threads left: run it here, one caller at a time (late flusher
      // callbacks at shutdown, an admin request racing the stop).
      lock.unlock();
      std::lock_guard inline_lock(after_stop_mutex_);
      task();
      return;
    }
    Strand& strand = strands_[static_cast<size_t>(partition)];
    strand.tasks.push_back(std::move(task));
    if (strand.scheduled) return;  // the thread running it picks the task up
    strand.scheduled = true;
    ready_.push_back(partition);
  }
  wake_.notify_one();
}

void StrandPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // Posted while the threads were leaving: run after them, like later posts.
  std::deque<std::function<void()>> left;
  {
    std::lock_guard lock(mutex_);
    for (auto& strand : strands_)
      for (auto& task : strand.tasks) left.push_back(std::move(task));
    stopped_ = true;
  }
  std::lock_guard inline_lock(after_stop_mutex_);
  for (auto& task : left) task();
}

void StrandPool::work() {
  // A strand is taken whole by one thread, which runs a bounded number of its
  // tasks and then gives the others their turn.
  constexpr int tasks_per_turn_max = 64;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping and nothing left to run
    int32_t partition = ready_.front();
    ready_.pop_front();
    Strand& strand = strands_[static_cast<size_t>(partition)];
    for (int done = 0; done < tasks_per_turn_max && !strand.tasks.empty(); ++done) {
      auto task = std::move(strand.tasks.front());
      strand.tasks.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    if (strand.tasks.empty()) {
      strand.scheduled = false;
    } else {
      ready_.push_back(partition);
      wake_.notify_one();
    }
  }
}

WriteBatch::Part& WriteBatch::part_for(const std::optional<TransactionalProducer>& producer) {
  if (parts_.empty() || parts_.back().producer != producer)
    parts_.push_back(Part{producer, {}, {}});
  return parts_.back();
}

void WriteBatch::add(std::vector<CoordinatorRecord> records, std::function<void(ErrorCode)> done) {
  Part& part = part_for(std::nullopt);
  for (auto& record : records) part.records.push_back(std::move(record));
  part.done.push_back(std::move(done));
}

void WriteBatch::add_transactional(const TransactionalProducer& producer,
                                   std::vector<CoordinatorRecord> records,
                                   std::function<void(ErrorCode)> done) {
  Part& part = part_for(producer);
  for (auto& record : records) part.records.push_back(std::move(record));
  part.done.push_back(std::move(done));
}

bool WriteBatch::empty() const {
  return std::all_of(parts_.begin(), parts_.end(),
                     [](const Part& part) { return part.records.empty(); });
}

CoordinatorRuntime::CoordinatorRuntime(int32_t partitions, CoordinatorLog& log,
                                       CoordinatorExecutor& executor)
    : log_(log), executor_(executor), partitions_(static_cast<size_t>(partitions)) {}

void CoordinatorRuntime::run(int32_t partition, std::function<void(WriteBatch&)> operation) {
  executor_.post(partition, [this, partition, operation = std::move(operation)] {
    run_here(partition, operation);
  });
}

void CoordinatorRuntime::run_here(int32_t partition,
                                  const std::function<void(WriteBatch&)>& operation) {
  WriteBatch batch;
  operation(batch);
  for (auto& part : batch.parts_)
    if (!part.done.empty()) append(partition, std::move(part));
}

void CoordinatorRuntime::append(int32_t partition, WriteBatch::Part part) {
  auto entry = std::make_shared<InFlight>();
  entry->done = std::move(part.done);
  partitions_[static_cast<size_t>(partition)].in_flight.push_back(entry);
  if (part.records.empty()) {
    // Nothing to write (an operation that only answers once earlier writes
    // are durable): it completes in order with them.
    entry->result = ErrorCode::NONE;
    complete_in_order(partition);
    return;
  }
  auto finished = [this, partition, entry](ErrorCode error) {
    executor_.post(partition, [this, partition, entry, error] {
      entry->result = error;
      complete_in_order(partition);
    });
  };
  if (part.producer)
    log_.append_transactional(partition, *part.producer, std::move(part.records),
                              std::move(finished));
  else
    log_.append(partition, std::move(part.records), std::move(finished));
}

void CoordinatorRuntime::complete_in_order(int32_t partition) {
  auto& in_flight = partitions_[static_cast<size_t>(partition)].in_flight;
  while (!in_flight.empty() && in_flight.front()->result) {
    auto entry = std::move(in_flight.front());
    in_flight.pop_front();
    for (auto& done : entry->done) done(*entry->result);
  }
}

}  // namespace sluice::coordinator

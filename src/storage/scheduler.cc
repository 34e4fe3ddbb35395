#include "storage/scheduler.h"

#include "base/thread_name.h"

namespace sluice::storage {

Scheduler::TaskId Scheduler::schedule_once(std::string name, std::chrono::milliseconds delay, Task task) {
  return add(Entry{std::move(name), clock_.monotonic() + delay, std::chrono::nanoseconds(0), std::move(task)});
}

Scheduler::TaskId Scheduler::schedule_periodic(std::string name, std::chrono::milliseconds initial_delay,
                                               std::chrono::milliseconds period, Task task) {
  SLUICE_ASSERT(period.count() > 0, "a periodic task needs a positive period");
  return add(Entry{std::move(name), clock_.monotonic() + initial_delay, period, std::move(task)});
}

Scheduler::TaskId Scheduler::add(Entry entry) {
  std::lock_guard lock(mutex_);
  TaskId id = next_id_++;
  tasks_.emplace(id, std::move(entry));
  changed_.notify_all();
  return id;
}

void Scheduler::cancel(TaskId id) {
  std::lock_guard lock(mutex_);
  tasks_.erase(id);
  changed_.notify_all();
}

size_t Scheduler::task_count() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

// While a task runs, its slot in tasks_ holds a placeholder without a task
// (so it cannot run twice at once); cancel() erases the placeholder and
// finish() then drops the task instead of rescheduling it.
bool Scheduler::take_due(std::chrono::nanoseconds now, TaskId& id, Entry& entry) {
  auto best = tasks_.end();
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it)
    if (it->second.due <= now && (best == tasks_.end() || it->second.due < best->second.due)) best = it;
  if (best == tasks_.end()) return false;
  id = best->first;
  entry = std::move(best->second);
  best->second = Entry{entry.name, std::chrono::nanoseconds::max(), entry.period, nullptr};
  return true;
}

void Scheduler::finish(TaskId id, Entry entry, std::chrono::nanoseconds now) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;  // cancelled while running
  if (entry.period.count() == 0) {
    tasks_.erase(it);
    return;
  }
  // Fixed rate; a task that fell a whole period behind resumes from now
  // rather than running in a burst.
  entry.due += entry.period;
  if (entry.due <= now) entry.due = now + entry.period;
  it->second = std::move(entry);
}

size_t Scheduler::run_due() {
  std::chrono::nanoseconds now = clock_.monotonic();
  size_t ran = 0;
  std::unique_lock lock(mutex_);
  // Each task at most once per call: collect the ids due now first.
  std::vector<TaskId> due;
  for (const auto& [id, entry] : tasks_)
    if (entry.task && entry.due <= now) due.push_back(id);
  for (TaskId id : due) {
    auto it = tasks_.find(id);
    if (it == tasks_.end() || !it->second.task) continue;
    Entry entry = std::move(it->second);
    it->second = Entry{entry.name, std::chrono::nanoseconds::max(), entry.period, nullptr};
    lock.unlock();
    entry.task();
    ++ran;
    lock.lock();
    finish(id, std::move(entry), now);
  }
  return ran;
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::chrono::nanoseconds now = clock_.monotonic();
    TaskId id = 0;
    Entry entry;
    if (take_due(now, id, entry)) {
      lock.unlock();
      entry.task();
      lock.lock();
      finish(id, std::move(entry), now);
      continue;
    }
    // Sleep until the earliest task is due; wake early on schedule/cancel/stop.
    // The wait is capped so a clock that is not the system's still gets polled.
    std::chrono::nanoseconds wait = std::chrono::seconds(1);
    for (const auto& [task_id, task] : tasks_)
      if (task.task) wait = std::min(wait, task.due - now);
    changed_.wait_for(lock, wait);
  }
}

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    set_current_thread_name("scheduler");
    loop();
  });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::storage

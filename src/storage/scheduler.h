#pragma once
// A small timed-task runner for the storage background jobs (retention,
// checkpoints, time-based flushes, removal of deleted files), so none of
// them runs on a caller's (reactor's) thread.
//
// Threads: start() launches one thread that runs every task in turn; tasks
// must therefore be short or hand slow I/O elsewhere (fsyncs go to the
// Flusher). Without start(), nothing runs by itself: tests and the
// simulator advance a ManualClock and call run_due() on their own thread.
// schedule/cancel may be called from any thread, including from a task.
//
// Time: the clock's monotonic() time, so a wall-clock jump neither fires
// nor starves the tasks. A periodic task's next run is one period after its
// previous run started; a task never runs twice at once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/assert.h"
#include "base/clock.h"

namespace sluice::storage {

class Scheduler {
 public:
  using Task = std::function<void()>;
  using TaskId = uint64_t;

  explicit Scheduler(const Clock& clock) : clock_(clock) {}
  ~Scheduler() { stop(); }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `task` once, `delay` from now.
  TaskId schedule_once(std::string name, std::chrono::milliseconds delay, Task task);
  // Runs `task` every `period`, the first time `initial_delay` from now.
  TaskId schedule_periodic(std::string name, std::chrono::milliseconds initial_delay,
                           std::chrono::milliseconds period, Task task);
  // The task will not start again (a run in progress finishes).
  void cancel(TaskId id);

  void start();
  // Joins the thread; tasks not yet due are dropped.
  void stop();

  // Runs, on the calling thread, every task due at the clock's current time
  // (a periodic task at most once per call). Returns how many ran.
  size_t run_due();
  size_t task_count() const;

 private:
  struct Entry {
    std::string name;
    std::chrono::nanoseconds due;
    std::chrono::nanoseconds period;  // zero: one-shot
    Task task;
  };
  TaskId add(Entry entry);
  // Takes the earliest task due at or before `now`, if any.
  bool take_due(std::chrono::nanoseconds now, TaskId& id, Entry& entry);
  void finish(TaskId id, Entry entry, std::chrono::nanoseconds now);
  void loop();

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<TaskId, Entry> tasks_;
  TaskId next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::storage

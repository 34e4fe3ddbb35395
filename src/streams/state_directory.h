#pragma once
// The application's directory under `state.dir` (Kafka's StateDirectory):
//
//   <state.dir>/<application.id>/                  the application's directory
//       .lock                                      held (flock) while an instance runs
//       kafka-streams-process-metadata             the process id, kept across restarts
//       <subtopology>_<partition>/                 a task's directory
//           .checkpoint                            changelog offsets (checkpoint.h)
//           rocksdb/<store>/                       a persistent store's files
//
// Made only when the topology has a persistent store, as Kafka does. The
// lock makes a second instance on the same state directory fail at start
// with Kafka's message instead of both writing the same files; within an
// instance each task directory belongs to one stream thread at a time.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::streams {

class StateDirectory {
 public:
  // Creates `<state_dir>/<application_id>` and locks it; throws
  // ProcessorStateException (cannot create) or std::runtime_error with
  // Kafka's message when another instance holds the lock.
  StateDirectory(const std::string& state_dir, const std::string& application_id);
  ~StateDirectory();
  StateDirectory(const StateDirectory&) = delete;
  StateDirectory& operator=(const StateDirectory&) = delete;

  const std::string& application_dir() const { return application_dir_; }
  // `<application dir>/<task id>`, created.
  std::string task_dir(const std::string& task_id) const;

  // The task directories present (`<subtopology>_<partition>` names):
  // what a restarted instance reports holding (Kafka's task offset sums).
  std::vector<std::string> task_directories() const;

  // Takes the task's directory for `owner` (a stream thread), waiting up to
  // `timeout` for another owner to let go; false when it did not.
  bool lock_task(const std::string& task_id, int owner, std::chrono::milliseconds timeout);
  void unlock_task(const std::string& task_id, int owner);

  // Kafka's process id (a UUID kept in kafka-streams-process-metadata, so a
  // restarted instance keeps it).
  std::string process_id();

  // Removes a task's persistent stores (its `rocksdb` directory) and
  // checkpoint: the state is then restored from the changelogs.
  static void wipe_task_state(const std::string& task_dir);
  // Deletes the application's directory (KafkaStreams::clean_up).
  static void remove_application_dir(const std::string& state_dir,
                                     const std::string& application_id);

 private:
  std::string application_dir_;
  int lock_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, int> task_owners_;
};

}  // namespace sluice::streams

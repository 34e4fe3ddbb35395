#pragma once
// The next segment of one log, prepared before the active one rolls, so that
// a roll on the append path (a reactor, under the partition lock) swaps in
// ready files instead of creating three (inode allocation, the fallocate of
// log.preallocate). Kafka creates them inline at roll; Sluice's reactors must
// not wait on the disk (DESIGN.md, "Concurrency").
//
// Flow: after an append, prepare_if_due() asks the background runner (the
// LogManager's scheduler thread) to create the files once the active segment
// is nearing its roll (Segment::nearing_roll); a roll take()s them, and
// Segment::adopt_prepared renames them to the final names. If none is ready
// the roll creates the segment inline, as before; both are counted in
// sluice_log_segment_rolls_total{new_segment="prepared"|"created"}.
//
// On disk the prepared files carry temporary names ("prepared-<n>.*.tmp",
// segment.h) that Log::open removes: a crash or a stop with a prepared
// segment leaves no segment behind, recovery and DescribeLogDirs sizes never
// see it (they count segments, and the files are empty).
//
// Threads: prepare_if_due, take and discard are called under the partition
// lock; the preparation runs on the background runner, touching only its own
// state (guarded by its own mutex, never held across I/O), never the Log.
// A preparation that fails is dropped (the roll creates inline and reports
// the error if the disk really fails); one that finishes after discard()
// removes its own files.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "storage/segment.h"

namespace sluice::storage {

// Runs a job on a background thread (never on the caller's).
using BackgroundRunner = std::function<void(std::function<void()> job)>;

class NextSegment {
 public:
  // `background` null: nothing is prepared, every roll creates inline.
  NextSegment(FileSystem& fs, std::string dir, BackgroundRunner background);

  // Starts a preparation unless one is pending or ready, the runner is
  // unset, or `active` is not nearing its roll yet.
  void prepare_if_due(const Segment& active, const LogConfig& config, int64_t now_ms);
  // At a roll: the prepared files, if ready; the next prepare_if_due starts
  // anew (also after a failed preparation).
  std::optional<PreparedSegmentFiles> take();
  // No more preparations (the log closes or is deleted): returns the files
  // of a ready one for the caller to remove; a running one removes its own.
  std::optional<PreparedSegmentFiles> discard();

 private:
  // failed: not retried before the next roll (a disk out of descriptors or
  // space would otherwise see one attempt per append).
  enum class Phase { idle, preparing, ready, failed, discarded };
  struct State {
    std::mutex mutex;
    Phase phase = Phase::idle;
    std::optional<PreparedSegmentFiles> files;
  };
  static void prepare(FileSystem& fs, const std::string& dir, const LogConfig& config,
                      State& state);

  FileSystem& fs_;
  std::string dir_;
  BackgroundRunner background_;
  std::shared_ptr<State> state_ = std::make_shared<State>();  // shared with a running preparation
};

// Removes prepared files that will not be used (best effort: Log::open
// removes what is left).
void remove_prepared_files(FileSystem& fs, const PreparedSegmentFiles& files);

}  // namespace sluice::storage

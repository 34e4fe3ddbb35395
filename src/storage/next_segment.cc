#include "storage/next_segment.h"

#include <utility>

namespace sluice::storage {

NextSegment::NextSegment(FileSystem& fs, std::string dir, BackgroundRunner background)
    : fs_(fs), dir_(std::move(dir)), background_(std::move(background)) {}

void NextSegment::prepare_if_due(const Segment& active, const LogConfig& config, int64_t now_ms) {
  if (!background_ || !active.nearing_roll(config, now_ms)) return;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->phase != Phase::idle) return;
    state_->phase = Phase::preparing;
  }
  background_(
      [&fs = fs_, dir = dir_, config, state = state_] { prepare(fs, dir, config, *state); });
}

void NextSegment::prepare(FileSystem& fs, const std::string& dir, const LogConfig& config,
                          State& state) {
  auto files = Segment::prepare_files(fs, dir, config);
  std::unique_lock lock(state.mutex);
  if (state.phase == Phase::discarded) {
    lock.unlock();
    if (files) remove_prepared_files(fs, *files);
    return;
  }
  if (!files) {
    // Dropped: the roll creates inline, and reports the error if it persists.
    state.phase = Phase::failed;
    return;
  }
  state.files = std::move(*files);
  state.phase = Phase::ready;
}

std::optional<PreparedSegmentFiles> NextSegment::take() {
  std::lock_guard lock(state_->mutex);
  if (state_->phase == Phase::failed) state_->phase = Phase::idle;
  if (state_->phase != Phase::ready) return std::nullopt;
  state_->phase = Phase::idle;
  return std::exchange(state_->files, std::nullopt);
}

std::optional<PreparedSegmentFiles> NextSegment::discard() {
  std::lock_guard lock(state_->mutex);
  state_->phase = Phase::discarded;
  return std::exchange(state_->files, std::nullopt);
}

void remove_prepared_files(FileSystem& fs, const PreparedSegmentFiles& files) {
  for (const auto& path : files.paths()) (void)fs.remove(path);
}

}  // namespace sluice::storage

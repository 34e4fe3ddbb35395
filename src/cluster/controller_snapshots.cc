// The controller's metadata snapshots (Kafka's SnapshotGenerator and the
// loader's snapshot path): the image is written as records every
// metadata.log.max.record.bytes.between.snapshots bytes of committed
// batches, a start loads the latest snapshot and replays only the log
// after it, and a snapshot fetched from the leader replaces the image.
//
// Threads: the quorum thread reads snapshots (deliver_snapshot, from
// on_commit) and writes them (RaftManager::create_snapshot); the loader
// thread builds the images and the records (never a reactor, and the
// quorum thread only writes the bytes it is given).

#include <spdlog/spdlog.h>

#include "cluster/controller.h"
#include "cluster/image_records.h"
#include "cluster/snapshot_format.h"
#include "cluster/snapshot_store.h"

namespace sluice::cluster {

Status Controller::open_snapshots() {
  auto store = FileSnapshotStore::open(fs_, log_->dir(), options_.clock);
  if (!store) return store.status();
  snapshots_ = std::move(store.value());
  snapshots_->set_fatal_hook([this](const std::string& message) { halt(message); });
  if (auto latest = snapshots_->latest())
    spdlog::info("metadata: latest snapshot {}", snapshots_->path(*latest));
  return Status::ok();
}

bool Controller::deliver_snapshot() {
  const std::optional<raft::SnapshotId> latest = snapshots_->latest();
  if (!latest || latest->end_offset < log_->start_offset()) {
    halt("metadata: " + log_->dir() + " starts at offset " + std::to_string(log_->start_offset()) +
         " and no snapshot covers the records before it");
    return false;
  }
  auto content = snapshots_->load(*latest);
  if (!content) {
    halt("metadata: the snapshot " + snapshots_->path(*latest) +
         " does not load: " + content.status().to_string());
    return false;
  }
  Committed snapshot;
  snapshot.batches.assign(content->data_batches.begin(), content->data_batches.end());
  snapshot.end_offset = latest->end_offset;
  snapshot.snapshot = *latest;
  delivered_offset_ = latest->end_offset;
  std::lock_guard lock(loader_mutex_);
  loader_queue_.push_back(std::move(snapshot));
  loader_changed_.notify_all();
  return true;
}

void Controller::apply_snapshot(const Committed& snapshot) {
  std::vector<std::vector<uint8_t>> records;
  Status read = for_each_snapshot_record(Bytes(snapshot.batches), [&](Bytes value) {
    records.emplace_back(value.begin(), value.end());
    return Status::ok();
  });
  if (!read) return halt("metadata: snapshot records do not parse: " + read.to_string());
  auto image = image_from_records(records, cluster_id_, options_.node_id, snapshot.end_offset - 1);
  if (!image)
    return halt("metadata: the snapshot " + FileSnapshotStore::file_name(*snapshot.snapshot) +
                " does not replay: " + image.status().to_string());
  std::lock_guard listeners_lock(listeners_mutex_);
  MetadataImagePtr before = this->image();
  // Listeners see what the snapshot changed, as if its records had been
  // replayed over the image they knew.
  MetadataDelta delta = MetadataDelta::between(before, **image);
  image_.store(*image);
  for (MetadataListener* listener : listeners_) listener->on_metadata_update(delta, *image);
  spdlog::info("metadata: loaded snapshot {} ({} records): {} topics, {} brokers",
               FileSnapshotStore::file_name(*snapshot.snapshot), records.size(),
               (*image)->topics.size(), (*image)->brokers.size());
  if (!startup_reported_) {
    startup_snapshot_ = snapshot.snapshot;
    startup_snapshot_records_ = static_cast<int64_t>(records.size());
  }
  bytes_since_snapshot_ = 0;
  std::lock_guard lock(loader_mutex_);
  applied_offset_ = snapshot.end_offset;
  loader_changed_.notify_all();
}

void Controller::after_apply(const Committed& committed) {
  if (!committed.snapshot) {
    bytes_since_snapshot_ += static_cast<int64_t>(committed.batches.size());
    if (!startup_reported_) {
      Bytes rest(committed.batches);
      while (!rest.empty()) {
        auto header = record::read_batch_header(rest);
        if (!header || header->size_bytes() > rest.size()) break;
        if (!header->is_control()) records_after_snapshot_ += header->record_count;
        rest = rest.subspan(header->size_bytes());
      }
    }
  }
  if (!startup_reported_ && committed.end_offset >= startup_end_offset_) report_startup();
  if (bytes_since_snapshot_ < options_.snapshot_record_bytes_max || snapshot_in_flight_.load() ||
      !raft_)
    return;
  // The image now holds everything below committed.end_offset: written as
  // records here, on the loader thread; the quorum thread writes the file.
  MetadataImagePtr image = this->image();
  std::string batches = snapshot_data_batches(image_records(*image), options_.clock->now_ms());
  bytes_since_snapshot_ = 0;
  snapshot_in_flight_ = true;
  raft_->create_snapshot(committed.end_offset, std::move(batches),
                         [this](bool) { snapshot_in_flight_ = false; });
}

void Controller::report_startup() {
  startup_reported_ = true;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - startup_began_);
  if (startup_snapshot_)
    spdlog::info(
        "metadata: start-up load: snapshot {} ({} records), then {} records of the log after "
        "it, in {} ms",
        FileSnapshotStore::file_name(*startup_snapshot_), startup_snapshot_records_,
        records_after_snapshot_, took.count());
  else
    spdlog::info("metadata: start-up load: no snapshot, {} records of the log, in {} ms",
                 records_after_snapshot_, took.count());
}

}  // namespace sluice::cluster

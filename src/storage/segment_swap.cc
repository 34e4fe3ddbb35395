#include "storage/segment_swap.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "storage/segment.h"

namespace sluice::storage {
namespace {

constexpr const char* segment_suffixes[] = {".log", ".index", ".timeindex"};

// Removes every segment file (not *.swap) whose base offset is in [from, to).
Status remove_segments_in(FileSystem& fs, const std::string& dir, const std::vector<std::string>& names,
                          int64_t from, int64_t to, size_t& removed_logs) {
  for (const auto& name : names) {
    for (const char* suffix : segment_suffixes) {
      auto base = parse_segment_file_name(name, suffix);
      if (!base || *base < from || *base >= to) continue;
      if (Status s = fs.remove(join_path(dir, name)); !s) return s;
      if (std::string_view(suffix) == ".log") ++removed_logs;
    }
  }
  return Status::ok();
}

Status complete_swap(FileSystem& fs, const std::string& dir, int64_t base, const LogConfig& config, int64_t now_ms,
                     const std::function<void(std::string_view)>& logger) {
  auto segment = Segment::open(fs, dir, base, config, now_ms, swap_file_suffix);
  if (!segment) return segment.status();
  if ((*segment)->needs_recovery()) {
    auto recovered = (*segment)->recover([](const record::BatchHeader&) { return Status::ok(); });
    if (!recovered) return recovered.status();
  }
  int64_t next_offset = (*segment)->next_offset();
  auto names = fs.list_dir(dir);
  if (!names) return names.status();
  size_t removed_logs = 0;
  if (Status s = remove_segments_in(fs, dir, *names, base, std::max(next_offset, base + 1), removed_logs); !s)
    return s;
  // The replaced segments must be gone for good before the final names appear.
  if (Status s = fs.sync_dir(dir); !s) return s;
  if (Status s = (*segment)->rename_suffix(""); !s) return s;
  if (Status s = fs.sync_dir(dir); !s) return s;
  logger("completed an interrupted compaction swap in " + dir + ": segment " + segment_file_stem(base) +
         " (offsets up to " + std::to_string(next_offset) + ") replaced " + std::to_string(removed_logs) +
         " segment(s)");
  return Status::ok();
}

}  // namespace

Status complete_segment_swaps(FileSystem& fs, const std::string& dir, const LogConfig& config, int64_t now_ms,
                              const std::function<void(std::string_view)>& logger) {
  auto names = fs.list_dir(dir);
  if (!names) return names.status();
  std::vector<int64_t> swaps;
  bool removed = false;
  for (const auto& name : *names) {
    if (name.ends_with(cleaned_file_suffix)) {
      if (Status s = fs.remove(join_path(dir, name)); !s) return s;
      removed = true;
    } else if (auto base = parse_segment_file_name(name, std::string(".log") + swap_file_suffix)) {
      swaps.push_back(*base);
    }
  }
  // Index *.swap files whose .log is not (or no longer) a .swap.
  for (const auto& name : *names) {
    for (const char* suffix : {".index", ".timeindex"}) {
      auto base = parse_segment_file_name(name, std::string(suffix) + swap_file_suffix);
      if (!base || std::find(swaps.begin(), swaps.end(), *base) != swaps.end()) continue;
      if (Status s = fs.remove(join_path(dir, name)); !s) return s;
      removed = true;
    }
  }
  if (removed) logger("removed the files of an unfinished compaction in " + dir);
  for (int64_t base : swaps)
    if (Status s = complete_swap(fs, dir, base, config, now_ms, logger); !s) return s;
  return Status::ok();
}

}  // namespace sluice::storage

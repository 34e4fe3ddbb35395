#pragma once
// Recovery of a compaction swap interrupted by a crash (docs/storage.md,
// "Compaction"). The cleaner writes a cleaned segment as
// <base>.{log,index,timeindex}.cleaned, syncs it, and then, under the
// partition lock: renames it to *.swap, syncs the directory, renames the
// segments it replaces to *.deleted, syncs the directory, renames *.swap to
// the final names. So at open:
//   - *.cleaned files are an unfinished clean: removed;
//   - <base>.log.swap is a complete cleaned segment: every segment whose base
//     offset lies in [base, next offset of the swap segment) is removed (the
//     directory synced), then the *.swap files take their final names;
//   - an index *.swap file without its <base>.log.swap is removed.
// Called by Log::open before the segments are loaded.

#include <functional>
#include <string>
#include <string_view>

#include "storage/file_system.h"
#include "storage/log_config.h"

namespace sluice::storage {

inline constexpr char cleaned_file_suffix[] = ".cleaned";
inline constexpr char swap_file_suffix[] = ".swap";

Status complete_segment_swaps(FileSystem& fs, const std::string& dir, const LogConfig& config, int64_t now_ms,
                              const std::function<void(std::string_view)>& logger);

}  // namespace sluice::storage

#pragma once
// The real file system: POSIX calls, errors as Errc::io_error naming the path
// and the errno text. Thread-safe (no shared mutable state); a File's
// append position is tracked in the handle and touched only by its writer.

#include "storage/file_system.h"

namespace sluice::storage {

class PosixFileSystem final : public FileSystem {
 public:
  Result<FileHandle> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status remove_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status make_dirs(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<bool> exists(const std::string& path) override;
  Result<uint64_t> file_size(const std::string& path) override;
};

}  // namespace sluice::storage

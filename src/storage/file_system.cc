#include "storage/file_system.h"

namespace sluice::storage {

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string parent_path(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string file_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<std::vector<uint8_t>> read_whole_file(FileSystem& fs, const std::string& path) {
  auto file = fs.open(path, OpenMode::read_only);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  std::vector<uint8_t> contents(*size);
  auto read = (*file)->pread(0, contents);
  if (!read) return read.status();
  contents.resize(*read);
  return contents;
}

Status write_file_atomically(FileSystem& fs, const std::string& path, Bytes contents) {
  std::string tmp_path = path + ".tmp";
  auto file = fs.open(tmp_path, OpenMode::create_truncate);
  if (!file) return file.status();
  if (Status s = (*file)->append(contents); !s) {
    // A full disk: give back what the partial write took (best effort).
    (void)fs.remove(tmp_path);
    return s;
  }
  if (Status s = (*file)->sync(); !s) return s;
  if (Status s = fs.rename(tmp_path, path); !s) return s;
  return fs.sync_dir(parent_path(path));
}

}  // namespace sluice::storage

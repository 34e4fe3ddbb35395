#include "connect/runtime/offset_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "connect/json_converter.h"

namespace sluice::connect {
namespace {

JsonConverter schemaless_json() {
  JsonConverterConfig config;
  config.schemas_enable = false;
  return JsonConverter(config);
}

Status io_error(const std::string& what, const std::string& path) {
  return Status(Errc::io_error, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string offset_key(const std::string& connector, const Map& source_partition) {
  JsonConverter json = schemaless_json();
  auto bytes =
      json.from_connect_data("", nullptr, Value(List{Value(connector), Value(source_partition)}));
  return bytes.is_ok() && bytes->has_value() ? **bytes : std::string();
}

std::string offset_value(const Map& source_offset) {
  JsonConverter json = schemaless_json();
  auto bytes = json.from_connect_data("", nullptr, Value(source_offset));
  return bytes.is_ok() && bytes->has_value() ? **bytes : std::string();
}

std::optional<OffsetKey> parse_offset_key(const std::string& key) {
  JsonConverter json = schemaless_json();
  auto read = json.to_connect_data("", key);
  if (!read.is_ok() || !read->value.is<List>()) return std::nullopt;
  const List& list = read->value.as<List>();
  if (list.size() != 2 || !list[0].is<std::string>() || !list[1].is<Map>()) return std::nullopt;
  return OffsetKey{list[0].as<std::string>(), list[1].as<Map>()};
}

std::optional<Map> parse_offset_value(const std::string& value) {
  JsonConverter json = schemaless_json();
  auto read = json.to_connect_data("", value);
  if (!read.is_ok() || !read->value.is<Map>()) return std::nullopt;
  return read->value.as<Map>();
}

Result<std::unique_ptr<FileOffsetStore>> FileOffsetStore::open(std::string path) {
  std::unique_ptr<FileOffsetStore> store(new FileOffsetStore(path));
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return store;
    return io_error("cannot read offsets file", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return store;
  auto parsed = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("offsets") ||
      !parsed["offsets"].is_array()) {
    return Status(Errc::invalid_value,
                  "offsets file " + path +
                      " is not one this worker wrote (expected a JSON object "
                      "with an \"offsets\" array); move it away to start over");
  }
  for (const auto& entry : parsed["offsets"]) {
    if (!entry.is_object() || !entry.contains("key") || !entry.contains("value") ||
        !entry["key"].is_string() || !entry["value"].is_string()) {
      return Status(Errc::invalid_value,
                    "offsets file " + path + " has a malformed entry: " + entry.dump());
    }
    store->entries_[entry["key"].get<std::string>()] = entry["value"].get<std::string>();
  }
  return store;
}

std::optional<std::string> FileOffsetStore::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> FileOffsetStore::entries_of(
    const std::string& connector) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : entries_) {
    auto parsed = parse_offset_key(key);
    if (parsed && parsed->connector == connector) out.emplace_back(key, value);
  }
  return out;
}

Status FileOffsetStore::put(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& batch) {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> before = entries_;
  for (const auto& [key, value] : batch) {
    if (value) {
      entries_[key] = *value;
    } else {
      entries_.erase(key);
    }
  }
  Status written = write_locked();
  if (!written) entries_ = std::move(before);  // nothing changes unless it is durable
  return written;
}

Status FileOffsetStore::write_locked() {
  nlohmann::json offsets = nlohmann::json::array();
  for (const auto& [key, value] : entries_) offsets.push_back({{"key", key}, {"value", value}});
  const std::string text = nlohmann::json{{"offsets", offsets}}.dump(1) + "\n";
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot write offsets file", temporary);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status failed = io_error("cannot write offsets file", temporary);
      ::close(fd);
      return failed;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status failed = io_error("cannot sync offsets file", temporary);
    ::close(fd);
    return failed;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    return io_error("cannot replace offsets file", path_);
  }
  // The rename is durable once the directory is.
  const auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::ok();
}

}  // namespace sluice::connect

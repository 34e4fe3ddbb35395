// Kafka's FileStreamSourceConnector and FileStreamSourceTask: each line of a
// file (or of standard input) becomes a record with a STRING value, no key,
// source partition {"filename": file} and offset {"position": the byte
// offset after the line}, so a restarted task resumes after the last line
// whose offset was committed. Settings and offsets are Kafka's.
//
// Beyond Kafka (issue 19), the task follows the path it was given, as `tail
// -F` does: when the path names another file (a rotation renamed the old one
// and created a new one) it hands out the rest of the old file, then reads
// the new one from position 0; when the file shrinks below what was read (a
// truncation, or copytruncate rotation) it starts again at 0. A file that
// does not exist yet is waited for, as Kafka does.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "connect/connectors/connectors.h"
#include "connect/connectors/stop_signal.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kFileSourceFileKey = "file";
constexpr const char* kFileSourceTopicKey = "topic";
constexpr const char* kFileSourceBatchSizeKey = "batch.size";
constexpr const char* kFileSourceFilenameField = "filename";
constexpr const char* kFileSourcePositionField = "position";
// How often a waiting poll looks for new data, a new file at the path or a
// truncation: short enough that a line appears in Kafka promptly, long
// enough that an idle task costs nothing measurable.
constexpr std::chrono::milliseconds kFileSourceCheckInterval{50};
constexpr size_t kFileSourceReadBytes = 64 * 1024;

std::vector<ConfigKey> file_source_config_keys() {
  return {
      {kFileSourceFileKey, ConfigType::string, false, std::nullopt, nullptr},
      {kFileSourceTopicKey, ConfigType::string, true, std::nullopt, non_empty_string()},
      {kFileSourceBatchSizeKey, ConfigType::integer, false, "2000", nullptr},
  };
}

Status file_source_io_error(const std::string& what, const std::string& path) {
  return Status(Errc::io_error, what + " " + path + ": " + std::strerror(errno));
}

// A file's identity: a rotation leaves the path naming another inode.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

FileIdentity identity_of(const struct stat& status) { return {status.st_dev, status.st_ino}; }

// Any integer kind: the offset store reads JSON numbers back as int64, but an
// offset altered through the REST API may hold a smaller kind.
std::optional<int64_t> integer_value(const Value& value) {
  if (value.is<int64_t>()) return value.as<int64_t>();
  if (value.is<int32_t>()) return value.as<int32_t>();
  if (value.is<int16_t>()) return value.as<int16_t>();
  if (value.is<int8_t>()) return value.as<int8_t>();
  return std::nullopt;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FileStreamSourceTask final : public SourceTask {
 public:
  ~FileStreamSourceTask() override { close_file(); }

  Status start(const Properties& config, OffsetReader& offsets) override {
    auto parsed = SimpleConfig::parse(file_source_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    std::optional<std::string> file = parsed->get_string(kFileSourceFileKey);
    if (file && !file->empty()) path_ = *file;
    topic_ = parsed->get_string(kFileSourceTopicKey).value_or("");
    // Kafka hands out a batch as soon as it holds batch.size records, so
    // zero or less acts as one.
    batch_size_ = static_cast<size_t>(std::max(1, parsed->get_int(kFileSourceBatchSizeKey)));
    // The runtime's reader is valid only during start(): the stored
    // position is read now and applied when the file is first opened.
    if (path_) return read_stored_position(offsets);
    return Status::ok();
  }

  // Lines ready now, at most batch.size; waits up to `max_wait` (in steps
  // that stop() cuts short) when there are none.
  Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) override {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    std::vector<ConnectRecord> records;
    while (!stop_.requested()) {
      auto moved = read_available(records);
      if (!moved.is_ok()) return moved.status();
      if (!records.empty()) return records;
      if (*moved) continue;  // another file or a restart: read it at once
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      stop_.sleep_until(std::min(deadline, now + kFileSourceCheckInterval));
    }
    return records;
  }

  // May be called from another thread than poll's: only wakes it.
  void stop() override { stop_.request(); }

 private:
  Status read_stored_position(OffsetReader& offsets) {
    std::optional<Map> stored = offsets.offset(source_partition());
    if (!stored) return Status::ok();
    const Value* position = map_find(*stored, kFileSourcePositionField);
    if (position == nullptr || position->is_null()) return Status::ok();
    std::optional<int64_t> bytes = integer_value(*position);
    if (!bytes) return Status(Errc::invalid_value, "Offset position is the incorrect type");
    resume_position_ = std::max<int64_t>(0, *bytes);
    return Status::ok();
  }

  // Opens the file when needed, reads what is there, and follows the path.
  // True when reading moved to another file or restarted at 0.
  Result<bool> read_available(std::vector<ConnectRecord>& records) {
    if (fd_ < 0) {
      if (Status opened = open_file(); !opened) return opened;
      if (fd_ < 0) return false;  // not there yet
    }
    auto at_end = read_lines(records);
    if (!at_end.is_ok()) return at_end.status();
    if (!records.empty() || !*at_end || !path_) return false;
    return follow_path(records);
  }

  Status open_file() {
    if (!path_) {
      fd_ = STDIN_FILENO;
      return Status::ok();
    }
    const int fd = ::open(path_->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // Kafka waits for a file that does not exist yet.
      if (errno == ENOENT) return Status::ok();
      return file_source_io_error("Couldn't open", *path_);
    }
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
      Status failed = file_source_io_error("Couldn't stat", *path_);
      ::close(fd);
      return failed;
    }
    fd_ = fd;
    identity_ = identity_of(status);
    // The stored position applies to the first file opened only; one
    // beyond the end means the file was truncated or replaced while the
    // task was stopped, so it is read from the start.
    int64_t start = resume_position_.value_or(0);
    resume_position_.reset();
    if (start > status.st_size) start = 0;
    return restart_at(start);
  }

  Status restart_at(int64_t position) {
    if (::lseek(fd_, position, SEEK_SET) < 0) return file_source_io_error("Couldn't seek", *path_);
    position_ = position;
    pending_.clear();
    return Status::ok();
  }

  void close_file() {
    if (fd_ >= 0 && fd_ != STDIN_FILENO) ::close(fd_);
    fd_ = -1;
  }

  // Reads until the batch is full or the file has nothing more; true at the
  // end of what is there now.
  Result<bool> read_lines(std::vector<ConnectRecord>& records) {
    take_lines(records, /*file_finished=*/false);
    while (records.size() < batch_size_) {
      auto read = read_chunk();
      if (!read.is_ok()) return read.status();
      if (*read == 0) return true;
      take_lines(records, /*file_finished=*/false);
    }
    return false;
  }

  Result<size_t> read_chunk() {
    if (fd_ == STDIN_FILENO && !stdin_readable()) return size_t{0};
    const size_t old_size = pending_.size();
    pending_.resize(old_size + kFileSourceReadBytes);
    ssize_t read = 0;
    do {
      read = ::read(fd_, pending_.data() + old_size, kFileSourceReadBytes);
    } while (read < 0 && errno == EINTR);
    pending_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(read, 0)));
    if (read < 0) return file_source_io_error("Couldn't read", path_.value_or("stdin"));
    return static_cast<size_t>(read);
  }

  // A read of standard input must not block: poll() says whether it would.
  static bool stdin_readable() {
    struct pollfd ready {
      STDIN_FILENO, POLLIN, 0
    };
    return ::poll(&ready, 1, 0) > 0;
  }

  // Hands out the complete lines in `pending_` (up to the batch size). Lines
  // end with \n, \r\n or \r as Kafka's; a \r last in the buffer waits for
  // the next byte, which may be its \n. A finished file's last line needs
  // no line end.
  void take_lines(std::vector<ConnectRecord>& records, bool file_finished) {
    size_t start = 0;
    while (records.size() < batch_size_) {
      const size_t end = pending_.find_first_of("\r\n", start);
      if (end == std::string::npos) break;
      size_t next = end + 1;
      if (pending_[end] == '\r') {
        if (next == pending_.size() && !file_finished) break;
        if (next < pending_.size() && pending_[next] == '\n') ++next;
      }
      position_ += static_cast<int64_t>(next - start);
      records.push_back(make_record(pending_.substr(start, end - start)));
      start = next;
    }
    if (file_finished && start < pending_.size() && records.size() < batch_size_) {
      position_ += static_cast<int64_t>(pending_.size() - start);
      records.push_back(make_record(pending_.substr(start)));
      start = pending_.size();
    }
    pending_.erase(0, start);
  }

  // At the end of the open file: has the path been given to another file,
  // or has this one been truncated? True when reading moved or restarted.
  Result<bool> follow_path(std::vector<ConnectRecord>& records) {
    struct stat at_path {};
    // A path that names nothing (renamed away, not yet created again) keeps
    // the old file open: its writer may still be appending to it.
    if (::stat(path_->c_str(), &at_path) == 0 && identity_of(at_path) != identity_) {
      return finish_and_switch(records);
    }
    struct stat open_status {};
    if (::fstat(fd_, &open_status) != 0) return file_source_io_error("Couldn't stat", *path_);
    const int64_t read_so_far = position_ + static_cast<int64_t>(pending_.size());
    if (open_status.st_size >= read_so_far) return false;
    if (Status restarted = restart_at(0); !restarted) return restarted;
    return true;
  }

  // The old file's last writes may have landed after it was read: it is
  // read to its end, every line handed out (its last even without a line
  // end), and only then is the new file opened from position 0.
  Result<bool> finish_and_switch(std::vector<ConnectRecord>& records) {
    auto at_end = read_lines(records);
    if (!at_end.is_ok()) return at_end.status();
    if (!records.empty()) return false;  // come back once these are handed out
    take_lines(records, /*file_finished=*/true);
    close_file();
    if (Status opened = open_file(); !opened) return opened;
    return true;
  }

  Map source_partition() const {
    return Map{MapEntry{Value(kFileSourceFilenameField), path_ ? Value(*path_) : Value()}};
  }

  ConnectRecord make_record(std::string line) const {
    // Standard input has no position to resume from: Kafka's offset is null.
    Map offset{MapEntry{Value(kFileSourcePositionField), path_ ? Value(position_) : Value()}};
    return make_source_record(source_partition(), std::move(offset), topic_, std::nullopt, nullptr,
                              Value(), primitive_schema(SchemaType::string), Value(std::move(line)),
                              wall_clock_ms());
  }

  std::optional<std::string> path_;  // nullopt: standard input
  std::string topic_;
  size_t batch_size_ = 2000;
  std::optional<int64_t> resume_position_;  // the stored offset, until the first open
  int fd_ = -1;
  FileIdentity identity_;
  int64_t position_ = 0;  // the byte offset after the last line handed out
  std::string pending_;   // bytes read after position_: no complete line yet
  StopSignal stop_;
};

class FileStreamSourceConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::source; }
  std::vector<ConfigKey> config_keys() const override { return file_source_config_keys(); }

  Status start(const Properties& config) override {
    auto parsed = SimpleConfig::parse(file_source_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    config_ = config;
    return Status::ok();
  }

  // One input stream: one task, whatever tasks.max allows (as Kafka). The
  // task gets the whole connector configuration (KAFKA-13809).
  std::vector<Properties> task_configs(int /*max_tasks*/) override { return {config_}; }

  std::unique_ptr<SourceTask> make_source_task() override {
    return std::make_unique<FileStreamSourceTask>();
  }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_file_stream_source_connector() {
  return std::make_unique<FileStreamSourceConnector>();
}

}  // namespace sluice::connect

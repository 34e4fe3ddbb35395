// Kafka's FileStreamSinkConnector and FileStreamSinkTask: each record's value
// is appended to a file (standard output when `file` is unset) as one line,
// in its Java toString form ("null" for a null value), as Kafka's
// PrintStream.println writes it.
//
// Durability: put() hands each batch to the kernel with write(2) (nothing is
// buffered in the process, so there is nothing to lose on a crash of the
// task alone); flush() fsyncs the file, and the runtime commits the consumed
// offsets only after flush succeeds, so a committed record is on disk.
// Kafka's PrintStream swallows write errors; here a failed write or fsync
// fails the task, and the records since the last commit are delivered again,
// except a write that found the disk full (ENOSPC, EDQUOT): that put answers
// a retriable error and the runtime puts the batch again after a backoff.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "connect/connectors/connectors.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kFileSinkFileKey = "file";

std::vector<ConfigKey> file_sink_config_keys() {
  return {{kFileSinkFileKey, ConfigType::string, false, std::nullopt, nullptr}};
}

class FileStreamSinkTask final : public SinkTask {
 public:
  ~FileStreamSinkTask() override { close_file(); }

  Status start(const Properties& config) override {
    auto parsed = SimpleConfig::parse(file_sink_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    std::optional<std::string> file = parsed->get_string(kFileSinkFileKey);
    if (!file || file->empty()) {
      fd_ = STDOUT_FILENO;
      return Status::ok();
    }
    filename_ = *file;
    // Kafka's CREATE and APPEND: a restarted task adds to what is there.
    fd_ = ::open(filename_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return Status(Errc::io_error, "Couldn't find or create file '" + filename_ +
                                        "' for FileStreamSinkTask: " + std::strerror(errno));
    }
    return Status::ok();
  }

  Status put(std::vector<ConnectRecord> records) override {
    std::string lines;
    for (const ConnectRecord& record : records) {
      lines += record.value.to_string();
      lines += '\n';
    }
    return write_all(lines);
  }

  Status flush() override {
    if (fd_ < 0) return Status::ok();
    if (::fsync(fd_) == 0) return Status::ok();
    // Standard output may be a terminal or a pipe, which cannot be synced:
    // what was written is already with its reader.
    if (fd_ == STDOUT_FILENO && (errno == EINVAL || errno == EROFS)) return Status::ok();
    return Status(Errc::io_error, "Couldn't flush " + log_filename() + ": " + std::strerror(errno));
  }

  void stop() override { close_file(); }

 private:
  Status write_all(const std::string& bytes) {
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t wrote = ::write(fd_, bytes.data() + written, bytes.size() - written);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) {
        std::string message = "Couldn't write to " + log_filename() + ": " + std::strerror(errno);
        // A full disk may be freed: a retriable error, so the runtime puts
        // the batch again after a backoff instead of failing the task (the
        // lines written before the failure are then written twice).
        if (errno == ENOSPC || errno == EDQUOT) return retriable_error(std::move(message));
        return Status(Errc::io_error, std::move(message));
      }
      written += static_cast<size_t>(wrote);
    }
    return Status::ok();
  }

  void close_file() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    fd_ = -1;
  }

  std::string log_filename() const { return filename_.empty() ? "stdout" : filename_; }

  std::string filename_;  // empty: standard output
  int fd_ = -1;
};

class FileStreamSinkConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::sink; }
  std::vector<ConfigKey> config_keys() const override { return file_sink_config_keys(); }

  Status start(const Properties& config) override {
    auto parsed = SimpleConfig::parse(file_sink_config_keys(), config);
    if (!parsed.is_ok()) return parsed.status();
    config_ = config;
    return Status::ok();
  }

  // Kafka gives every task the same configuration: tasks of one file sink
  // append to one file (O_APPEND: no task overwrites another's lines), in no
  // order across tasks.
  std::vector<Properties> task_configs(int max_tasks) override {
    return std::vector<Properties>(static_cast<size_t>(std::max(0, max_tasks)), config_);
  }

  std::unique_ptr<SinkTask> make_sink_task() override {
    return std::make_unique<FileStreamSinkTask>();
  }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_file_stream_sink_connector() {
  return std::make_unique<FileStreamSinkConnector>();
}

}  // namespace sluice::connect

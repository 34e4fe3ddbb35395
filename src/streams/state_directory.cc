#include "streams/state_directory.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <system_error>

#include "streams/checkpoint.h"
#include "streams/store.h"

namespace sluice::streams {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLockFile = ".lock";
constexpr const char* kProcessFile = "kafka-streams-process-metadata";

void make_directory(const fs::path& path, const std::string& what) {
  std::error_code error;
  fs::create_directories(path, error);
  if (fs::is_directory(path)) return;
  if (fs::exists(path)) {
    throw ProcessorStateException(what + " [" + path.string() +
                                  "] can't be created as there is an existing file with the same "
                                  "name");
  }
  throw ProcessorStateException(what + " [" + path.string() +
                                "] doesn't exist and couldn't be created (" + error.message() +
                                ")");
}

std::string random_uuid() {
  std::random_device device;
  std::mt19937_64 random(device());
  uint64_t high = random();
  uint64_t low = random();
  high = (high & ~0xf000ULL) | 0x4000ULL;                // version 4
  low = (low & ~(0xc000ULL << 48)) | (0x8000ULL << 48);  // IETF variant
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                static_cast<unsigned>((high >> 16) & 0xffff), static_cast<unsigned>(high & 0xffff),
                static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

// Java's UUID.toString() form: 8-4-4-4-12 hex digits.
bool is_uuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : std::isxdigit(static_cast<unsigned char>(text[i])) == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

StateDirectory::StateDirectory(const std::string& state_dir, const std::string& application_id) {
  fs::path base(state_dir);
  make_directory(base, "base state directory");
  fs::path application = base / application_id;
  make_directory(application, "state directory");
  application_dir_ = application.string();
  std::error_code ignored;
  // Kafka's rwxr-x---: state is not for every user to read.
  fs::permissions(application, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  fs::perm_options::replace, ignored);
  std::string lock_path = (application / kLockFile).string();
  lock_fd_ = ::open(lock_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    throw ProcessorStateException("Failed to lock the state directory [" + application_dir_ +
                                  "] during startup");
  }
  // flock: held per open file, so a second instance in the same process
  // fails as one in another process does.
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    spdlog::error("Unable to obtain lock as state directory is already locked by another process");
    throw std::runtime_error(
        "Unable to initialize state, this can happen if multiple instances of Kafka Streams are "
        "running in the same state directory (current state directory is [" +
        fs::absolute(application).string() + "]");
  }
}

StateDirectory::~StateDirectory() {
  if (lock_fd_ >= 0) {
    ::flock(lock_fd_, LOCK_UN);
    ::close(lock_fd_);
  }
}

std::string StateDirectory::task_dir(const std::string& task_id) const {
  fs::path path = fs::path(application_dir_) / task_id;
  make_directory(path, "task directory");
  return path.string();
}

std::vector<std::string> StateDirectory::task_directories() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(application_dir_, error)) {
    std::string name = entry.path().filename().string();
    size_t separator = name.find('_');
    bool task_like = separator != std::string::npos && separator > 0 &&
                     separator + 1 < name.size() &&
                     name.find_first_not_of("0123456789_") == std::string::npos;
    if (task_like && entry.is_directory(error)) names.push_back(name);
  }
  return names;
}

bool StateDirectory::lock_task(const std::string& task_id, int owner,
                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  bool free = released_.wait_for(lock, timeout, [&] {
    auto found = task_owners_.find(task_id);
    return found == task_owners_.end() || found->second == owner;
  });
  if (free) task_owners_[task_id] = owner;
  return free;
}

void StateDirectory::unlock_task(const std::string& task_id, int owner) {
  {
    std::lock_guard lock(mutex_);
    auto found = task_owners_.find(task_id);
    if (found == task_owners_.end() || found->second != owner) return;
    task_owners_.erase(found);
  }
  released_.notify_all();
}

std::string StateDirectory::process_id() {
  fs::path path = fs::path(application_dir_) / kProcessFile;
  {
    std::ifstream in(path);
    if (in) {
      nlohmann::json data = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (data.is_object() && data.contains("processId") && data["processId"].is_string() &&
          is_uuid(data["processId"].get<std::string>())) {
        std::string id = data["processId"];
        spdlog::info("Reading UUID from process file: {}", id);
        return id;
      }
      spdlog::warn("Failed to read json process file {}", path.string());
    }
  }
  std::string id = random_uuid();
  spdlog::info("No process id found on disk, got fresh process id {}", id);
  std::ofstream out(path, std::ios::trunc);
  out << nlohmann::json{{"processId", id}}.dump();
  if (!out) throw ProcessorStateException("Unable to write process file " + path.string());
  return id;
}

void StateDirectory::wipe_task_state(const std::string& task_dir) {
  std::error_code ignored;
  fs::remove_all(fs::path(task_dir) / "rocksdb", ignored);
  OffsetCheckpoint((fs::path(task_dir) / OffsetCheckpoint::kFileName).string()).remove();
}

void StateDirectory::remove_application_dir(const std::string& state_dir,
                                            const std::string& application_id) {
  std::error_code error;
  fs::remove_all(fs::path(state_dir) / application_id, error);
  if (error) {
    throw ProcessorStateException("Unable to delete the state directory " +
                                  (fs::path(state_dir) / application_id).string() + ": " +
                                  error.message());
  }
}

}  // namespace sluice::streams

#include "streams/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sluice::streams {
namespace {

template <class Number>
bool parse_whole(const std::string& text, Number& number) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  return error == std::errc() && end == text.data() + text.size();
}

int read_int_line(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) throw CorruptCheckpointError("File ended prematurely.");
  int number = 0;
  if (!parse_whole(line, number))
    throw CorruptCheckpointError("For input string: \"" + line + "\" (not a number)");
  return number;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

bool valid_offset(int64_t offset) {
  return offset >= 0 || offset == OffsetCheckpoint::kOffsetUnknown;
}

std::string errno_message(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

std::map<TopicPartition, int64_t> OffsetCheckpoint::read(bool keep_unknown) const {
  std::ifstream in(path_);
  if (!in) return {};
  int version = read_int_line(in);
  if (version != 0) {
    throw CorruptCheckpointError("Unknown offset checkpoint version: " + std::to_string(version));
  }
  int expected = read_int_line(in);
  std::map<TopicPartition, int64_t> offsets;
  int known = 0;
  int unknown = 0;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields = fields_of(line);
    int32_t partition = 0;
    int64_t offset = 0;
    if (fields.size() != 3 || !parse_whole(fields[1], partition) ||
        !parse_whole(fields[2], offset)) {
      throw CorruptCheckpointError("Malformed line in offset checkpoint file: '" + line + "'.");
    }
    if (offset == kOffsetUnknown) {
      ++unknown;  // counted; kept only when asked: the store's offset is not known
      if (keep_unknown) offsets[{fields[0], partition}] = offset;
    } else if (valid_offset(offset)) {
      offsets[{fields[0], partition}] = offset;
      ++known;
    } else {
      --expected;  // Kafka skips a negative offset (and expects one entry fewer)
    }
  }
  if (known + unknown != expected) {
    throw CorruptCheckpointError("Expected " + std::to_string(expected) +
                                 " entries but found only " + std::to_string(known + unknown));
  }
  return offsets;
}

void OffsetCheckpoint::write(const std::map<TopicPartition, int64_t>& offsets) const {
  if (offsets.empty()) {
    remove();
    return;
  }
  std::string text = "0\n" + std::to_string(offsets.size()) + "\n";
  for (const auto& [partition, offset] : offsets) {
    if (!valid_offset(offset)) {
      throw std::invalid_argument("Attempted to write a negative offset to the checkpoint file");
    }
    text += partition.topic + " " + std::to_string(partition.partition) + " " +
            std::to_string(offset) + "\n";
  }
  std::string temp = path_ + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(errno_message("cannot write checkpoint file", temp));
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string error = errno_message("cannot write checkpoint file", temp);
      ::close(fd);
      throw std::runtime_error(error);
    }
    written += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) throw std::runtime_error(errno_message("cannot sync checkpoint file", temp));
  if (::rename(temp.c_str(), path_.c_str()) != 0)
    throw std::runtime_error(errno_message("cannot move checkpoint file to", path_));
}

void OffsetCheckpoint::remove() const {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

bool OffsetCheckpoint::exists() const {
  std::error_code ignored;
  return std::filesystem::exists(path_, ignored);
}

}  // namespace sluice::streams

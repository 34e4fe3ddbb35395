#include "storage/checkpoint_file.h"

#include <charconv>

namespace sluice::storage {
namespace {

Status malformed(const std::string& path, size_t line, const std::string& why) {
  return Status(Errc::invalid_value, "malformed " + path + " line " + std::to_string(line) + ": " + why);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

template <class T>
bool parse_int(std::string_view text, T& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// The frame shared by both checkpoint kinds: version 0, entry count, entries
// of `fields_per_entry` whitespace-separated fields.
Result<std::vector<std::vector<std::string_view>>> parse_frame(std::string_view text, const std::string& path,
                                                                size_t fields_per_entry) {
  auto lines = split_lines(text);
  if (lines.size() < 2) return malformed(path, lines.size() + 1, "missing version or count");
  int32_t version = -1;
  if (!parse_int(lines[0], version) || version != 0) return malformed(path, 1, "unsupported version");
  int64_t count = -1;
  if (!parse_int(lines[1], count) || count < 0) return malformed(path, 2, "bad entry count");
  if (static_cast<size_t>(count) != lines.size() - 2)
    return malformed(path, 2, "count " + std::to_string(count) + " but " + std::to_string(lines.size() - 2) + " entries");
  std::vector<std::vector<std::string_view>> entries;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto fields = split_fields(lines[i]);
    if (fields.size() != fields_per_entry) return malformed(path, i + 1, "expected " + std::to_string(fields_per_entry) + " fields");
    entries.push_back(std::move(fields));
  }
  return entries;
}

Bytes text_bytes(const std::string& text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// A missing file is an empty text.
Result<std::string> read_text(FileSystem& fs, const std::string& path) {
  auto exists = fs.exists(path);
  if (!exists) return exists.status();
  if (!*exists) return std::string();
  auto raw = read_whole_file(fs, path);
  if (!raw) return raw.status();
  return std::string(raw->begin(), raw->end());
}

constexpr char base64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64_value(char c) {
  for (int i = 0; i < 64; ++i)
    if (base64_url[i] == c) return i;
  return -1;
}

}  // namespace

Result<TopicPartition> parse_partition_dir_name(std::string_view name) {
  size_t dash = name.rfind('-');
  TopicPartition tp;
  if (dash == std::string_view::npos || dash == 0 || !parse_int(name.substr(dash + 1), tp.partition) || tp.partition < 0)
    return Status(Errc::invalid_value, "not a partition directory name: " + std::string(name));
  tp.topic = std::string(name.substr(0, dash));
  return tp;
}

std::string encode_offset_checkpoint(const OffsetCheckpoint& offsets) {
  std::string text = "0\n" + std::to_string(offsets.size()) + "\n";
  for (const auto& [tp, offset] : offsets)
    text += tp.topic + " " + std::to_string(tp.partition) + " " + std::to_string(offset) + "\n";
  return text;
}

Result<OffsetCheckpoint> parse_offset_checkpoint(std::string_view text, const std::string& path) {
  OffsetCheckpoint offsets;
  if (text.empty()) return offsets;
  auto entries = parse_frame(text, path, 3);
  if (!entries) return entries.status();
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto& fields = (*entries)[i];
    TopicPartition tp{std::string(fields[0]), 0};
    int64_t offset = 0;
    if (!parse_int(fields[1], tp.partition) || !parse_int(fields[2], offset))
      return malformed(path, i + 3, "bad partition or offset");
    offsets[tp] = offset;
  }
  return offsets;
}

Status write_offset_checkpoint(FileSystem& fs, const std::string& path, const OffsetCheckpoint& offsets) {
  return write_file_atomically(fs, path, text_bytes(encode_offset_checkpoint(offsets)));
}

Result<OffsetCheckpoint> read_offset_checkpoint(FileSystem& fs, const std::string& path) {
  auto text = read_text(fs, path);
  if (!text) return text.status();
  return parse_offset_checkpoint(*text, path);
}

std::string encode_leader_epoch_checkpoint(const std::vector<EpochEntry>& entries) {
  std::string text = "0\n" + std::to_string(entries.size()) + "\n";
  for (const auto& entry : entries)
    text += std::to_string(entry.epoch) + " " + std::to_string(entry.start_offset) + "\n";
  return text;
}

Result<std::vector<EpochEntry>> parse_leader_epoch_checkpoint(std::string_view text, const std::string& path) {
  std::vector<EpochEntry> result;
  if (text.empty()) return result;
  auto entries = parse_frame(text, path, 2);
  if (!entries) return entries.status();
  for (size_t i = 0; i < entries->size(); ++i) {
    EpochEntry entry;
    if (!parse_int((*entries)[i][0], entry.epoch) || !parse_int((*entries)[i][1], entry.start_offset))
      return malformed(path, i + 3, "bad epoch or offset");
    result.push_back(entry);
  }
  return result;
}

Status write_leader_epoch_checkpoint(FileSystem& fs, const std::string& path,
                                     const std::vector<EpochEntry>& entries) {
  return write_file_atomically(fs, path, text_bytes(encode_leader_epoch_checkpoint(entries)));
}

Result<std::vector<EpochEntry>> read_leader_epoch_checkpoint(FileSystem& fs, const std::string& path) {
  auto text = read_text(fs, path);
  if (!text) return text.status();
  return parse_leader_epoch_checkpoint(*text, path);
}

std::string uuid_to_base64(const Uuid& uuid) {
  std::string text;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : uuid.bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += base64_url[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) text += base64_url[(buffer << (6 - bits)) & 0x3f];
  return text;  // 22 characters
}

Result<Uuid> uuid_from_base64(std::string_view text) {
  if (text.size() != 22) return Status(Errc::invalid_value, "a topic id has 22 base64 characters: " + std::string(text));
  Uuid uuid;
  uint32_t buffer = 0;
  int bits = 0;
  size_t out = 0;
  for (char c : text) {
    int value = base64_value(c);
    if (value < 0) return Status(Errc::invalid_value, "bad base64 in topic id: " + std::string(text));
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      uuid.bytes[out++] = static_cast<uint8_t>(buffer >> bits);
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return Status(Errc::invalid_value, "non-canonical topic id: " + std::string(text));
  return uuid;
}

std::string encode_partition_metadata(const Uuid& topic_id) {
  return "version: 0\ntopic_id: " + uuid_to_base64(topic_id);
}

Result<Uuid> parse_partition_metadata(std::string_view text, const std::string& path) {
  auto lines = split_lines(text);
  if (lines.size() < 2) return malformed(path, lines.size() + 1, "expected version and topic_id lines");
  auto version = split_fields(lines[0]);
  if (version.size() != 2 || version[0] != "version:" || version[1] != "0")
    return malformed(path, 1, "expected 'version: 0'");
  auto topic_id = split_fields(lines[1]);
  if (topic_id.size() != 2 || topic_id[0] != "topic_id:") return malformed(path, 2, "expected 'topic_id: <id>'");
  return uuid_from_base64(topic_id[1]);
}

Status write_partition_metadata(FileSystem& fs, const std::string& partition_dir, const Uuid& topic_id) {
  auto file = fs.open(join_path(partition_dir, partition_metadata_file), OpenMode::create_truncate);
  if (!file) return file.status();
  return (*file)->append(text_bytes(encode_partition_metadata(topic_id)));
}

Result<Uuid> read_partition_metadata(FileSystem& fs, const std::string& partition_dir) {
  std::string path = join_path(partition_dir, partition_metadata_file);
  auto text = read_text(fs, path);
  if (!text) return text.status();
  if (text->empty()) return Uuid{};
  return parse_partition_metadata(*text, path);
}

}  // namespace sluice::storage

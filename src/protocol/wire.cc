#include "protocol/wire.h"

namespace sluice::protocol::wire {

int64_t read_length(WireReader& reader, LengthWidth width, Format format, size_t min_unit_bytes,
                    const char* what) {
  int64_t length;
  if (format.compact) {
    length = static_cast<int64_t>(reader.read_uvarint()) - 1;
  } else if (width == LengthWidth::int16) {
    length = reader.read_int16();
  } else {
    length = reader.read_int32();
  }
  if (!reader.ok()) return -1;
  if (length == -1) {
    if (!format.nullable)
      reader.fail(Errc::invalid_value, std::string("null ") + what + " in a non-nullable field");
    return -1;
  }
  if (length < -1) {
    reader.fail(Errc::invalid_length,
                std::string("negative ") + what + " length " + std::to_string(length));
    return -1;
  }
  if (static_cast<uint64_t>(length) > reader.remaining() / min_unit_bytes) {
    reader.fail(Errc::invalid_length, std::string(what) + " length " + std::to_string(length) +
                                          " exceeds the " + std::to_string(reader.remaining()) +
                                          " bytes left");
    return -1;
  }
  return length;
}

void TaggedFieldsWriter::flush_below(uint64_t tag) {
  while (next_unknown_ < unknown_.size() && unknown_[next_unknown_].tag < tag) {
    const TaggedField& field = unknown_[next_unknown_++];
    writer_.write_uvarint(field.tag);
    writer_.write_uvarint(field.data.size());
    writer_.write_raw(Bytes(field.data));
  }
}

TaggedFieldsSizer::TaggedFieldsSizer(const std::vector<TaggedField>& unknown,
                                     uint32_t known_count) {
  total_ = uvarint_size(known_count + unknown.size());
  for (const TaggedField& field : unknown)
    total_ += uvarint_size(field.tag) + uvarint_size(field.data.size()) + field.data.size();
}

bool read_tagged_header(WireReader& reader, uint32_t& count) {
  count = reader.read_uvarint();
  if (!reader.ok()) return false;
  // Each entry takes at least two bytes (tag and size).
  if (count > reader.remaining() / 2) {
    reader.fail(Errc::invalid_length, "tagged field count " + std::to_string(count) +
                                          " exceeds the " + std::to_string(reader.remaining()) +
                                          " bytes left");
    return false;
  }
  return true;
}

bool read_tagged_entry(WireReader& reader, int64_t& previous_tag, uint32_t& tag, Bytes& data) {
  tag = reader.read_uvarint();
  uint32_t size = reader.read_uvarint();
  if (!reader.ok()) return false;
  // Ascending order keeps re-encoding byte-identical and rules out duplicates.
  if (static_cast<int64_t>(tag) <= previous_tag) {
    reader.fail(Errc::invalid_value, "tagged field " + std::to_string(tag) +
                                         " out of order after " + std::to_string(previous_tag));
    return false;
  }
  previous_tag = tag;
  if (size > reader.remaining()) {
    reader.fail(Errc::invalid_length, "tagged field " + std::to_string(tag) + " size " +
                                          std::to_string(size) + " exceeds the " +
                                          std::to_string(reader.remaining()) + " bytes left");
    return false;
  }
  data = reader.read_bytes(size);
  return reader.ok();
}

void finish_known_tag(WireReader& reader, const WireReader& sub, uint32_t tag) {
  if (!sub.ok()) {
    reader.fail(sub.status().code(),
                "tagged field " + std::to_string(tag) + ": " + sub.status().message());
  } else if (!sub.at_end()) {
    reader.fail(Errc::invalid_length, "tagged field " + std::to_string(tag) + " has " +
                                          std::to_string(sub.remaining()) + " extra bytes");
  }
}

bool check_version(WireReader& reader, int16_t version, int16_t min_version,
                   int16_t max_version, const char* message_name) {
  if (version >= min_version && version <= max_version) return true;
  reader.fail(Errc::unsupported_version, std::string(message_name) + " version " +
                                             std::to_string(version) + " outside " +
                                             std::to_string(min_version) + "-" +
                                             std::to_string(max_version));
  return false;
}

}  // namespace sluice::protocol::wire

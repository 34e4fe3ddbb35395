#pragma once
// Framing of the records Kafka keeps in its own logs, around the generated
// structs of metadata_records.h and coordinator_records.h.
//
// Metadata log (KRaft, __cluster_metadata): a record's value is
//   uvarint frame version (1; Kafka rejects 0 and so do we on write, but
//   reads accept 0 too) | uvarint record type (the schema's apiKey) |
//   uvarint record version | the body, always in the flexible encoding.
// The record key is unused (null).
//
// Coordinator logs (__consumer_offsets, __transaction_state): key and value
// are each int16 version + body. A key's version is its record type.

#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/coordinator_records.h"
#include "protocol/dispatch.h"
#include "protocol/metadata_records.h"

namespace sluice::protocol {
namespace metadata {

inline constexpr uint32_t record_frame_version = 1;

struct RecordFrame {
  int16_t type = -1;     // the record's api_key
  int16_t version = -1;  // the record's version
};

// Encodes `record` in `version` with its frame.
template <class Record>
std::vector<uint8_t> encode_framed(const Record& record, int16_t version = Record::max_version) {
  WireWriter writer;
  writer.write_uvarint(record_frame_version);
  writer.write_uvarint(static_cast<uint16_t>(Record::api_key));
  writer.write_uvarint(static_cast<uint16_t>(version));
  record.encode(writer, version);
  return writer.to_vector();
}

// Reads the frame header; `reader` is left at the body.
Status read_frame(WireReader& reader, RecordFrame& frame);

// Decodes a framed record that must fill `value` exactly and calls
// f(const Record&, int16_t version) with the generated struct of its type.
// An unknown type or version, or a body that does not decode, is an error.
template <class F>
Status decode_framed(Bytes value, F&& f) {
  WireReader reader(value);
  RecordFrame frame;
  if (Status status = read_frame(reader, frame); !status) return status;
  Status result(Errc::invalid_value,
                "unknown metadata record type " + std::to_string(frame.type));
  for_each_type(RecordTypes{}, [&]<class Record>(std::type_identity<Record>) {
    if (Record::api_key != frame.type) return;
    Record record;
    result = record.decode(reader, frame.version);
    if (result && !reader.at_end())
      result = Status(Errc::invalid_length, std::string(Record::message_name) +
                                                ": bytes left after the record");
    if (result) f(record, frame.version);
  });
  return result;
}

}  // namespace metadata

namespace coordinator {

// int16 version + body: a coordinator record key or value.
template <class Message>
std::vector<uint8_t> encode_versioned(const Message& message, int16_t version) {
  WireWriter writer;
  writer.write_int16(version);
  message.encode(writer, version);
  return writer.to_vector();
}

// Reads the int16 version prefix of a key or value; `reader` is left at
// the body.
Status read_version(WireReader& reader, int16_t& version);

}  // namespace coordinator
}  // namespace sluice::protocol

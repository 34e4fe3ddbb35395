// Request frames captured from real clients (tests/fixtures/clients, see its
// README and manifest.json) decode exactly with the generated codecs, carry
// what the manifest says, and encode back to the very same bytes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/protocol.h"
#include "record/record_reader.h"
#include "record/record_set.h"

namespace sluice::protocol {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path fixtures_dir() {
  const char* root = std::getenv("SLUICE_FIXTURES");
  return root ? fs::path(root) / "clients" : fs::path();
}

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

json load_manifest() {
  std::ifstream in(fixtures_dir() / "manifest.json");
  return json::parse(in);
}

// Decodes header + body of `frame`, checks nothing is left over, re-encodes
// both and compares with the original bytes.
template <class Request>
Request decode_and_reencode(Bytes frame, const RequestHeader& header, WireReader& reader) {
  Request request;
  Status status = request.decode(reader, header.request_api_version);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_TRUE(reader.at_end()) << reader.remaining() << " bytes left after the request";

  WireWriter writer;
  encode_request_header(writer, header);
  request.encode(writer, header.request_api_version);
  EXPECT_EQ(writer.size(), frame.size());
  EXPECT_EQ(writer.to_vector(), std::vector<uint8_t>(frame.begin(), frame.end()))
      << "re-encoding differs from the client's bytes";
  return request;
}

void check_produce(const ProduceRequest& request, const json& entry) {
  EXPECT_EQ(request.acks, entry["acks"].get<int>());
  ASSERT_EQ(request.topic_data.size(), 1u);
  EXPECT_EQ(request.topic_data[0].name, entry["topic"].get<std::string>());
  ASSERT_EQ(request.topic_data[0].partition_data.size(), 1u);
  const auto& partition = request.topic_data[0].partition_data[0];
  EXPECT_EQ(partition.index, entry["partition"].get<int>());
  ASSERT_TRUE(partition.records.has_value());

  Bytes records = partition.records->bytes;
  ASSERT_TRUE(record::validate_record_set(records).is_ok());
  record::RecordSetReader set(records);
  record::BatchView batch;
  ASSERT_TRUE(set.next(batch));
  auto reader = record::RecordReader::open(batch.bytes);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  record::Record record;
  for (const json& expected : entry["expected_records"]) {
    ASSERT_TRUE(reader->next(record)) << reader->status().to_string();
    std::string key(record.key->begin(), record.key->end());
    std::string value(record.value->begin(), record.value->end());
    EXPECT_EQ(key, expected["key"].get<std::string>());
    EXPECT_EQ(value, expected["value"].get<std::string>());
    EXPECT_EQ(record.headers.size(), expected["headers"].size());
  }
  EXPECT_FALSE(reader->next(record));
}

void check_metadata(const MetadataRequest& request, const json& entry) {
  if (!entry.contains("metadata_topics")) return;
  const json& topics = entry["metadata_topics"];
  if (topics.is_null()) {
    EXPECT_FALSE(request.topics.has_value());
    return;
  }
  ASSERT_TRUE(request.topics.has_value());
  ASSERT_EQ(request.topics->size(), topics.size());
  for (size_t i = 0; i < topics.size(); ++i)
    EXPECT_EQ((*request.topics)[i].name, topics[i].get<std::string>());
}

TEST(ClientGoldenBytes, EveryCapturedFrameDecodesExactlyAndReencodesIdentically) {
  // ctest always sets SLUICE_FIXTURES; only a bare run of the binary skips.
  if (fixtures_dir().empty()) GTEST_SKIP() << "SLUICE_FIXTURES is not set";
  ASSERT_TRUE(fs::exists(fixtures_dir() / "manifest.json")) << fixtures_dir();
  json manifest = load_manifest();
  int checked = 0;
  for (const json& entry : manifest["files"]) {
    std::string file = entry["file"].get<std::string>();
    SCOPED_TRACE(file);
    std::vector<uint8_t> frame = read_file(fixtures_dir() / file);
    ASSERT_EQ(frame.size(), entry["size_bytes"].get<size_t>());

    WireReader reader(frame);
    RequestHeader header;
    ASSERT_TRUE(decode_request_header(reader, header).is_ok()) << reader.status().to_string();
    EXPECT_EQ(header.request_api_key, entry["api_key"].get<int>());
    EXPECT_EQ(header.request_api_version, entry["api_version"].get<int>());
    EXPECT_EQ(header.correlation_id, entry["correlation_id"].get<int>());
    ASSERT_TRUE(header.client_id.has_value());
    EXPECT_EQ(*header.client_id, entry["client_id"].get<std::string>());
    EXPECT_EQ(request_header_version(header.request_api_key, header.request_api_version),
              entry["request_header_version"].get<int>());

    bool known = visit_request_type(header.request_api_key, [&]<class Request>(
                                                                std::type_identity<Request>) {
      Request request = decode_and_reencode<Request>(frame, header, reader);
      if constexpr (std::is_same_v<Request, ProduceRequest>) check_produce(request, entry);
      if constexpr (std::is_same_v<Request, MetadataRequest>) check_metadata(request, entry);
      if constexpr (std::is_same_v<Request, ApiVersionsRequest>) {
        if (entry.contains("client_software_name")) {
          EXPECT_EQ(request.client_software_name,
                    entry["client_software_name"].get<std::string>());
          EXPECT_EQ(request.client_software_version,
                    entry["client_software_version"].get<std::string>());
        }
      }
    });
    EXPECT_TRUE(known);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(manifest["files"].size()));
  EXPECT_GE(checked, 20);
}

}  // namespace
}  // namespace sluice::protocol

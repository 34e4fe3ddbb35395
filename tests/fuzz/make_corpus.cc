// Writes the seed corpora of the fuzz targets (committed in corpus/; rerun
// only to refresh them):
//   corpus/fuzz_request/       the captured client frames, plus a request of
//                              every API at its lowest, first flexible and
//                              highest version, with small random field
//                              values (the property tests' generators), and
//                              Produce v3/v9 frames holding real batches;
//   corpus/fuzz_record_batch/  the record sets of the captured Produce frames
//                              and batches built here with every codec,
//                              control batches, two-batch and cut-short sets.
// Usage: fuzz_make_corpus <tests/fuzz/corpus> <tests/fixtures/clients>

#include <rapidcheck.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "protocol_testing/fill.h"
#include "record/batch_builder.h"

namespace {

namespace fs = std::filesystem;
using namespace sluice;
using namespace sluice::protocol;
using Buffer = std::vector<uint8_t>;

Buffer read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Buffer(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& path, const Buffer& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes as_bytes(std::string_view text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

template <class Request>
Buffer request_frame(const Request& request, int16_t version, int32_t correlation_id) {
  RequestHeader header;
  header.request_api_key = Request::api_key;
  header.request_api_version = version;
  header.correlation_id = correlation_id;
  header.client_id = "fuzz-seed";
  WireWriter writer;
  encode_request_header(writer, header);
  request.encode(writer, version);
  return writer.to_vector();
}

std::vector<int16_t> seed_versions(int16_t min, int16_t flexible, int16_t max) {
  std::vector<int16_t> versions{min};
  if (flexible > min && flexible < max) versions.push_back(flexible);
  if (max != min) versions.push_back(max);
  return versions;
}

// Runs inside a RapidCheck property, whose generators fill() draws from.
void write_generated_requests(const fs::path& dir) {
  int32_t correlation_id = 1000;
  for_each_type(RequestTypes{}, [&]<class Request>(std::type_identity<Request>) {
    for (int16_t version : seed_versions(Request::min_version, Request::first_flexible_version,
                                         Request::max_version)) {
      Request request;
      testing::fill(request, version);
      std::string name = std::string("gen-") + Request::message_name + "-v" + std::to_string(version);
      write_file(dir / name, request_frame(request, version, correlation_id++));
    }
  });
}

record::BatchOptions options_with(record::Compression codec) {
  record::BatchOptions options;
  options.compression = codec;
  return options;
}

// Three records: key and value, a null key with two headers (one with a null
// value), and a null value at an offset gap.
Buffer three_record_batch(record::BatchOptions options) {
  record::BatchBuilder builder(options);
  builder.append(1700000000000, as_bytes("key-0"), as_bytes("value zero, value zero, value zero"));
  const record::RecordHeader headers[] = {{"trace", as_bytes("abc")}, {"empty", std::nullopt}};
  builder.append(1700000000005, std::nullopt, as_bytes("value one"), headers);
  builder.append_at(5, 1699999999990, as_bytes("key-5"), std::nullopt);
  return builder.build().value();
}

void write_built_batches(const fs::path& dir) {
  using record::Compression;
  const std::pair<const char*, Compression> codecs[] = {{"none", Compression::none},
                                                        {"gzip", Compression::gzip},
                                                        {"snappy-xerial", Compression::snappy},
                                                        {"lz4", Compression::lz4},
                                                        {"zstd", Compression::zstd}};
  for (const auto& [name, codec] : codecs)
    write_file(dir / (std::string("built-") + name), three_record_batch(options_with(codec)));

  record::BatchOptions raw_snappy = options_with(Compression::snappy);
  raw_snappy.compression_options.snappy_framing = record::SnappyFraming::raw;
  write_file(dir / "built-snappy-raw", three_record_batch(raw_snappy));

  record::BatchOptions transactional = options_with(Compression::none);
  transactional.transactional = true;
  transactional.producer_id = 4000;
  transactional.producer_epoch = 3;
  transactional.base_sequence = 17;
  transactional.base_offset = 100;
  transactional.partition_leader_epoch = 7;
  transactional.timestamp_type = record::TimestampType::log_append_time;
  write_file(dir / "built-transactional-log-append-time", three_record_batch(transactional));

  record::BatchOptions marker;
  marker.producer_id = 4000;
  marker.producer_epoch = 3;
  marker.base_offset = 103;
  write_file(dir / "built-commit-marker",
             record::build_end_txn_marker(record::ControlType::commit, 5, 1700000000100, marker).value());
  write_file(dir / "built-abort-marker",
             record::build_end_txn_marker(record::ControlType::abort, 5, 1700000000100, marker).value());
  write_file(dir / "built-empty", record::BatchBuilder(options_with(Compression::none)).build().value());

  // Two batches back to back, then the same cut inside the second (a Fetch
  // response cut at max.bytes).
  Buffer first = three_record_batch(options_with(Compression::none));
  record::BatchOptions second_options = options_with(Compression::lz4);
  second_options.base_offset = 6;
  Buffer set = first;
  Buffer second = three_record_batch(second_options);
  set.insert(set.end(), second.begin(), second.end());
  write_file(dir / "built-two-batches", set);
  set.resize(first.size() + second.size() / 2);
  write_file(dir / "built-cut-short", set);
}

// The Produce frames of the fixtures hold one record set each: they seed the
// record-batch target as they are.
void write_fixture_record_sets(const fs::path& fixtures, const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(fixtures)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".bin" || name.find("-produce-") == std::string::npos) continue;
    Buffer frame = read_file(entry.path());
    WireReader reader(frame);
    RequestHeader header;
    ProduceRequest request;
    if (!decode_request_header(reader, header) || !request.decode(reader, header.request_api_version))
      continue;
    for (const auto& topic : request.topic_data)
      for (const auto& partition : topic.partition_data)
        if (partition.records)
          write_file(dir / ("client-" + entry.path().stem().string()),
                     Buffer(partition.records->bytes.begin(), partition.records->bytes.end()));
  }
}

// Produce frames at a non-flexible and a flexible version carrying built batches.
void write_produce_frames(const fs::path& dir) {
  Buffer batch = three_record_batch(options_with(record::Compression::gzip));
  ProduceRequest request;
  request.transactional_id = std::nullopt;
  request.acks = -1;
  request.timeout_ms = 30000;
  request.topic_data.resize(1);
  request.topic_data[0].name = "seed-topic";
  request.topic_data[0].partition_data.resize(1);
  request.topic_data[0].partition_data[0].index = 2;
  request.topic_data[0].partition_data[0].records = Records{Bytes(batch), nullptr};
  write_file(dir / "built-produce-v3", request_frame(request, 3, 1));
  write_file(dir / "built-produce-v9", request_frame(request, 9, 2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <corpus dir> <client fixtures dir>\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  const fs::path fixtures = argv[2];
  const fs::path requests = corpus / "fuzz_request";
  const fs::path batches = corpus / "fuzz_record_batch";
  fs::create_directories(requests);
  fs::create_directories(batches);

  for (const auto& entry : fs::directory_iterator(fixtures))
    if (entry.path().extension() == ".bin")
      fs::copy_file(entry.path(), requests / ("client-" + entry.path().stem().string()),
                    fs::copy_options::overwrite_existing);
  write_produce_frames(requests);
  // RapidCheck's generators only run inside a property: run one, and write
  // from its 20th case, whose size parameter gives small non-trivial values.
  int cases = 0;
  bool passed = rc::check("write generated request seeds", [&] {
    if (++cases == 20) write_generated_requests(requests);
  });

  write_fixture_record_sets(fixtures, batches);
  write_built_batches(batches);
  return passed ? 0 : 1;
}

// Protocol framing hot paths: decode and encode of the two messages that
// carry records (Produce v9 request, Fetch v12 response, both flexible), and
// of a small-message case (Metadata v12 response with 100 topics).
//
// Records are never copied: decoding points `Records` into the frame and
// encoding references them with WireWriter::write_external, so the cost
// measured is the framing around the record sets. Bytes/s count the whole
// frame (header included, records included), as the network would see it.
// `partitions` splits the same 1 MiB of records: 1 x 1 MiB or 10 x 100 KiB.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "record/batch_builder.h"

namespace {

using namespace sluice;
using namespace sluice::protocol;

constexpr int16_t produce_version = 9;
constexpr int16_t fetch_version = 12;
constexpr int16_t metadata_version = 12;
constexpr size_t record_bytes_total = 1 << 20;

// One uncompressed batch of ~`bytes` bytes: 1 KiB values, short keys.
std::shared_ptr<const std::vector<uint8_t>> make_batch(size_t bytes, int64_t base_offset) {
  record::BatchOptions options;
  options.base_offset = base_offset;
  record::BatchBuilder builder(options);
  std::vector<uint8_t> value(1024);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>('a' + (i * 7) % 26);
  std::string key = "key-0000000";
  while (builder.records_bytes() + value.size() + 64 < bytes) {
    key[4 + builder.record_count() % 7] = static_cast<char>('0' + builder.record_count() % 10);
    builder.append(1700000000000 + builder.record_count(),
                   Bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size()), Bytes(value));
  }
  return std::make_shared<const std::vector<uint8_t>>(std::move(builder.build()).value());
}

Records records_of(const std::shared_ptr<const std::vector<uint8_t>>& batch) {
  return Records{Bytes(*batch), batch};
}

ProduceRequest make_produce(int partitions) {
  ProduceRequest request;
  request.acks = -1;
  request.timeout_ms = 30000;
  auto& topic = request.topic_data.emplace_back();
  topic.name = "bench-topic";
  for (int p = 0; p < partitions; ++p) {
    auto& partition = topic.partition_data.emplace_back();
    partition.index = p;
    partition.records = records_of(make_batch(record_bytes_total / partitions, 0));
  }
  return request;
}

FetchResponse make_fetch(int partitions) {
  FetchResponse response;
  response.session_id = 12345;
  auto& topic = response.responses.emplace_back();
  topic.topic = "bench-topic";
  for (int p = 0; p < partitions; ++p) {
    auto& partition = topic.partitions.emplace_back();
    partition.partition_index = p;
    partition.high_watermark = 1000000;
    partition.last_stable_offset = 1000000;
    partition.log_start_offset = 0;
    partition.records = records_of(make_batch(record_bytes_total / partitions, 900000));
  }
  return response;
}

MetadataResponse make_metadata(int topics) {
  MetadataResponse response;
  response.cluster_id = "sluice-bench-cluster";
  response.controller_id = 1;
  for (int b = 1; b <= 3; ++b) response.brokers.push_back({b, "broker-" + std::to_string(b) + ".local", 9092, "rack-a", {}});
  for (int t = 0; t < topics; ++t) {
    auto& topic = response.topics.emplace_back();
    topic.name = "orders.region-" + std::to_string(t);
    topic.topic_id.bytes[0] = static_cast<uint8_t>(t);
    for (int p = 0; p < 3; ++p) {
      auto& partition = topic.partitions.emplace_back();
      partition.partition_index = p;
      partition.leader_id = 1 + p;
      partition.leader_epoch = 4;
      partition.replica_nodes = {1, 2, 3};
      partition.isr_nodes = {1, 2, 3};
    }
  }
  return response;
}

// Request frame = request header + body; response frame = response header + body.
void encode_frame(WireWriter& writer, const ProduceRequest& request) {
  RequestHeader header;
  header.request_api_key = ProduceRequest::api_key;
  header.request_api_version = produce_version;
  header.correlation_id = 7;
  header.client_id = "bench-producer";
  encode_request_header(writer, header);
  request.encode(writer, produce_version);
}

template <class Response>
void encode_frame(WireWriter& writer, const Response& response, int16_t version) {
  ResponseHeader header;
  header.correlation_id = 7;
  encode_response_header(writer, Response::api_key, version, header);
  response.encode(writer, version);
}

// The frame as the network would hand it over: one contiguous buffer.
template <class Encode>
std::vector<uint8_t> contiguous(Encode encode) {
  WireWriter writer;
  encode(writer);
  return writer.to_vector();
}

// Besides bytes/s of whole frames, reports `framing_bytes`: the bytes the
// codec itself writes or reads per frame (the frame minus its record sets),
// which is what the time is really spent on.
void set_counters(benchmark::State& state, size_t frame_bytes, size_t records_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["frame_bytes"] = static_cast<double>(frame_bytes);
  state.counters["framing_bytes"] = static_cast<double>(frame_bytes - records_bytes);
}

size_t records_bytes_of(const ProduceRequest& request) {
  size_t total = 0;
  for (const auto& topic : request.topic_data)
    for (const auto& partition : topic.partition_data) total += partition.records ? partition.records->size() : 0;
  return total;
}
size_t records_bytes_of(const FetchResponse& response) {
  size_t total = 0;
  for (const auto& topic : response.responses)
    for (const auto& partition : topic.partitions) total += partition.records ? partition.records->size() : 0;
  return total;
}
size_t records_bytes_of(const MetadataResponse&) { return 0; }

template <class Message, class Encode>
void run_encode(benchmark::State& state, const Message& message, Encode encode) {
  size_t frame_bytes = 0;
  for (auto _ : state) {
    WireWriter writer;
    encode(writer);
    std::vector<WireWriter::Slice> slices = writer.slices();  // what writev would take
    benchmark::DoNotOptimize(slices.data());
    frame_bytes = writer.size();
  }
  set_counters(state, frame_bytes, records_bytes_of(message));
}

void BM_produce_request_encode(benchmark::State& state) {
  ProduceRequest request = make_produce(static_cast<int>(state.range(0)));
  run_encode(state, request, [&](WireWriter& writer) { encode_frame(writer, request); });
}

void BM_produce_request_decode(benchmark::State& state) {
  ProduceRequest request = make_produce(static_cast<int>(state.range(0)));
  std::vector<uint8_t> frame = contiguous([&](WireWriter& writer) { encode_frame(writer, request); });
  for (auto _ : state) {
    WireReader reader(frame);
    RequestHeader header;
    ProduceRequest decoded;
    bool ok = decode_request_header(reader, header).is_ok() &&
              decoded.decode(reader, header.request_api_version).is_ok() && reader.at_end();
    if (!ok) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded.topic_data.data());
  }
  set_counters(state, frame.size(), records_bytes_of(request));
}

template <class Response>
void run_response_decode(benchmark::State& state, const Response& response, int16_t version) {
  std::vector<uint8_t> frame =
      contiguous([&](WireWriter& writer) { encode_frame(writer, response, version); });
  for (auto _ : state) {
    WireReader reader(frame);
    ResponseHeader header;
    Response decoded;
    bool ok = decode_response_header(reader, Response::api_key, version, header).is_ok() &&
              decoded.decode(reader, version).is_ok() && reader.at_end();
    if (!ok) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(&decoded);
  }
  set_counters(state, frame.size(), records_bytes_of(response));
}

void BM_fetch_response_encode(benchmark::State& state) {
  FetchResponse response = make_fetch(static_cast<int>(state.range(0)));
  run_encode(state, response, [&](WireWriter& writer) { encode_frame(writer, response, fetch_version); });
}

void BM_fetch_response_decode(benchmark::State& state) {
  run_response_decode(state, make_fetch(static_cast<int>(state.range(0))), fetch_version);
}

void BM_metadata_response_encode(benchmark::State& state) {
  MetadataResponse response = make_metadata(static_cast<int>(state.range(0)));
  run_encode(state, response, [&](WireWriter& writer) { encode_frame(writer, response, metadata_version); });
}

void BM_metadata_response_decode(benchmark::State& state) {
  run_response_decode(state, make_metadata(static_cast<int>(state.range(0))), metadata_version);
}

}  // namespace

BENCHMARK(BM_produce_request_encode)->ArgName("partitions")->Arg(1)->Arg(10);
BENCHMARK(BM_produce_request_decode)->ArgName("partitions")->Arg(1)->Arg(10);
BENCHMARK(BM_fetch_response_encode)->ArgName("partitions")->Arg(1)->Arg(10);
BENCHMARK(BM_fetch_response_decode)->ArgName("partitions")->Arg(1)->Arg(10);
BENCHMARK(BM_metadata_response_encode)->ArgName("topics")->Arg(100);
BENCHMARK(BM_metadata_response_decode)->ArgName("topics")->Arg(100);

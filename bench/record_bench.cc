// Record batch hot paths: validation (CRC + header checks) of an
// uncompressed ~16 KiB batch, as the broker does on every produced batch and
// recovery does on every stored one; record iteration; building.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "record/batch.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"

namespace {

using namespace sluice::record;

// 16 records of ~1 KiB values: a batch of about 16 KiB.
std::vector<uint8_t> sample_batch(Compression codec) {
  BatchOptions options;
  options.compression = codec;
  BatchBuilder builder(options);
  std::string value(1000, 'x');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7) % 26);
  std::string key = "key-00";
  for (int i = 0; i < 16; ++i) {
    key[5] = static_cast<char>('0' + i % 10);
    builder.append(1700000000000 + i, sluice::Bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                   sluice::Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  return std::move(builder.build()).value();
}

void BM_validate_batch_16k(benchmark::State& state) {
  std::vector<uint8_t> batch = sample_batch(Compression::none);
  for (auto _ : state) benchmark::DoNotOptimize(validate_batch(batch).is_ok());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
}

void BM_iterate_records_16k(benchmark::State& state) {
  std::vector<uint8_t> batch = sample_batch(static_cast<Compression>(state.range(0)));
  Record record;
  for (auto _ : state) {
    auto reader = RecordReader::open(batch);
    while (reader->next(record)) benchmark::DoNotOptimize(record.value);
  }
  // Uncompressed bytes, so the codecs compare on the same scale.
  size_t plain_bytes = sample_batch(Compression::none).size();
  state.SetLabel(compression_name(static_cast<Compression>(state.range(0))));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain_bytes));
}

void BM_build_batch_16k(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    std::vector<uint8_t> batch = sample_batch(static_cast<Compression>(state.range(0)));
    bytes += 16 * 1006;
    benchmark::DoNotOptimize(batch.data());
  }
  state.SetLabel(compression_name(static_cast<Compression>(state.range(0))));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

}  // namespace

BENCHMARK(BM_validate_batch_16k);
BENCHMARK(BM_iterate_records_16k)->DenseRange(0, 4);
BENCHMARK(BM_build_batch_16k)->DenseRange(0, 4);

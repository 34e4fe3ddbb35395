// CRC32C throughput on 16 KiB buffers (a typical record batch), both paths.
#include <benchmark/benchmark.h>

#include <vector>

#include "base/crc32c.h"

namespace {

std::vector<uint8_t> buffer_of(size_t size) {
  std::vector<uint8_t> buffer(size);
  for (size_t i = 0; i < size; ++i) buffer[i] = static_cast<uint8_t>(i * 131 + 7);
  return buffer;
}

void BM_crc32c_dispatch(benchmark::State& state) {
  std::vector<uint8_t> buffer = buffer_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sluice::crc32c(buffer));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_crc32c_hardware(benchmark::State& state) {
  if (!sluice::crc32c_hardware_available()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  std::vector<uint8_t> buffer = buffer_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sluice::crc32c_hardware(buffer));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_crc32c_portable(benchmark::State& state) {
  std::vector<uint8_t> buffer = buffer_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sluice::crc32c_portable(buffer));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

}  // namespace

BENCHMARK(BM_crc32c_dispatch)->Arg(16 << 10);
BENCHMARK(BM_crc32c_hardware)->Arg(256)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK(BM_crc32c_portable)->Arg(16 << 10);

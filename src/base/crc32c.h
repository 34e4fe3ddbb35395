#pragma once
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka
// record batches v2.
//
// `crc32c(data, crc)` extends `crc`: crc32c(b, crc32c(a)) == crc32c(a ++ b),
// and crc32c({}) == 0. The dispatching entry point uses the SSE4.2 crc32
// instruction (three interleaved streams over large buffers) when the CPU has
// it, chosen once at first use; otherwise a slicing-by-8 table loop. Both
// paths are exposed so tests and benchmarks can force either.

#include <cstdint>

#include "base/bytes.h"

namespace sluice {

uint32_t crc32c(Bytes data, uint32_t crc = 0);

// The portable table-driven path (always available).
uint32_t crc32c_portable(Bytes data, uint32_t crc = 0);

// True when this CPU supports SSE4.2, i.e. crc32c_hardware may be called.
bool crc32c_hardware_available();
// The SSE4.2 path. Precondition: crc32c_hardware_available().
uint32_t crc32c_hardware(Bytes data, uint32_t crc = 0);

}  // namespace sluice

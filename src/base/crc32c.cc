#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define SLUICE_CRC32C_X86 1
#else
#define SLUICE_CRC32C_X86 0
#endif

#include "base/assert.h"

namespace sluice {
namespace {

constexpr uint32_t castagnoli_reflected = 0x82F63B78u;

// Tables for slicing-by-8: table[k][b] is the CRC state contribution of byte
// b followed by k zero bytes. Everything here works on the raw state (no pre-
// or post-inversion), so the functions are linear in the state.
using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr SliceTables make_slice_tables() {
  SliceTables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (castagnoli_reflected & (0u - (crc & 1)));
    tables[0][byte] = crc;
  }
  for (uint32_t byte = 0; byte < 256; ++byte) {
    for (int k = 1; k < 8; ++k) {
      uint32_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xff];
    }
  }
  return tables;
}

constexpr SliceTables slice_tables = make_slice_tables();

uint64_t load_u64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;  // little-endian host, as the reflected CRC wants
}

uint32_t raw_crc_portable(const uint8_t* p, size_t size, uint32_t crc) {
  const auto& t = slice_tables;
  while (size > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    --size;
  }
  while (size >= 8) {
    uint64_t word = load_u64(p) ^ crc;
    crc = t[7][word & 0xff] ^ t[6][(word >> 8) & 0xff] ^ t[5][(word >> 16) & 0xff] ^
          t[4][(word >> 24) & 0xff] ^ t[3][(word >> 32) & 0xff] ^ t[2][(word >> 40) & 0xff] ^
          t[1][(word >> 48) & 0xff] ^ t[0][word >> 56];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if SLUICE_CRC32C_X86

// The hardware path computes three streams at once, because the crc32
// instruction has a latency of 3 cycles but a throughput of 1 per cycle. The
// streams are joined by "shifting" a state over the length of the following
// block (appending that many zero bytes), which is linear in the state and
// therefore a lookup in four 256-entry tables per fixed block length.
constexpr size_t long_block_bytes = 4096;  // 3 x 4 KiB = one 12 KiB round
constexpr size_t short_block_bytes = 256;  // 3 x 256 B rounds for the rest

using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;

ShiftTables make_shift_tables(size_t zero_bytes) {
  // The image of each of the 32 basis states, then every byte combination.
  std::array<uint32_t, 32> basis{};
  for (int bit = 0; bit < 32; ++bit) {
    uint32_t crc = 1u << bit;
    for (size_t i = 0; i < zero_bytes; ++i) crc = (crc >> 8) ^ slice_tables[0][crc & 0xff];
    basis[bit] = crc;
  }
  ShiftTables tables{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t byte = 0; byte < 256; ++byte) {
      uint32_t image = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (byte & (1u << bit)) image ^= basis[8 * k + bit];
      tables[k][byte] = image;
    }
  }
  return tables;
}

uint32_t shift(const ShiftTables& t, uint32_t crc) {
  return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

struct HardwareTables {
  ShiftTables long_shift = make_shift_tables(long_block_bytes);
  ShiftTables short_shift = make_shift_tables(short_block_bytes);
};

const HardwareTables& hardware_tables() {
  static const HardwareTables tables;
  return tables;
}

// Three interleaved streams over `rounds` rounds of 3 x block_bytes.
__attribute__((target("sse4.2"))) uint32_t crc_three_way(const uint8_t*& p, size_t& size,
                                                         uint32_t crc, size_t block_bytes,
                                                         const ShiftTables& shift_tables) {
  while (size >= 3 * block_bytes) {
    uint64_t crc0 = crc, crc1 = 0, crc2 = 0;
    const uint8_t* end = p + block_bytes;
    do {
      crc0 = _mm_crc32_u64(crc0, load_u64(p));
      crc1 = _mm_crc32_u64(crc1, load_u64(p + block_bytes));
      crc2 = _mm_crc32_u64(crc2, load_u64(p + 2 * block_bytes));
      p += 8;
    } while (p < end);
    crc = shift(shift_tables, static_cast<uint32_t>(crc0)) ^ static_cast<uint32_t>(crc1);
    crc = shift(shift_tables, crc) ^ static_cast<uint32_t>(crc2);
    p += 2 * block_bytes;
    size -= 3 * block_bytes;
  }
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t raw_crc_hardware(const uint8_t* p, size_t size,
                                                            uint32_t crc) {
  while (size > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = _mm_crc32_u8(crc, *p++);
    --size;
  }
  if (size >= 3 * short_block_bytes) {
    const HardwareTables& tables = hardware_tables();
    crc = crc_three_way(p, size, crc, long_block_bytes, tables.long_shift);
    crc = crc_three_way(p, size, crc, short_block_bytes, tables.short_shift);
  }
  uint64_t crc64 = crc;
  while (size >= 8) {
    crc64 = _mm_crc32_u64(crc64, load_u64(p));
    p += 8;
    size -= 8;
  }
  crc = static_cast<uint32_t>(crc64);
  while (size-- > 0) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

bool detect_sse42() { return __builtin_cpu_supports("sse4.2"); }

#endif  // SLUICE_CRC32C_X86

using RawCrcFunction = uint32_t (*)(const uint8_t*, size_t, uint32_t);

RawCrcFunction select_implementation() {
#if SLUICE_CRC32C_X86
  if (detect_sse42()) return raw_crc_hardware;
#endif
  return raw_crc_portable;
}

}  // namespace

uint32_t crc32c(Bytes data, uint32_t crc) {
  static const RawCrcFunction implementation = select_implementation();
  return ~implementation(data.data(), data.size(), ~crc);
}

uint32_t crc32c_portable(Bytes data, uint32_t crc) {
  return ~raw_crc_portable(data.data(), data.size(), ~crc);
}

bool crc32c_hardware_available() {
#if SLUICE_CRC32C_X86
  static const bool available = detect_sse42();
  return available;
#else
  return false;
#endif
}

uint32_t crc32c_hardware(Bytes data, uint32_t crc) {
  SLUICE_ASSERT(crc32c_hardware_available(), "crc32c_hardware needs SSE4.2");
#if SLUICE_CRC32C_X86
  return ~raw_crc_hardware(data.data(), data.size(), ~crc);
#else
  return crc;
#endif
}

}  // namespace sluice

#include "cli/bench/payload.h"

#include <cstring>
#include <random>

namespace sluice::cli::bench {
namespace {

constexpr char kMagic[4] = {'S', 'L', 'B', '1'};

void put_u64(char* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

uint64_t get_u64(const unsigned char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

}  // namespace

void write_payload_header(const PayloadHeader& header, char* value) {
  std::memcpy(value, kMagic, sizeof kMagic);
  put_u64(value + 4, header.run_id);
  put_u64(value + 12, header.sequence);
  put_u64(value + 20, static_cast<uint64_t>(header.intended_send_ns));
}

std::optional<PayloadHeader> read_payload_header(const void* value, size_t size) {
  if (value == nullptr || size < kPayloadHeaderBytes) return std::nullopt;
  const auto* bytes = static_cast<const unsigned char*>(value);
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) return std::nullopt;
  PayloadHeader header;
  header.run_id = get_u64(bytes + 4);
  header.sequence = get_u64(bytes + 12);
  header.intended_send_ns = static_cast<int64_t>(get_u64(bytes + 20));
  return header;
}

std::string make_payload_pool(size_t size, size_t spread, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> letter('A', 'Z');
  std::string pool(size + spread, 'A');
  for (char& c : pool) c = static_cast<char>(letter(random));
  return pool;
}

}  // namespace sluice::cli::bench

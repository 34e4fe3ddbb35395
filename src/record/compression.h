#pragma once
// Kafka's four compression codecs over whole buffers.
//
//   gzip   RFC 1952 (zlib); decompression also accepts concatenated members.
//   snappy raw snappy (what librdkafka writes) or the xerial framing Java
//          clients write: magic 82 'SNAPPY' 00, int32 version, int32
//          compatible version, then blocks of int32 length + raw snappy.
//          Decompression detects which one it was given.
//   lz4    the LZ4 frame format. Magic 0 message sets carry a variant whose
//          frame-descriptor checksum also covers the frame's magic number
//          (KAFKA-3160): set_lz4_header_checksum converts between the two.
//   zstd   zstd frames, streamed: the content size may be absent.
//
// Decompression never produces more than `output_bytes_max` bytes: a larger
// result (a decompression bomb, or just a batch above the limit) is rejected
// with Errc::compression_error, as is any malformed input.

#include <cstdint>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "record/types.h"

namespace sluice::record {

enum class SnappyFraming : uint8_t { raw, xerial };

struct CompressionOptions {
  // Codec-specific level; 0 means the codec's default (gzip 6, lz4 fast, zstd 3).
  int level = 0;
  // Kafka's Java producer and broker write xerial; both are read back.
  SnappyFraming snappy_framing = SnappyFraming::xerial;
};

// Appends the compressed form of `input` to `out`. `none` copies.
Status compress_append(Compression codec, Bytes input, std::vector<uint8_t>& out,
                       const CompressionOptions& options = {});
Result<std::vector<uint8_t>> compress(Compression codec, Bytes input,
                                      const CompressionOptions& options = {});

// The LZ4 frame-descriptor checksum (HC): `standard` hashes the descriptor
// (what the LZ4 format and magic 1/2 use); `kafka_magic0` hashes the frame's
// magic number too, as Kafka's and librdkafka's writers did for magic 0
// message sets (KAFKA-3160). Kafka ignores HC when it reads magic 0.
enum class Lz4HeaderChecksum : uint8_t { standard, kafka_magic0 };
// Rewrites the HC byte of the LZ4 frame at the start of `frame` to `kind`.
// False (and nothing written) if `frame` does not start with a frame
// descriptor.
bool set_lz4_header_checksum(std::span<uint8_t> frame, Lz4HeaderChecksum kind);
// XXH32 (xxHash, 32 bits), which LZ4 frames use for their checksums.
uint32_t xxhash32(Bytes input, uint32_t seed);

// Decompresses `input` whole. `none` copies (and checks the bound).
Result<std::vector<uint8_t>> decompress(Compression codec, Bytes input, size_t output_bytes_max);

}  // namespace sluice::record

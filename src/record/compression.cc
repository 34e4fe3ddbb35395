#include "record/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <memory>
#include <string>

namespace sluice::record {
namespace {

Status codec_error(const char* codec, std::string message) {
  return Status(Errc::compression_error, std::string(codec) + ": " + message);
}

Status too_large(const char* codec, size_t output_bytes_max) {
  return codec_error(codec, "decompressed size exceeds the limit of " +
                                std::to_string(output_bytes_max) + " bytes");
}

// Output buffer for streaming decompressors: grows geometrically, and may hold
// one byte more than the limit so that "exactly at the limit" and "beyond
// it" can be told apart without looking ahead in the stream.
class BoundedOutput {
 public:
  BoundedOutput(size_t input_bytes, size_t output_bytes_max) : max_(output_bytes_max) {
    buffer_.resize(std::min(capacity_limit(), std::max<size_t>(4096, 4 * input_bytes)));
  }
  // Space to write into; empty once the limit + 1 is reached.
  uint8_t* free_begin() { return buffer_.data() + used_; }
  size_t free_bytes() {
    if (used_ == buffer_.size() && buffer_.size() < capacity_limit())
      buffer_.resize(std::min(capacity_limit(), 2 * buffer_.size()));
    return buffer_.size() - used_;
  }
  void commit(size_t bytes) { used_ += bytes; }
  bool over_limit() const { return used_ > max_; }
  std::vector<uint8_t> take() {
    buffer_.resize(used_);
    return std::move(buffer_);
  }

 private:
  size_t capacity_limit() const { return max_ + 1; }
  std::vector<uint8_t> buffer_;
  size_t used_ = 0;
  size_t max_;
};

// ---- gzip ----

Status gzip_compress(Bytes input, std::vector<uint8_t>& out, int level) {
  z_stream stream{};
  if (deflateInit2(&stream, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return codec_error("gzip", "deflateInit2 failed");
  size_t start = out.size();
  out.resize(start + deflateBound(&stream, input.size()));
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = out.data() + start;
  stream.avail_out = static_cast<uInt>(out.size() - start);
  int result = deflate(&stream, Z_FINISH);
  size_t written = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) {
    out.resize(start);
    return codec_error("gzip", "deflate did not finish");
  }
  out.resize(start + written);
  return Status::ok();
}

Result<std::vector<uint8_t>> gzip_decompress(Bytes input, size_t output_bytes_max) {
  z_stream stream{};
  // 15 + 32: a gzip or zlib header, detected.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return codec_error("gzip", "inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
  BoundedOutput output(input.size(), output_bytes_max);
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  while (true) {
    size_t free = output.free_bytes();
    if (free == 0) return too_large("gzip", output_bytes_max);
    stream.next_out = output.free_begin();
    stream.avail_out = static_cast<uInt>(std::min<size_t>(free, 1u << 30));
    uInt before = stream.avail_out;
    int result = inflate(&stream, Z_NO_FLUSH);
    output.commit(before - stream.avail_out);
    if (output.over_limit()) return too_large("gzip", output_bytes_max);
    if (result == Z_STREAM_END) {
      if (stream.avail_in == 0) return output.take();
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (result == Z_BUF_ERROR && stream.avail_in == 0)
      return codec_error("gzip", "stream ends before its trailer");
    if (result != Z_OK && result != Z_BUF_ERROR)
      return codec_error("gzip", stream.msg ? stream.msg : "inflate failed");
  }
}

// ---- snappy ----

constexpr std::array<uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_bytes = 16;
constexpr size_t xerial_block_bytes = 32 * 1024;  // as xerial's SnappyOutputStream

void append_raw_snappy(Bytes input, std::vector<uint8_t>& out) {
  size_t start = out.size();
  out.resize(start + snappy::MaxCompressedLength(input.size()));
  size_t written = 0;
  snappy::RawCompress(reinterpret_cast<const char*>(input.data()), input.size(),
                      reinterpret_cast<char*>(out.data() + start), &written);
  out.resize(start + written);
}

void append_int32(std::vector<uint8_t>& out, int32_t value) {
  uint32_t wire = to_big_endian(static_cast<uint32_t>(value));
  const auto* bytes = reinterpret_cast<const uint8_t*>(&wire);
  out.insert(out.end(), bytes, bytes + 4);
}

void snappy_compress(Bytes input, std::vector<uint8_t>& out, SnappyFraming framing) {
  if (framing == SnappyFraming::raw) {
    append_raw_snappy(input, out);
    return;
  }
  out.insert(out.end(), xerial_magic.begin(), xerial_magic.end());
  append_int32(out, 1);  // version
  append_int32(out, 1);  // compatible version
  for (size_t done = 0; done < input.size(); done += xerial_block_bytes) {
    Bytes block = input.subspan(done, std::min(xerial_block_bytes, input.size() - done));
    size_t length_at = out.size();
    append_int32(out, 0);
    append_raw_snappy(block, out);
    uint32_t wire = to_big_endian(static_cast<uint32_t>(out.size() - length_at - 4));
    std::memcpy(out.data() + length_at, &wire, 4);
  }
}

// Appends one raw snappy block to `out`, keeping the total within the limit.
Status raw_snappy_append(Bytes block, std::vector<uint8_t>& out, size_t output_bytes_max) {
  const char* compressed = reinterpret_cast<const char*>(block.data());
  size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed, block.size(), &length))
    return codec_error("snappy", "invalid block header");
  if (length > output_bytes_max - out.size()) return too_large("snappy", output_bytes_max);
  size_t start = out.size();
  out.resize(start + length);
  if (!snappy::RawUncompress(compressed, block.size(), reinterpret_cast<char*>(out.data() + start)))
    return codec_error("snappy", "corrupt block");
  return Status::ok();
}

bool is_xerial(Bytes input) {
  return input.size() >= xerial_header_bytes &&
         std::equal(xerial_magic.begin(), xerial_magic.end(), input.begin());
}

Result<std::vector<uint8_t>> snappy_decompress(Bytes input, size_t output_bytes_max) {
  std::vector<uint8_t> out;
  if (!is_xerial(input)) {
    Status status = raw_snappy_append(input, out, output_bytes_max);
    if (!status) return status;
    return out;
  }
  WireReader reader(input.subspan(xerial_header_bytes));
  while (!reader.at_end()) {
    int32_t length = reader.read_int32();
    if (!reader.ok()) return codec_error("snappy", "xerial block length cut short");
    if (length < 0 || static_cast<size_t>(length) > reader.remaining())
      return codec_error("snappy", "xerial block length " + std::to_string(length) +
                                       " exceeds the " + std::to_string(reader.remaining()) +
                                       " bytes left");
    Status status = raw_snappy_append(reader.read_bytes(static_cast<size_t>(length)), out,
                                      output_bytes_max);
    if (!status) return status;
  }
  return out;
}

// ---- lz4 ----

Status lz4_compress(Bytes input, std::vector<uint8_t>& out, int level) {
  LZ4F_preferences_t preferences{};
  preferences.frameInfo.blockSizeID = LZ4F_max64KB;
  preferences.frameInfo.blockMode = LZ4F_blockIndependent;
  preferences.frameInfo.contentSize = input.size();
  preferences.compressionLevel = level;
  size_t start = out.size();
  out.resize(start + LZ4F_compressFrameBound(input.size(), &preferences));
  size_t written = LZ4F_compressFrame(out.data() + start, out.size() - start, input.data(),
                                      input.size(), &preferences);
  if (LZ4F_isError(written)) {
    out.resize(start);
    return codec_error("lz4", LZ4F_getErrorName(written));
  }
  out.resize(start + written);
  return Status::ok();
}

Result<std::vector<uint8_t>> lz4_decompress(Bytes input, size_t output_bytes_max) {
  LZ4F_dctx* context = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
    return codec_error("lz4", "cannot create a decompression context");
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(
      context, LZ4F_freeDecompressionContext);
  BoundedOutput output(input.size(), output_bytes_max);
  size_t consumed = 0;
  size_t hint = 1;  // nonzero: a frame is still open (or none was seen yet)
  while (consumed < input.size() || hint != 0) {
    size_t free = output.free_bytes();
    if (free == 0) return too_large("lz4", output_bytes_max);
    size_t in_bytes = input.size() - consumed;
    size_t out_bytes = free;
    hint = LZ4F_decompress(context, output.free_begin(), &out_bytes, input.data() + consumed,
                           &in_bytes, nullptr);
    if (LZ4F_isError(hint)) return codec_error("lz4", LZ4F_getErrorName(hint));
    consumed += in_bytes;
    output.commit(out_bytes);
    if (output.over_limit()) return too_large("lz4", output_bytes_max);
    if (in_bytes == 0 && out_bytes == 0 && hint != 0)
      return codec_error("lz4", "frame ends early");
  }
  return output.take();
}

// ---- zstd ----

Status zstd_compress(Bytes input, std::vector<uint8_t>& out, int level) {
  size_t start = out.size();
  out.resize(start + ZSTD_compressBound(input.size()));
  size_t written = ZSTD_compress(out.data() + start, out.size() - start, input.data(),
                                 input.size(), level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
  if (ZSTD_isError(written)) {
    out.resize(start);
    return codec_error("zstd", ZSTD_getErrorName(written));
  }
  out.resize(start + written);
  return Status::ok();
}

Result<std::vector<uint8_t>> zstd_decompress(Bytes input, size_t output_bytes_max) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!context) return codec_error("zstd", "cannot create a decompression context");
  BoundedOutput output(input.size(), output_bytes_max);
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t hint = 1;
  while (in.pos < in.size || hint != 0) {
    size_t free = output.free_bytes();
    if (free == 0) return too_large("zstd", output_bytes_max);
    ZSTD_outBuffer out{output.free_begin(), free, 0};
    size_t in_before = in.pos;
    hint = ZSTD_decompressStream(context.get(), &out, &in);
    if (ZSTD_isError(hint)) return codec_error("zstd", ZSTD_getErrorName(hint));
    output.commit(out.pos);
    if (output.over_limit()) return too_large("zstd", output_bytes_max);
    if (hint != 0 && in.pos == in.size && in.pos == in_before && out.pos < free)
      return codec_error("zstd", "frame ends early");
  }
  return output.take();
}

constexpr uint32_t xxh_prime1 = 2654435761U;
constexpr uint32_t xxh_prime2 = 2246822519U;
constexpr uint32_t xxh_prime3 = 3266489917U;
constexpr uint32_t xxh_prime4 = 668265263U;
constexpr uint32_t xxh_prime5 = 374761393U;

uint32_t read_le32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) | static_cast<uint32_t>(at[1]) << 8 |
         static_cast<uint32_t>(at[2]) << 16 | static_cast<uint32_t>(at[3]) << 24;
}

uint32_t xxh_round(uint32_t accumulator, uint32_t lane) {
  return std::rotl(accumulator + lane * xxh_prime2, 13) * xxh_prime1;
}

constexpr uint32_t lz4_frame_magic = 0x184D2204;
constexpr uint8_t lz4_flag_content_size = 0x08;
constexpr uint8_t lz4_flag_dictionary_id = 0x01;

}  // namespace

uint32_t xxhash32(Bytes input, uint32_t seed) {
  const uint8_t* at = input.data();
  const uint8_t* end = at + input.size();
  uint32_t hash = 0;
  if (input.size() >= 16) {
    uint32_t v1 = seed + xxh_prime1 + xxh_prime2;
    uint32_t v2 = seed + xxh_prime2;
    uint32_t v3 = seed;
    uint32_t v4 = seed - xxh_prime1;
    for (; end - at >= 16; at += 16) {
      v1 = xxh_round(v1, read_le32(at));
      v2 = xxh_round(v2, read_le32(at + 4));
      v3 = xxh_round(v3, read_le32(at + 8));
      v4 = xxh_round(v4, read_le32(at + 12));
    }
    hash = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
  } else {
    hash = seed + xxh_prime5;
  }
  hash += static_cast<uint32_t>(input.size());
  for (; end - at >= 4; at += 4)
    hash = std::rotl(hash + read_le32(at) * xxh_prime3, 17) * xxh_prime4;
  for (; at < end; ++at) hash = std::rotl(hash + *at * xxh_prime5, 11) * xxh_prime1;
  hash ^= hash >> 15;
  hash *= xxh_prime2;
  hash ^= hash >> 13;
  hash *= xxh_prime3;
  hash ^= hash >> 16;
  return hash;
}

bool set_lz4_header_checksum(std::span<uint8_t> frame, Lz4HeaderChecksum kind) {
  // magic (4, little-endian), FLG, BD, [content size 8], [dictionary id 4], HC.
  if (frame.size() < 7 || read_le32(frame.data()) != lz4_frame_magic) return false;
  uint8_t flags = frame[4];
  size_t checksum_at =
      6 + ((flags & lz4_flag_content_size) ? 8 : 0) + ((flags & lz4_flag_dictionary_id) ? 4 : 0);
  if (frame.size() <= checksum_at) return false;
  size_t hashed_from = kind == Lz4HeaderChecksum::standard ? 4 : 0;
  Bytes hashed(frame.data() + hashed_from, checksum_at - hashed_from);
  frame[checksum_at] = static_cast<uint8_t>((xxhash32(hashed, 0) >> 8) & 0xFF);
  return true;
}

Status compress_append(Compression codec, Bytes input, std::vector<uint8_t>& out,
                       const CompressionOptions& options) {
  switch (codec) {
    case Compression::none: out.insert(out.end(), input.begin(), input.end()); return Status::ok();
    case Compression::gzip: return gzip_compress(input, out, options.level);
    case Compression::snappy: snappy_compress(input, out, options.snappy_framing); return Status::ok();
    case Compression::lz4: return lz4_compress(input, out, options.level);
    case Compression::zstd: return zstd_compress(input, out, options.level);
  }
  return Status(Errc::unsupported_compression, "unknown codec");
}

Result<std::vector<uint8_t>> compress(Compression codec, Bytes input,
                                      const CompressionOptions& options) {
  std::vector<uint8_t> out;
  Status status = compress_append(codec, input, out, options);
  if (!status) return status;
  return out;
}

Result<std::vector<uint8_t>> decompress(Compression codec, Bytes input, size_t output_bytes_max) {
  switch (codec) {
    case Compression::none:
      if (input.size() > output_bytes_max) return too_large("none", output_bytes_max);
      return std::vector<uint8_t>(input.begin(), input.end());
    case Compression::gzip: return gzip_decompress(input, output_bytes_max);
    case Compression::snappy: return snappy_decompress(input, output_bytes_max);
    case Compression::lz4: return lz4_decompress(input, output_bytes_max);
    case Compression::zstd: return zstd_decompress(input, output_bytes_max);
  }
  return Status(Errc::unsupported_compression, "unknown codec");
}

}  // namespace sluice::record

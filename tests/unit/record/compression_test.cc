#include "record/compression.h"

#include <gtest/gtest.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <random>
#include <string>

#include "test_bytes.h"

namespace sluice::record {
namespace {

using testing::all_codecs;
using testing::as_bytes;

// Compressible but not trivial: words from a small vocabulary plus noise.
std::vector<uint8_t> sample_bytes(size_t size, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  static const char* words[] = {"kafka ", "record ", "batch ", "offset ", "sluice "};
  std::vector<uint8_t> out;
  while (out.size() < size) {
    std::string word = words[rng() % 5];
    if (rng() % 7 == 0) word += static_cast<char>(rng());
    out.insert(out.end(), word.begin(), word.end());
  }
  out.resize(size);
  return out;
}

TEST(Compression, RoundTripsEveryCodecAndSize) {
  for (Compression codec : all_codecs) {
    for (size_t size : {0, 1, 100, 65536, 65537, 300000}) {
      std::vector<uint8_t> input = sample_bytes(size);
      Result<std::vector<uint8_t>> packed = compress(codec, input);
      ASSERT_TRUE(packed.is_ok()) << compression_name(codec) << packed.status().to_string();
      if (codec != Compression::none && size >= 65536) {
        EXPECT_LT(packed->size(), size / 2);
      }
      Result<std::vector<uint8_t>> unpacked = decompress(codec, *packed, 1 << 20);
      ASSERT_TRUE(unpacked.is_ok()) << compression_name(codec) << " " << size << ": "
                                    << unpacked.status().to_string();
      EXPECT_EQ(*unpacked, input) << compression_name(codec) << " " << size;
    }
  }
}

TEST(Compression, RawSnappyRoundTrips) {
  std::vector<uint8_t> input = sample_bytes(100000);
  CompressionOptions raw;
  raw.snappy_framing = SnappyFraming::raw;
  Result<std::vector<uint8_t>> packed = compress(Compression::snappy, input, raw);
  ASSERT_TRUE(packed.is_ok());
  EXPECT_NE((*packed)[0], 0x82);  // not xerial
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::snappy, *packed, 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  EXPECT_EQ(*unpacked, input);
}

// The output limit: exactly at it passes, one byte beyond fails, for every codec.
TEST(Compression, RejectsOutputBeyondTheLimit) {
  std::vector<uint8_t> zeros(1 << 20, 0);  // a 1 MiB "bomb" compresses to a few KiB
  for (Compression codec : all_codecs) {
    Result<std::vector<uint8_t>> packed = compress(codec, zeros);
    ASSERT_TRUE(packed.is_ok());
    Result<std::vector<uint8_t>> at_limit = decompress(codec, *packed, zeros.size());
    ASSERT_TRUE(at_limit.is_ok()) << compression_name(codec) << at_limit.status().to_string();
    EXPECT_EQ(at_limit->size(), zeros.size());
    Result<std::vector<uint8_t>> beyond = decompress(codec, *packed, zeros.size() - 1);
    ASSERT_FALSE(beyond.is_ok()) << compression_name(codec);
    EXPECT_EQ(beyond.status().code(), Errc::compression_error);
    EXPECT_NE(beyond.status().message().find("limit"), std::string::npos);
  }
}

TEST(Compression, CorruptOrTruncatedInputIsAnErrorForEveryCodec) {
  std::vector<uint8_t> input = sample_bytes(50000);
  for (Compression codec : all_codecs) {
    if (codec == Compression::none) continue;
    Result<std::vector<uint8_t>> packed = compress(codec, input);
    ASSERT_TRUE(packed.is_ok());
    for (size_t cut : {size_t{0}, size_t{1}, size_t{10}, packed->size() / 2, packed->size() - 1}) {
      Result<std::vector<uint8_t>> out =
          decompress(codec, Bytes(*packed).first(cut), 1 << 20);
      ASSERT_FALSE(out.is_ok()) << compression_name(codec) << " cut at " << cut;
      EXPECT_EQ(out.status().code(), Errc::compression_error);
    }
    std::vector<uint8_t> garbage = sample_bytes(1000, 9);
    EXPECT_FALSE(decompress(codec, garbage, 1 << 20).is_ok()) << compression_name(codec);
  }
}

// ---- Interop with the libraries' own other APIs ----

TEST(CompressionInterop, GzipAgainstZlibFileApi) {
  std::vector<uint8_t> input = sample_bytes(200000);
  std::string path = ::testing::TempDir() + "/sluice_gzip_interop.gz";
  // Ours -> gzread.
  Result<std::vector<uint8_t>> ours = compress(Compression::gzip, input);
  ASSERT_TRUE(ours.is_ok());
  {
    FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fwrite(ours->data(), 1, ours->size(), file), ours->size());
    std::fclose(file);
  }
  std::vector<uint8_t> read_back(input.size() + 10);
  gzFile in = gzopen(path.c_str(), "rb");
  ASSERT_NE(in, nullptr);
  int got = gzread(in, read_back.data(), static_cast<unsigned>(read_back.size()));
  gzclose(in);
  ASSERT_EQ(got, static_cast<int>(input.size()));
  read_back.resize(static_cast<size_t>(got));
  EXPECT_EQ(read_back, input);
  // gzwrite (two members, as a concatenating writer would make) -> ours.
  for (int member = 0; member < 2; ++member) {
    gzFile out = gzopen(path.c_str(), member == 0 ? "wb9" : "ab1");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(gzwrite(out, input.data(), static_cast<unsigned>(input.size())),
              static_cast<int>(input.size()));
    gzclose(out);
  }
  std::vector<uint8_t> file_bytes;
  {
    FILE* file = std::fopen(path.c_str(), "rb");
    uint8_t chunk[4096];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
      file_bytes.insert(file_bytes.end(), chunk, chunk + n);
    std::fclose(file);
  }
  std::remove(path.c_str());
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::gzip, file_bytes, 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  std::vector<uint8_t> twice = input;
  twice.insert(twice.end(), input.begin(), input.end());
  EXPECT_EQ(*unpacked, twice);
}

TEST(CompressionInterop, SnappyRawAgainstSnappyStringApi) {
  std::vector<uint8_t> input = sample_bytes(70000);
  std::string theirs;
  snappy::Compress(reinterpret_cast<const char*>(input.data()), input.size(), &theirs);
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::snappy, as_bytes(theirs), 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  EXPECT_EQ(*unpacked, input);

  CompressionOptions raw;
  raw.snappy_framing = SnappyFraming::raw;
  Result<std::vector<uint8_t>> ours = compress(Compression::snappy, input, raw);
  ASSERT_TRUE(ours.is_ok());
  std::string plain;
  ASSERT_TRUE(snappy::Uncompress(reinterpret_cast<const char*>(ours->data()), ours->size(), &plain));
  EXPECT_EQ(plain, std::string(input.begin(), input.end()));
}

// Builds the xerial framing by hand from its description: magic, version 1,
// compatible version 1, then [int32 length][raw snappy block]...
std::vector<uint8_t> hand_built_xerial(Bytes input, size_t block_bytes) {
  std::vector<uint8_t> out = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  for (size_t done = 0; done < input.size(); done += block_bytes) {
    size_t n = std::min(block_bytes, input.size() - done);
    std::string block;
    snappy::Compress(reinterpret_cast<const char*>(input.data() + done), n, &block);
    uint32_t length = static_cast<uint32_t>(block.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(length >> shift));
    out.insert(out.end(), block.begin(), block.end());
  }
  return out;
}

TEST(CompressionInterop, XerialSnappyBuiltByHand) {
  std::vector<uint8_t> input = sample_bytes(100000);
  std::vector<uint8_t> framed = hand_built_xerial(input, 8192);  // blocks of a non-default size
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::snappy, framed, 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  EXPECT_EQ(*unpacked, input);

  // Ours writes exactly this framing with 32 KiB blocks.
  Result<std::vector<uint8_t>> ours = compress(Compression::snappy, input);
  ASSERT_TRUE(ours.is_ok());
  EXPECT_EQ(*ours, hand_built_xerial(input, 32768));

  // Header only: no blocks, empty output.
  std::vector<uint8_t> empty = hand_built_xerial({}, 1);
  Result<std::vector<uint8_t>> nothing = decompress(Compression::snappy, empty, 1 << 20);
  ASSERT_TRUE(nothing.is_ok());
  EXPECT_TRUE(nothing->empty());

  // A block length beyond the data, a negative one, a cut length field.
  std::vector<uint8_t> lying = framed;
  lying[16] = 0x7f;
  EXPECT_EQ(decompress(Compression::snappy, lying, 1 << 20).status().code(),
            Errc::compression_error);
  lying[16] = 0xff;
  EXPECT_EQ(decompress(Compression::snappy, lying, 1 << 20).status().code(),
            Errc::compression_error);
  std::vector<uint8_t> cut(framed.begin(), framed.begin() + 18);
  EXPECT_EQ(decompress(Compression::snappy, cut, 1 << 20).status().code(),
            Errc::compression_error);
  // The limit applies across blocks.
  EXPECT_EQ(decompress(Compression::snappy, framed, input.size() - 1).status().code(),
            Errc::compression_error);
}

TEST(CompressionInterop, Lz4AgainstStreamingFrameApi) {
  std::vector<uint8_t> input = sample_bytes(300000);
  // Theirs: streamed in pieces, linked blocks, checksums on, no content size.
  LZ4F_compressionContext_t context;
  ASSERT_FALSE(LZ4F_isError(LZ4F_createCompressionContext(&context, LZ4F_VERSION)));
  LZ4F_preferences_t preferences{};
  preferences.frameInfo.blockMode = LZ4F_blockLinked;
  preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  preferences.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
  std::vector<uint8_t> theirs(LZ4F_compressBound(input.size(), &preferences) + 64);
  size_t at = LZ4F_compressBegin(context, theirs.data(), theirs.size(), &preferences);
  ASSERT_FALSE(LZ4F_isError(at));
  for (size_t done = 0; done < input.size(); done += 10000) {
    size_t n = std::min<size_t>(10000, input.size() - done);
    size_t written = LZ4F_compressUpdate(context, theirs.data() + at, theirs.size() - at,
                                         input.data() + done, n, nullptr);
    ASSERT_FALSE(LZ4F_isError(written));
    at += written;
  }
  size_t written = LZ4F_compressEnd(context, theirs.data() + at, theirs.size() - at, nullptr);
  ASSERT_FALSE(LZ4F_isError(written));
  theirs.resize(at + written);
  LZ4F_freeCompressionContext(context);
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::lz4, theirs, 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  EXPECT_EQ(*unpacked, input);
  // A flipped byte in the data trips the checksums.
  theirs[theirs.size() / 2] ^= 0x55;
  EXPECT_EQ(decompress(Compression::lz4, theirs, 1 << 20).status().code(),
            Errc::compression_error);

  // Ours -> one-shot LZ4F_decompress into a buffer of the exact size.
  Result<std::vector<uint8_t>> ours = compress(Compression::lz4, input);
  ASSERT_TRUE(ours.is_ok());
  LZ4F_dctx* dctx;
  ASSERT_FALSE(LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
  std::vector<uint8_t> plain(input.size());
  size_t plain_size = plain.size(), packed_size = ours->size();
  size_t hint = LZ4F_decompress(dctx, plain.data(), &plain_size, ours->data(), &packed_size, nullptr);
  LZ4F_freeDecompressionContext(dctx);
  EXPECT_EQ(hint, 0u);
  EXPECT_EQ(plain_size, input.size());
  EXPECT_EQ(plain, input);
}

TEST(CompressionInterop, ZstdWithoutContentSizeAndOneShot) {
  std::vector<uint8_t> input = sample_bytes(300000);
  // Theirs: a stream with no pledged size, so the frame lacks the content size.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<uint8_t> theirs(ZSTD_compressBound(input.size()));
  ZSTD_outBuffer out{theirs.data(), theirs.size(), 0};
  for (size_t done = 0; done < input.size(); done += 20000) {
    size_t n = std::min<size_t>(20000, input.size() - done);
    ZSTD_inBuffer in{input.data() + done, n, 0};
    ZSTD_EndDirective mode = done + n == input.size() ? ZSTD_e_end : ZSTD_e_continue;
    size_t left;
    do {
      left = ZSTD_compressStream2(cctx, &out, &in, mode);
      ASSERT_FALSE(ZSTD_isError(left));
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  }
  ZSTD_freeCCtx(cctx);
  theirs.resize(out.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(theirs.data(), theirs.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Result<std::vector<uint8_t>> unpacked = decompress(Compression::zstd, theirs, 1 << 20);
  ASSERT_TRUE(unpacked.is_ok()) << unpacked.status().to_string();
  EXPECT_EQ(*unpacked, input);
  EXPECT_EQ(decompress(Compression::zstd, theirs, input.size() - 1).status().code(),
            Errc::compression_error);

  Result<std::vector<uint8_t>> ours = compress(Compression::zstd, input);
  ASSERT_TRUE(ours.is_ok());
  std::vector<uint8_t> plain(input.size());
  size_t size = ZSTD_decompress(plain.data(), plain.size(), ours->data(), ours->size());
  ASSERT_FALSE(ZSTD_isError(size));
  EXPECT_EQ(size, input.size());
  EXPECT_EQ(plain, input);
}

}  // namespace
}  // namespace sluice::record

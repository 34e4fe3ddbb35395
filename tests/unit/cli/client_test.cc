// The pure helpers of the client subcommands (src/cli/client): time parsing,
// Kafka's printed topic ids, -X/--config parsing. The commands themselves run
// against a real broker in tests/integration/cli.

#include <gtest/gtest.h>

#include "cli/client/common.h"
#include "cli/client/kafka_wire.h"

namespace sluice::cli::client {
namespace {

constexpr int64_t kMay1Noon2024Ms = 1714564800000;

TEST(Iso8601, DateAloneIsMidnightUtc) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01"), 0);
  EXPECT_EQ(parse_iso8601_ms("2024-05-01"), kMay1Noon2024Ms - 12 * 3600 * 1000);
}

TEST(Iso8601, ZonesAndFractions) {
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T12:00:00Z"), kMay1Noon2024Ms);
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T12:00:00"), kMay1Noon2024Ms);  // no zone: UTC
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T14:00:00+02:00"), kMay1Noon2024Ms);
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T07:30:00-0430"), kMay1Noon2024Ms);
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T12:00:00.25Z"), kMay1Noon2024Ms + 250);
  EXPECT_EQ(parse_iso8601_ms("2024-05-01T12:00:00.123456Z"), kMay1Noon2024Ms + 123);
}

TEST(Iso8601, RejectsWhatIsNotADateTime) {
  for (const char* bad : {"", "yesterday", "2024-05-01T12", "2024-05-01T12:00:00+2", "2024-05-01T12:00:00Zjunk"}) {
    EXPECT_THROW(parse_iso8601_ms(bad), CommandError) << bad;
  }
}

TEST(Iso8601, FormatRoundTrips) {
  EXPECT_EQ(format_iso8601_ms(kMay1Noon2024Ms + 7), "2024-05-01T12:00:00.007Z");
  EXPECT_EQ(parse_iso8601_ms(format_iso8601_ms(kMay1Noon2024Ms + 999)), kMay1Noon2024Ms + 999);
}

TEST(TopicId, PrintedAsKafkaDoes) {
  Uuid zero;
  EXPECT_EQ(uuid_to_base64url(zero), "AAAAAAAAAAAAAAAAAAAAAA");  // Kafka's Uuid.ZERO_UUID
  Uuid ones;
  ones.bytes.fill(0xff);
  EXPECT_EQ(uuid_to_base64url(ones), "_____________________w");
  Uuid counting;
  for (size_t i = 0; i < 16; ++i) counting.bytes[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(uuid_to_base64url(counting), "AAECAwQFBgcICQoLDA0ODw");
}

TEST(Settings, SplitAtTheFirstEquals) {
  EXPECT_EQ(split_setting("a=b=c", "-X"), (std::pair<std::string, std::string>{"a", "b=c"}));
  EXPECT_EQ(split_setting("k=", "-X"), (std::pair<std::string, std::string>{"k", ""}));
  EXPECT_THROW(split_setting("=v", "-X"), CommandError);
  EXPECT_THROW(split_setting("novalue", "--config"), CommandError);
  auto parsed = parse_settings({"a=1", "b=2", "a=3"}, "-X");
  EXPECT_EQ(parsed.at("a"), "3");  // the last one wins, as on Kafka's command lines
  EXPECT_EQ(parsed.at("b"), "2");
}

TEST(Settings, SecondsText) {
  EXPECT_EQ(seconds_text(5000), "5 s");
  EXPECT_EQ(seconds_text(500), "0.5 s");
}

}  // namespace
}  // namespace sluice::cli::client

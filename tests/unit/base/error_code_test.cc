#include "base/error_code.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(ErrorCode, KnownCodesHaveKafkasNumbersAndNames) {
  EXPECT_EQ(to_wire(ErrorCode::UNKNOWN_SERVER_ERROR), -1);
  EXPECT_EQ(to_wire(ErrorCode::NONE), 0);
  EXPECT_EQ(to_wire(ErrorCode::OFFSET_OUT_OF_RANGE), 1);
  EXPECT_EQ(to_wire(ErrorCode::NOT_LEADER_OR_FOLLOWER), 6);
  EXPECT_EQ(to_wire(ErrorCode::UNSUPPORTED_VERSION), 35);
  EXPECT_EQ(to_wire(ErrorCode::INVALID_REQUEST), 42);
  EXPECT_EQ(to_wire(ErrorCode::PRODUCER_FENCED), 90);
  EXPECT_EQ(to_wire(ErrorCode::UNKNOWN_TOPIC_ID), 100);
  EXPECT_EQ(to_wire(ErrorCode::TRANSACTION_ABORTABLE), 120);
  EXPECT_EQ(to_wire(ErrorCode::SHARE_SESSION_LIMIT_REACHED), 133);
  EXPECT_STREQ(error_name(ErrorCode::TOPIC_ALREADY_EXISTS), "TOPIC_ALREADY_EXISTS");
  EXPECT_EQ(error_info(int16_t{36})->name, std::string("TOPIC_ALREADY_EXISTS"));
}

TEST(ErrorCode, RetriableAsKafkasClientsTreatThem) {
  EXPECT_TRUE(is_retriable(ErrorCode::NOT_LEADER_OR_FOLLOWER));
  EXPECT_TRUE(is_retriable(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  EXPECT_TRUE(is_retriable(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  EXPECT_TRUE(is_retriable(ErrorCode::NOT_ENOUGH_REPLICAS));
  EXPECT_TRUE(is_retriable(ErrorCode::REQUEST_TIMED_OUT));
  EXPECT_FALSE(is_retriable(ErrorCode::NONE));
  EXPECT_FALSE(is_retriable(ErrorCode::UNKNOWN_SERVER_ERROR));
  EXPECT_FALSE(is_retriable(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
  EXPECT_FALSE(is_retriable(ErrorCode::OFFSET_OUT_OF_RANGE));
  EXPECT_FALSE(is_retriable(ErrorCode::PRODUCER_FENCED));
}

TEST(ErrorCode, UndefinedCodes) {
  EXPECT_EQ(error_info(int16_t{-2}), nullptr);
  EXPECT_EQ(error_info(int16_t{134}), nullptr);
  EXPECT_EQ(error_info(int16_t{32767}), nullptr);
  EXPECT_STREQ(error_name(static_cast<ErrorCode>(500)), "UNKNOWN_ERROR_CODE");
  EXPECT_FALSE(is_retriable(static_cast<ErrorCode>(500)));
}

TEST(ErrorCode, EveryCodeFromMinusOneTo133IsDefinedOnce) {
  for (int code = -1; code <= 133; ++code) {
    const ErrorInfo* info = error_info(static_cast<int16_t>(code));
    ASSERT_NE(info, nullptr) << code;
    EXPECT_EQ(info->code, code);
  }
}

}  // namespace
}  // namespace sluice

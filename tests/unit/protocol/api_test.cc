#include <gtest/gtest.h>

#include <set>
#include <string>

#include "protocol/api.h"
#include "protocol/dispatch.h"

namespace sluice::protocol {
namespace {

TEST(ApiTable, KnownApis) {
  const ApiInfo* produce = find_api(0);
  ASSERT_NE(produce, nullptr);
  EXPECT_STREQ(produce->name, "Produce");
  EXPECT_EQ(produce->min_version, ProduceRequest::min_version);
  EXPECT_EQ(produce->max_version, ProduceRequest::max_version);
  EXPECT_EQ(produce->first_flexible_version, 9);
  EXPECT_TRUE(produce->listeners & broker_listener);

  const ApiInfo* api_versions = find_api(18);
  ASSERT_NE(api_versions, nullptr);
  EXPECT_STREQ(api_versions->name, "ApiVersions");
  EXPECT_EQ(api_versions->first_flexible_version, 3);
  EXPECT_TRUE(api_versions->is_flexible(3));
  EXPECT_FALSE(api_versions->is_flexible(2));
}

TEST(ApiTable, UnknownKeys) {
  EXPECT_EQ(find_api(-1), nullptr);
  EXPECT_EQ(find_api(999), nullptr);
  EXPECT_EQ(find_api(32767), nullptr);
  EXPECT_EQ(request_header_version(999, 0), -1);
  EXPECT_EQ(response_header_version(999, 0), -1);
}

TEST(ApiTable, EveryEntryMatchesItsGeneratedTypes) {
  std::set<int16_t> keys;
  for (const ApiInfo& info : all_apis()) {
    EXPECT_TRUE(keys.insert(info.api_key).second) << "duplicate key " << info.api_key;
    EXPECT_EQ(find_api(info.api_key), &info);
    bool found = visit_request_type(info.api_key, [&]<class R>(std::type_identity<R>) {
      EXPECT_EQ(R::min_version, info.min_version);
      EXPECT_EQ(R::max_version, info.max_version);
      EXPECT_EQ(R::first_flexible_version, info.first_flexible_version);
      EXPECT_EQ(std::string(R::message_name), std::string(info.name) + "Request");
      EXPECT_EQ(R::Response::api_key, info.api_key);
    });
    EXPECT_TRUE(found) << info.name;
  }
  EXPECT_GE(keys.size(), 70u);
}

TEST(ApiTable, HeaderVersions) {
  EXPECT_EQ(request_header_version(3, 8), 1);   // Metadata v8
  EXPECT_EQ(request_header_version(3, 9), 2);   // Metadata v9 is flexible
  EXPECT_EQ(request_header_version(7, 0), 0);   // ControlledShutdown v0
  EXPECT_EQ(request_header_version(7, 1), 1);
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(request_header_version(18, 99), 2);  // newer than we know: still flexible
  EXPECT_EQ(response_header_version(3, 8), 0);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(response_header_version(18, 3), 0);  // ApiVersions: always v0
  EXPECT_EQ(response_header_version(18, 0), 0);
}

TEST(Dispatch, ReturnsTheFunctionsValueOrNothing) {
  auto name_of = [](auto type) { return std::string(decltype(type)::type::message_name); };
  EXPECT_EQ(visit_request_type(1, name_of), std::optional<std::string>("FetchRequest"));
  EXPECT_EQ(visit_response_type(1, name_of), std::optional<std::string>("FetchResponse"));
  EXPECT_EQ(visit_request_type(999, name_of), std::nullopt);
  bool called = false;
  EXPECT_FALSE(visit_request_type(-5, [&](auto) { called = true; }));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace sluice::protocol

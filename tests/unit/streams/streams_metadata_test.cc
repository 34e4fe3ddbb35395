// Interactive queries across instances: application.server, the leader's
// host maps (stream_thread_membership.h) and what every instance answers
// from them (streams_metadata.h, KafkaStreams' metadata calls).
#include "streams/streams_metadata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams/dsl.h"
#include "streams/kafka_streams.h"
#include "streams/murmur2.h"
#include "streams/stream_thread_membership.h"
#include "streams/streams_config.h"

namespace sluice::streams {
namespace {

std::string config_error(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> properties = {{"application.id", "app"},
                                                   {"bootstrap.servers", "localhost:9092"}};
  properties.insert(extra.begin(), extra.end());
  try {
    StreamsConfig::from_properties(properties);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ApplicationServer, HostAndPortAsKafkaReadsThem) {
  EXPECT_EQ(host_info_from_endpoint("localhost:8080"), (HostInfo{"localhost", 8080}));
  EXPECT_EQ(host_info_from_endpoint("PLAINTEXT://My_Domain.com:8080"),
            (HostInfo{"My_Domain.com", 8080}));
  EXPECT_EQ(host_info_from_endpoint("[::1]:1234"), (HostInfo{"::1", 1234}));
  EXPECT_EQ(host_info_from_endpoint("::1:1234"), (HostInfo{"::1", 1234}));
  EXPECT_EQ(host_info_from_endpoint(""), std::nullopt);
  EXPECT_EQ(host_info_from_endpoint("  "), std::nullopt);
  for (const char* bad :
       {"localhost", "localhost:", "local host:80", "localhost:80x", "localhost:99999999999"}) {
    EXPECT_THROW(host_info_from_endpoint(bad), std::invalid_argument) << bad;
  }
  try {
    host_info_from_endpoint("localhost");
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Error parsing host address localhost. Expected format host:port.");
  }
}

TEST(ApplicationServer, IsAConfigErrorNamingIt) {
  EXPECT_EQ(config_error({{"application.server", "localhost:7070"}}), "");
  EXPECT_EQ(StreamsConfig::from_properties({{"application.id", "app"},
                                            {"bootstrap.servers", "b:9092"},
                                            {"application.server", "localhost:7070"}})
                .application_server,
            "localhost:7070");
  EXPECT_EQ(config_error({{"application.server", "localhost"}}),
            "Config application.server isn't in the correct format. Expected a host:port pair "
            "but received localhost");
}

TEST(Murmur2, HasKafkasValues) {
  // Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
  // toPositive clears the sign bit: (-973932308 & 0x7fffffff) % 4 == 0.
  EXPECT_EQ(partition_for_key("21", 4), (-973932308 & 0x7fffffff) % 4);
  EXPECT_EQ(partition_for_key("foobar", 7), (-790332482 & 0x7fffffff) % 7);
}

// Word count's layout: sub-topology 0 reads the input, 1 the repartition
// topic and keeps the counts (changelogged).
TaskLayout word_count_layout(int partitions) {
  TaskLayout layout;
  layout.subtopologies.push_back({{"lines"}, partitions, {}});
  layout.subtopologies.push_back(
      {{"app-counts-store-repartition"}, partitions, {"app-counts-store-changelog"}});
  layout.topic_partitions = {{"lines", partitions}, {"app-counts-store-repartition", partitions}};
  return layout;
}

TEST(PartitionsByHost, AreTheInputPartitionsOfEachHostsTasks) {
  TaskLayout layout = word_count_layout(2);
  AssignorInput input;
  input.clients["A"].members = {{"A-1", {}, {}}, {"A-2", {}, {}}};
  input.clients["B"].members = {{"B-1", {}, {}}};
  input.clients["C"].members = {{"C-1", {}, {}}};  // no application.server
  AssignorOutput output;
  output.members["A-1"] = {{{0, 0}}, {}};
  output.members["A-2"] = {{{1, 0}}, {{1, 1}}};
  output.members["B-1"] = {{{1, 1}}, {{1, 0}}};
  output.members["C-1"] = {{{0, 1}}, {}};
  std::map<std::string, HostInfo> hosts = {{"A", {"a", 1}}, {"B", {"b", 2}}};
  HostPartitions maps = partitions_by_host(hosts, input, output, layout);
  EXPECT_EQ(maps.active, (std::map<HostInfo, std::vector<TopicPartition>>{
                             {{"a", 1}, {{"app-counts-store-repartition", 0}, {"lines", 0}}},
                             {{"b", 2}, {{"app-counts-store-repartition", 1}}}}));
  EXPECT_EQ(maps.standby, (std::map<HostInfo, std::vector<TopicPartition>>{
                              {{"a", 1}, {{"app-counts-store-repartition", 1}}},
                              {{"b", 2}, {{"app-counts-store-repartition", 0}}}}));
  // No client with a host: both maps empty, as Kafka's.
  HostPartitions none = partitions_by_host({}, input, output, layout);
  EXPECT_TRUE(none.active.empty());
  EXPECT_TRUE(none.standby.empty());
}

std::vector<uint8_t> member_subscription(uint8_t process, const std::string& endpoint,
                                         const TaskLayout& layout) {
  SubscriptionInfo info;
  info.process_id.bytes[15] = process;
  info.user_endpoint = endpoint;
  ConsumerSubscription consumer;
  consumer.topics = layout.source_topics();
  consumer.user_data = encode_subscription_info(info);
  return encode_consumer_subscription(consumer);
}

AssignmentInfo assignment_of(const std::vector<uint8_t>& bytes) {
  Result<ConsumerAssignment> consumer = decode_consumer_assignment(bytes);
  EXPECT_TRUE(consumer.is_ok());
  Result<AssignmentInfo> info = decode_assignment_info(consumer->user_data);
  EXPECT_TRUE(info.is_ok());
  return *info;
}

TEST(PartitionsByHost, TheLeaderSendsThemToEveryMember) {
  TaskLayout layout = word_count_layout(4);
  MembershipSettings settings;
  settings.group.group_id = "app";
  settings.assignor.num_standby_replicas = 1;
  settings.user_endpoint = "a:1";
  StreamThreadMembership leader(settings, layout, [](const std::vector<TopicPartition>&) {
    return std::map<TopicPartition, int64_t>{};
  });
  std::vector<net::GroupMember::JoinedMember> members = {
      {"m1", member_subscription(1, "a:1", layout)}, {"m2", member_subscription(2, "b:2", layout)}};
  std::map<std::string, std::vector<uint8_t>> assignments = leader.assign(members, 0);
  ASSERT_EQ(assignments.size(), 2U);
  AssignmentInfo first = assignment_of(assignments["m1"]);
  AssignmentInfo second = assignment_of(assignments["m2"]);
  EXPECT_EQ(first.partitions_by_host, second.partitions_by_host);
  EXPECT_EQ(first.standby_partitions_by_host, second.standby_partitions_by_host);
  ASSERT_EQ(first.partitions_by_host.size(), 2U);
  // Every input partition runs on one host; each count partition has a
  // standby on the other host.
  std::multiset<TopicPartition> active;
  for (const auto& [host, partitions] : first.partitions_by_host)
    active.insert(partitions.begin(), partitions.end());
  std::multiset<TopicPartition> expected;
  for (int p = 0; p < 4; ++p) {
    expected.insert({"lines", p});
    expected.insert({"app-counts-store-repartition", p});
  }
  EXPECT_EQ(active, expected);
  for (const auto& [host, partitions] : first.standby_partitions_by_host) {
    const std::vector<TopicPartition>& own = first.partitions_by_host.at(host);
    for (const TopicPartition& partition : partitions) {
      EXPECT_EQ(partition.topic, "app-counts-store-repartition");
      EXPECT_EQ(std::count(own.begin(), own.end(), partition), 0);
    }
  }

  // Without application.server anywhere, no host maps.
  std::vector<net::GroupMember::JoinedMember> anonymous = {
      {"m1", member_subscription(1, "", layout)}, {"m2", member_subscription(2, "", layout)}};
  for (const auto& [member, bytes] : leader.assign(anonymous, 0)) {
    AssignmentInfo info = assignment_of(bytes);
    EXPECT_TRUE(info.partitions_by_host.empty()) << member;
    EXPECT_TRUE(info.standby_partitions_by_host.empty()) << member;
  }
}

// Word count's stores: counts-store fed by the repartition topic; a global
// store on every instance.
StreamsMetadataState word_count_state(std::optional<HostInfo> this_host) {
  return StreamsMetadataState({{"counts-store", {"app-counts-store-repartition"}}},
                              {"global-store"}, this_host);
}

const HostInfo kHostA{"a", 1};
const HostInfo kHostB{"b", 2};

// Two hosts, 4 partitions: A runs 0 and 1, B runs 2 and 3, each keeps
// standbys of the other's.
void assign_two_hosts(StreamsMetadataState& state) {
  auto counts = [](std::initializer_list<int32_t> partitions) {
    std::vector<TopicPartition> out;
    for (int32_t p : partitions) out.push_back({"app-counts-store-repartition", p});
    return out;
  };
  std::map<HostInfo, std::vector<TopicPartition>> active = {{kHostA, counts({0, 1})},
                                                            {kHostB, counts({2, 3})}};
  active[kHostA].push_back({"lines", 0});
  std::map<HostInfo, std::vector<TopicPartition>> standby = {{kHostA, counts({2, 3})},
                                                             {kHostB, counts({0, 1})}};
  state.on_change(active, standby);
}

KeyPartitions fixed_partition(int32_t partition, int32_t* asked_partitions = nullptr) {
  return [=](const std::string&, int32_t num_partitions) -> std::optional<std::set<int32_t>> {
    if (asked_partitions != nullptr) *asked_partitions = num_partitions;
    return std::set<int32_t>{partition};
  };
}

TEST(StreamsMetadataState, BeforeAnAssignmentNothingIsAvailable) {
  StreamsMetadataState state = word_count_state(kHostA);
  EXPECT_TRUE(state.all_metadata().empty());
  EXPECT_TRUE(state.all_metadata_for_store("counts-store").empty());
  EXPECT_EQ(state.local_metadata(), std::nullopt);
  EXPECT_EQ(state.key_query_metadata("counts-store", fixed_partition(0)),
            KeyQueryMetadata::not_available());
  EXPECT_EQ(KeyQueryMetadata::not_available().active_host, (HostInfo{"unavailable", -1}));
  // An assignment without hosts: this instance alone, nothing known.
  state.on_change({}, {});
  EXPECT_TRUE(state.all_metadata().empty());
  EXPECT_EQ(state.local_metadata(), (StreamsMetadata{kHostA, {}, {}, {}, {}}));
  EXPECT_EQ(state.key_query_metadata("counts-store", fixed_partition(0)),
            KeyQueryMetadata::not_available());
}

TEST(StreamsMetadataState, EveryHostWithItsStoresAndPartitions) {
  StreamsMetadataState state = word_count_state(kHostB);
  assign_two_hosts(state);
  std::vector<StreamsMetadata> all = state.all_metadata();
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].host_info, kHostA);  // ordered by host, then port
  EXPECT_EQ(all[0].state_store_names, (std::set<std::string>{"counts-store", "global-store"}));
  EXPECT_EQ(all[0].topic_partitions, (std::set<TopicPartition>{{"app-counts-store-repartition", 0},
                                                               {"app-counts-store-repartition", 1},
                                                               {"lines", 0}}));
  EXPECT_EQ(all[0].standby_state_store_names, (std::set<std::string>{"counts-store"}));
  EXPECT_EQ(all[0].standby_topic_partitions,
            (std::set<TopicPartition>{{"app-counts-store-repartition", 2},
                                      {"app-counts-store-repartition", 3}}));
  EXPECT_EQ(all[1].host_info, kHostB);
  EXPECT_EQ(state.local_metadata(), all[1]);
  EXPECT_EQ(state.all_metadata_for_store("counts-store"), all);
  EXPECT_EQ(state.all_metadata_for_store("global-store"), all);
  EXPECT_TRUE(state.all_metadata_for_store("no-such-store").empty());
}

TEST(StreamsMetadataState, AKeysHostsAndPartition) {
  StreamsMetadataState state = word_count_state(kHostA);
  assign_two_hosts(state);
  int32_t asked = 0;
  EXPECT_EQ(state.key_query_metadata("counts-store", fixed_partition(1, &asked)),
            (KeyQueryMetadata{kHostA, {kHostB}, 1}));
  EXPECT_EQ(asked, 4);  // the store's source topic's partitions the hosts show
  EXPECT_EQ(state.key_query_metadata("counts-store", fixed_partition(3)),
            (KeyQueryMetadata{kHostB, {kHostA}, 3}));
  EXPECT_EQ(state.key_query_metadata("no-such-store", fixed_partition(0)), std::nullopt);
  EXPECT_EQ(state.key_query_metadata("global-store", fixed_partition(0)),
            (KeyQueryMetadata{kHostA, {}, -1}));
  // Only one partition makes sense for a key.
  KeyPartitions multicast = [](const std::string&, int32_t) {
    return std::optional<std::set<int32_t>>(std::set<int32_t>{0, 1});
  };
  EXPECT_THROW(state.key_query_metadata("counts-store", multicast), std::invalid_argument);
  // The next assignment moves partition 1 to B, without standbys.
  std::vector<TopicPartition> all_counts;
  for (int32_t p = 0; p < 4; ++p) all_counts.push_back({"app-counts-store-repartition", p});
  state.on_change({{kHostB, all_counts}}, {});
  EXPECT_EQ(state.key_query_metadata("counts-store", fixed_partition(1)),
            (KeyQueryMetadata{kHostB, {}, 1}));
  // This instance stays known as it last was (Kafka never clears it).
  ASSERT_TRUE(state.local_metadata().has_value());
  EXPECT_EQ(state.local_metadata()->host_info, kHostA);
}

TEST(KafkaStreamsMetadata, AskedBeforeStartThrowsStreamsNotStarted) {
  StreamsBuilder builder;
  builder.stream("lines", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .count(Materialized<std::string, int64_t>::as("counts-store"));
  StreamsConfig config = StreamsConfig::from_properties({{"application.id", "app"},
                                                         {"bootstrap.servers", "localhost:9"},
                                                         {"application.server", "localhost:7070"}});
  KafkaStreams streams(builder.build(), config);
  EXPECT_THROW(streams.metadata_for_all_stream_clients(), StreamsNotStartedException);
  EXPECT_THROW(streams.streams_metadata_for_store("counts-store"), StreamsNotStartedException);
  try {
    streams.query_metadata_for_key("counts-store", std::string("kafka"), serdes::string());
    ADD_FAILURE() << "no exception";
  } catch (const StreamsNotStartedException& e) {
    EXPECT_STREQ(e.what(),
                 "KafkaStreams has not been started, you can retry after calling start()");
  }
  EXPECT_THROW(streams.query_metadata_for_key(
                   "counts-store", std::string("kafka"),
                   [](const std::string&, int32_t num_partitions) { return num_partitions - 1; }),
               StreamsNotStartedException);
}

}  // namespace
}  // namespace sluice::streams

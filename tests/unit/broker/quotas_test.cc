// Client quotas as Kafka measures them: the sampled rate and its window,
// throttle times, the token bucket of controller mutations, and which
// entity's quota a client gets.
#include "broker/quotas.h"

#include <gtest/gtest.h>

namespace sluice::broker {
namespace {

// Kafka's Rate counts at least samples - 1 full windows, so one burst
// right after a quiet spell is not a huge rate.
TEST(SampledRateTest, MeasuresOverAtLeastAllButOneWindow) {
  SampledRate rate(11, 1000);
  rate.record(10'000, 0);
  EXPECT_EQ(rate.window_size_ms(0), 10'000);
  EXPECT_DOUBLE_EQ(rate.measure(0), 1'000.0);
  rate.record(10'000, 15'000);  // 15 s later: the old sample expired
  EXPECT_DOUBLE_EQ(rate.measure(15'000), 1'000.0);
  for (int64_t t = 16'000; t <= 30'000; t += 1'000) rate.record(1'000, t);
  // Eleven windows hold 11,000 bytes over at most 11 s, at least 10.
  const double measured = rate.measure(30'000);
  EXPECT_GT(measured, 990.0);
  EXPECT_LE(measured, 1'100.0);
}

TEST(TokenBucketTest, RefillsUpToItsBurstAndGoesBelowZero) {
  TokenBucket bucket(10, 1000);  // burst: 10 s of the rate
  EXPECT_DOUBLE_EQ(bucket.tokens(2.0, 0), 20.0);
  bucket.take(2.0, 30.0, 0);
  EXPECT_DOUBLE_EQ(bucket.tokens(2.0, 0), -10.0);
  EXPECT_DOUBLE_EQ(bucket.tokens(2.0, 5'000), 0.0);
  EXPECT_DOUBLE_EQ(bucket.tokens(2.0, 100'000), 20.0);
}

cluster::ClientQuotas quotas_of(std::vector<std::pair<cluster::ClientQuotaEntity, double>> entries,
                                const std::string& key = "producer_byte_rate") {
  cluster::ClientQuotas quotas;
  for (auto& [entity, value] : entries) quotas[entity][key] = value;
  return quotas;
}

// Kafka's precedence: user+client, user+default client, user, default
// user+client, default user+default client, default user, client, default
// client.
TEST(QuotaManagerTest, TakesTheMostSpecificEntityInKafkasOrder) {
  using E = cluster::ClientQuotaEntity;
  const std::optional<std::string> any;  // the default entity
  QuotaManager manager("producer_byte_rate", 11, 1000);
  EXPECT_FALSE(manager.enabled());
  EXPECT_EQ(manager.quota({"alice", "app"}), std::nullopt);
  manager.update(quotas_of({{E{{"client-id", any}}, 8},
                            {E{{"client-id", "app"}}, 7},
                            {E{{"user", any}}, 6},
                            {E{{"user", any}, {"client-id", any}}, 5},
                            {E{{"user", any}, {"client-id", "app"}}, 4},
                            {E{{"user", "alice"}}, 3},
                            {E{{"user", "alice"}, {"client-id", any}}, 2},
                            {E{{"user", "alice"}, {"client-id", "app"}}, 1}}));
  EXPECT_TRUE(manager.enabled());
  EXPECT_EQ(manager.quota({"alice", "app"}), 1.0);
  EXPECT_EQ(manager.quota({"alice", "other"}), 2.0);
  EXPECT_EQ(manager.quota({"bob", "app"}), 4.0);
  EXPECT_EQ(manager.quota({"bob", "other"}), 5.0);
  manager.update(quotas_of({{E{{"user", "alice"}}, 3}, {E{{"client-id", "app"}}, 7}}));
  EXPECT_EQ(manager.quota({"alice", "app"}), 3.0);
  EXPECT_EQ(manager.quota({"bob", "app"}), 7.0);
  EXPECT_EQ(manager.quota({"bob", "other"}), std::nullopt);
  manager.update(quotas_of({{E{{"user", "alice"}}, 3}}, "consumer_byte_rate"));
  EXPECT_FALSE(manager.enabled());  // another key only
}

// Clients sharing the entity share the rate. A burst beyond one window of
// the quota is paid for by its throttle (the time the burst bound takes to
// refill); over the sampled rate, Kafka's (rate - quota) / quota x window.
TEST(QuotaManagerTest, ThrottlesTheSharedRate) {
  using E = cluster::ClientQuotaEntity;
  QuotaManager manager("producer_byte_rate", 11, 1000);
  manager.update(quotas_of({{E{{"user", "alice"}}, 1000}}));
  EXPECT_EQ(manager.record({"alice", "one"}, 1'000, 0), 0);  // one window's burst
  EXPECT_EQ(manager.record({"alice", "two"}, 500, 0), 500);  // the same quota: 500 over
  EXPECT_EQ(manager.throttle_ms({"alice", "three"}, 0), 500);
  EXPECT_EQ(manager.throttle_ms({"alice", "three"}, 500), 0);
  EXPECT_EQ(manager.record({"bob", "one"}, 100'000, 0), 0);  // no quota
  EXPECT_EQ(manager.burst_max({"alice", "x"}), 1'000.0);
  EXPECT_EQ(manager.burst_max({"bob", "x"}), std::nullopt);
  // 90% of the quota for 20 s, then 130% for 10 s (throttles ignored): the
  // sampled rate's throttle, ~(1,300 - 1,000) / 1,000 x 10 s, is longer than
  // the burst bound's (2,000 bytes of debt: 2 s).
  QuotaManager steady("producer_byte_rate", 11, 1000);
  steady.update(quotas_of({{E{{"user", "carol"}}, 1000}}));
  for (int64_t t = 0; t < 20'000; t += 100) ASSERT_EQ(steady.record({"carol", ""}, 90, t), 0);
  int32_t last = 0;
  for (int64_t t = 20'000; t < 30'000; t += 100) last = steady.record({"carol", ""}, 130, t);
  EXPECT_GT(last, 2'500);
}

TEST(QuotaManagerTest, ControllerMutationsAreStrictOrPermissive) {
  using E = cluster::ClientQuotaEntity;
  QuotaManager manager("controller_mutation_rate", 11, 1000);
  manager.update(quotas_of({{E{{"client-id", "admin"}}, 2}}, "controller_mutation_rate"));
  // burst 22: a first request of 30 partitions passes, taking the bucket to -8
  EXPECT_EQ(manager.take_mutations_strict({"u", "admin"}, 30, 0), 0);
  EXPECT_EQ(manager.take_mutations_strict({"u", "admin"}, 1, 0), 4'000);  // refused: 8 / 2 per s
  EXPECT_EQ(manager.take_mutations_strict({"u", "admin"}, 1, 4'000), 0);  // refilled to zero
  EXPECT_EQ(manager.take_mutations_permissive({"u", "admin"}, 10, 4'000), 5'500);
}

}  // namespace
}  // namespace sluice::broker

#include "broker/quotas.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "broker/request_context.h"
#include "broker/session.h"
#include "cluster/client_quotas.h"

namespace sluice::broker {

int64_t quota_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

QuotaClient quota_client_of(const RequestContext& context) {
  const Session* session = session_of(context.connection());
  return {session != nullptr ? session->principal_name() : "ANONYMOUS",
          context.header().client_id.value_or("")};
}

SampledRate::SampledRate(int samples, int64_t window_ms)
    : samples_max_(std::max(samples, 1)), window_ms_(std::max<int64_t>(window_ms, 1)) {}

SampledRate::Sample& SampledRate::current(int64_t now_ms) {
  if (samples_.empty()) samples_.push_back({now_ms, 0});
  Sample* sample = &samples_[current_];
  if (now_ms - sample->start_ms < window_ms_) return *sample;
  current_ = (current_ + 1) % static_cast<size_t>(samples_max_);
  if (current_ >= samples_.size()) samples_.push_back({now_ms, 0});
  sample = &samples_[current_];
  *sample = {now_ms, 0};
  return *sample;
}

void SampledRate::record(double value, int64_t now_ms) { current(now_ms).value += value; }

void SampledRate::purge_obsolete(int64_t now_ms) {
  const int64_t expire_age = samples_max_ * window_ms_;
  for (Sample& sample : samples_)
    if (now_ms - sample.start_ms >= expire_age) sample = {now_ms, 0};
}

int64_t SampledRate::window_size_ms(int64_t now_ms) {
  purge_obsolete(now_ms);
  if (samples_.empty()) samples_.push_back({now_ms, 0});
  int64_t oldest = samples_.front().start_ms;
  for (const Sample& sample : samples_) oldest = std::min(oldest, sample.start_ms);
  int64_t elapsed = now_ms - oldest;
  const int64_t full_windows = elapsed / window_ms_;
  const int64_t min_full_windows = samples_max_ - 1;
  if (full_windows < min_full_windows) elapsed += (min_full_windows - full_windows) * window_ms_;
  return std::max<int64_t>(elapsed, 1);
}

double SampledRate::measure(int64_t now_ms) {
  purge_obsolete(now_ms);
  double total = 0;
  for (const Sample& sample : samples_) total += sample.value;
  return total / (static_cast<double>(window_size_ms(now_ms)) / 1000.0);
}

double TokenBucket::tokens(double rate, int64_t now_ms) {
  const double full = burst(rate);
  if (!tokens_) tokens_ = full;
  const double refill =
      rate * static_cast<double>(std::max<int64_t>(now_ms - last_ms_, 0)) / 1000.0;
  tokens_ = std::min(full, *tokens_ + refill);
  last_ms_ = now_ms;
  return *tokens_;
}

void TokenBucket::take(double rate, double count, int64_t now_ms) {
  tokens_ = std::min(burst(rate), tokens(rate, now_ms) - count);
}

QuotaManager::QuotaManager(std::string key, int samples, int64_t window_ms)
    : key_(std::move(key)),
      samples_(std::max(samples, 1)),
      window_ms_(std::max<int64_t>(window_ms, 1)),
      overrides_(std::make_shared<const Overrides>()) {}

void QuotaManager::update(const cluster::ClientQuotas& quotas) {
  auto overrides = std::make_shared<Overrides>();
  for (const auto& [entity, values] : quotas) {
    auto value = values.find(key_);
    if (value != values.end()) (*overrides)[entity] = value->second;
  }
  std::lock_guard lock(mutex_);
  enabled_.store(!overrides->empty(), std::memory_order_relaxed);
  overrides_ = std::move(overrides);
}

// Kafka's DefaultQuotaCallback: the first entity that sets the key, in
// ClientQuotaManager's order, and the tags that entity is measured under.
std::optional<QuotaManager::Resolved> QuotaManager::resolve(const QuotaClient& client) const {
  using Name = std::optional<std::string>;
  const std::string& user = client.user;
  const std::string& id = client.client_id;
  struct Level {
    cluster::ClientQuotaEntity entity;
    std::pair<std::string, std::string> tags;
  };
  const char* u = cluster::quota_entity_user;
  const char* c = cluster::quota_entity_client_id;
  const Level levels[] = {
      {{{u, Name(user)}, {c, Name(id)}}, {user, id}},
      {{{u, Name(user)}, {c, std::nullopt}}, {user, id}},
      {{{u, Name(user)}}, {user, ""}},
      {{{u, std::nullopt}, {c, Name(id)}}, {user, id}},
      {{{u, std::nullopt}, {c, std::nullopt}}, {user, id}},
      {{{u, std::nullopt}}, {user, ""}},
      {{{c, Name(id)}}, {"", id}},
      {{{c, std::nullopt}}, {"", id}},
  };
  std::shared_ptr<const Overrides> overrides;
  {
    std::lock_guard lock(mutex_);
    overrides = overrides_;
  }
  for (const Level& level : levels) {
    auto found = overrides->find(level.entity);
    if (found != overrides->end()) return Resolved{level.tags, found->second};
  }
  return std::nullopt;
}

std::optional<double> QuotaManager::quota(const QuotaClient& client) const {
  if (!enabled()) return std::nullopt;
  std::optional<Resolved> resolved = resolve(client);
  if (!resolved) return std::nullopt;
  return resolved->bound;
}

// Sensors unused for an hour go (Kafka's inactive sensor expiry), swept at
// most once a minute. Caller holds mutex_.
QuotaManager::Sensor& QuotaManager::sensor(const Resolved& resolved, int64_t now_ms) {
  constexpr int64_t expiry_ms = 3'600'000;
  if (now_ms - last_sweep_ms_ >= 60'000) {
    last_sweep_ms_ = now_ms;
    std::erase_if(sensors_, [&](const auto& entry) {
      return now_ms - entry.second.last_used_ms >= expiry_ms;
    });
  }
  auto [found, inserted] = sensors_.try_emplace(resolved.tags, samples_, window_ms_);
  found->second.last_used_ms = now_ms;
  return found->second;
}

// Kafka's QuotaUtils.throttleTime: how long until the measured rate is back
// at the bound, over the window the rate is measured on.
int32_t QuotaManager::rate_throttle_ms(Sensor& sensor, double bound, int64_t now_ms) {
  const double rate = sensor.rate.measure(now_ms);
  if (rate <= bound) return 0;
  const double window = static_cast<double>(sensor.rate.window_size_ms(now_ms));
  const double ms = (rate - bound) / bound * window;
  return static_cast<int32_t>(std::min<double>(std::llround(ms), INT32_MAX));
}

// Kafka's ControllerMutationQuotaManager.throttleTimeMs: the time a bucket
// below zero takes to refill to zero.
int32_t QuotaManager::debt_throttle_ms(TokenBucket& bucket, double bound, int64_t now_ms) {
  const double tokens = bucket.tokens(bound, now_ms);
  if (tokens >= 0) return 0;
  return static_cast<int32_t>(std::min<double>(std::llround(-tokens / bound * 1000.0), INT32_MAX));
}

template <class Act>
int32_t QuotaManager::with_sensor(const QuotaClient& client, int64_t now_ms, Act act) {
  if (!enabled()) return 0;
  std::optional<Resolved> resolved = resolve(client);
  if (!resolved) return 0;
  std::lock_guard lock(mutex_);
  return act(sensor(*resolved, now_ms), resolved->bound);
}

int32_t QuotaManager::record(const QuotaClient& client, double value, int64_t now_ms) {
  return with_sensor(client, now_ms, [&](Sensor& measured, double bound) {
    measured.rate.record(value, now_ms);
    measured.burst.take(bound, value, now_ms);
    return std::max(rate_throttle_ms(measured, bound, now_ms),
                    debt_throttle_ms(measured.burst, bound, now_ms));
  });
}

int32_t QuotaManager::throttle_ms(const QuotaClient& client, int64_t now_ms) {
  return with_sensor(client, now_ms, [&](Sensor& measured, double bound) {
    return std::max(rate_throttle_ms(measured, bound, now_ms),
                    debt_throttle_ms(measured.burst, bound, now_ms));
  });
}

std::optional<double> QuotaManager::burst_max(const QuotaClient& client) const {
  std::optional<double> bound = quota(client);
  if (!bound) return std::nullopt;
  return *bound * static_cast<double>(window_ms_) / 1000.0;
}

int32_t QuotaManager::take_mutations_strict(const QuotaClient& client, double count,
                                            int64_t now_ms) {
  return with_sensor(client, now_ms, [&](Sensor& measured, double bound) {
    if (int32_t throttle = debt_throttle_ms(measured.mutations, bound, now_ms); throttle > 0)
      return throttle;
    measured.mutations.take(bound, count, now_ms);
    return 0;
  });
}

int32_t QuotaManager::take_mutations_permissive(const QuotaClient& client, double count,
                                                int64_t now_ms) {
  return with_sensor(client, now_ms, [&](Sensor& measured, double bound) {
    measured.mutations.take(bound, count, now_ms);
    return debt_throttle_ms(measured.mutations, bound, now_ms);
  });
}

QuotaManagers::QuotaManagers(const QuotaWindows& windows)
    : produce(cluster::quota_producer_byte_rate, windows.samples, windows.window_ms),
      fetch(cluster::quota_consumer_byte_rate, windows.samples, windows.window_ms),
      request(cluster::quota_request_percentage, windows.samples, windows.window_ms),
      controller_mutation(cluster::quota_controller_mutation_rate, windows.controller_samples,
                          windows.controller_window_ms),
      request_throttle_max_ms(windows.window_ms) {}

void QuotaManagers::update(const cluster::ClientQuotas& quotas) {
  produce.update(quotas);
  fetch.update(quotas);
  request.update(quotas);
  controller_mutation.update(quotas);
}

}  // namespace sluice::broker

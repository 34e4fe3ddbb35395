#include "cluster/features.h"

#include <algorithm>

namespace sluice::cluster {

namespace {

constexpr int16_t default_transaction_version = 2;

const BrokerFeatureRange* find_range(const std::vector<BrokerFeatureRange>& ranges,
                                     std::string_view name) {
  auto found = std::find_if(ranges.begin(), ranges.end(),
                            [&](const BrokerFeatureRange& range) { return range.name == name; });
  return found == ranges.end() ? nullptr : &*found;
}

// Kafka's VersionRange.toString.
std::string range_text(const BrokerFeatureRange& range) {
  if (range.min_version == range.max_version) return std::to_string(range.min_version);
  return std::to_string(range.min_version) + "-" + std::to_string(range.max_version);
}

// Kafka's QuorumFeatures.reasonNotSupported: a feature not named supports 0 only.
std::string reason_not_supported(int16_t level, const std::string& who,
                                 const std::vector<BrokerFeatureRange>& ranges,
                                 const std::string& feature) {
  const BrokerFeatureRange* range = find_range(ranges, feature);
  const BrokerFeatureRange named = range ? *range : BrokerFeatureRange{feature, 0, 0};
  if (level >= named.min_version && level <= named.max_version) return "";
  if (named.max_version == 0) return who + " does not support this feature.";
  return who + " only supports versions " + range_text(named);
}

}  // namespace

const std::vector<BrokerFeatureRange>& supported_features() {
  static const std::vector<BrokerFeatureRange> features = {
      {std::string(metadata_version_feature), 1, 1},
      {std::string(transaction_version_feature), 0, 2},
  };
  return features;
}

int16_t finalized_level(const MetadataImage& image, std::string_view feature) {
  auto found = image.features.find(std::string(feature));
  if (found != image.features.end()) return found->second;
  return feature == metadata_version_feature ? int16_t{1} : int16_t{0};
}

bool features_bootstrapped(const MetadataImage& image) {
  return image.features.contains(std::string(metadata_version_feature));
}

std::vector<std::pair<std::string, int16_t>> bootstrap_feature_levels(
    const std::vector<BrokerFeatureRange>& broker) {
  std::vector<std::pair<std::string, int16_t>> levels;
  levels.emplace_back(std::string(metadata_version_feature), int16_t{1});
  if (const BrokerFeatureRange* range = find_range(broker, transaction_version_feature)) {
    const auto level = std::min(range->max_version, default_transaction_version);
    if (level > 0) levels.emplace_back(std::string(transaction_version_feature), level);
  }
  return levels;
}

std::string feature_update_problem(const MetadataImage& image, int32_t local_node,
                                   const FeatureUpdate& update) {
  if (update.upgrade_type < 1 || update.upgrade_type > 3)
    return "The controller does not support the given upgrade type.";
  if (update.level < 0) return "A feature version cannot be less than 0.";
  std::string reason =
      reason_not_supported(update.level, "Local controller " + std::to_string(local_node),
                           supported_features(), update.name);
  for (auto it = image.brokers.begin(); reason.empty() && it != image.brokers.end(); ++it)
    reason = reason_not_supported(update.level, "Broker " + std::to_string(it->first),
                                  it->second.features, update.name);
  if (!reason.empty()) return reason;
  const int16_t current = finalized_level(image, update.name);
  if (update.level < current && update.upgrade_type == 1)
    return "Can't downgrade the version of this feature without setting the upgrade type to "
           "either safe or unsafe downgrade.";
  if (update.level > current && update.upgrade_type != 1)
    return "Can't downgrade to a newer version.";
  return "";
}

}  // namespace sluice::cluster

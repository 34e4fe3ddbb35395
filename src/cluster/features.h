// Feature flags (KIP-584): the levels this build supports, the levels the
// metadata log has finalized (FeatureLevelRecord), and the levels a new
// cluster starts with. Brokers announce the supported ranges in their
// registration, ApiVersions answers both to clients (a Java producer uses
// transactions v2 once transaction.version 2 is finalized), and the
// transaction coordinator follows the finalized transaction.version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"

namespace sluice::cluster {

inline constexpr std::string_view metadata_version_feature = "metadata.version";
inline constexpr std::string_view transaction_version_feature = "transaction.version";

// What this build supports: metadata.version 1 (the first KRaft level, the
// only one Sluice claims) and transaction.version 0-2 (KIP-890: 1 flexible
// TransactionLog values, 2 an epoch bump per transaction).
const std::vector<BrokerFeatureRange>& supported_features();

// The level `feature` is finalized at in `image`: metadata.version is 1 when
// no record names it, every other feature 0 (Kafka's defaults).
int16_t finalized_level(const MetadataImage& image, std::string_view feature);

// A metadata log that never finalized metadata.version is a new cluster's
// (Kafka writes its bootstrap records before anything else).
bool features_bootstrapped(const MetadataImage& image);

// The levels a new cluster starts with, for the first broker that registers
// (`broker` its supported ranges): metadata.version 1 and transaction.version
// at the highest level the broker supports up to 2, as Kafka 4.0 formats new
// clusters. Features at level 0 are left out (no record means level 0).
std::vector<std::pair<std::string, int16_t>> bootstrap_feature_levels(
    const std::vector<BrokerFeatureRange>& broker);

// One entry of UpdateFeatures (Admin.updateFeatures, kafka-features.sh):
// the new level of `name` (0 removes the feature); `upgrade_type` 1
// upgrade, 2 safe downgrade, 3 unsafe downgrade (v0's AllowDowngrade: 2).
struct FeatureUpdate {
  std::string name;
  int16_t level = 0;
  int8_t upgrade_type = 1;
};

// Why `update` cannot be applied to `image` on controller `local_node`,
// empty when it can (Kafka's FeatureControlManager.updateFeature, its
// message after "Invalid update version <level> for feature <name>. "):
// the level must be supported by this build and by every registered
// broker; a lower level needs a downgrade type, a higher one an upgrade.
std::string feature_update_problem(const MetadataImage& image, int32_t local_node,
                                   const FeatureUpdate& update);

}  // namespace sluice::cluster

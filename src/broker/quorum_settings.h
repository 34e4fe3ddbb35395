#pragma once
// Resolves BrokerConfig::quorum (broker_config.h) from the parsed values,
// with Kafka's KRaft checks (quorum_settings.cc). Called by
// BrokerConfig::load once listeners and controller.listener.names are set.

#include "base/result.h"
#include "broker/broker_config.h"

namespace sluice::broker {

// Fails with the message of the first misconfiguration, naming the setting.
Result<QuorumSettings> resolve_quorum_settings(const BrokerConfig& config);

}  // namespace sluice::broker

#pragma once
// The broker's configuration as the cluster tests build it.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "base/config_def.h"
#include "broker/broker_config.h"

namespace sluice::cluster::testing {

// The broker's defaults with `values` over them (a failure fails the test).
inline Config broker_config(std::map<std::string, std::string> values = {}) {
  auto config = Config::parse(broker::broker_config_defs(), values);
  EXPECT_TRUE(config) << config.status().to_string();
  return std::move(config.value());
}

}  // namespace sluice::cluster::testing

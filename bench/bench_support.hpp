// The shipped registries, loaded once from the source tree, for the benchmark programs.
#pragma once

#include <string>

#include "roofline.hpp"

namespace roofline::bench {

inline const HardwareRegistry& gpus() {
  static const HardwareRegistry r = HardwareRegistry::load_directory(std::string(ROOFLINE_SOURCE_DIR) + "/hw_profiles");
  return r;
}
inline const ModelRegistry& models() {
  static const ModelRegistry r = ModelRegistry::load_directory(std::string(ROOFLINE_SOURCE_DIR) + "/models");
  return r;
}
inline const StrategyRegistry& strategies() {
  static const StrategyRegistry r = StrategyRegistry::load_directory(std::string(ROOFLINE_SOURCE_DIR) + "/strategies");
  return r;
}

}  // namespace roofline::bench

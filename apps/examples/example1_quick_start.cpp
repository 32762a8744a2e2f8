// Seed example 1, "Quick Start": a shipped strategy and the precision of every operator type.
#include <iostream>

#include "roofline.hpp"

int main() try {
  using namespace roofline;
  const MixedPrecisionConfig config = get_strategy("nvfp4_blackwell");
  std::cout << config.name << ": " << config.description << "\n";
  for (std::size_t i = 0; i < operator_type_count; ++i) {
    const OperatorType op = OperatorType(i);
    const OpPrecision p = config.get_precision(op);
    std::cout << "  " << to_string(op) << ": weights " << to_string(p.weight) << ", activations "
              << to_string(p.activation) << "\n";
  }
  // Whether a GPU runs it as designed: the seed's strategy needs fp4 tensor cores.
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  for (const char* gpu : {"b200", "h100_sxm"}) {
    const StrategyFeasibility f = check_strategy(config, gpus.get(gpu), FeasibilityPolicy::refuse);
    std::cout << gpu << ": " << (f.feasible ? "runs as designed" : "refused: " + f.reason) << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "example1: " << e.what() << "\n";
  return 1;
}

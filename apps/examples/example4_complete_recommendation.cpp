// Seed example 4, "Complete Recommendation": the engine on GB10 for the seed's inline Llama-3-8B shape in
// three scenarios.
#include <iostream>

#include "roofline.hpp"

int main() try {
  using namespace roofline;
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const IntegratedQuantizationEngine engine(gpus.get("gb10"));
  const std::map<std::string, std::int64_t> model = {{"H", 4096}, {"L", 32}, {"nh", 32},
                                                     {"nkv", 8},   {"dh", 128}, {"dff", 14336}};
  for (const auto& [phase, seq_len] : {std::pair{Phase::decode, 4096}, {Phase::decode, 32768}, {Phase::prefill, 2048}}) {
    const QuantizationRecommendation rec = engine.recommend(model, phase, seq_len);
    std::cout << "\n" << to_string(phase) << " @ " << seq_len << " tokens:\n";
    if (!rec.feasible) {
      std::cout << "  nothing admissible: " << rec.reason << "\n";
      continue;
    }
    std::cout << "  Strategy: " << rec.config.strategy_name << " (KV cache " << to_string(rec.config.kv_cache_precision)
              << ")\n  Attention: " << to_string(rec.config.attention_kernel) << " (FA version "
              << to_string(rec.fa_config.version) << ")\n  Speedup: " << rec.predicted_speedup << "x ("
              << rec.predicted_time_us << " us vs " << rec.baseline_time_us << " us)\n  Quality: "
              << rec.expected_quality_loss << "\n  Confidence: " << rec.confidence << "\n  Reason: " << rec.reason << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "example4: " << e.what() << "\n";
  return 1;
}

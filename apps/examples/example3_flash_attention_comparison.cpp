// Seed example 3, "FlashAttention Comparison": every FlashAttention generation at 8192 tokens on GB10
// (the seed's "b10"), with the versions GB10 cannot run refused and their reasons.
#include <cstdio>
#include <iostream>

#include "roofline.hpp"

int main() try {
  using namespace roofline;
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const FlashAttentionRoofline roofline(gpus.get("gb10"));
  AttentionShape shape;  // the seed's compare_fa_versions(batch=1, num_heads=32, seq_len=8192, head_dim=128)
  shape.batch = 1;
  shape.q_heads = shape.kv_heads = 32;
  shape.q_len = shape.kv_len = 8192;
  shape.head_dim = 128;
  shape.causal = true;
  for (const FlashAttentionMetrics& m : compare_fa_versions(roofline, shape)) {
    if (!m.supported) {
      std::cout << m.name << ": refused: " << m.reason << "\n";
      continue;
    }
    std::printf("%-8s %8.2f ms (AI=%.1f, bottleneck: %s)\n", m.name.c_str(), m.predicted_time_s * 1e3,
                m.arithmetic_intensity_flop_per_byte, m.bottleneck.c_str());
  }
  // The seed's FA3 + FP8 configuration, on a GPU that has wgmma (H100) and one that has not (GB10).
  FlashAttentionConfig fa3;
  fa3.version = FlashAttentionVersion::FA3;
  fa3.qkv_precision = fa3.kv_cache_precision = Precision::fp8_e4m3;
  fa3.use_native_fp8 = true;
  for (const char* gpu : {"h100_sxm", "gb10"}) {
    const FlashAttentionMetrics m = FlashAttentionRoofline(gpus.get(gpu)).predict(1, 32, 8, 1, 4096, 128, false, fa3);
    std::cout << gpu << " FA3 fp8 decode: "
              << (m.supported ? std::to_string(m.predicted_time_s * 1e6) + " us, " + m.bottleneck : "refused: " + m.reason)
              << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "example3: " << e.what() << "\n";
  return 1;
}

// Guide example (docs/guide/04-attention.md): what one causal prefill attention call costs with
// FlashAttention-2 and an FA3-class kernel, and the refusal where a GPU cannot run the kernel.
#include <roofline.hpp>

#include <cstdio>

using namespace roofline;

int main() {
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  // Llama-3-8B shapes: 32 query heads, 8 KV heads, head size 128; one 8192-token prompt.
  const AttentionShape shape{.batch = 1, .q_heads = 32, .kv_heads = 8, .q_len = 8192, .kv_len = 8192, .head_dim = 128,
                             .causal = true};
  std::printf("visible (query, key) pairs: %.4g of %.4g\n", visible_pairs(shape), 8192.0 * 8192.0);
  for (const char* gpu : {"a100_sxm_80gb", "h100_sxm"})
    for (AttentionKernel k : {AttentionKernel::fa2, AttentionKernel::fa3}) {
      const AttentionCost c = attention_cost(shape, k, Precision::bf16, Precision::bf16, gpus.get(gpu));
      if (!c.supported) {
        std::printf("%-14s %s: refused: %s\n", gpu, std::string(to_string(k)).c_str(), c.reason.c_str());
        continue;
      }
      std::printf("%-14s %s: %.3g FLOP executed, %.3g B, tiles %lldx%lld, %lld thread blocks\n", gpu,
                  std::string(to_string(k)).c_str(), c.flops, c.bytes.total(), static_cast<long long>(c.block_q),
                  static_cast<long long>(c.block_kv), static_cast<long long>(c.ctas));
    }
  return 0;
}

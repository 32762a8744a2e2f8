#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::hardware;

namespace {
AttentionShape shape(std::int64_t batch, std::int64_t q_heads, std::int64_t kv_heads, std::int64_t q_len,
                     std::int64_t kv_len, std::int64_t head_dim, bool causal) {
  AttentionShape s;
  s.batch = batch;
  s.q_heads = q_heads;
  s.kv_heads = kv_heads;
  s.q_len = q_len;
  s.kv_len = kv_len;
  s.head_dim = head_dim;
  s.causal = causal;
  return s;
}
double time_of(const HardwareSpec& hw, const AttentionShape& s, AttentionKernel k, Precision p = Precision::bf16,
               const AttentionOptions& o = {}) {
  const FlashAttentionRoofline r(hw, Calibration::priors(hw));
  const FlashAttentionMetrics m = r.predict_kernel(s, k, p, p, o);
  REQUIRE_MESSAGE(m.supported, m.reason);
  return m.predicted_time_s;
}
}  // namespace

TEST_CASE("visible_pairs matches a brute-force count of the mask") {
  // Row i of a q × k attention sees keys [max(0, last - w + 1), last], last = k - q + i (causal,
  // bottom-right) or k - 1; rows with last < 0 see nothing.
  for (std::int64_t q : {1, 3, 64, 200}) {
    for (std::int64_t k : {1, 5, 64, 300}) {
      for (std::int64_t w : {0, 1, 7, 64, 1000}) {
        for (bool causal : {false, true}) {
          AttentionShape s = shape(1, 1, 1, q, k, 64, causal);
          s.window_tokens = w;
          double brute = 0;
          for (std::int64_t i = 0; i < q; ++i) {
            const std::int64_t last = causal ? k - q + i : k - 1;
            if (last < 0) continue;
            const std::int64_t first = w > 0 ? std::max<std::int64_t>(0, last - w + 1) : 0;
            brute += double(last - first + 1);
          }
          CAPTURE(q);
          CAPTURE(k);
          CAPTURE(w);
          CAPTURE(causal);
          CHECK(visible_pairs(s) == brute);
        }
      }
    }
  }
}

TEST_CASE("split_kv_heuristic picks what trying every split count picks") {
  // The reference: flash_api.cpp's num_splits_heuristic as written there, every split from 1 to the
  // maximum (a split is eligible when it changes ceil(kv_blocks / splits)), then the smallest within 85%
  // of the best wave efficiency.
  auto reference = [](std::int64_t bhq, std::int64_t slots, std::int64_t kv_blocks, std::int64_t max_splits) {
    if (double(bhq) >= 0.8 * double(slots)) return std::int64_t(1);
    max_splits = std::min({max_splits, slots, kv_blocks, std::int64_t(256)});
    std::vector<double> eff(std::size_t(std::max<std::int64_t>(max_splits, 1)), -1.0);
    double best = 0;
    for (std::int64_t s = 1; s <= max_splits; ++s) {
      const bool eligible = s == 1 || (kv_blocks + s - 1) / s != (kv_blocks + s - 2) / (s - 1);
      if (!eligible) continue;
      const double waves = double(bhq * s) / double(slots);
      eff[std::size_t(s - 1)] = waves / std::ceil(waves);
      best = std::max(best, eff[std::size_t(s - 1)]);
    }
    for (std::int64_t s = 1; s <= max_splits; ++s)
      if (eff[std::size_t(s - 1)] >= 0.85 * best) return s;
    return std::int64_t(1);
  };
  int checked = 0;
  for (std::int64_t slots : {48, 132, 148, 264, 296})
    for (std::int64_t bhq = 1; bhq < slots; bhq += 7)
      for (std::int64_t kv_blocks = 1; kv_blocks <= 700; kv_blocks += (kv_blocks < 80 ? 1 : 13))
        for (std::int64_t max_splits : {128, 256, 3}) {
          CAPTURE(slots);
          CAPTURE(bhq);
          CAPTURE(kv_blocks);
          CAPTURE(max_splits);
          REQUIRE(split_kv_heuristic(bhq, slots, kv_blocks, max_splits) == reference(bhq, slots, kv_blocks, max_splits));
          ++checked;
        }
  CHECK(checked > 10000);
}

TEST_CASE("causal tile counts match a per-block brute force") {
  // FA3 on H100, causal, head_dim 128: 128 × 128 tiles; query block b ends at position min(q, (b + 1)·128) and
  // runs ceil((kv − q + end) / 128) tiles; no GQA packing at these lengths, one head.
  const HardwareSpec& h = hardware().get("h100_sxm");
  for (std::int64_t q : {1000, 4097, 777, 128}) {
    for (std::int64_t extra : {0, 1, 300}) {
      const std::int64_t kv = q + extra;
      const AttentionCost c =
          attention_cost(shape(1, 1, 1, q, kv, 128, true), AttentionKernel::fa3, Precision::bf16, Precision::bf16, h);
      REQUIRE(c.block_q == 128);
      REQUIRE(c.block_kv == 128);
      double tiles = 0;
      for (std::int64_t b = 0; b * 128 < q; ++b) tiles += double((kv - q + std::min(q, (b + 1) * 128) + 127) / 128);
      CAPTURE(q);
      CAPTURE(kv);
      CHECK(c.flops == 4.0 * 128 * 128 * 128 * tiles);
    }
  }
  // GQA packed, a group of 7 (Qwen2.5-7B: 28/4 heads) that does not divide the 128-row tile: block b holds
  // packed rows [128b, 128b + 127], positions floor(128b / 7) .. floor((128b + 127) / 7).
  for (std::int64_t q : {40, 300}) {
    const AttentionShape s = shape(1, 28, 4, q, q + 5, 128, true);
    const AttentionCost c = attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, h);
    const std::int64_t rows = q * 7, blocks = (rows + 127) / 128;
    double tiles = 0;
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t end = std::min(q, (128 * b + 127) / 7 + 1);
      tiles += double((5 + end + c.block_kv - 1) / c.block_kv);
    }
    CAPTURE(q);
    if (rows < 128 * 8) CHECK(c.block_q == 128);  // packed (hopper/heuristics.h should_pack_gqa)
    CHECK(c.flops == 4.0 * 128 * 128 * double(c.block_kv) * 4 * tiles);
  }
  // Sliding windows (Mistral): block b's tiles run from the window start floor(first / K) to its last key.
  for (std::int64_t q : {1000, 4097}) {
    for (std::int64_t w : {100, 1000, 5000}) {
      for (std::int64_t kv_heads : {32, 8, 4}) {
        AttentionShape s = shape(2, 28 * (kv_heads == 4 ? 1 : 0) + (kv_heads == 4 ? 0 : 32), kv_heads, q, q, 128, true);
        s.window_tokens = w;
        const AttentionCost c = attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, h);
        const std::int64_t pack = c.ctas == 2 * s.q_heads * ((q + 127) / 128) ? 1 : s.q_heads / s.kv_heads;
        const std::int64_t slots = 2 * (pack == 1 ? s.q_heads : s.kv_heads);
        const std::int64_t K = c.block_kv, blocks = (q * pack + 127) / 128;
        double tiles = 0;
        for (std::int64_t b = 0; b < blocks; ++b) {
          const std::int64_t p0 = 128 * b / pack, p1 = std::min(q, (128 * b + 127) / pack + 1);
          const std::int64_t first = std::max<std::int64_t>(0, p0 - w + 1);
          tiles += double((p1 + K - 1) / K - first / K);
        }
        CAPTURE(q);
        CAPTURE(w);
        CAPTURE(kv_heads);
        CHECK(c.flops == 4.0 * 128 * 128 * double(K) * double(slots) * tiles);
      }
    }
  }
}

TEST_CASE("golden: FlashAttention-1 re-reads Q, O and the statistics per K/V block (non-causal)") {
  // A100: 166,912 B shared memory per block = 83,456 bf16 elements; d = 64: M / 4d = 326 -> Bc = 320
  // (multiple of 16), Br = min(320, 64) = 64. Shape B = 1, H = 1, 256 queries, 1024 keys.
  const HardwareSpec& a100 = hardware().get("a100_sxm_80gb");
  const AttentionCost c = attention_cost(shape(1, 1, 1, 256, 1024, 64, false), AttentionKernel::fa1, Precision::bf16,
                                         Precision::bf16, a100);
  REQUIRE(c.supported);
  CHECK(c.block_kv == 320);
  CHECK(c.block_q == 64);
  CHECK(c.ctas == 1);  // one thread block per (batch, head)
  // 4 K/V blocks (ceil(1024/320)) × 4 query blocks = 16 visits of 64 rows = 1024 row-visits, 256 of them first.
  // Q read per visit: 1024 · 64 · 2 = 131,072 B. O (2 B) and l, m (4 B each) read on the 768 later visits:
  // 768 · (128 + 8) = 104,448 B; written on all 1024: 139,264 B. K and V once: 1024 · 64 · 2 · 2 = 262,144 B.
  CHECK(c.bytes.kv_read_bytes == 262144.0);
  CHECK(c.bytes.activations_read_bytes == 131072.0 + 104448.0);
  CHECK(c.bytes.activations_written_bytes == 139264.0);
  CHECK(c.bytes.total() == 636928.0);
  // Executed: 16 tiles of 64 × 320 (keys padded to 1280): 16 · 4 · 64 · 64 · 320 = 83,886,080 FLOPs.
  CHECK(c.flops == 83886080.0);
  CHECK(c.useful_flops == 4.0 * 64 * 256 * 1024);
}

TEST_CASE("golden: FlashAttention-1 with a causal mask visits only blocks at or below the diagonal") {
  // GB10: 101,376 B per block = 50,688 elements; d = 64: 50,688 / 256 = 198 -> Bc = 192, Br = 64.
  // 512 × 512 causal: query block i (rows 64i..64i+63) sees keys up to 64i+63 -> ceil((64i + 64)/192) tiles:
  // 1, 1, 1, 2, 2, 2, 3, 3 = 15 visits = 960 row-visits, 512 first visits.
  const HardwareSpec& gb10 = hardware().get("gb10");
  const AttentionCost c = attention_cost(shape(1, 1, 1, 512, 512, 64, true), AttentionKernel::fa1, Precision::bf16,
                                         Precision::bf16, gb10);
  REQUIRE(c.supported);
  CHECK(c.block_kv == 192);
  // Q: 960 · 64 · 2 = 122,880; O/l/m reads (960 − 512) · 136 = 60,928; writes 960 · 136 = 130,560;
  // K, V: 512 · 64 · 4 = 131,072. Total 445,440 B.
  CHECK(c.bytes.activations_read_bytes == 122880.0 + 60928.0);
  CHECK(c.bytes.activations_written_bytes == 130560.0);
  CHECK(c.bytes.total() == 445440.0);
  // 15 tiles of 64 × 192: 15 · 4 · 64 · 64 · 192 = 47,185,920 FLOPs.
  CHECK(c.flops == 47185920.0);
}

TEST_CASE("golden: FlashAttention-2 prefill tiles, padding and once-per-KV-head K/V traffic") {
  // H100, B = 4, 8 heads (MHA), 1000 × 1000 non-causal, d = 128: tiles 128 × 64 (flash_fwd_launch_template.h,
  // hdim 128 on sm_80/sm_90). Split heuristic: 4 · 8 · ceil(1000/64) = 512 m-blocks >= 0.8 · 264 -> 1 split.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost c = attention_cost(shape(4, 8, 8, 1000, 1000, 128, false), AttentionKernel::fa2, Precision::bf16,
                                         Precision::bf16, h);
  REQUIRE(c.supported);
  CHECK(c.block_q == 128);
  CHECK(c.block_kv == 64);
  CHECK(c.splits == 1);
  CHECK(c.ctas == 4 * 8 * 8);
  // Q and O: 4 · 8 · 1000 · 128 · 2 = 8,192,000 B each; K + V: 4 · 8 · 1000 · 128 · 2 · 2 = 16,384,000 B.
  CHECK(c.bytes.total() == 8192000.0 * 2 + 16384000.0);
  // Executed per head: 8 query tiles × 16 key tiles of 128 × 64 (1024 × 1024 padded): 4 · 128 · 1024 · 1024
  // = 536,870,912; × 32 heads = 17,179,869,184.
  CHECK(c.flops == 17179869184.0);
  // 64 KB of tiles per CTA (Q 32 KB + K 16 KB + V 16 KB): 3 fit in 228 KB, registers allow 2 (4 warps).
  CHECK(c.smem_bytes_per_cta == 65536.0);
  CHECK(c.ctas_per_sm == 2);
  CHECK(c.waves == 1);  // 256 CTAs <= 132 · 2
}

TEST_CASE("golden: FlashAttention-2 splits a small prefill and uses its split kernel's tiles") {
  // H100, B = 1, 4 heads, 1000 × 1000, d = 128: 1 · 4 · ceil(1000/64) = 64 m-blocks < 211; split kernel
  // kBlockN = 128 -> 8 K/V blocks; efficiencies (64s/264)/ceil: s = 1..8: .24 .48 .73 .97 .61 .73 .85 .97;
  // eligible s (blocks per split change): 1, 2, 3, 4, 8; best .97, smallest >= .85 · .97: s = 4.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost c = attention_cost(shape(1, 4, 4, 1000, 1000, 128, false), AttentionKernel::fa2, Precision::bf16,
                                         Precision::bf16, h);
  CHECK(c.splits == 4);
  CHECK(c.block_q == 64);
  CHECK(c.block_kv == 128);
  CHECK(c.ctas == 4 * 16 * 4);
  CHECK(c.kernels == 2);
  // Partials: 4 splits · 4000 rows · (128 + 1) · 4 B = 8,256,000 B written and read; Q, O, K, V 1,024,000 each.
  CHECK(c.bytes.total() == 4 * 1024000.0 + 2 * 8256000.0);
  CHECK(c.workspace_bytes == 8256000.0);
}

TEST_CASE("golden: FlashAttention-2 decode runs the split kernel's 64-row tiles or, with one split, the forward kernel's") {
  // PyTorch's SDPA (mha_fwd) decode, 32 query / 8 KV heads, d = 128, 4096 cached tokens, the GQA group swapped
  // into the query rows (4 rows per KV head). Our H100 records name both kernels: flash_fwd_splitkv_kernel
  // <Flash_fwd_kernel_traits<128, 64, 128, 4>> below 0.8 · 2 · 132 = 211.2 (batch × KV heads) m-blocks and
  // flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>> (the prefill kernel) at or above it.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost split = attention_cost(shape(8, 32, 8, 1, 4096, 128, false), AttentionKernel::fa2,
                                             Precision::bf16, Precision::bf16, h);
  CHECK(split.splits > 1);  // 64 m-blocks
  CHECK(split.block_q == 64);
  CHECK(split.block_kv == 128);
  const AttentionCost one = attention_cost(shape(32, 32, 8, 1, 4096, 128, false), AttentionKernel::fa2,
                                           Precision::bf16, Precision::bf16, h);
  CHECK(one.splits == 1);  // 256 m-blocks
  CHECK(one.kernels == 1);
  CHECK(one.block_q == 128);
  CHECK(one.block_kv == 64);
  CHECK(one.ctas == 32 * 8);
  // Executed: 256 CTAs × 64 K/V tiles of 128 padded rows × 64 keys: 256 · 64 · 4 · 128 · 64 · 128 FLOPs.
  CHECK(one.flops == 256.0 * 64 * 4 * 128 * 64 * 128);
  // head_dim 64: the forward kernel's 128 × 128 tiles (flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 128, 4>>).
  const AttentionCost d64 = attention_cost(shape(32, 32, 8, 1, 4096, 64, false), AttentionKernel::fa2,
                                           Precision::bf16, Precision::bf16, h);
  CHECK(d64.block_q == 128);
  CHECK(d64.block_kv == 128);
}

TEST_CASE("golden: cuDNN decode on Hopper is the sm_80-class 16 x 128 kernel our records name, split as they show") {
  // Records (H100 and H200): ..._sm80_flash_fprop_wmma_f16_knob_35_16x128x128_1x4x1 with a lean_reduction_kernel
  // after it at batch 8, 8 KV heads, 2048 tokens; alone at batch 16 (128 packed tiles >= 0.8 x 132) and at
  // 512 tokens (4 K/V tiles).
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost split = attention_cost(shape(8, 32, 8, 1, 2048, 128, false), AttentionKernel::cudnn,
                                             Precision::bf16, Precision::bf16, h);
  CHECK(split.block_q == 16);
  CHECK(split.block_kv == 128);
  CHECK_FALSE(split.softmax_overlapped);  // mma.sync, serial softmax
  CHECK(split.splits > 1);
  CHECK(split.kernels == 2);
  // Packed: the 4 query heads of a KV head share one 16-row tile; executed 16 x 128 tiles, 16 per head slot.
  CHECK(split.flops == 8.0 * 8 * 16 * 4 * 128 * 16 * 128);
  CHECK(attention_cost(shape(16, 32, 8, 1, 2048, 128, false), AttentionKernel::cudnn, Precision::bf16, Precision::bf16, h)
            .splits == 1);
  CHECK(attention_cost(shape(8, 32, 8, 1, 512, 128, false), AttentionKernel::cudnn, Precision::bf16, Precision::bf16, h)
            .splits == 1);
  // Head dim 96 runs the 128-wide kernels (records: ..._16x128x128 decode, ..._64x128x128 prefill): the
  // executed FLOPs are head_dim 128's, the bytes 96's. FlashAttention-2 has a 96-wide kernel.
  for (const std::int64_t q : {std::int64_t(1), std::int64_t(2048)}) {
    CAPTURE(q);
    const AttentionCost c96 = attention_cost(shape(8, 32, 8, q, 2048, 96, q > 1), AttentionKernel::cudnn,
                                             Precision::bf16, Precision::bf16, h);
    const AttentionCost c128 = attention_cost(shape(8, 32, 8, q, 2048, 128, q > 1), AttentionKernel::cudnn,
                                              Precision::bf16, Precision::bf16, h);
    CHECK(c96.flops == c128.flops);
    CHECK(c96.bytes.kv_read_bytes == ROOFLINE_APPROX(c128.bytes.kv_read_bytes * 96.0 / 128.0));
    CHECK(c96.useful_flops == ROOFLINE_APPROX(c128.useful_flops * 96.0 / 128.0));
    const AttentionCost f96 = attention_cost(shape(8, 32, 8, q, 2048, 96, q > 1), AttentionKernel::fa2,
                                             Precision::bf16, Precision::bf16, h);
    const AttentionCost f128 = attention_cost(shape(8, 32, 8, q, 2048, 128, q > 1), AttentionKernel::fa2,
                                              Precision::bf16, Precision::bf16, h);
    REQUIRE(f96.block_q == f128.block_q);
    REQUIRE(f96.block_kv == f128.block_kv);
    REQUIRE(f96.splits == f128.splits);
    CHECK(f96.flops == ROOFLINE_APPROX(f128.flops * 96.0 / 128.0));
  }
  // Prefill stays the sm_90 warp-specialised kernel; Blackwell decode is not measured and stays FA3-class.
  const AttentionCost prefill = attention_cost(shape(1, 32, 8, 2048, 2048, 128, true), AttentionKernel::cudnn,
                                               Precision::bf16, Precision::bf16, h);
  CHECK(prefill.softmax_overlapped);
  const AttentionCost b200 = attention_cost(shape(8, 32, 8, 1, 2048, 128, false), AttentionKernel::cudnn,
                                            Precision::bf16, Precision::bf16, hardware().get("b200"));
  CHECK(b200.block_q == 128);
}

TEST_CASE("golden: FlashAttention-3 decode packs the GQA group and splits K/V") {
  // H100, B = 1, 32 query / 8 KV heads, 4096 cached tokens, d = 128, bf16: tile 128 × 176 (decode is not
  // causal); packing 4 heads raises tile efficiency 1/128 -> 4/128. 8 m-blocks, ceil(4096/176) = 24 K/V
  // blocks; eligible splits 1 2 3 4 5 6 8 12 24 with efficiencies (8s/132)/ceil: best .727 at 12 and 24; the
  // smallest >= .85 · .727 is 12 (hopper/heuristics.h).
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost c = attention_cost(shape(1, 32, 8, 1, 4096, 128, false), AttentionKernel::fa3, Precision::bf16,
                                         Precision::bf16, h);
  REQUIRE(c.supported);
  CHECK(c.block_q == 128);
  CHECK(c.block_kv == 176);
  CHECK(c.splits == 12);
  CHECK(c.ctas == 96);
  // K + V once per KV head 16,777,216 B; Q, O 8,192 B; partials 12 · 32 · 129 · 4 = 198,144 B both ways.
  CHECK(c.bytes.total() == 16777216.0 + 2 * 8192.0 + 2 * 198144.0);
  // Executed: 8 (b, kv head) × 24 tiles of 128 × 176 rows × keys: 8 · 24 · 4 · 128 · 128 · 176 = 2,214,592,512.
  CHECK(c.flops == 2214592512.0);
  CHECK(c.kernel_class == KernelClass::attention_decode);
}

TEST_CASE("the softmax term: exponentials at 16 per SM per clock, overlapped in FA2 prefill only between blocks") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  // 67e12 FLOP/s fp32 / 2 / (128 FMA lanes / 16) = 4.1875e12 exp/s; A100: 19.5e12 / 2 / (64 / 16) = 2.4375e12.
  CHECK(special_function_ops_per_s(h) == ROOFLINE_APPROX(4.1875e12));
  CHECK(special_function_ops_per_s(hardware().get("a100_sxm_80gb")) == ROOFLINE_APPROX(2.4375e12));
  // FA2 causal 256 × 256, one head, d = 128: 4 m-blocks of 64 < 211 slots, so FlashAttention-2 splits K/V in
  // 2 and runs its split kernel (64 × 128 tiles): query block b sees ceil((64b + 64)/128) = 1, 1, 2, 2 tiles,
  // 6 tiles = 49,152 score elements. Exponentials 49,152 · (1 + 1/128) = 49,536 -> 1.18295e-8 s; fp32 work
  // 49,152 · (3.5 + 128/128) = 221,184 ops / 33.5e12 = 6.6025e-9 s. Tensor: 25,165,824 FLOPs at
  // 989.5e12 · 2/3 (mma.sync on Hopper) = 3.8150e-8 s.
  const AttentionCost c = attention_cost(shape(1, 1, 1, 256, 256, 128, true), AttentionKernel::fa2, Precision::bf16,
                                         Precision::bf16, h);
  CHECK(c.splits == 2);
  CHECK(c.block_kv == 128);
  CHECK(c.flops == 25165824.0);
  CHECK(c.exp_ops == ROOFLINE_APPROX(49536.0));
  CHECK(c.alu_ops == ROOFLINE_APPROX(221184.0));
  CHECK(c.softmax_s == ROOFLINE_APPROX(1.18295e-8).epsilon(1e-4));
  CHECK(c.tensor_s == ROOFLINE_APPROX(3.8150e-8).epsilon(1e-4));
  // Prefill: two blocks per SM overlap one's softmax with the other's MMAs (compute term = the larger), but
  // the largest block alone on an SM runs serially: its 1 tile of 6 (split in two) at the sum.
  CHECK(c.softmax_overlapped);
  CHECK(c.compute_flops == ROOFLINE_APPROX(3.8150e-8 * 989.5e12).epsilon(1e-4));
  CHECK(c.lone_cta_flops == ROOFLINE_APPROX((3.8150e-8 + 1.18295e-8) * 989.5e12 / 6.0).epsilon(1e-4));
  // Decode keeps the serial sum (and no lone bound).
  const AttentionCost dec = attention_cost(shape(8, 32, 8, 1, 4096, 128, false), AttentionKernel::fa2, Precision::bf16,
                                           Precision::bf16, h);
  CHECK_FALSE(dec.softmax_overlapped);
  CHECK(dec.lone_cta_flops == 0);
  CHECK(dec.compute_flops == ROOFLINE_APPROX((dec.tensor_s + dec.softmax_s) * 989.5e12).epsilon(1e-6));
  // FA3 on the same prefill shape overlaps within a block (warp specialisation): no lone bound.
  const AttentionCost f3 = attention_cost(shape(1, 1, 1, 256, 256, 128, true), AttentionKernel::fa3, Precision::bf16,
                                          Precision::bf16, h);
  CHECK(f3.softmax_overlapped);
  CHECK(f3.lone_cta_flops == 0);
  CHECK(f3.compute_flops == ROOFLINE_APPROX(std::max(f3.tensor_s, f3.softmax_s) * 989.5e12));
}

TEST_CASE("FA2 prefill: one wave of lone blocks is bound by the serial softmax, full waves by the overlap") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  // 66 heads of 128 tokens (non-causal): one 128-row block each (one K/V block: nothing to split), one per SM
  // on 66 SMs. Each runs alone: the compute term is one block's tensor and softmax time in series.
  const Op lone = attention_op(shape(1, 66, 66, 128, 128, 128, false), AttentionKernel::fa2, Precision::bf16,
                               Precision::bf16, h);
  const AttentionCost lc = attention_cost(shape(1, 66, 66, 128, 128, 128, false), AttentionKernel::fa2,
                                          Precision::bf16, Precision::bf16, h);
  REQUIRE(lc.ctas == 66);
  const KernelParams& p = cal.params(param_key(lone));
  const double pe = h.peak_flop_per_s(MathPath::tc_16bit) * p.compute_efficiency_fraction;
  const Prediction pl = predict(lone, h, cal);
  CHECK(pl.compute_s == ROOFLINE_APPROX((lc.tensor_s + lc.softmax_s) / 66.0 * 132.0 * 989.5e12 / pe).epsilon(1e-6));
  // 32 heads of the same: 2112 blocks, 8 full waves of 264: the overlap (smooth maximum) sets the term,
  // below the serial sum.
  const Op full = attention_op(shape(1, 32, 32, 8448, 8448, 128, false), AttentionKernel::fa2, Precision::bf16,
                               Precision::bf16, h);
  const AttentionCost fc = attention_cost(shape(1, 32, 32, 8448, 8448, 128, false), AttentionKernel::fa2,
                                          Precision::bf16, Precision::bf16, h);
  const Prediction pf = predict(full, h, cal);
  CHECK(pf.compute_s < (fc.tensor_s + fc.softmax_s) * 989.5e12 / pe);
  CHECK(pf.compute_s >= fc.tensor_s * 989.5e12 / pe);
}

TEST_CASE("FA2 causal prefill off the grid of its square tiles runs one more tile per query block") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  auto fa2 = [&](std::int64_t tokens, std::int64_t d, bool causal) {
    return attention_cost(shape(6, 32, 32, tokens, tokens, d, causal), AttentionKernel::fa2, Precision::bf16,
                          Precision::bf16, h);
  };
  // head_dim 64: 128 x 128 tiles. 896 tokens (on the grid): 7 query blocks, 1 + 2 + ... + 7 = 28 tiles per head.
  // 769 tokens: the same 7 blocks and 28 tiles covered, plus one per block for the ragged kernel: 35.
  const double tile64 = 4.0 * 64 * 128 * 128;
  CHECK(fa2(896, 64, true).flops == ROOFLINE_APPROX(6 * 32 * 28 * tile64));
  CHECK(fa2(769, 64, true).flops == ROOFLINE_APPROX(6 * 32 * 35 * tile64));
  // head_dim 128: 128 x 64 tiles (no ragged term); 800 tokens: 7 blocks, visible min(2b + 2, 13) tiles = 55.
  const double tile128 = 4.0 * 128 * 128 * 64;
  CHECK(fa2(768, 128, true).flops == ROOFLINE_APPROX(6 * 32 * (2 + 4 + 6 + 8 + 10 + 12) * tile128));
  CHECK(fa2(800, 128, true).flops == ROOFLINE_APPROX(6 * 32 * (2 + 4 + 6 + 8 + 10 + 12 + 13) * tile128));
  // Non-causal ragged lengths cost their tiles only (the probe: 0.92-1.01x of the tile count's time).
  CHECK(fa2(769, 64, false).flops == ROOFLINE_APPROX(6 * 32 * 7 * 7 * tile64));
}

TEST_CASE("FlashAttention-4 on sm_100: two query tiles per CTA, software exp2, no routine O rescaling") {
  const HardwareSpec& b200 = hardware().get("b200");
  const AttentionCost c = attention_cost(shape(1, 32, 8, 8192, 8192, 128, true), AttentionKernel::fa4, Precision::bf16,
                                         Precision::bf16, b200);
  REQUIRE(c.supported);
  CHECK(c.block_q == 128);
  CHECK(c.block_kv == 128);
  // Packed GQA: 8192 · 4 rows per KV head in CTAs of 2 · 128 rows: 128 per KV head, 1024 in all.
  CHECK(c.ctas == 1024);
  CHECK(c.softmax_overlapped);
  // 12.5% of exponentials emulated (causal, hd 128): exp_ops = elements · (0.875 + 1/128); fp32 work
  // elements · (3.5 + 0.125 · 9), no O rescaling for 16-bit inputs.
  const double elements = c.flops / (4.0 * 128);
  CHECK(c.exp_ops == ROOFLINE_APPROX(elements * (0.875 + 1.0 / 128)));
  CHECK(c.alu_ops == ROOFLINE_APPROX(elements * (3.5 + 0.125 * 9)));
  // The sm_90 path of the same package is FA3-class: one query tile per CTA, 128 × 128 tiles at hd 128.
  const AttentionCost h = attention_cost(shape(1, 32, 8, 8192, 8192, 128, true), AttentionKernel::fa4, Precision::bf16,
                                         Precision::bf16, hardware().get("h100_sxm"));
  CHECK(h.ctas == 2048);
  CHECK(h.block_kv == 128);
}

TEST_CASE("versions a GPU cannot run are refused with the reason") {
  const AttentionShape s = shape(1, 32, 8, 2048, 2048, 128, true);
  auto refused = [&](const char* gpu, AttentionKernel k, Precision p) {
    const AttentionCost c = attention_cost(s, k, p, p, hardware().get(gpu));
    CAPTURE(gpu);
    CAPTURE(to_string(k));
    CHECK_FALSE(c.supported);
    CHECK_FALSE(c.reason.empty());
    return c.reason;
  };
  CHECK(refused("a100_sxm_80gb", AttentionKernel::fa3, Precision::bf16).find("sm_80") != std::string::npos);
  CHECK(refused("gb10", AttentionKernel::fa3, Precision::bf16).find("sm_121") != std::string::npos);
  CHECK(refused("b200", AttentionKernel::fa3, Precision::bf16).find("use fa4 or cudnn") != std::string::npos);
  CHECK(refused("a100_sxm_80gb", AttentionKernel::fa4, Precision::bf16).find("use fa2") != std::string::npos);
  CHECK(refused("gb10", AttentionKernel::fa4, Precision::bf16).find("FA2-class") != std::string::npos);
  CHECK(refused("h100_sxm", AttentionKernel::fa4, Precision::fp8_e4m3) ==
        "FlashAttention-4's fp8 path exists only on sm_100; h100_sxm is sm_90");
  CHECK(refused("h100_sxm", AttentionKernel::fa2, Precision::fp8_e4m3) ==
        "FlashAttention-2 computes in fp16/bf16 only (no fp8 path)");
  CHECK(refused("h100_sxm", AttentionKernel::fa3, Precision::fp8_e5m2) == "FlashAttention-3's fp8 path is e4m3 only");
  CHECK(refused("a100_sxm_80gb", AttentionKernel::sage_int8_fp8, Precision::bf16).find("sm_89") != std::string::npos);
  CHECK(refused("h100_sxm", AttentionKernel::q2fp8, Precision::bf16).find("decode kernel") != std::string::npos);
  // Supported: FA3 bf16 and e4m3 on Hopper, FA4 bf16 on Hopper and fp8 on B200, FA2 everywhere.
  for (const auto& [name, hw] : hardware().all()) CHECK(attention_cost(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, hw).supported);
  CHECK(attention_cost(s, AttentionKernel::fa3, Precision::fp8_e4m3, Precision::fp8_e4m3, hardware().get("h200_sxm")).supported);
  CHECK(attention_cost(s, AttentionKernel::fa4, Precision::bf16, Precision::bf16, hardware().get("h100_pcie")).supported);
  CHECK(attention_cost(s, AttentionKernel::fa4, Precision::fp8_e4m3, Precision::fp8_e4m3, hardware().get("b200")).supported);
}

TEST_CASE("block sparsity: supported by FA1 and FA4 only, and it removes the skipped blocks' work and bytes") {
  const HardwareSpec& b200 = hardware().get("b200");
  const AttentionShape s = shape(1, 32, 8, 8192, 8192, 128, false);
  AttentionOptions sparse;
  sparse.block_sparse = true;
  sparse.skip_fraction = 0.5;
  const AttentionCost dense = attention_cost(s, AttentionKernel::fa4, Precision::bf16, Precision::bf16, b200);
  const AttentionCost half = attention_cost(s, AttentionKernel::fa4, Precision::bf16, Precision::bf16, b200, sparse);
  REQUIRE(half.supported);
  CHECK(half.flops == ROOFLINE_APPROX(dense.flops * 0.5));
  CHECK(half.useful_flops == ROOFLINE_APPROX(dense.useful_flops * 0.5));
  CHECK(half.bytes.kv_read_bytes == ROOFLINE_APPROX(dense.bytes.kv_read_bytes * 0.5));
  CHECK(half.bytes.scales_bytes > 0);  // block index lists
  for (AttentionKernel k : {AttentionKernel::fa2, AttentionKernel::cudnn, AttentionKernel::unfused}) {
    const AttentionCost c = attention_cost(s, k, Precision::bf16, Precision::bf16, b200, sparse);
    CHECK_FALSE(c.supported);
    CHECK(c.reason.find("no block-sparse mode") != std::string::npos);
  }
  CHECK_FALSE(attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, hardware().get("h100_sxm"), sparse).supported);
  // FlashAttention-4 does not split block-sparse decode: one CTA per (batch, KV head).
  const AttentionCost d = attention_cost(shape(1, 32, 8, 1, 32768, 128, false), AttentionKernel::fa4, Precision::bf16,
                                         Precision::bf16, b200, sparse);
  CHECK(d.splits == 1);
  CHECK(d.ctas == 8);
  AttentionOptions forced = sparse;
  forced.split_kv = 4;
  CHECK_FALSE(attention_cost(shape(1, 32, 8, 1, 32768, 128, false), AttentionKernel::fa4, Precision::bf16,
                             Precision::bf16, b200, forced).supported);
}

TEST_CASE("golden: the seeds' pruned decode bytes (kernels.md, decode_cost.hpp)") {
  // B = 1, 32/8 heads, 4096 tokens, d = 128. q2fp8 dense (skip 0): per token per KV head 32 (2-bit K) + 128
  // (e5m2 residual) + 256 (V) = 416 B: 8 · 4096 · 416 = 13,631,488 B, plus fp32 scale and zero per channel
  // 8 · 128 · 8 = 8,192 B, the keep mask 8 · 64 = 512 B, q and output 8,192 B each.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionShape s = shape(1, 32, 8, 1, 4096, 128, false);
  AttentionOptions one_split;
  one_split.split_kv = 1;
  const AttentionCost q2 = attention_cost(s, AttentionKernel::q2fp8, Precision::bf16, Precision::bf16, h, one_split);
  CHECK(q2.bytes.kv_read_bytes == 13631488.0);
  CHECK(q2.bytes.scales_bytes == 8192.0);
  CHECK(q2.bytes.total() == 13631488.0 + 8192.0 + 512.0 + 2 * 8192.0);
  CHECK(q2.kernels == 1);
  // 90% skipped: 32 + 0.1 · 384 = 70.4 B per token per KV head.
  AttentionOptions skip = one_split;
  skip.skip_fraction = 0.9;
  const AttentionCost q2s = attention_cost(s, AttentionKernel::q2fp8, Precision::bf16, Precision::bf16, h, skip);
  CHECK(q2s.bytes.kv_read_bytes == ROOFLINE_APPROX(8 * 4096 * 70.4));
  // fp8fp8 dense moves as many K/V bytes as bf16 (128 + 128 + 256 = 512 B per token per KV head).
  const AttentionCost f8 = attention_cost(s, AttentionKernel::fp8fp8, Precision::bf16, Precision::bf16, h, one_split);
  CHECK(f8.bytes.kv_read_bytes == 16777216.0);
  // Split plan (decode_args.hpp): round(2 · 132 / 8) = 33 splits, at most 64 sub-blocks / 4 = 16 and at most
  // floor(0.125 · 4096 · 8 · 32 / (32 · 130 · 4)) = 7 partial-bounded; 64 / 7 -> 10 sub-blocks per split -> 7 splits.
  const AttentionCost planned = attention_cost(s, AttentionKernel::q2fp8, Precision::bf16, Precision::bf16, h);
  CHECK(planned.splits == 7);
  CHECK(planned.kernels == 2);
}

TEST_CASE("SageAttention: int8 QK^T, 16-bit or fp8 PV, a quantisation kernel") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionShape s = shape(1, 8, 8, 1024, 1024, 128, false);
  const AttentionCost c = attention_cost(s, AttentionKernel::sage_int8_fp16, Precision::bf16, Precision::bf16, h);
  REQUIRE(c.supported);
  CHECK(c.math == MathPath::tc_int8);
  CHECK(c.kernels == 2);
  // Main kernel: int8 Q (8 · 1024 · 128 = 1,048,576 B), int8 K + fp16 V (3 B per element: 3,145,728 B) and one
  // fp32 scale per 64 keys (8 · 16 · 4 = 512 B); quantisation kernel reads Q and K in bf16 (4,194,304 B).
  CHECK(c.bytes.kv_read_bytes == 3145728.0 + 512.0);
  CHECK(c.bytes.activations_read_bytes == 1048576.0 + 2097152.0 + 2097152.0);
  // The fp8 PV variant needs fp8 tensor cores; its PV runs at the fp8 rate, so its compute term is smaller.
  const AttentionCost f = attention_cost(s, AttentionKernel::sage_int8_fp8, Precision::bf16, Precision::bf16, h);
  CHECK(f.tensor_s < c.tensor_s);
}

TEST_CASE("the unfused path materialises S and P") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost c = attention_cost(shape(1, 4, 1, 512, 512, 64, true), AttentionKernel::unfused, Precision::bf16,
                                         Precision::bf16, h);
  // Scores 4 · 512 · 512 = 1,048,576; S and P 16-bit, each written and read: 8,388,608 B; workspace 4 MB.
  // K, V expanded from 1 to 4 heads: written and read 4 · 512 · 64 · 2 · 2 = 524,288 B each way.
  CHECK(c.workspace_bytes == 4194304.0);
  CHECK(c.kernels == 4);
  const double qo = 4 * 512 * 64 * 2.0;
  const double kv = 512 * 64 * 2 * 2.0;
  CHECK(c.bytes.total() == ROOFLINE_APPROX(2 * qo + kv + 2 * 524288.0 + 8388608.0));
  CHECK(c.flops == 4.0 * 64 * 1048576);  // the masked half is computed too
}

TEST_CASE("invariants over every profile: FA2 never slower than FA1, fused never more bytes than unfused") {
  int checked = 0;
  for (const auto& [name, hw] : hardware().all()) {
    for (std::int64_t batch : {1, 8}) {
      for (std::int64_t len : {128, 1000, 4096, 16384}) {
        for (bool decode : {true, false}) {
          for (bool causal : {false, true}) {
            for (std::int64_t d : {64, 128}) {
              const AttentionShape s = shape(batch, 32, 8, decode ? 1 : len, len, d, causal && !decode);
              CAPTURE(name);
              CAPTURE(batch);
              CAPTURE(len);
              CAPTURE(decode);
              CAPTURE(d);
              const double fa1 = time_of(hw, s, AttentionKernel::fa1);
              const double fa2 = time_of(hw, s, AttentionKernel::fa2);
              CHECK(fa2 <= fa1);
              const AttentionCost f = attention_cost(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, hw);
              const AttentionCost u = attention_cost(s, AttentionKernel::unfused, Precision::bf16, Precision::bf16, hw);
              CHECK(f.bytes.total() <= u.bytes.total());
              CHECK(f.flops >= f.useful_flops);
              CHECK(f.compute_flops >= f.flops);
              ++checked;
            }
          }
        }
      }
    }
  }
  CHECK(checked == 6 * 2 * 4 * 2 * 2 * 2);
}

TEST_CASE("invariant: decode time grows with context for every kernel on every GPU") {
  // At a fixed K/V decomposition (one split) time never falls as the context grows. With the kernels' own
  // split heuristics a short context can be slower than a slightly longer one that the heuristic splits:
  // FA3 / FA4 never split 4 or fewer K/V blocks (hopper/heuristics.h), so 486 tokens run on 8 thread
  // blocks and 729 tokens on 48. Below 8192 tokens the automatic time may fall up to 25% under the slowest
  // shorter context; from 8192 tokens on it never falls.
  const AttentionKernel kernels[] = {AttentionKernel::fa2,   AttentionKernel::fa3,   AttentionKernel::fa4,
                                     AttentionKernel::cudnn, AttentionKernel::splitkv_bf16, AttentionKernel::q2fp8,
                                     AttentionKernel::fp8fp8};
  AttentionOptions one_split;
  one_split.split_kv = 1;
  for (const auto& [name, hw] : hardware().all()) {
    for (AttentionKernel k : kernels) {
      if (!attention_cost(shape(1, 32, 8, 1, 64, 128, false), k, Precision::bf16, Precision::bf16, hw).supported) continue;
      for (std::int64_t batch : {1, 4, 64}) {
        double previous_fixed = 0, slowest_auto = 0;
        for (std::int64_t ctx = 64; ctx <= 262144; ctx = ctx * 3 / 2) {
          const AttentionShape s = shape(batch, 32, 8, 1, ctx, 128, false);
          CAPTURE(name);
          CAPTURE(std::string(to_string(k)));
          CAPTURE(batch);
          CAPTURE(ctx);
          const double fixed = time_of(hw, s, k, Precision::bf16, one_split);
          CHECK(fixed >= previous_fixed * (1 - 1e-9));
          previous_fixed = fixed;
          const double automatic = time_of(hw, s, k);
          CHECK(automatic >= (ctx > 8192 ? 1 - 1e-9 : 0.75) * slowest_auto);
          slowest_auto = std::max(slowest_auto, automatic);
        }
      }
    }
  }
}

TEST_CASE("the FlashAttentionRoofline predicts through the calibrated roofline") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  Calibration cal = Calibration::priors(h);
  const FlashAttentionRoofline prior(h, cal);
  FlashAttentionConfig c;  // FA2, bf16
  const FlashAttentionMetrics a = prior.predict(1, 32, 8, 1, 32768, 128, false, c);
  REQUIRE(a.supported);
  CHECK(a.bound == Bound::memory);
  CHECK(a.bottleneck == "memory");
  CHECK(a.predicted_time_s == ROOFLINE_APPROX(predict(a.op, h, cal).time_s));
  // Halving the calibrated memory efficiency of (attention_decode, tc_16bit, fa2) doubles the memory term
  // (beyond the combine's serial steps over the splits, which do not stream).
  const ParamKey key{KernelClass::attention_decode, MathPath::tc_16bit, AttentionKernel::fa2};
  KernelParams p = cal.params(key);
  const double serial = a.op.serial_steps * p.serial_step_s;
  REQUIRE(a.op.serial_steps > 0);
  p.memory_efficiency_fraction /= 2;
  cal.set(key, p);
  const FlashAttentionMetrics b = FlashAttentionRoofline(h, cal).predict(1, 32, 8, 1, 32768, 128, false, c);
  CHECK(b.prediction.memory_s - serial == ROOFLINE_APPROX(2 * (a.prediction.memory_s - serial)));
  CHECK(b.predicted_time_s > a.predicted_time_s);
  // The seed's example: FA3 with fp8 on GB10 is refused (no wgmma on sm_121).
  FlashAttentionConfig seed;
  seed.version = FlashAttentionVersion::FA3;
  seed.qkv_precision = Precision::fp8_e4m3;
  seed.kv_cache_precision = parse_precision("NVFP4_KV");
  seed.use_native_fp8 = true;
  const FlashAttentionMetrics g = FlashAttentionRoofline(hardware().get("gb10")).predict(1, 32, 32, 1, 4096, 128, false, seed);
  CHECK_FALSE(g.supported);
  CHECK(g.reason.find("sm_121") != std::string::npos);
  // use_native_fp8 off: fp8 storage, 16-bit math.
  FlashAttentionConfig stored = seed;
  stored.use_native_fp8 = false;
  const FlashAttentionMetrics s = prior.predict(1, 32, 8, 1, 4096, 128, false, stored);
  REQUIRE(s.supported);
  CHECK(s.op.math == MathPath::tc_16bit);
  CHECK_THROWS_AS(prior.predict(1, 32, 8, 1, 4096, 128, false, FlashAttentionConfig{.sparsity_ratio = 1.5}),
                  InvalidArgumentError);
  CHECK_THROWS_AS(prior.predict(1, 32, 6, 1, 4096, 128, false, c), InvalidArgumentError);
}

TEST_CASE("compare_fa_versions lists the unfused path, FA1-FA4 (refusals with reasons) and the variants") {
  const HardwareSpec& a100 = hardware().get("a100_sxm_80gb");
  const FlashAttentionRoofline r(a100, Calibration::priors(a100));
  const auto rows = compare_fa_versions(r, shape(1, 32, 8, 1, 8192, 128, false), true, 0.9);
  std::set<std::string> names;
  for (const auto& m : rows) {
    names.insert(m.name);
    if (!m.supported) CHECK_FALSE(m.reason.empty());
    if (m.supported) CHECK(m.predicted_time_s > 0);
  }
  for (const char* n : {"unfused", "fa1", "fa2", "fa3", "fa4", "cudnn", "splitkv_bf16", "q2fp8", "fp8fp8", "sage_int8_fp16"})
    CHECK(names.count(n) == 1);
  CHECK(names.count("fa3_fp8") == 0);  // A100 has no fp8 tensor cores: not listed as an fp8 option
  CHECK(parse_flash_attention_version("FA3") == FlashAttentionVersion::FA3);
  CHECK_THROWS_AS(parse_flash_attention_version("fa5"), UnknownNameError);
}

TEST_CASE("in-order dispatch of causal blocks: the closed form against a simulation of the scheduler") {
  // Greedy dispatch in grid order (each free slot takes the next block; FlashAttention-2's grid is (query
  // blocks, batch, heads), m_block = blockIdx.x), each head's blocks shortest first, 264 slots = 132 SMs × 2
  // co-resident blocks at half an SM's rate each. The simulated makespan against in_order_makespan_tiles.
  constexpr int sms = 132, per_sm = 2, slots = sms * per_sm;
  auto simulate = [&](std::int64_t heads, const std::vector<double>& blocks) {
    const std::int64_t n = heads * std::int64_t(blocks.size());
    const double largest = *std::max_element(blocks.begin(), blocks.end());
    if (n <= sms) return largest;
    if (n <= slots) return largest * double(n) / sms;
    std::vector<double> finish(slots, 0.0);  // min-heap of slot finish times
    std::make_heap(finish.begin(), finish.end(), std::greater<>());
    for (std::int64_t h = 0; h < heads; ++h)
      for (double t : blocks) {
        std::pop_heap(finish.begin(), finish.end(), std::greater<>());
        finish.back() += t;
        std::push_heap(finish.begin(), finish.end(), std::greater<>());
      }
    return *std::max_element(finish.begin(), finish.end()) * per_sm;  // a slot runs at 1 / per_sm
  };
  std::vector<double> errors;
  for (const std::int64_t seq : {300, 777, 1500, 2048, 4100, 9000}) {
    for (const std::int64_t heads : {3, 8, 24, 64, 200}) {
      // 128-row query blocks over 64-key tiles: block i sees 2·(i + 1) tiles (at most the whole sequence).
      const std::int64_t m = (seq + 127) / 128, kv_tiles = (seq + 63) / 64;
      std::vector<double> blocks;
      double total = 0;
      for (std::int64_t i = 0; i < m; ++i) {
        blocks.push_back(double(std::min(kv_tiles, 2 * (i + 1))));
        total += blocks.back();
      }
      total *= double(heads);
      const double largest = blocks.back();
      const double closed = in_order_makespan_tiles(total, largest, heads * m, per_sm, sms);
      const double sim = simulate(heads, blocks);
      CAPTURE(seq);
      CAPTURE(heads);
      CHECK(closed >= total / sms * (1 - 1e-12));  // never below the even share
      CHECK(closed >= largest);
      CHECK(closed == doctest::Approx(sim).epsilon(0.15));
      errors.push_back(std::fabs(closed / sim - 1));
    }
  }
  std::sort(errors.begin(), errors.end());
  CHECK(errors[errors.size() / 2] < 0.03);  // median within 3% of the simulated schedule
}

TEST_CASE("FlashAttention-2 causal prefill: few long blocks are predicted no faster than their heaviest block shared") {
  // 7 sequences × 1 head of 3657 tokens at head_dim 96: 7 × 29 = 203 blocks on 132 SMs, 71 SMs run two.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const AttentionCost c = attention_cost(shape(7, 1, 1, 3657, 3657, 96, true), AttentionKernel::fa2, Precision::bf16,
                                         Precision::bf16, h, AttentionOptions{});
  // Largest block: all 58 key tiles (64 keys) of the last query block; total 7 · Σ min(58, 2(i + 1)) (3657 is
  // off the tile grid, but 128 x 64 tiles carry no ragged-kernel term).
  double total = 0;
  for (int i = 0; i < 29; ++i) total += std::min(58, 2 * (i + 1));
  total *= 7;
  CHECK(c.ctas == 203);
  CHECK(c.max_cta_flops / c.compute_flops == ROOFLINE_APPROX(58.0 * 203.0 / 132.0 / total));
}

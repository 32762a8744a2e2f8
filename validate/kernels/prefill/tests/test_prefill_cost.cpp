#include <doctest/doctest.h>

#include "../prefill_cost.hpp"
#include "roofline/errors.hpp"

using namespace roofline;
using namespace roofline::validate::prefill;

TEST_CASE("nominal FLOPs follow the kernels.md convention") {
  // 4·B·Hq·Sq·Skv·D = 4 · 1 · 32 · 4096 · 4096 · 128 = 274877906944; causal halves it.
  PrefillShape s{.batch = 1, .q_heads = 32, .kv_heads = 8, .q_len = 4096, .kv_len = 4096, .head_dim = 128};
  CHECK(nominal_attention_flops(s) == 274877906944.0);
  s.causal = true;
  CHECK(nominal_attention_flops(s) == 137438953472.0);
}

TEST_CASE("allowed pairs of a bottom-right causal mask") {
  // Sq = Skv = 4: rows see 1, 2, 3, 4 keys = 10 pairs.
  CHECK(allowed_pairs({.q_len = 4, .kv_len = 4, .causal = true}) == 10.0);
  // Sq = 2, Skv = 5: the two queries are the last two positions; they see 4 and 5 keys = 9 pairs.
  CHECK(allowed_pairs({.q_len = 2, .kv_len = 5, .causal = true}) == 9.0);
  CHECK(allowed_pairs({.q_len = 2, .kv_len = 5, .causal = false}) == 10.0);
}

TEST_CASE("key tiles visited by a packed GQA query tile") {
  // G = 4 heads per KV head, block_m = 128 packed rows = 32 tokens; block_n = 64 keys; Sq = Skv = 256.
  PrefillShape s{.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 256, .kv_len = 256, .head_dim = 64, .causal = true};
  const PrefillTiling t{128, 64};
  // Tile m holds tokens 32m .. 32m + 31; its last key 32m + 31 lies in key tile (32m + 31) / 64.
  CHECK(key_tiles_visited(s, t, 0) == 1);
  CHECK(key_tiles_visited(s, t, 1) == 1);
  CHECK(key_tiles_visited(s, t, 2) == 2);
  CHECK(key_tiles_visited(s, t, 7) == 4);
  s.causal = false;
  CHECK(key_tiles_visited(s, t, 0) == 4);
  // Sq = 64 < Skv = 256, causal: tokens sit at positions 192..255; tile 0 (tokens 0..31) sees keys up
  // to 31 + 192 = 223, i.e. key tiles 0..3.
  s = {.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 64, .kv_len = 256, .head_dim = 64, .causal = true};
  CHECK(key_tiles_visited(s, t, 0) == 4);
}

TEST_CASE("fa2_mma cost of a small shape, worked by hand") {
  // B=1, HQ=2, HKV=1 (G=2), Sq=Skv=128, D=64: 256 packed rows = 2 query tiles of 128, 2 key tiles each.
  const PrefillShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 128, .kv_len = 128, .head_dim = 64};
  const PrefillCost c = prefill_cost(PrefillKernel::fa2_mma, s, {128, 64});
  CHECK(c.nominal_flops == 4.0 * 2 * 128 * 128 * 64);                     // 8388608
  CHECK(c.executed_flops == 4.0 * 128 * 64 * 64 * 4);                     // 4 tiles of 128×64, 4·D each
  CHECK(c.input_bytes == 2.0 * (128 * 2 * 64 + 2 * 128 * 64));            // fp16 Q + K + V = 65536
  CHECK(c.output_bytes == 2.0 * 128 * 2 * 64);                            // 32768
  CHECK(c.min_hbm_bytes == 65536.0 + 32768.0);
  CHECK(c.tile_load_bytes == 2 * (2.0 * 128 * 64) + 4 * (2.0 * 2 * 64 * 64));  // Q tiles + 4 K/V tile pairs = 98304
  CHECK(c.kernels == 1);
  CHECK(c.prologue.kernels == 0);
}

TEST_CASE("unfused cost counts S and P through memory") {
  // Same shape, tiles 64×64: S and P have B·HQ·Sq·Skv = 2·128·128 = 32768 elements. S written and
  // read in fp32 (2·4·32768), P written in fp16 (2·32768), P read once (4 row tiles × 2 key tiles of 64×64).
  const PrefillShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 128, .kv_len = 128, .head_dim = 64};
  const PrefillCost c = prefill_cost(PrefillKernel::unfused, s, {64, 64});
  CHECK(c.intermediate_bytes == 8.0 * 32768 + 2.0 * 32768 + 2.0 * 32768);  // 393216
  CHECK(c.kernels == 3);
  CHECK(c.min_hbm_bytes == c.input_bytes + c.output_bytes + c.intermediate_bytes);
}

TEST_CASE("quantised kernels read fewer bytes than fp16 and declare their prologue") {
  const PrefillShape s{.batch = 2, .q_heads = 32, .kv_heads = 8, .q_len = 1000, .kv_len = 1000, .head_dim = 128};
  const PrefillCost f16 = prefill_cost(PrefillKernel::fa2_mma, s, default_tiling(PrefillKernel::fa2_mma, 128));
  const PrefillCost i8 = prefill_cost(PrefillKernel::fa2_int8, s, default_tiling(PrefillKernel::fa2_int8, 128));
  const PrefillCost s8 = prefill_cost(PrefillKernel::sage_int8_fp8, s, default_tiling(PrefillKernel::sage_int8_fp8, 128));
  // fa2_int8: Q 2·1000·32·128 = 8192000 B, K 2·1000·8·128 = 2048000 B, V transposed with Skv padded to
  // 1024: 2·8·128·1024 = 2097152 B, row sums 4·(2·1000·32 + 2·1000·8) = 320000 B, params 24 B.
  CHECK(i8.input_bytes == 8192000.0 + 2048000.0 + 2097152.0 + 320000.0 + 24.0);
  CHECK(i8.input_bytes < f16.input_bytes);
  CHECK(s8.input_bytes < f16.input_bytes);
  CHECK(i8.prologue.kernels == 4);
  CHECK(s8.prologue.kernels == 5);
  CHECK(f16.prologue == QuantPrologueCost{});
}

TEST_CASE("executed FLOPs cover the useful ones; causal executes about half") {
  for (int seq : {1000, 4096}) {
    PrefillShape s{.batch = 1, .q_heads = 32, .kv_heads = 8, .q_len = seq, .kv_len = seq, .head_dim = 128};
    for (PrefillKernel k : all_prefill_kernels) {
      const PrefillTiling t = default_tiling(k, 128);
      s.causal = false;
      const PrefillCost full = prefill_cost(k, s, t);
      s.causal = true;
      const PrefillCost causal = prefill_cost(k, s, t);
      CHECK(full.executed_flops >= full.useful_flops);
      CHECK(causal.executed_flops >= causal.useful_flops);
      CHECK(causal.executed_flops < 0.6 * full.executed_flops);
      CHECK(full.useful_flops == full.nominal_flops);
    }
  }
}

TEST_CASE("shapes the kernels reject throw with the reason") {
  const PrefillTiling t{128, 64};
  CHECK_THROWS_AS(validate_prefill_shape({.head_dim = 96}, t), InvalidArgumentError);
  CHECK_THROWS_AS(validate_prefill_shape({.q_heads = 12, .kv_heads = 8}, t), InvalidArgumentError);
  CHECK_THROWS_AS(validate_prefill_shape({.q_len = 0}, t), InvalidArgumentError);
  CHECK_THROWS_WITH_AS(
      validate_prefill_shape({.batch = 1, .q_heads = 4, .kv_heads = 4, .q_len = 9, .kv_len = 8, .head_dim = 64, .causal = true}, t),
      "prefill shape {B=1 HQ=4 HKV=4 Sq=9 Skv=8 D=64 causal}: causal attention needs q_len <= kv_len (bottom-right aligned mask)",
      InvalidArgumentError);
  // G = 48/1 = 48 does not divide block_m = 128.
  CHECK_THROWS_AS(validate_prefill_shape({.q_heads = 48, .kv_heads = 1}, t), InvalidArgumentError);
  CHECK_NOTHROW(validate_prefill_shape({}, t));
}

TEST_CASE("kernel names are stable") {
  CHECK(to_string(PrefillKernel::fa2_mma) == "fa2_mma");
  CHECK(to_string(PrefillKernel::sage_int8_fp8) == "sage_int8_fp8");
  CHECK(to_string(PrefillKernel::unfused) == "unfused");
}

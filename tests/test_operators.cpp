#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cmath>
#include <map>
#include <string>

#include "roofline/engine.hpp"
#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"
#include "roofline/operators.hpp"
#include "roofline/roofline.hpp"
#include "roofline/workload.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;

TEST_CASE("golden: one bf16 GEMV on an H100 with the prior parameters") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Op op = gemm_op(GemmShape{1, 4096, 4096, 1}, Precision::bf16, Precision::bf16, h);
  // FLOPs 2·1·4096·4096 = 33,554,432. Bytes: W 4096·4096·2 = 33,554,432, x 1·4096·2 = 8,192, y 8,192.
  CHECK(op.flops == 33554432.0);
  CHECK(op.bytes.weights_bytes == 33554432.0);
  CHECK(op.bytes.total() == 33570816.0);
  const Calibration prior = Calibration::priors(h);
  const Prediction p = predict(op, h, prior);
  // The library's two choices (roofline.cpp): one kernel over the output tiles, or split-K + a reduction.
  // One kernel: M = 1 runs 8 × 64 tiles, ceil(1/8) · ceil(4096/64) = 64 CTAs; occupancy 64 / (132 · 0.5)
  // = 0.9697, so memory = 33,570,816 B / (3.35e12 B/s · 0.85 · 0.9697) = 12.158 µs; compute: one wave of
  // 2·8·64·(4096 + 128 of per-tile overhead) = 4,325,376 FLOP per CTA at 989.5e12 · 0.75 / 132 = 5.6222e12
  // FLOP/s per SM = 0.7693 µs; smooth max (p = 4) = 12.158 · (1 + (0.769/12.158)^4)^(1/4) = 12.158 µs;
  // + 3 µs fixed = 15.158 µs.
  // Split-K: 2 kernels (6 µs) + (33,570,816 + 2·2·4096·4 B of partials) / 2.8475e12 = 11.81 µs = 17.81 µs:
  // slower, so the single kernel is the prediction.
  CHECK(p.memory_s == ROOFLINE_APPROX(12.158e-6).epsilon(1e-3));
  CHECK(p.compute_s == ROOFLINE_APPROX(0.7693e-6).epsilon(1e-3));
  CHECK(p.time_s == ROOFLINE_APPROX(15.158e-6).epsilon(1e-3));
  CHECK(p.fixed_s == ROOFLINE_APPROX(3e-6));
  CHECK(p.bound == Bound::memory);
  CHECK(p.intensity_flop_per_byte == ROOFLINE_APPROX(33554432.0 / 33570816.0));
}

TEST_CASE("predict()'s one-pass GEMM tile search equals gemm_compute_s, the plain search, bit for bit") {
  // predict() takes the one-kernel compute time (max_split 1) or the split-K one (max_split 8) from a faster
  // search; on the chosen branch its compute_s must be exactly what gemm_compute_s gives.
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const KernelParams& kp = cal.params(ParamKey{KernelClass::gemm, MathPath::tc_16bit});
  int split = 0, checked = 0;
  for (std::int64_t m : {1, 3, 8, 15, 16, 17, 64, 100, 128, 129, 1000, 4096, 16384})
    for (std::int64_t n : {64, 1000, 4096, 14336, 128256})
      for (std::int64_t k : {256, 511, 4096, 14336}) {
        const GemmShape g{m, n, k, 1};
        const Op op = gemm_op(g, Precision::bf16, Precision::bf16, h);
        const Prediction pr = predict(op, h, cal);
        const bool split_k = pr.fixed_s > kp.fixed_s * op.kernels_per_instance * 1.5;
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        CHECK(pr.compute_s == gemm_compute_s(g, h.peak_flop_per_s(MathPath::tc_16bit), kp.compute_efficiency_fraction,
                                             h.sms(), split_k ? 8 : 1, kp.tile_overhead_k_elements));
        split += split_k;
        ++checked;
      }
  CHECK(checked == 13 * 5 * 4);
  CHECK(split > 0);  // both branches are exercised
  CHECK(split < checked);
}

TEST_CASE("golden: decode attention with GQA reads each K/V byte once per KV head") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  AttentionShape s{.batch = 1, .q_heads = 32, .kv_heads = 8, .q_len = 1, .kv_len = 4096, .head_dim = 128};
  const AttentionCost c = attention_cost(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, h);
  // K + V: 2 · 1 · 8 · 4096 · 128 · 2 B = 16,777,216 B (not ·32 query heads).
  CHECK(c.bytes.kv_read_bytes == 16777216.0);
  // Split-KV (FlashAttention-2's flash_api.cpp heuristic with 2 × 132 = 264 slots, "128 threads per
  // block"): 8 (batch · kv heads · 1 query block) < 0.8 · 264; 32 KV blocks of 128; efficiency of s splits
  // = (8s/264)/ceil(8s/264) = 8s/264 for s <= 32; best 0.970 at s = 32; s = 17..31 are not eligible (2 blocks
  // per split as with 16) and s <= 16 is below 0.85 · 0.970, so s = 32.
  CHECK(c.splits == 32);
  CHECK(c.ctas == 256);
  CHECK(c.kernels == 2);
  // Partials (out_accum fp32 + lse_accum fp32): 32 splits · 32 heads · (128 + 1) · 4 B = 528,384 B written
  // and read; Q and O 8,192 B each.
  CHECK(c.bytes.total() == ROOFLINE_APPROX(16777216.0 + 2 * 8192.0 + 2 * 528384.0));
  // Useful FLOPs: 4 · 128 · 32 · 4096 = 67,108,864.
  CHECK(c.useful_flops == 67108864.0);
}

TEST_CASE("golden: causal prefill counts visible pairs and executed tiles") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 256, .kv_len = 256, .head_dim = 128, .causal = true};
  // Visible pairs of a 256-token causal mask: 256·257/2 = 32,896; useful FLOPs 4·128·32,896.
  CHECK(visible_pairs(s) == 32896.0);
  const AttentionCost c = attention_cost(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, h);
  CHECK(c.useful_flops == 4.0 * 128 * 32896);
  // One head, 4 m-blocks of 64 rows < 0.8 · 264: FlashAttention-2 (flash_api.cpp, mha_fwd) splits K/V in 2
  // and runs its split kernel, tiles 64 × 128: query block b sees keys 0..64b+63, i.e. 1, 1, 2, 2 tiles:
  // executed = 4·128·64·128·6 = 25,165,824 FLOPs.
  CHECK(c.block_q == 64);
  CHECK(c.block_kv == 128);
  CHECK(c.splits == 2);
  CHECK(c.flops == 25165824.0);
  // The busiest SM carries one of the largest query block's two splits: 1 of the 6 executed tiles.
  CHECK(c.max_cta_flops == ROOFLINE_APPROX(c.compute_flops / 6.0));
  // A sliding window of 64 keys: row i sees min(i + 1, 64) keys: 64·65/2 + 192·64 = 14,368.
  s.window_tokens = 64;
  CHECK(visible_pairs(s) == 14368.0);
}

TEST_CASE("FA3 and FA4 are refused where the GPU cannot run them") {
  AttentionShape s{.batch = 1, .q_heads = 32, .kv_heads = 8, .q_len = 2048, .kv_len = 2048, .head_dim = 128, .causal = true};
  const AttentionCost a = attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, hardware().get("a100_sxm_80gb"));
  CHECK_FALSE(a.supported);
  CHECK(a.reason == "FlashAttention-3 needs Hopper wgmma and TMA (sm_90a); a100_sxm_80gb is sm_80 (its sm_8x build is an "
                   "FA2-class kernel: use fa2)");
  CHECK_FALSE(attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, hardware().get("gb10")).supported);
  CHECK_FALSE(attention_cost(s, AttentionKernel::fa4, Precision::bf16, Precision::bf16, hardware().get("gb10")).supported);
  CHECK(attention_cost(s, AttentionKernel::fa3, Precision::bf16, Precision::bf16, hardware().get("h100_sxm")).supported);
  CHECK_FALSE(attention_cost(s, AttentionKernel::fa2, Precision::fp8_e4m3, Precision::fp8_e4m3,
                             hardware().get("a100_sxm_80gb")).supported);
}

TEST_CASE("golden: a whole Llama-3-8B decode step, batch 1, 4096 cached tokens, bf16") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  StepConfig c;
  c.phase = Phase::decode;
  c.batch = 1;
  c.seq_len = 4096;
  const std::vector<Op> ops = build_step(models().get("llama3-8b"), c, h);
  std::map<OperatorType, double> weights, kv_read, instances;
  double kernels = 0;
  for (const Op& op : ops) {
    weights[op.type] += op.bytes.weights_bytes * op.instances;
    kv_read[op.type] += op.bytes.kv_read_bytes * op.instances;
    instances[op.type] += op.instances;
    kernels += double(op.kernels_per_instance) * op.instances;
  }
  // Weights: per layer (4096² + 2·1024·4096 + 4096² + 3·14336·4096) · 2 B = 436,207,616 B; ×32 =
  // 13,958,643,712; LM head 128256·4096·2 = 1,050,673,152 B.
  double total_weights = 0;
  for (auto& [t, b] : weights) total_weights += b;
  CHECK(total_weights == 13958643712.0 + 1050673152.0);
  CHECK(weights[OperatorType::FFN_GATE] == 32.0 * 14336 * 4096 * 2);
  // KV read: 32 layers · 2 · 8 heads · 4097 tokens (the new one included) · 128 · 2 B = 537,001,984 B.
  CHECK(kv_read[OperatorType::ATTENTION] == 537001984.0);
  CHECK(instances[OperatorType::RMSNORM] == 65);  // 2 per layer + final
  CHECK(instances[OperatorType::RESIDUAL] == 64);
  CHECK(instances[OperatorType::ATTENTION] == 32);
  // Kernels: embedding 1; per layer norm 2, q/k/v/o 4, rope 1, kv write 2, attention 2 (split-KV + combine),
  // residual 2, gate/up/down 3, activation 1 = 17; final norm 1, LM head 1 -> 1 + 32·17 + 2 = 547.
  CHECK(kernels == 547);
}

TEST_CASE("a step's interval: one kernel and shape adds linearly, distinct ones in quadrature, priors as one") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const ModelConfig& llama = models().get("llama3-8b");
  StepConfig c;
  c.phase = Phase::decode;
  c.batch = 8;
  c.seq_len = 2048;
  // GEMM and attention keys fitted (asymmetric bands), the elementwise and norm keys left at their priors.
  Calibration cal = Calibration::priors(h);
  for (const Op& op : build_step(llama, c, h)) {
    if (op.kernel != KernelClass::gemm && op.kernel != KernelClass::attention_decode) continue;
    KernelParams p = cal.params(param_key(op));
    p.provenance = Provenance::measured;
    p.interval_low_fraction = 0.93;
    p.interval_high_fraction = 1.12;
    cal.set(param_key(op), p);
  }
  const StepPrediction s = predict_step(llama, c, h, cal);
  // Reference from Llama-3-8B's shapes: q_proj and o_proj are both 4096 x 4096, k_proj and v_proj both
  // 1024 x 4096, gate and up both 14336 x 4096, the 65 RMSNorms and the 64 residual adds each one shape.
  auto group = [](OperatorType t) {
    switch (t) {
      case OperatorType::Q_PROJ:
      case OperatorType::O_PROJ: return std::string("q/o");
      case OperatorType::K_PROJ:
      case OperatorType::V_PROJ: return std::string("k/v");
      case OperatorType::FFN_GATE:
      case OperatorType::FFN_UP: return std::string("gate/up");
      default: return std::string(to_string(t));
    }
  };
  std::map<std::string, std::pair<double, double>> fitted;
  double prior_below = 0, prior_above = 0, time = 0, linear_below = 0;
  int prior_rows = 0;
  for (const OpPrediction& o : s.ops) {
    const Prediction& p = o.prediction;
    const double below = (p.time_s - p.interval_low_s) * o.op.instances;
    const double above = (p.interval_high_s - p.time_s) * o.op.instances;
    time += p.time_s * o.op.instances;
    linear_below += below;
    if (o.op.kernel == KernelClass::gemm || o.op.kernel == KernelClass::attention_decode) {
      CHECK_FALSE(p.prior);
      fitted[group(o.op.type)].first += below;
      fitted[group(o.op.type)].second += above;
    } else {
      CHECK(p.prior);
      ++prior_rows;
      prior_below += below;
      prior_above += above;
    }
  }
  REQUIRE(fitted.size() == 6);  // q/o, k/v, gate/up, down, LM head, attention
  REQUIRE(prior_rows > 5);
  double below_sq = prior_below * prior_below, above_sq = prior_above * prior_above;
  for (const auto& [name, d] : fitted) {
    below_sq += d.first * d.first;
    above_sq += d.second * d.second;
  }
  CHECK(s.time_s == ROOFLINE_APPROX(time));
  CHECK(s.interval_low_s == ROOFLINE_APPROX(time - std::sqrt(below_sq)));
  CHECK(s.interval_high_s == ROOFLINE_APPROX(time + std::sqrt(above_sq)));
  CHECK(s.interval_low_s > time - linear_below);  // narrower than adding every operator's interval
  // Batch prediction and the fast evaluator (compiled for FA3; FA2's prefill samples differ in structure)
  // give the same interval.
  StepConfig fa3 = c;
  fa3.attention = AttentionKernel::fa3;
  const StepEvaluator e(llama, fa3, h, cal);
  REQUIRE(e.compiled());
  const StepPrediction s3 = predict_step(llama, fa3, h, cal);
  const StepTime t = e.evaluate(8, 2048);
  CHECK(t.interval_low_s == ROOFLINE_APPROX(s3.interval_low_s).epsilon(1e-9));
  CHECK(t.interval_high_s == ROOFLINE_APPROX(s3.interval_high_s).epsilon(1e-9));
  const WorkloadPrediction w = predict_workload(
      parse_workload(R"({"op":"model_step","model":"llama3-8b","phase":"decode","batch":8,"context":2048,"weights":"bf16","kv_cache":"bf16"})"),
      h, cal, models());
  CHECK(w.interval_low_s == ROOFLINE_APPROX(s.interval_low_s));
  CHECK(w.interval_high_s == ROOFLINE_APPROX(s.interval_high_s));
  // All priors: one shared guess, so the intervals add linearly, operator by operator.
  const StepPrediction priors = predict_step(llama, c, h, Calibration::priors(h));
  double lo = 0, hi = 0;
  for (const OpPrediction& o : priors.ops) {
    lo += o.prediction.interval_low_s * o.op.instances;
    hi += o.prediction.interval_high_s * o.op.instances;
  }
  CHECK(priors.interval_low_s == ROOFLINE_APPROX(lo));
  CHECK(priors.interval_high_s == ROOFLINE_APPROX(hi));
}

TEST_CASE("W8A8 adds one activation quantisation per distinct GEMM input") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  StepConfig c;
  c.batch = 4;
  c.seq_len = 1024;
  c.precision = PrecisionAssignment::uniform(Precision::fp8_e4m3, Precision::fp8_e4m3, Precision::bf16);
  int quantize_rows = 0;
  double weights = 0;
  for (const Op& op : build_step(models().get("llama3-8b"), c, h)) {
    if (op.type == OperatorType::QUANTIZE) quantize_rows += op.instances;
    weights += op.bytes.weights_bytes * op.instances;
    if (op.kernel == KernelClass::gemm) CHECK(op.math == MathPath::tc_fp8);
  }
  // q/k/v share one input, o one, gate/up one, down one: 4 per layer · 32 layers + the LM head's input.
  CHECK(quantize_rows == 4 * 32 + 1);
  CHECK(weights == ROOFLINE_APPROX((13958643712.0 + 1050673152.0) / 2));
}

TEST_CASE("MoE touches only the active experts; tensor parallelism splits heads and adds all-reduces") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  StepConfig c;
  c.batch = 1;
  c.seq_len = 512;
  double expert_weights = 0;
  for (const Op& op : build_step(models().get("mixtral-8x7b"), c, h))
    if (op.type == OperatorType::FFN_GATE) expert_weights += op.bytes.weights_bytes * op.instances;
  // One token, top-2: E·(1 − (1 − 2/8)^1) = 2 experts touched per layer: 32 · 2 · 14336 · 4096 · 2 B.
  CHECK(expert_weights == ROOFLINE_APPROX(32.0 * 2 * 14336 * 4096 * 2));
  c.tensor_parallel = 8;
  int allreduces = 0;
  double q_weights = 0;
  for (const Op& op : build_step(models().get("llama3-70b"), c, h)) {
    if (op.type == OperatorType::ALLREDUCE) allreduces += op.instances;
    if (op.type == OperatorType::Q_PROJ) q_weights += op.bytes.weights_bytes * op.instances;
  }
  CHECK(allreduces == 2 * 80);
  CHECK(q_weights == ROOFLINE_APPROX(80.0 * 8192 * 1024 * 2));  // 64 heads / 8 per GPU · 128 = 1024 columns
  c.tensor_parallel = 3;
  CHECK_THROWS_WITH_AS(build_step(models().get("llama3-70b"), c, h),
                       "tensor_parallel 3 does not divide the 64 attention heads of llama3-70b", InvalidArgumentError);
}

TEST_CASE("impossible step configurations are refused with a clear message") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  StepConfig c;
  c.batch = 0;
  CHECK_THROWS_WITH_AS(build_step(models().get("llama3-8b"), c, h), "batch: must be >= 1, got 0", InvalidArgumentError);
  c.batch = 1;
  c.seq_len = -5;
  CHECK_THROWS_WITH_AS(build_step(models().get("llama3-8b"), c, h), "seq_len: must be >= 1, got -5", InvalidArgumentError);
}

TEST_CASE("a step that does not fit in memory is infeasible with a reason, not an error") {
  StepConfig c;
  c.batch = 1;
  c.seq_len = 128;
  const StepPrediction p = predict_step(models().get("llama3-70b"), c, hardware().get("h100_sxm"),
                                        Calibration::priors(hardware().get("h100_sxm")));
  CHECK_FALSE(p.fits);
  CHECK(p.infeasible_reason.find("exceed memory of 8.55e+10 B") != std::string::npos);
  CHECK(p.time_s > 0);
}

TEST_CASE("embedding gather: PyTorch's small-index kernel walks up to 16 ids one after another") {
  // index_select_out_cuda_impl (aten/src/ATen/native/cuda/Indexing.cu) runs indexSelectSmallIndex for up to
  // 16 indices: each thread loops over the ids, one dependent HBM round trip per id after the first.
  CHECK(embedding_serial_steps(1) == 0);
  CHECK(embedding_serial_steps(2) == 1);
  CHECK(embedding_serial_steps(16) == 15);
  CHECK(embedding_serial_steps(17) == 0);
  CHECK(embedding_serial_steps(4096) == 0);
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const KernelParams& p = cal.params(param_key(embedding_op(1, 4096, 2.0)));
  const double latency = p.serial_step_s;
  const Op one = embedding_op(1, 4096, 2.0), eight = embedding_op(8, 4096, 2.0), many = embedding_op(32, 4096, 2.0);
  // Bytes: rows × cols × 2 read and written plus an 8-byte id per row.
  CHECK(eight.bytes.total() == ROOFLINE_APPROX(8.0 * 4096 * 2 * 2 + 8 * 8.0));
  // Eight ids cost seven round trips more than the bandwidth of their bytes; 32 ids run in parallel.
  const double t1 = predict(one, h, cal).time_s, t8 = predict(eight, h, cal).time_s, t32 = predict(many, h, cal).time_s;
  CHECK(t8 - t1 == doctest::Approx(7 * latency).epsilon(0.05));
  CHECK(t8 > t32);
  // A decode step of batch 8 gathers 8 ids (test_engine checks the compiled evaluator against predict_step).
  StepConfig c;
  c.batch = 8;
  c.seq_len = 1024;
  const std::vector<Op> ops = build_step(models().get("llama3-8b"), c, h);
  CHECK(ops.front().type == OperatorType::EMBEDDINGS);
  CHECK(ops.front().serial_steps == 7);
}

TEST_CASE("RMSNorm: where one program fills an SM, each SM walks its rows one after another") {
  // Triton's launch (validate/torch/kernels.py): BLOCK = next power of two, num_warps = min(16, max(4,
  // BLOCK / 1024)); 80 registers per thread (measured 72-80); 65,536 registers and 2,048 threads per SM.
  // 3584 and 4096 columns: 4 warps, 65536 / (80 * 128) = 6.4 -> 6 programs; 8192: 8 warps -> 3; 16384 and
  // above: 16 warps, 65536 / (80 * 512) = 1.6 -> 1.
  CHECK(rmsnorm_programs_per_sm(3584) == 6);
  CHECK(rmsnorm_programs_per_sm(4096) == 6);
  CHECK(rmsnorm_programs_per_sm(8192) == 3);
  CHECK(rmsnorm_programs_per_sm(16384) == 1);
  CHECK(rmsnorm_programs_per_sm(53248) == 1);
  // 32768 rows over 132 SMs: 249 rows on the busiest SM, 248 further rows after its first.
  CHECK(rmsnorm_serial_steps(32768, 16384, 132) == 248);
  CHECK(rmsnorm_serial_steps(133, 16384, 132) == 1);
  CHECK(rmsnorm_serial_steps(132, 16384, 132) == 0);
  CHECK(rmsnorm_serial_steps(32768, 8192, 132) == 0);  // several programs per SM overlap their latencies
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const KernelParams& p = cal.params(param_key(rmsnorm_op(1, 16384, 2.0, h.sms())));
  // 1320 rows (ten per SM, all SMs busy): 1320 x 16384 x 2 bytes read and written plus the 32 KB weight row
  // = 86,540,288 bytes at the key's streaming rate, then nine serial steps.
  const Op a = rmsnorm_op(1320, 16384, 2.0, h.sms()), b = rmsnorm_op(2640, 16384, 2.0, h.sms());
  CHECK(a.serial_steps == 9);
  CHECK(b.serial_steps == 19);
  const double rate = 3.35e12 * p.memory_efficiency_fraction;  // H100 SXM: 3.35 TB/s
  CHECK(predict(a, h, cal).memory_s == doctest::Approx(86540288.0 / rate + 9 * p.serial_step_s).epsilon(1e-9));
  CHECK(predict(b, h, cal).memory_s == doctest::Approx(173047808.0 / rate + 19 * p.serial_step_s).epsilon(1e-9));
  // Llama-3.1-405B (hidden 16384) prefill of 2048 tokens: both norms of every layer carry the steps.
  StepConfig c;
  c.phase = Phase::prefill;
  c.batch = 1;
  c.seq_len = 2048;
  int norms = 0;
  for (const Op& op : build_step(models().get("llama3.1-405b"), c, h)) {
    if (op.type != OperatorType::RMSNORM) continue;
    ++norms;
    CHECK(op.serial_steps == 15);  // ceil(2048 / 132) - 1
  }
  CHECK(norms >= 2);
}

TEST_CASE("a split-KV combine kernel costs an elementwise kernel's fixed cost, not the attention kernel's") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  Calibration cal = Calibration::priors(h);
  KernelParams small = cal.params(follow_up_kernel_key);
  small.fixed_s = 1.25e-6;  // distinct from every attention key's fixed cost
  cal.set(follow_up_kernel_key, small);
  AttentionShape s;
  s.batch = 1;
  s.q_heads = 32;
  s.kv_heads = 8;
  s.q_len = 1;
  s.kv_len = 32768;
  s.head_dim = 128;
  const Op split = attention_op(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, h, AttentionOptions{});
  REQUIRE(split.kernels_per_instance == 2);  // FlashAttention-2 splits one sequence's 32K keys over the SMs
  CHECK(split.follow_up_kernels == 1);
  // The combine walks the splits one after another: one serial step per split.
  const AttentionCost cost = attention_cost(s, AttentionKernel::fa2, Precision::bf16, Precision::bf16, h, AttentionOptions{});
  CHECK(cost.splits > 1);
  CHECK(split.serial_steps == double(cost.splits));
  const KernelParams& main_params = cal.params(param_key(split));
  CHECK(predict(split, h, cal).fixed_s == ROOFLINE_APPROX(main_params.fixed_s + 1.25e-6));
  // cuDNN's reduction kernel is not published: counted at the attention key's cost.
  const Op cudnn = attention_op(s, AttentionKernel::cudnn, Precision::bf16, Precision::bf16, h, AttentionOptions{});
  CHECK(cudnn.follow_up_kernels == 0);
}

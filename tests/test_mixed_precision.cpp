#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <map>
#include <set>

#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/mixed_precision.hpp"
#include "roofline/roofline.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::bad;
using roofline::test::hardware;
using roofline::test::models;
using roofline::test::source_dir;

namespace {

const StrategyRegistry& strategies() {
  static const StrategyRegistry r = StrategyRegistry::load_directory(source_dir() / "strategies");
  return r;
}

// A shipped strategy without what only the file carries (its path and cited quality evidence).
MixedPrecisionConfig shipped_precisions(const std::string& name) {
  MixedPrecisionConfig c = strategies().get(name);
  c.file.clear();
  c.quality = {};
  return c;
}

struct StepTotals {
  double time_s = 0;
  double weights_bytes = 0;
  double kv_read_bytes = 0;
  double quantize_s = 0;
  int quantize_instances = 0;
  int kernels = 0;
};

StepTotals totals(const StepPrediction& p) {
  StepTotals t;
  t.time_s = p.time_s;
  for (const OpPrediction& o : p.ops) {
    t.weights_bytes += o.op.bytes.weights_bytes * o.op.instances;
    t.kv_read_bytes += o.op.bytes.kv_read_bytes * o.op.instances;
    t.kernels += o.op.kernels_per_instance * o.op.instances;
    if (o.op.type == OperatorType::QUANTIZE) {
      t.quantize_s += o.total_s();
      t.quantize_instances += o.op.instances;
    }
  }
  return t;
}

StepPrediction run(const MixedPrecisionConfig& c, const std::string& gpu, Phase phase, std::int64_t batch,
                   std::int64_t seq_len, const std::string& model = "llama3-8b") {
  const HardwareSpec& hw = hardware().get(gpu);
  const ModelConfig& m = models().get(model);
  StepConfig s;
  s.phase = phase;
  s.batch = batch;
  s.seq_len = seq_len;
  s.precision = to_assignment(c, m, hw);
  return predict_step(m, s, hw, Calibration::priors(hw));
}

std::string load_error(const std::string& file) {
  try {
    load_strategy_file(bad(file));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// Llama-3-8B, hand-computed: per layer q 4096·4096 + k, v 1024·4096 each + o 4096·4096 + gate, up, down
// 14336·4096 each = 218,103,808 parameters; 32 layers = 6,979,321,856. LM head 128256·4096 = 525,336,576.
constexpr double llama8b_decoder_linear_params = 6979321856.0;
constexpr double llama8b_lm_head_params = 525336576.0;

}  // namespace

TEST_CASE("every shipped strategy loads and the registry knows the six of the seed") {
  const std::vector<std::string> expected = {"fp16_baseline",      "fp8_balanced",     "hybrid_long_context",
                                             "layerwise_gradient", "nvfp4_blackwell",  "w4a16_aggressive"};
  CHECK(strategies().names() == expected);
  for (const auto& [name, c] : strategies().all()) {
    CAPTURE(name);
    CHECK(c.file.find("strategies/" + name + ".yaml") != std::string::npos);
    CHECK_FALSE(c.description.empty());
    CHECK_FALSE(c.quality.summary.empty());
    for (const QualityEvidence& e : c.quality.evidence) {
      CHECK_FALSE(e.source.empty());
      CHECK(e.baseline.has_value() == e.quantized.has_value());
    }
  }
  // The seed's get_strategy(name) reads the shipped directory (the tests run with ROOFLINE_DATA_DIR = source).
  MixedPrecisionConfig seed_api = get_strategy("fp8_balanced");
  CHECK(seed_api == strategies().get("fp8_balanced"));
  CHECK_THROWS_WITH_AS(strategies().get("int2_everything"),
                       "unknown strategy 'int2_everything'; known: fp16_baseline, fp8_balanced, hybrid_long_context, "
                       "layerwise_gradient, nvfp4_blackwell, w4a16_aggressive",
                       UnknownNameError);
}

TEST_CASE("each code factory equals its shipped YAML file (quality evidence lives only in the file)") {
  CHECK(create_fp16_baseline() == shipped_precisions("fp16_baseline"));
  CHECK(create_fp8_balanced() == shipped_precisions("fp8_balanced"));
  CHECK(create_w4a16_aggressive() == shipped_precisions("w4a16_aggressive"));
  CHECK(create_nvfp4_blackwell() == shipped_precisions("nvfp4_blackwell"));
  CHECK(create_hybrid_long_context() == shipped_precisions("hybrid_long_context"));
  CHECK(create_layerwise_gradient() == shipped_precisions("layerwise_gradient"));
  // The factories are not all the same strategy (a check that could not fail otherwise).
  CHECK_FALSE(create_fp8_balanced() == create_hybrid_long_context());
}

TEST_CASE("the seeds' precision spellings are accepted in strategy files") {
  // nvfp4_blackwell.yaml writes kv_cache_precision: NVFP4_KV; layerwise_gradient.yaml FP16, FP8_E4M3, NVFP4.
  CHECK(strategies().get("nvfp4_blackwell").kv_cache_precision == Precision::nvfp4);
  const MixedPrecisionConfig& g = strategies().get("layerwise_gradient");
  REQUIRE(g.bands.size() == 3);
  CHECK(g.bands[1].default_activation_precision == Precision::fp8_e4m3);
  CHECK(g.bands[2].operator_precisions.at(OperatorType::FFN_DOWN).weight == Precision::nvfp4);
}

TEST_CASE("get_precision follows the seed: per operator, KV cache, and 16-bit for operators without weights") {
  const MixedPrecisionConfig c = create_nvfp4_blackwell();
  CHECK(c.get_precision(OperatorType::Q_PROJ) == OpPrecision{Precision::nvfp4, Precision::nvfp4});
  CHECK(c.get_precision(OperatorType::FFN_DOWN) == OpPrecision{Precision::nvfp4, Precision::nvfp4});
  CHECK(c.get_precision(OperatorType::LM_HEAD) == OpPrecision{Precision::bf16, Precision::bf16});
  CHECK(c.get_precision(OperatorType::KV_CACHE) == OpPrecision{Precision::nvfp4, Precision::nvfp4});
  CHECK(c.get_precision(OperatorType::ATTENTION) == OpPrecision{Precision::bf16, Precision::bf16});
  CHECK(c.get_precision(OperatorType::RMSNORM) == OpPrecision{Precision::bf16, Precision::bf16});
  // W4A16: the activation comes from the default (bf16), the weight from the operator.
  CHECK(create_w4a16_aggressive().get_precision(OperatorType::O_PROJ) == OpPrecision{Precision::int4, Precision::bf16});
}

TEST_CASE("layerwise_gradient(32) gives the seed's bands: 0-10 FP16, 11-21 FP8_E4M3, 22-31 NVFP4") {
  const MixedPrecisionConfig resolved = create_layerwise_gradient(32);
  REQUIRE(resolved.bands.size() == 3);
  CHECK(resolved.bands[0].layers == LayerRange::layers(0, 10));
  CHECK(resolved.bands[1].layers == LayerRange::layers(11, 21));
  CHECK(resolved.bands[2].layers == LayerRange::layers(22, 31));
  const MixedPrecisionConfig& shipped = strategies().get("layerwise_gradient");
  for (std::int64_t layer = 0; layer < 32; ++layer) {
    CAPTURE(layer);
    const Precision want = layer <= 10 ? Precision::fp16 : (layer <= 21 ? Precision::fp8_e4m3 : Precision::nvfp4);
    for (OperatorType t : {OperatorType::Q_PROJ, OperatorType::O_PROJ, OperatorType::FFN_UP, OperatorType::FFN_DOWN}) {
      CHECK(resolved.get_precision(t, layer) == OpPrecision{want, want});
      CHECK(shipped.get_precision(t, layer, 32) == OpPrecision{want, want});
    }
    CHECK(resolved.get_precision(OperatorType::LM_HEAD, layer) == OpPrecision{Precision::fp16, Precision::fp16});
  }
  // 80 layers (Llama-3-70B): 80/3 = 26.67 and 160/3 = 53.33, so layers 0-26, 27-53, 54-79.
  const MixedPrecisionConfig deep = create_layerwise_gradient(80);
  CHECK(deep.bands[0].layers == LayerRange::layers(0, 26));
  CHECK(deep.bands[1].layers == LayerRange::layers(27, 53));
  CHECK(deep.bands[2].layers == LayerRange::layers(54, 79));
  // Two layers: thirds hold layer 0 and layer 1; the last third holds no whole layer and is dropped.
  CHECK(create_layerwise_gradient(2).bands.size() == 2);
  CHECK_THROWS_WITH_AS(shipped.get_precision(OperatorType::Q_PROJ, 3),
                       "strategy 'layerwise_gradient' has bands given as fractions of depth: call get_precision(op, "
                       "layer, num_layers)",
                       InvalidArgumentError);
}

TEST_CASE("to_assignment resolves bands for the model and carries scaling, fusion and the KV format") {
  const PrecisionAssignment a = to_assignment(create_layerwise_gradient(), models().get("llama3-70b"));
  REQUIRE(a.bands.size() == 3);
  CHECK(a.bands[1].first_layer == 27);
  CHECK(a.bands[1].last_layer == 53);
  CHECK(a.at(OperatorType::FFN_GATE, 27) == OpPrecision{Precision::fp8_e4m3, Precision::fp8_e4m3});
  CHECK(a.at(OperatorType::FFN_GATE, 54) == OpPrecision{Precision::nvfp4, Precision::nvfp4});
  CHECK(a.activation_scaling == ActivationScaling::dynamic_per_token);
  const PrecisionAssignment h = to_assignment(create_hybrid_long_context(), models().get("llama3-8b"));
  CHECK(h.kv_cache == Precision::nvfp4);
  CHECK(h.name == "hybrid_long_context");
  // An explicit band beyond the model's layers is an error, not silently clipped.
  MixedPrecisionConfig c = create_layerwise_gradient(80);
  CHECK_THROWS_WITH_AS(to_assignment(c, models().get("llama3-8b")),
                       "strategy 'layerwise_gradient': band layers 27-53 lies beyond the 32 layers of llama3-8b",
                       InvalidArgumentError);
}

TEST_CASE("every bad strategy file fails with its message") {
  const auto at = [](const std::string& file, const std::string& rest) { return bad(file).string() + ":" + rest; };
  const std::string ops = "q_proj, k_proj, v_proj, o_proj, ffn_gate, ffn_up, ffn_down, lm_head";
  CHECK(load_error("strategy_unknown_key.yaml") ==
        at("strategy_unknown_key.yaml",
           "8:1: speedup: unknown key (allowed: activation_scaling, bands, default_activation_precision, description, "
           "kv_cache_precision, name, operators, quality, quantize_fusion, schema_version)"));
  CHECK(load_error("strategy_missing_kv.yaml") ==
        at("strategy_missing_kv.yaml", "1:1: missing required key 'kv_cache_precision'"));
  CHECK(load_error("strategy_bad_schema_version.yaml") ==
        at("strategy_bad_schema_version.yaml", "1:17: schema_version: unsupported schema version 2 (this library reads 1)"));
  CHECK(load_error("strategy_unknown_precision.yaml") ==
        at("strategy_unknown_precision.yaml",
           "10:20: operators.k_proj.weight: unknown precision 'fp6' (known: fp32, bf16, fp16, fp8_e4m3, fp8_e5m2, int8, "
           "int4, nvfp4, mxfp4)"));
  CHECK(load_error("strategy_bad_scaling.yaml") ==
        at("strategy_bad_scaling.yaml",
           "6:21: activation_scaling: must be one of dynamic_per_tensor, dynamic_per_token, static_per_tensor, got "
           "'dynamic'"));
  CHECK(load_error("strategy_missing_linear.yaml") ==
        at("strategy_missing_linear.yaml",
           "9:3: operators: missing linear layer 'lm_head' (a strategy lists every one of " + ops + ")"));
  CHECK(load_error("strategy_missing_weight.yaml") ==
        at("strategy_missing_weight.yaml", "14:11: operators.ffn_up: missing required key 'weight'"));
  CHECK(load_error("strategy_unknown_operator.yaml") ==
        at("strategy_unknown_operator.yaml",
           "9:3: operators.qkv_proj: unknown operator (strategies assign " + ops + ", attention)"));
  CHECK(load_error("strategy_norm_operator.yaml") ==
        at("strategy_norm_operator.yaml",
           "16:3: operators.rmsnorm: rmsnorm has no precision of its own in the cost model (16-bit); strategies assign " +
               ops + ", attention"));
  CHECK(load_error("strategy_kv_operator.yaml") ==
        at("strategy_kv_operator.yaml",
           "16:3: operators.kv_cache: the KV-cache format is the strategy's kv_cache_precision, not an operator"));
  CHECK(load_error("strategy_attention_weight.yaml") ==
        at("strategy_attention_weight.yaml",
           "17:23: operators.attention.weight: attention has no weight; give only its activation (the Q/K/V precision)"));
  CHECK(load_error("strategy_attention_precision.yaml") ==
        at("strategy_attention_precision.yaml",
           "17:27: operators.attention.activation: attention activation must be a 16-bit or fp8 format (the attention "
           "kernels the model knows), got nvfp4"));
  CHECK(load_error("strategy_fused_dynamic_tensor.yaml") ==
        at("strategy_fused_dynamic_tensor.yaml",
           "7:18: quantize_fusion: fused_into_producer cannot be combined with activation_scaling dynamic_per_tensor: "
           "the whole tensor's amax must be known before any element is cast"));
  CHECK(load_error("strategy_bad_fraction.yaml") ==
        at("strategy_bad_fraction.yaml", "18:47: bands[0].layers.end_fraction: must be in (start_fraction, 1], got 1.5"));
  CHECK(load_error("strategy_layers_both_forms.yaml") ==
        at("strategy_layers_both_forms.yaml",
           "18:13: bands[0].layers: give either start_fraction and end_fraction (fractions of depth) or first and last "
           "(layers)"));
  CHECK(load_error("strategy_band_reversed.yaml") ==
        at("strategy_band_reversed.yaml", "18:30: bands[0].layers.last: must be >= first (5), got 2"));
  CHECK(load_error("strategy_overlapping_bands.yaml") ==
        at("strategy_overlapping_bands.yaml",
           "21:13: bands[1].layers: fraction 0.25-1 of depth overlaps bands[0] (fraction 0-0.5 of depth)"));
  CHECK(load_error("strategy_mixed_band_forms.yaml") ==
        at("strategy_mixed_band_forms.yaml",
           "21:13: bands[1].layers: bands must all be fractions of depth or all explicit layers"));
  CHECK(load_error("strategy_band_lm_head.yaml") ==
        at("strategy_band_lm_head.yaml",
           "20:7: bands[0].operators.lm_head: lm_head is not a per-layer operator; set it at the top level"));
  CHECK(load_error("strategy_empty_band.yaml") ==
        at("strategy_empty_band.yaml", "19:16: bands[0].operators: a band must override at least one operator"));
  CHECK(load_error("strategy_quality_half_pair.yaml") ==
        at("strategy_quality_half_pair.yaml", "20:7: quality.evidence[0]: give baseline and quantized together, or neither"));
  CHECK(load_error("strategy_quality_unsourced.yaml") ==
        at("strategy_quality_unsourced.yaml",
           "18:12: quality.summary: with no evidence listed, the summary must say 'no published figure found'"));
}

TEST_CASE("a user file adds a strategy; a duplicate name is refused") {
  StrategyRegistry r = StrategyRegistry::load_directory(source_dir() / "strategies");
  const std::string shipped = (source_dir() / "strategies" / "fp8_balanced.yaml").string();
  CHECK_THROWS_WITH_AS(r.add_file(shipped),
                       (shipped + ": name: strategy name 'fp8_balanced' is already defined by " + shipped).c_str(),
                       ConfigError);
  // The seed's custom strategy, built in code: FP8 attention projections, NVFP4 FFN, NVFP4 KV, fp16 activations.
  MixedPrecisionConfig custom;
  custom.name = "custom";
  custom.description = "Aggressive FFN, conservative attention";
  for (OperatorType t : {OperatorType::Q_PROJ, OperatorType::K_PROJ, OperatorType::V_PROJ, OperatorType::O_PROJ})
    custom.operator_precisions[t] = {parse_precision("FP8_E4M3"), std::nullopt};
  for (OperatorType t : {OperatorType::FFN_GATE, OperatorType::FFN_UP, OperatorType::FFN_DOWN})
    custom.operator_precisions[t] = {parse_precision("NVFP4"), std::nullopt};
  custom.default_activation_precision = parse_precision("FP16");
  custom.kv_cache_precision = parse_precision("NVFP4_KV");
  r.add(custom);
  CHECK(r.get("custom").get_precision(OperatorType::FFN_UP) == OpPrecision{Precision::nvfp4, Precision::fp16});
  // Unlisted linear layers default to bf16 weights in code (files must list them).
  CHECK(r.get("custom").get_precision(OperatorType::LM_HEAD) == OpPrecision{Precision::bf16, Precision::fp16});
  // On a B200 the fp16-activation layers run weight-only by design: dequantized, not emulated.
  const StrategyFeasibility f = check_strategy(custom, hardware().get("b200"));
  CHECK(f.find(OperatorType::Q_PROJ)->support == StrategySupport::dequantized);
  CHECK(f.find(OperatorType::KV_CACHE)->support == StrategySupport::native);
  CHECK(f.feasible);
}

TEST_CASE("strategies built in code are validated with clear messages") {
  MixedPrecisionConfig c = create_fp8_balanced();
  c.operator_precisions[OperatorType::ATTENTION] = {Precision::fp8_e4m3, Precision::fp8_e4m3};
  CHECK_THROWS_WITH_AS(validate_strategy(c),
                       "strategy 'fp8_balanced': attention has no weight; give only its activation (the Q/K/V precision)",
                       InvalidArgumentError);
  c = create_fp8_balanced();
  c.activation_scaling = ActivationScaling::dynamic_per_tensor;
  c.quantize_fusion = QuantizeFusion::fused_into_producer;
  CHECK_THROWS_WITH_AS(validate_strategy(c),
                       "strategy 'fp8_balanced': fused_into_producer cannot be combined with activation_scaling "
                       "dynamic_per_tensor: the whole tensor's amax must be known before any element is cast",
                       InvalidArgumentError);
  c = create_layerwise_gradient();
  c.bands[1].layers = LayerRange::fractions(0.3, 0.7);
  CHECK_THROWS_WITH_AS(validate_strategy(c),
                       "strategy 'layerwise_gradient': bands[1]: fraction 0.3-0.7 of depth overlaps bands[0] (fraction "
                       "0-0.333 of depth)",
                       InvalidArgumentError);
  // The cost model refuses the same combination when it is given directly.
  StepConfig s;
  s.precision = to_assignment(create_fp8_balanced(), models().get("llama3-8b"));
  s.precision.activation_scaling = ActivationScaling::dynamic_per_tensor;
  s.precision.quantize_fusion = QuantizeFusion::fused_into_producer;
  CHECK_THROWS_WITH_AS(build_step(models().get("llama3-8b"), s, hardware().get("h100_sxm")),
                       "activation quantisation: dynamic_per_tensor needs the whole tensor's amax before any element is "
                       "cast, so it cannot be fused into its producer (use static_per_tensor or dynamic_per_token, or "
                       "keep it separate)",
                       InvalidArgumentError);
}

TEST_CASE("nvfp4_blackwell: native fp4 tensor cores on B200, weight-only NVFP4 on 16-bit tensor cores on H100") {
  const MixedPrecisionConfig c = create_nvfp4_blackwell();
  const StrategyFeasibility b200 = check_strategy(c, hardware().get("b200"));
  CHECK(b200.feasible);
  CHECK_FALSE(b200.any_emulated());
  CHECK(b200.find(OperatorType::FFN_UP)->math == MathPath::tc_fp4);
  CHECK(b200.find(OperatorType::FFN_UP)->support == StrategySupport::native);
  CHECK(b200.find(OperatorType::KV_CACHE)->support == StrategySupport::native);

  const StrategyFeasibility h100 = check_strategy(c, hardware().get("h100_sxm"));
  CHECK(h100.feasible);
  const OperatorFeasibility* q = h100.find(OperatorType::Q_PROJ);
  REQUIRE(q != nullptr);
  CHECK(q->support == StrategySupport::emulated);
  CHECK(q->requested == OpPrecision{Precision::nvfp4, Precision::nvfp4});
  CHECK(q->effective == OpPrecision{Precision::nvfp4, Precision::bf16});
  CHECK(q->math == MathPath::tc_16bit);
  CHECK(q->reason ==
        "nvfp4 weights with nvfp4 activations need tc_fp4 tensor cores, which h100_sxm (sm_90) lacks; runs weight-only: "
        "nvfp4 weights dequantised to 16-bit in the main loop, 16-bit activations, 16-bit tensor cores");
  CHECK(h100.find(OperatorType::LM_HEAD)->support == StrategySupport::native);
  CHECK(h100.find(OperatorType::KV_CACHE)->support == StrategySupport::emulated);
  CHECK(h100.find(OperatorType::KV_CACHE)->reason ==
        "no tensor-core path consumes nvfp4 on h100_sxm (sm_90); stored as nvfp4 (0.5625 B/element with scales) and "
        "dequantised to 16-bit inside the attention kernel (bytes as stored, 16-bit math)");

  const StrategyFeasibility refused = check_strategy(c, hardware().get("h100_sxm"), FeasibilityPolicy::refuse);
  CHECK_FALSE(refused.feasible);
  CHECK(refused.reason ==
        "q_proj (all layers): nvfp4 weights with nvfp4 activations need tc_fp4 tensor cores, which h100_sxm (sm_90) lacks");

  // The step the emulated strategy runs: every decoder GEMM weight-only NVFP4 on tc_16bit, no activation
  // quantisation at all; on a B200 the same GEMMs run on tc_fp4 behind one QUANTIZE per distinct input.
  for (const OpPrediction& o : run(c, "h100_sxm", Phase::decode, 1, 4096).ops) {
    CHECK(o.op.type != OperatorType::QUANTIZE);
    if (o.op.kernel == KernelClass::gemm && o.op.type != OperatorType::LM_HEAD) {
      CHECK(o.op.math == MathPath::tc_16bit);
      CHECK(o.op.support == Support::emulated);
      CHECK(o.op.weight_precision == Precision::nvfp4);
      CHECK(o.op.activation_precision == Precision::bf16);
    }
    if (o.op.type == OperatorType::ATTENTION) CHECK(o.op.support == Support::emulated);
  }
  const StepTotals b = totals(run(c, "b200", Phase::decode, 1, 4096));
  CHECK(b.quantize_instances == 4 * 32);
  for (const OpPrediction& o : run(c, "b200", Phase::decode, 1, 4096).ops)
    if (o.op.kernel == KernelClass::gemm && o.op.type != OperatorType::LM_HEAD) CHECK(o.op.math == MathPath::tc_fp4);
}

TEST_CASE("fp8_balanced: FP8 tensor cores on H100; W8A16 on 16-bit tensor cores on A100, fp8 KV dequantised there") {
  const MixedPrecisionConfig c = create_fp8_balanced();
  const StrategyFeasibility a100 = check_strategy(c, hardware().get("a100_sxm_80gb"));
  CHECK(a100.find(OperatorType::FFN_DOWN)->support == StrategySupport::emulated);
  CHECK(a100.find(OperatorType::FFN_DOWN)->math == MathPath::tc_16bit);
  CHECK(a100.find(OperatorType::KV_CACHE)->support == StrategySupport::emulated);
  const StepPrediction p = run(c, "a100_sxm_80gb", Phase::decode, 8, 4096);
  CHECK(p.fits);
  for (const OpPrediction& o : p.ops) {
    CHECK(o.op.type != OperatorType::QUANTIZE);
    if (o.op.kernel == KernelClass::gemm && o.op.type != OperatorType::LM_HEAD) {
      CHECK(o.op.math == MathPath::tc_16bit);
      CHECK(o.op.support == Support::emulated);
      CHECK(o.op.weight_precision == Precision::fp8_e4m3);
    }
    if (o.op.type == OperatorType::ATTENTION) {
      CHECK(o.op.support == Support::emulated);
      CHECK(o.op.note.find("KV cache in fp8_e4m3 (1 B/element with scales) is dequantised to 16-bit inside the "
                           "attention kernel: no tensor-core path consumes fp8_e4m3 on a100_sxm_80gb (sm_80)") !=
            std::string::npos);
    }
  }
  const StrategyFeasibility h100 = check_strategy(c, hardware().get("h100_sxm"), FeasibilityPolicy::refuse);
  CHECK(h100.feasible);
  CHECK_FALSE(h100.any_emulated());
  for (const OpPrediction& o : run(c, "h100_sxm", Phase::decode, 8, 4096).ops) {
    if (o.op.kernel == KernelClass::gemm && o.op.type != OperatorType::LM_HEAD) CHECK(o.op.math == MathPath::tc_fp8);
    if (o.op.type == OperatorType::ATTENTION) CHECK(o.op.support == Support::native);
  }
  CHECK_FALSE(check_strategy(c, hardware().get("a100_sxm_80gb"), FeasibilityPolicy::refuse).feasible);
}

TEST_CASE("weight-only INT4 is dequantised by design and is never refused") {
  for (const auto& [name, hw] : hardware().all()) {
    CAPTURE(name);
    const StrategyFeasibility f = check_strategy(create_w4a16_aggressive(), hw, FeasibilityPolicy::refuse);
    CHECK(f.feasible);
    CHECK(f.find(OperatorType::FFN_GATE)->support == StrategySupport::dequantized);
    CHECK(f.find(OperatorType::FFN_GATE)->math == MathPath::tc_16bit);
  }
}

TEST_CASE("hand-computed weight and KV bytes of a Llama-3-8B decode step under each strategy") {
  // Decode, batch 1, 4096 cached tokens on an H200 (every format's bytes are the same on any GPU).
  const double lm_head_bf16 = llama8b_lm_head_params * 2;  // 1,050,673,152 B
  struct Case {
    MixedPrecisionConfig c;
    double decoder_bytes_per_param;
  };
  const std::vector<Case> cases = {
      {create_fp16_baseline(), 2.0},  // 13,958,643,712 B + LM head fp16 (same bytes as bf16)
      {create_fp8_balanced(), 1.0},
      {create_hybrid_long_context(), 1.0},
      {create_w4a16_aggressive(), 4.125 / 8},  // 3,598,712,832 B
      {create_nvfp4_blackwell(), 4.5 / 8},     // 3,925,868,544 B
  };
  for (const Case& k : cases) {
    CAPTURE(k.c.name);
    const StepTotals t = totals(run(k.c, "h200_sxm", Phase::decode, 1, 4096));
    CHECK(t.weights_bytes == ROOFLINE_APPROX(llama8b_decoder_linear_params * k.decoder_bytes_per_param + lm_head_bf16));
  }
  CHECK(totals(run(create_w4a16_aggressive(), "h200_sxm", Phase::decode, 1, 4096)).weights_bytes ==
        ROOFLINE_APPROX(3598712832.0 + 1050673152.0));
  // layerwise_gradient: 11 + 11 + 10 layers of 218,103,808 parameters at 2, 1 and 0.5625 bytes.
  CHECK(totals(run(create_layerwise_gradient(), "h200_sxm", Phase::decode, 1, 4096)).weights_bytes ==
        ROOFLINE_APPROX(218103808.0 * (11 * 2.0 + 11 * 1.0 + 10 * 0.5625) + lm_head_bf16));

  // KV read: 32 layers · 2 (K, V) · 8 heads · 4097 tokens · 128 · bytes; bf16 537,001,984 B, fp8 half,
  // NVFP4 (4 bits + an 8-bit scale per 16) 0.5625 / 2 of bf16 = 151,031,808 B.
  CHECK(totals(run(create_fp16_baseline(), "h200_sxm", Phase::decode, 1, 4096)).kv_read_bytes == 537001984.0);
  CHECK(totals(run(create_fp8_balanced(), "h200_sxm", Phase::decode, 1, 4096)).kv_read_bytes == 268500992.0);
  CHECK(totals(run(create_hybrid_long_context(), "h200_sxm", Phase::decode, 1, 4096)).kv_read_bytes == 151031808.0);

  // Memory footprint of w4a16: decoder linears at 4.125 bits, two bf16 RMSNorm weights per layer, the bf16
  // embedding table and the bf16 LM head: 3,598,712,832 + 32·2·4096·2 + 2·1,050,673,152 = 5,700,583,424 B.
  StepConfig s;
  s.seq_len = 4096;
  s.precision = to_assignment(create_w4a16_aggressive(), models().get("llama3-8b"));
  CHECK(memory_footprint(models().get("llama3-8b"), s).weights_bytes == ROOFLINE_APPROX(5700583424.0));
}

TEST_CASE("model property: W4A16 speeds up batch-1 decode but not large-batch prefill, on every GPU") {
  for (const auto& [name, hw] : hardware().all()) {
    CAPTURE(name);
    const double fp16_decode = run(create_fp16_baseline(), name, Phase::decode, 1, 4096).time_s;
    const double w4_decode = run(create_w4a16_aggressive(), name, Phase::decode, 1, 4096).time_s;
    CHECK(w4_decode < fp16_decode);
    // Prefill of 16 × 2048 tokens: the GEMMs are compute-bound; W4A16 keeps 16-bit math and adds dequantisation.
    const double fp16_prefill = run(create_fp16_baseline(), name, Phase::prefill, 16, 2048).time_s;
    const double w4_prefill = run(create_w4a16_aggressive(), name, Phase::prefill, 16, 2048).time_s;
    CHECK(w4_prefill >= fp16_prefill);
  }
}

TEST_CASE("the KV format sets the attention read cost; NVFP4 carries its block scales") {
  // B200, where every format below has a native path; decode at 32K context, batch 8.
  double previous = 0;
  for (Precision kv : {Precision::bf16, Precision::fp8_e4m3, Precision::nvfp4}) {
    CAPTURE(kv);
    MixedPrecisionConfig c = create_fp16_baseline();
    c.kv_cache_precision = kv;
    double kv_bytes = 0, attention_s = 0;
    for (const OpPrediction& o : run(c, "b200", Phase::decode, 8, 32768).ops) {
      if (o.op.type != OperatorType::ATTENTION) continue;
      kv_bytes += o.op.bytes.kv_read_bytes * o.op.instances;
      attention_s += o.total_s();
      CHECK(o.op.support == Support::native);
    }
    // 8 sequences · 32 layers · 2 · 8 heads · 32769 tokens · 128 elements · bytes per element (with scales).
    CHECK(kv_bytes == ROOFLINE_APPROX(8.0 * 32 * 2 * 8 * 32769 * 128 * bytes_per_element(kv)));
    if (previous > 0) CHECK(attention_s < previous);
    previous = attention_s;
  }
  CHECK(bytes_per_element(Precision::nvfp4) == 0.5625);
}

TEST_CASE("activation quantisation fused into RMSNorm and SiLU·mul: no extra kernel or read pass") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const ModelConfig& m = models().get("llama3-8b");
  StepConfig s;
  s.phase = Phase::decode;
  s.batch = 4;
  s.seq_len = 1024;
  MixedPrecisionConfig c = create_fp8_balanced();
  s.precision = to_assignment(c, m, h);
  const std::vector<Op> separate = build_step(m, s, h);
  c.quantize_fusion = QuantizeFusion::fused_into_producer;
  s.precision = to_assignment(c, m, h);
  const std::vector<Op> fused = build_step(m, s, h);

  auto count = [](const std::vector<Op>& ops, OperatorType t) {
    int n = 0;
    for (const Op& op : ops) n += op.type == t ? op.instances : 0;
    return n;
  };
  // Separate: q/k/v, o, gate/up and down inputs per layer = 4 · 32. Fused: only o_proj's input (written by the
  // attention kernel) keeps its own quantise kernel.
  CHECK(count(separate, OperatorType::QUANTIZE) == 128);
  CHECK(count(fused, OperatorType::QUANTIZE) == 32);
  // The RMSNorm before q/k/v writes fp8 (1 B) instead of bf16 (2 B) for 4 rows of 4096, plus a 4-byte scale per row:
  // written 4·4096·1 = 16,384 B instead of 32,768 B; scales 16 B; it reads as before.
  const Op* norm_sep = nullptr;
  const Op* norm_fused = nullptr;
  for (const Op& op : separate)
    if (op.type == OperatorType::RMSNORM && op.first_layer == 0 && !norm_sep) norm_sep = &op;
  for (const Op& op : fused)
    if (op.type == OperatorType::RMSNORM && op.first_layer == 0 && !norm_fused) norm_fused = &op;
  REQUIRE(norm_sep != nullptr);
  REQUIRE(norm_fused != nullptr);
  CHECK(norm_sep->bytes.activations_written_bytes == 32768.0);
  CHECK(norm_fused->bytes.activations_written_bytes == 16384.0);
  CHECK(norm_fused->bytes.scales_bytes == 16.0);
  CHECK(norm_fused->bytes.activations_read_bytes == norm_sep->bytes.activations_read_bytes);
  CHECK(norm_fused->kernels_per_instance == 1);
  // SiLU·mul writes its 4 × 14336 output in fp8: 57,344 B instead of 114,688 B.
  for (const Op& op : fused)
    if (op.type == OperatorType::ACTIVATION) CHECK(op.bytes.activations_written_bytes == 57344.0);

  StepConfig separate_config = s;
  separate_config.precision = to_assignment(create_fp8_balanced(), m, h);
  const StepTotals ts = totals(predict_step(m, separate_config, h, Calibration::priors(h)));
  const StepTotals tf = totals(predict_step(m, s, h, Calibration::priors(h)));
  CHECK(tf.kernels == ts.kernels - 96);
  CHECK(tf.time_s < ts.time_s);
}

TEST_CASE("dynamic per-tensor FP8 quantisation costs two passes, per-token one pass plus scales, static one pass") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const ModelConfig& m = models().get("llama3-8b");
  std::map<ActivationScaling, const Op*> first_quantize;
  std::map<ActivationScaling, std::vector<Op>> steps;
  for (ActivationScaling a : {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_tensor,
                              ActivationScaling::dynamic_per_token}) {
    MixedPrecisionConfig c = create_fp8_balanced();
    c.activation_scaling = a;
    StepConfig s;
    s.phase = Phase::prefill;
    s.batch = 2;
    s.seq_len = 512;
    s.precision = to_assignment(c, m, h);
    steps[a] = build_step(m, s, h);
    for (const Op& op : steps[a])
      if (op.type == OperatorType::QUANTIZE) {
        first_quantize[a] = &op;
        break;
      }
  }
  // The q/k/v input: 1024 tokens × 4096 bf16 = 8,388,608 B read per pass, 4,194,304 B written in fp8.
  const Op& st = *first_quantize[ActivationScaling::static_per_tensor];
  const Op& dt = *first_quantize[ActivationScaling::dynamic_per_tensor];
  const Op& dk = *first_quantize[ActivationScaling::dynamic_per_token];
  CHECK(st.kernels_per_instance == 1);
  CHECK(st.bytes.activations_read_bytes == 8388608.0);
  CHECK(st.bytes.activations_written_bytes == 4194304.0);
  CHECK(dt.kernels_per_instance == 2);
  CHECK(dt.bytes.activations_read_bytes == 2 * 8388608.0);
  CHECK(dk.kernels_per_instance == 1);
  CHECK(dk.bytes.activations_read_bytes == 8388608.0);
  CHECK(dk.bytes.scales_bytes == 1024 * 4.0);
  const Calibration prior = Calibration::priors(h);
  CHECK(predict(dt, h, prior).time_s > predict(dk, h, prior).time_s);
  CHECK(predict(dk, h, prior).time_s >= predict(st, h, prior).time_s);
}

TEST_CASE("fused quantisation keeps a 16-bit output where a 16-bit consumer reads it (MoE router, 16-bit layers)") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const ModelConfig& m = models().get("mixtral-8x7b");
  MixedPrecisionConfig c = create_fp8_balanced();
  c.quantize_fusion = QuantizeFusion::fused_into_producer;
  c.operator_precisions[OperatorType::LM_HEAD] = {Precision::fp8_e4m3, Precision::fp8_e4m3};
  c.operator_precisions[OperatorType::K_PROJ] = {Precision::bf16, Precision::bf16};  // one 16-bit consumer of the norm
  StepConfig s;
  s.phase = Phase::decode;
  s.batch = 1;
  s.seq_len = 512;
  s.precision = to_assignment(c, m, h);
  const std::vector<Op> ops = build_step(m, s, h);
  std::vector<const Op*> norms;
  for (const Op& op : ops)
    if (op.type == OperatorType::RMSNORM) norms.push_back(&op);
  REQUIRE(norms.size() == 3);  // before attention, before the FFN (both for all 32 layers), final
  // One token of hidden 4096. Before attention: q/v read fp8, k reads bf16: 4096 · (2 + 1) = 12,288 B written.
  CHECK(norms[0]->bytes.activations_written_bytes == 12288.0);
  // Before the experts: the router reads bf16, gate/up read fp8: 4096 · (2 + 1) = 12,288 B.
  CHECK(norms[1]->bytes.activations_written_bytes == 12288.0);
  // Final norm: the LM head (fp8) reads every row in decode, nothing reads 16-bit: 4096 · 1 = 4,096 B + a 4 B scale.
  CHECK(norms[2]->bytes.activations_written_bytes == 4096.0);
  CHECK(norms[2]->bytes.scales_bytes == 4.0);
  CHECK(norms[2]->note == "writes its output quantised to fp8_e4m3 (dynamic_per_token, fused)");
  CHECK(norms[0]->note == "writes its output quantised to fp8_e4m3 (dynamic_per_token, fused) and in 16-bit");
}

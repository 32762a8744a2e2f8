#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "invariants.hpp"
#include "roofline/calibration.hpp"
#include "roofline/engine.hpp"
#include "roofline/errors.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;

namespace {
const StrategyRegistry& strategies() {
  static const StrategyRegistry r = StrategyRegistry::load_directory(roofline::test::source_dir() / "strategies");
  return r;
}
// One engine per GPU with the documented priors (the tests must not depend on committed calibrations).
const IntegratedQuantizationEngine& engine(const std::string& gpu) {
  static std::map<std::string, IntegratedQuantizationEngine> engines;
  auto it = engines.find(gpu);
  if (it == engines.end()) {
    const HardwareSpec& hw = hardware().get(gpu);
    it = engines.emplace(gpu, IntegratedQuantizationEngine(hw, Calibration::priors(hw), strategies(),
                                                           QuantErrorTable::measured()))
             .first;
  }
  return it->second;
}

QuantErrorRow row(Precision p, Granularity g, double act_sqnr, double weight_sqnr, double matmul_rel) {
  QuantErrorRow r;
  r.precision = p;
  r.granularity = g;
  r.calibration_mode = CalibrationMode::absmax;
  r.activation_sqnr_db = act_sqnr;
  r.weight_sqnr_db = weight_sqnr;
  r.matmul_rel_rmse = matmul_rel;
  return r;
}

// The math paths a recommendation's own step runs on.
std::vector<MathPath> winner_math(const QuantizationRecommendation& r, const ModelConfig& m, const HardwareSpec& hw) {
  StepConfig c;
  c.phase = r.config.phase;
  c.batch = r.config.batch;
  c.seq_len = r.config.seq_len;
  c.precision = to_assignment(r.mixed_precision, m);
  c.attention = r.config.attention_kernel;
  std::vector<MathPath> out;
  for (const Op& op : build_step(m, c, hw)) out.push_back(op.math);
  return out;
}
}  // namespace

TEST_CASE("QuantErrorTable: output SQNR per scheme from the measured rows") {
  const QuantErrorTable t({row(Precision::fp8_e4m3, Granularity::per_token, 36, 32, 0.01),
                           row(Precision::fp8_e4m3, Granularity::per_tensor, 31, 31, 0.1),
                           row(Precision::int4, Granularity::per_block, 15, 16, 0.3),
                           row(Precision::nvfp4, Granularity::per_block, 24, 20, 0.1)});
  // W8A8 fp8, per-token scales: the product's rel RMSE 0.01 -> 40 dB; per-tensor: 0.1 -> 20 dB.
  CHECK(*t.linear_sqnr_db(Precision::fp8_e4m3, Precision::fp8_e4m3, ActivationScaling::dynamic_per_token) ==
        ROOFLINE_APPROX(40.0));
  CHECK(*t.linear_sqnr_db(Precision::fp8_e4m3, Precision::fp8_e4m3, ActivationScaling::static_per_tensor) ==
        ROOFLINE_APPROX(20.0));
  // Weight-only: the weight's own SQNR (int4 groups of 128: the per-block row).
  CHECK(*t.linear_sqnr_db(Precision::int4, Precision::bf16, ActivationScaling::static_per_tensor) == 16.0);
  // Mixed W4A8: the weaker of the two tensors.
  CHECK(*t.linear_sqnr_db(Precision::int4, Precision::fp8_e4m3, ActivationScaling::dynamic_per_token) == 16.0);
  CHECK(std::isinf(*t.linear_sqnr_db(Precision::bf16, Precision::bf16, ActivationScaling::static_per_tensor)));
  CHECK_FALSE(t.linear_sqnr_db(Precision::mxfp4, Precision::mxfp4, ActivationScaling::static_per_tensor).has_value());
  // KV: fp8 with a per-tensor scale, nvfp4 per block of 16.
  CHECK(*t.kv_sqnr_db(Precision::fp8_e4m3) == 31.0);
  CHECK(*t.kv_sqnr_db(Precision::nvfp4) == 24.0);
  CHECK(std::isinf(*t.kv_sqnr_db(Precision::bf16)));
  // The real measurement orders formats as their bits do.
  const QuantErrorTable& m = QuantErrorTable::measured();
  CHECK(*m.kv_sqnr_db(Precision::fp8_e4m3) > *m.kv_sqnr_db(Precision::nvfp4));
  CHECK(*m.linear_sqnr_db(Precision::fp8_e4m3, Precision::fp8_e4m3, ActivationScaling::dynamic_per_token) >
        *m.linear_sqnr_db(Precision::nvfp4, Precision::nvfp4, ActivationScaling::static_per_tensor));
}

TEST_CASE("cited_loss_percent takes the worst numeric evidence") {
  QualityInfo q;
  QualityEvidence mmlu;
  mmlu.metric = "MMLU accuracy";
  mmlu.baseline = 0.6737;
  mmlu.quantized = 0.6681;
  QualityEvidence recovery;
  recovery.metric = "Arena-Hard recovery";
  recovery.recovery_percent = 93.0;
  QualityEvidence text;
  text.finding = "effectively lossless";
  q.evidence = {mmlu, text};
  const QualityEvidence* src = nullptr;
  // (0.6737 - 0.6681) / 0.6737 = 0.8312%.
  CHECK(*cited_loss_percent(q, &src) == ROOFLINE_APPROX(0.83123).epsilon(1e-4));
  CHECK(src->metric == "MMLU accuracy");
  q.evidence.push_back(recovery);
  CHECK(*cited_loss_percent(q) == ROOFLINE_APPROX(7.0));
  QualityEvidence ppl;
  ppl.metric = "wikitext2 perplexity";
  ppl.baseline = 6.0;
  ppl.quantized = 6.6;  // lower is better: +10%
  q.evidence = {ppl};
  CHECK(*cited_loss_percent(q) == ROOFLINE_APPROX(10.0));
  q.evidence = {text};
  CHECK_FALSE(cited_loss_percent(q).has_value());
}

TEST_CASE("the default attention kernel per GPU") {
  CHECK(default_attention_kernel(hardware().get("h100_sxm")) == AttentionKernel::fa3);
  CHECK(default_attention_kernel(hardware().get("h200_sxm")) == AttentionKernel::fa3);
  CHECK(default_attention_kernel(hardware().get("b200")) == AttentionKernel::fa4);
  CHECK(default_attention_kernel(hardware().get("a100_sxm_80gb")) == AttentionKernel::fa2);
  CHECK(default_attention_kernel(hardware().get("gb10")) == AttentionKernel::fa2);
  CHECK(parse_objective("throughput") == Objective::throughput);
  CHECK_THROWS_AS(parse_objective("speed"), UnknownNameError);
}

TEST_CASE("confidence derives from calibration coverage: priors, transferred, measured") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const ModelConfig& m = models().get("llama3-8b");
  StepConfig c;
  c.batch = 1;
  c.seq_len = 4096;
  auto with = [&](Provenance p, double error) {
    Calibration cal = Calibration::priors(h);
    for (const ParamKey& key : all_param_keys()) {
      KernelParams kp = cal.params(key);
      kp.provenance = p;
      kp.heldout_median_error_fraction = error;
      cal.set(key, kp);
    }
    return cal;
  };
  std::string reason;
  const Calibration prior = Calibration::priors(h);
  CHECK(prediction_confidence(predict_step(m, c, h, prior), prior, &reason) == "low");
  CHECK(reason.find("100% on documented priors") != std::string::npos);
  const Calibration measured = with(Provenance::measured, 0.05);
  CHECK(prediction_confidence(predict_step(m, c, h, measured), measured, &reason) == "high");
  CHECK(reason.find("100% of the predicted time runs on parameters measured") != std::string::npos);
  CHECK(reason.find("held-out median error 5%") != std::string::npos);
  const Calibration transferred = with(Provenance::transferred, 0.15);
  CHECK(prediction_confidence(predict_step(m, c, h, transferred), transferred, &reason) == "medium");
  // Measured but with large held-out errors: not more than low.
  const Calibration poor = with(Provenance::measured, 0.4);
  CHECK(prediction_confidence(predict_step(m, c, h, poor), poor, &reason) == "low");
  // Measured without held-out errors: no claim beyond low.
  const Calibration unknown = with(Provenance::measured, -1);
  CHECK(prediction_confidence(predict_step(m, c, h, unknown), unknown, nullptr) == "low");
  // The engine's recommendation carries it.
  const IntegratedQuantizationEngine e(h, measured, strategies(), QuantErrorTable::measured());
  const QuantizationRecommendation r = e.recommend(m, Phase::decode, 4096);
  CHECK(r.confidence == "high");
  CHECK(engine("h100_sxm").recommend(m, Phase::decode, 4096).confidence == "low");
}

TEST_CASE("invariant 5 over every profile x phase x length x batch x objective") {
  int checked = 0;
  for (const auto& [name, hw] : hardware().all()) {
    for (Phase phase : {Phase::decode, Phase::prefill}) {
      for (std::int64_t len : {512, 4096, 32768}) {
        for (std::int64_t batch : {1, 16}) {
          for (Objective o : {Objective::latency, Objective::memory, Objective::throughput}) {
            if (phase == Phase::prefill && len == 32768 && batch == 16) continue;
            CAPTURE(name);
            CAPTURE(to_string(phase));
            CAPTURE(len);
            CAPTURE(batch);
            CAPTURE(to_string(o));
            const QuantizationRecommendation r =
                engine(name).recommend(models().get("llama3-8b"), phase, len, batch, true, true, o);
            REQUIRE(r.feasible);
            roofline::test::check_recommendation_not_slower(r, hw);
            for (const CandidateEvaluation& c : r.candidates) {
              if (c.status != "selected" && c.status != "admissible") continue;
              CHECK(c.quality.within_budget);
              CHECK(c.memory_bytes <= hw.capacity_bytes());
            }
            ++checked;
          }
        }
      }
    }
  }
  CHECK(checked == 6 * (3 * 2 * 3 + 5 * 3));
}

TEST_CASE("recommendations a domain expert would sign") {
  const ModelConfig& m = models().get("llama3-8b");
  for (const auto& [name, hw] : hardware().all()) {
    for (Phase phase : {Phase::decode, Phase::prefill}) {
      // A generous budget so that aggressive formats compete on speed alone.
      const QuantizationRecommendation r =
          engine(name).recommend(m, phase, 4096, 8, true, true, Objective::latency, 100.0);
      REQUIRE(r.feasible);
      CAPTURE(name);
      CAPTURE(to_string(phase));
      CAPTURE(r.config);
      for (MathPath mp : winner_math(r, m, hw)) {
        if (!hw.capabilities.native_fp8) CHECK(mp != MathPath::tc_fp8);  // no fp8 compute on A100
        if (!hw.capabilities.native_fp4) CHECK(mp != MathPath::tc_fp4);  // NVFP4 compute only on Blackwell
      }
      if (r.config.attention_kernel == AttentionKernel::fa3) CHECK(hw.capabilities.wgmma);  // FA3 only on Hopper
      if (r.config.attention_kernel == AttentionKernel::fa4)
        CHECK((hw.capabilities.wgmma || hw.capabilities.tcgen05));
      // Every candidate row that claims fp8 or fp4 activations on a GPU without the unit is refused.
      for (const CandidateEvaluation& c : r.candidates) {
        if (c.config.strategy_name == "fp8_balanced" && !c.config.adaptive_fallback && !hw.capabilities.native_fp8)
          CHECK(c.status == "refused");
        if (c.config.strategy_name == "nvfp4_blackwell" && !c.config.adaptive_fallback && !hw.capabilities.native_fp4)
          CHECK(c.status == "refused");
      }
    }
  }
  // On Blackwell with that budget, W4A4 NVFP4 is a candidate and runs on fp4 tensor cores. (It does not win
  // prefill on the priors: fp4 GEMMs are assumed to reach 30% of peak, fp8 65% (modeling.md, lesson 4).)
  const HardwareSpec& b200 = hardware().get("b200");
  const QuantizationRecommendation b =
      engine("b200").recommend(m, Phase::prefill, 4096, 8, true, false, Objective::latency, 100.0);
  int nvfp4 = 0;
  for (const CandidateEvaluation& c : b.candidates) {
    if (c.config.strategy_name != "nvfp4_blackwell" || c.config.adaptive_fallback) continue;
    CHECK(c.status != "refused");
    MixedPrecisionConfig s = strategies().get("nvfp4_blackwell");
    s.kv_cache_precision = c.config.kv_cache_precision;
    s.activation_scaling = c.config.activation_scaling;
    StepConfig sc;
    sc.phase = Phase::prefill;
    sc.batch = 8;
    sc.seq_len = 4096;
    sc.precision = to_assignment(s, m);
    sc.attention = c.config.attention_kernel;
    bool fp4 = false;
    for (const Op& op : build_step(m, sc, b200)) fp4 = fp4 || op.math == MathPath::tc_fp4;
    CHECK(fp4);
    ++nvfp4;
  }
  CHECK(nvfp4 > 0);
}

TEST_CASE("the quality budget decides which formats compete") {
  const ModelConfig& m = models().get("llama3-8b");
  // Budget 0: only 16-bit tensors.
  const QuantizationRecommendation zero = engine("h100_sxm").recommend(m, Phase::decode, 4096, 1, true, false,
                                                                       Objective::latency, 0.0);
  CHECK(zero.config.strategy_name == "fp16_baseline");
  CHECK((zero.config.kv_cache_precision == Precision::fp16 || zero.config.kv_cache_precision == Precision::bf16));
  CHECK(zero.expected_quality_loss.find("none") == 0);
  // 1%: FP8 W8A8 with its cited 0.8% MMLU loss (intel/auto-round) is admissible on Hopper.
  const QuantizationRecommendation one = engine("h100_sxm").recommend(m, Phase::decode, 4096);
  CHECK(one.config.strategy_name == "fp8_balanced");
  REQUIRE(one.quality.cited_loss_percent.has_value());
  CHECK(*one.quality.cited_loss_percent == ROOFLINE_APPROX(0.83123).epsilon(1e-4));
  CHECK(one.expected_quality_loss.find("auto-round") != std::string::npos);
  // NVFP4 W4A4 (cited 8.0% MMLU loss) is over a 1% budget on B200 with its reason.
  const QuantizationRecommendation b = engine("b200").recommend(m, Phase::decode, 4096);
  bool nvfp4_rejected = false;
  for (const CandidateEvaluation& c : b.candidates)
    if (c.config.strategy_name == "nvfp4_blackwell" && c.config.kv_cache_precision == Precision::nvfp4 &&
        c.config.activation_scaling == ActivationScaling::static_per_tensor && !c.config.adaptive_fallback) {
      CHECK(c.status == "over quality budget");
      CHECK(c.reason.find("8.0% relative loss cited") != std::string::npos);
      nvfp4_rejected = true;
    }
  CHECK(nvfp4_rejected);
}

TEST_CASE("memory: a model that does not fit in 16-bit is recommended a format that fits, or nothing") {
  // Llama-3-70B in 16-bit needs 141 GB of weights; an H100 has 85.5 GB. FP8 (70.6 GB) fits.
  const QuantizationRecommendation r = engine("h100_sxm").recommend(models().get("llama3-70b"), Phase::decode, 4096);
  REQUIRE(r.feasible);
  CHECK(r.memory_bytes <= hardware().get("h100_sxm").capacity_bytes());
  CHECK(r.baseline_memory_bytes > hardware().get("h100_sxm").capacity_bytes());
  CHECK(r.config.strategy_name != "fp16_baseline");
  bool baseline_rejected = false;
  for (const CandidateEvaluation& c : r.candidates)
    if (c.config.strategy_name == "fp16_baseline" && c.status == "over memory") baseline_rejected = true;
  CHECK(baseline_rejected);
  // 405B does not fit an H100 in any format within the budget.
  const QuantizationRecommendation none = engine("h100_sxm").recommend(models().get("llama3.1-405b"), Phase::decode, 4096);
  CHECK_FALSE(none.feasible);
  CHECK(none.reason.find("nothing fits") != std::string::npos);
}

TEST_CASE("objectives: memory never larger than latency's choice, throughput at the largest batch that fits") {
  const ModelConfig& m = models().get("llama3-8b");
  const auto& e = engine("h100_sxm");
  const QuantizationRecommendation lat = e.recommend(m, Phase::decode, 32768, 4, true, false, Objective::latency);
  const QuantizationRecommendation mem = e.recommend(m, Phase::decode, 32768, 4, true, false, Objective::memory);
  const QuantizationRecommendation thr = e.recommend(m, Phase::decode, 32768, 4, true, false, Objective::throughput);
  CHECK(mem.memory_bytes <= lat.memory_bytes);
  CHECK(lat.predicted_time_us <= mem.predicted_time_us);
  CHECK(thr.config.batch >= 4);
  CHECK(thr.tokens_per_s >= lat.tokens_per_s);
  CHECK(thr.reason.find("largest power of two that fits") != std::string::npos);
  // Without dynamic scaling the activation scales are static.
  const QuantizationRecommendation st = e.recommend(m, Phase::decode, 4096, 1, false);
  CHECK(st.config.activation_scaling == ActivationScaling::static_per_tensor);
}

TEST_CASE("the recommendation explains itself") {
  const QuantizationRecommendation r = engine("h100_sxm").recommend(models().get("llama3-8b"), Phase::decode, 4096);
  // Decode at batch 1 reads every weight once: the linear layers dominate and are memory-bound.
  CHECK(r.dominant_bottleneck == "linear layers (memory-bound)");
  CHECK(r.reason.find("linear layers take") != std::string::npos);
  CHECK(r.reason.find("memory-bound") != std::string::npos);
  CHECK(r.reason.find("fewer bytes") != std::string::npos);
  double share = 0;
  for (const OperatorBottleneck& b : r.bottleneck_analysis) {
    share += b.time_share_fraction;
    CHECK(b.ridge_flop_per_byte > 0);
    if (b.type == OperatorType::FFN_DOWN) CHECK(b.bound == Bound::memory);
  }
  CHECK(share == ROOFLINE_APPROX(1.0));
  CHECK(r.kv_cache_bytes > 0);
  CHECK(r.memory_savings_pct > 0);
  CHECK(r.fa_config.version != FlashAttentionVersion::FA1);
  // Refusals carry their reason: layerwise_gradient needs fp4 tensor cores for its last third on Hopper.
  bool refused = false;
  for (const CandidateEvaluation& c : r.candidates)
    if (c.status == "refused" && c.reason.find("tc_fp4") != std::string::npos) refused = true;
  CHECK(refused);
}

TEST_CASE("the seed's inline model form and bad input") {
  const std::map<std::string, std::int64_t> llama = {{"H", 4096}, {"L", 32},  {"nh", 32},
                                                     {"nkv", 8},   {"dh", 128}, {"dff", 14336}};
  const QuantizationRecommendation r = engine("gb10").recommend(llama, Phase::decode, 4096);
  CHECK(r.feasible);
  // GB10: 273 GB/s LPDDR5X; 16-bit decode reads about 13.96 GB of decoder weights: >= 51 ms at the datasheet.
  CHECK(r.baseline_time_us >= 13.958e9 / 273e9 * 1e6);
  CHECK_THROWS_AS(engine("gb10").recommend(llama, Phase::decode, 0), InvalidArgumentError);
  CHECK_THROWS_AS(engine("gb10").recommend(llama, Phase::decode, 4096, 0), InvalidArgumentError);
  CHECK_THROWS_AS(engine("gb10").recommend(llama, Phase::decode, 4096, 1, true, false, Objective::latency, -1),
                  InvalidArgumentError);
  std::map<std::string, std::int64_t> bad = llama;
  bad["heads"] = 3;
  CHECK_THROWS_AS(engine("gb10").recommend(bad, Phase::decode, 4096), InvalidArgumentError);
}

TEST_CASE("StepEvaluator equals predict_step, and falls back for MoE") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  // The priors, and the shipped H100 calibration (fitted keys: intervals in quadrature, the session band).
  for (const Calibration& cal : {Calibration::priors(h), calibration_for(h, hardware())})
  for (const auto& [name, m] : models().all()) {
    for (const auto& [phase, attention] : {std::pair{Phase::decode, AttentionKernel::fa3}, {Phase::prefill, AttentionKernel::fa3},
                                           {Phase::decode, AttentionKernel::fa2}, {Phase::prefill, AttentionKernel::fa2}}) {
      StepConfig c;
      c.phase = phase;
      c.precision = to_assignment(strategies().get("fp8_balanced"), m);
      c.attention = attention;
      const StepEvaluator e(m, c, h, cal);
      CHECK(e.compiled() == !m.moe.enabled());
      std::vector<std::int64_t> lengths = {1, 77, 4096};
      std::vector<StepTime> many;
      e.evaluate_lengths(3, lengths, many);
      for (std::size_t i = 0; i < lengths.size(); ++i) {
        c.batch = 3;
        c.seq_len = lengths[i];
        const StepPrediction p = predict_step(m, c, h, cal);
        CAPTURE(name);
        CAPTURE(lengths[i]);
        CHECK(e.evaluate(3, lengths[i]).time_s == ROOFLINE_APPROX(p.time_s).epsilon(1e-9));
        CHECK(many[i].time_s == ROOFLINE_APPROX(p.time_s).epsilon(1e-9));
        CHECK(many[i].interval_high_s == ROOFLINE_APPROX(p.interval_high_s).epsilon(1e-9));
        CHECK(many[i].interval_low_s == ROOFLINE_APPROX(p.interval_low_s).epsilon(1e-9));
      }
      CHECK_THROWS_AS(e.evaluate(0, 10), InvalidArgumentError);
    }
  }
}

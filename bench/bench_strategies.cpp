// Mixed-precision strategies (issue 5, items 1, 2, 5). Prints, before timing anything:
//   1. the predicted Llama-3-8B step time under each shipped strategy on H100, B200, A100 and GB10 (decode at
//      batch 1 and 64, prefill 8 × 2048), with its speedup over fp16_baseline and whether it runs emulated;
//   2. the share of the step spent in activation-quantisation kernels for dynamic and static FP8 scaling,
//      separate or fused into the producer, against W4A16 (which has none), at small and large batch.
// The numbers are model predictions with the calibration the library finds (the priors until validate/
// measurements exist), not measurements. Then times predict_step under each strategy (target: the same
// microseconds as a plain report, < 50 us) and check_strategy.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "roofline.hpp"

using namespace roofline;
using roofline::bench::gpus;
using roofline::bench::models;
using roofline::bench::strategies;

namespace {

struct Workload {
  const char* label;
  Phase phase;
  std::int64_t batch;
  std::int64_t seq_len;
};
const Workload workloads[] = {
    {"decode b1 s4096", Phase::decode, 1, 4096},
    {"decode b64 s4096", Phase::decode, 64, 4096},
    {"prefill b8 s2048", Phase::prefill, 8, 2048},
};

StepPrediction step(const MixedPrecisionConfig& c, const HardwareSpec& hw, const Workload& w) {
  const ModelConfig& m = models().get("llama3-8b");
  StepConfig s;
  s.phase = w.phase;
  s.batch = w.batch;
  s.seq_len = w.seq_len;
  s.precision = to_assignment(c, m, hw);
  return predict_step(m, s, hw, calibration_for(hw, gpus()));
}

void print_strategy_table() {
  std::printf("Llama-3-8B step time under each strategy (model prediction, calibration as found)\n");
  for (const char* gpu : {"h100_sxm", "b200", "a100_sxm_80gb", "gb10"}) {
    const HardwareSpec& hw = gpus().get(gpu);
    std::printf("\n%s (calibration: %s)\n%-22s", gpu, calibration_for(hw, gpus()).status().c_str(), "strategy");
    for (const Workload& w : workloads) std::printf("  %22s", w.label);
    std::printf("  runs\n");
    std::vector<double> base;
    for (const Workload& w : workloads) base.push_back(step(create_fp16_baseline(), hw, w).time_s);
    for (const auto& [name, c] : strategies().all()) {
      std::printf("%-22s", name.c_str());
      for (std::size_t i = 0; i < std::size(workloads); ++i) {
        const StepPrediction p = step(c, hw, workloads[i]);
        std::printf("  %9.3f ms (%5.2fx)%s", p.time_s * 1e3, base[i] / p.time_s, p.fits ? " " : "!");
      }
      std::printf("  %s\n", check_strategy(c, hw).any_emulated() ? "emulated" : "native");
    }
  }
  std::printf("(! = does not fit in memory)\n");
}

void print_quantize_table() {
  struct Variant {
    const char* label;
    MixedPrecisionConfig c;
  };
  std::vector<Variant> variants;
  auto fp8 = [](ActivationScaling s, QuantizeFusion f) {
    MixedPrecisionConfig c = create_fp8_balanced();
    c.kv_cache_precision = Precision::bf16;  // isolate the linear layers
    c.activation_scaling = s;
    c.quantize_fusion = f;
    return c;
  };
  variants.push_back({"fp8 dynamic/tensor", fp8(ActivationScaling::dynamic_per_tensor, QuantizeFusion::separate)});
  variants.push_back({"fp8 dynamic/token", fp8(ActivationScaling::dynamic_per_token, QuantizeFusion::separate)});
  variants.push_back({"fp8 static", fp8(ActivationScaling::static_per_tensor, QuantizeFusion::separate)});
  variants.push_back({"fp8 dyn/token fused", fp8(ActivationScaling::dynamic_per_token, QuantizeFusion::fused_into_producer)});
  variants.push_back({"fp8 static fused", fp8(ActivationScaling::static_per_tensor, QuantizeFusion::fused_into_producer)});
  variants.push_back({"w4a16", create_w4a16_aggressive()});
  variants.push_back({"bf16 (fp16_baseline)", create_fp16_baseline()});
  const HardwareSpec& hw = gpus().get("h100_sxm");
  std::printf("\nActivation quantisation on h100_sxm, Llama-3-8B, bf16 KV (time, share of the step in QUANTIZE kernels)\n%-22s",
              "variant");
  for (const Workload& w : workloads) std::printf("  %24s", w.label);
  std::printf("\n");
  for (const Variant& v : variants) {
    std::printf("%-22s", v.label);
    for (const Workload& w : workloads) {
      const StepPrediction p = step(v.c, hw, w);
      double q = 0;
      for (const OpPrediction& o : p.ops)
        if (o.op.type == OperatorType::QUANTIZE) q += o.total_s();
      std::printf("  %10.3f ms  %5.1f%% q", p.time_s * 1e3, 100.0 * q / p.time_s);
    }
    std::printf("\n");
  }
  std::printf("(fused: the cast happens inside RMSNorm and SiLU-mul, whose written bytes change; only o_proj's input "
              "keeps a QUANTIZE kernel)\n\n");
}

void BM_predict_step_under_strategy(benchmark::State& state, std::string name) {
  const HardwareSpec& h = gpus().get("h100_sxm");
  const ModelConfig& m = models().get("llama3-8b");
  const Calibration cal = Calibration::priors(h);
  StepConfig c;
  c.batch = 8;
  c.seq_len = 4096;
  c.precision = to_assignment(strategies().get(name), m, h);
  for (auto _ : state) benchmark::DoNotOptimize(predict_step(m, c, h, cal));
}

void BM_strategy_to_step(benchmark::State& state) {
  // check_strategy + to_assignment + predict_step: what `roofline report --strategy` costs beyond loading.
  const HardwareSpec& h = gpus().get("h100_sxm");
  const ModelConfig& m = models().get("llama3-8b");
  const Calibration cal = Calibration::priors(h);
  const MixedPrecisionConfig& s = strategies().get("layerwise_gradient");
  StepConfig c;
  c.batch = 8;
  c.seq_len = 4096;
  for (auto _ : state) {
    benchmark::DoNotOptimize(check_strategy(s, h));
    c.precision = to_assignment(s, m, h);
    benchmark::DoNotOptimize(predict_step(m, c, h, cal));
  }
}
BENCHMARK(BM_strategy_to_step)->Unit(benchmark::kMicrosecond);

void BM_load_strategy_directory(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(StrategyRegistry::load_directory(std::string(ROOFLINE_SOURCE_DIR) + "/strategies"));
}
BENCHMARK(BM_load_strategy_directory)->Unit(benchmark::kMicrosecond);
}  // namespace

int main(int argc, char** argv) {
  print_strategy_table();
  print_quantize_table();
  for (const std::string& name : strategies().names())
    benchmark::RegisterBenchmark(("BM_predict_step/" + name).c_str(), BM_predict_step_under_strategy, name)
        ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

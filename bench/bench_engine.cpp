// Speed targets of the integrated quantisation engine (issue 6), one core:
//   one full recommend() (Llama-3-8B decode and prefill on H100 and B200): target < 1 ms
//   a design-space sweep of >= 1e6 (model, phase, seq_len, batch, strategy) step predictions: target < 2 s
// The sweep runs the five dense shipped models through StepEvaluator (operator templates; equal to
// predict_step to 1e-9); the MoE model (Mixtral) has no compiled form and is timed apart, per prediction.
// The engine's error table (measured quantisation error) is built once, outside the timed region.
#include <benchmark/benchmark.h>

#include <chrono>
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
const IntegratedQuantizationEngine& engine(const std::string& gpu) {
  static std::map<std::string, IntegratedQuantizationEngine> e;
  auto it = e.find(gpu);
  if (it == e.end()) {
    const HardwareSpec& hw = gpus().get(gpu);
    it = e.emplace(gpu, IntegratedQuantizationEngine(hw, Calibration::priors(hw), strategies(), QuantErrorTable::measured()))
             .first;
  }
  return it->second;
}

void BM_recommend(benchmark::State& state, std::string gpu, Phase phase, std::int64_t seq_len) {
  const IntegratedQuantizationEngine& e = engine(gpu);
  const ModelConfig& m = models().get("llama3-8b");
  std::size_t candidates = 0;
  for (auto _ : state) {
    const QuantizationRecommendation r = e.recommend(m, phase, seq_len);
    candidates = r.candidates.size();
    benchmark::DoNotOptimize(r.predicted_time_us);
  }
  state.counters["candidates"] = double(candidates);
}
BENCHMARK_CAPTURE(BM_recommend, h100_decode_4096, std::string("h100_sxm"), Phase::decode, 4096)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_recommend, h100_prefill_2048, std::string("h100_sxm"), Phase::prefill, 2048)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_recommend, b200_decode_32768, std::string("b200"), Phase::decode, 32768)->Unit(benchmark::kMicrosecond);

// The sweep: dense models × {decode, prefill} × the six shipped strategies (as they run on H100, fallbacks
// included) × batches 1..128 × 2100 context / prompt lengths = 1,008,000 predictions.
void BM_design_space_sweep(benchmark::State& state) {
  const HardwareSpec& hw = gpus().get("h100_sxm");
  const Calibration cal = Calibration::priors(hw);
  std::vector<std::int64_t> lengths;
  for (int i = 0; i < 2100; ++i) lengths.push_back(16 + std::int64_t(i) * 15);  // 16 .. 31,501 tokens
  const std::int64_t batches[] = {1, 2, 4, 8, 16, 32, 64, 128};
  std::vector<StepTime> out;
  double predictions = 0, checksum = 0;
  for (auto _ : state) {
    predictions = 0;
    for (const auto& [name, model] : models().all()) {
      if (model.moe.enabled()) continue;
      for (Phase phase : {Phase::decode, Phase::prefill}) {
        for (const auto& [sname, s] : strategies().all()) {
          StepConfig c;
          c.phase = phase;
          c.precision = to_assignment(s, model, hw, FeasibilityPolicy::emulate);
          c.attention = AttentionKernel::fa3;
          const StepEvaluator e(model, c, hw, cal);
          for (std::int64_t b : batches) {
            e.evaluate_lengths(b, lengths, out);
            for (const StepTime& t : out) checksum += t.time_s;
            predictions += double(out.size());
          }
        }
      }
    }
  }
  benchmark::DoNotOptimize(checksum);
  state.counters["predictions"] = predictions;
  state.counters["ns_per_prediction"] =
      benchmark::Counter(predictions * double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_design_space_sweep)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// The MoE fallback (predict_step per point), per prediction.
void BM_moe_step_prediction(benchmark::State& state) {
  const HardwareSpec& hw = gpus().get("h100_sxm");
  const Calibration cal = Calibration::priors(hw);
  const ModelConfig& m = models().get("mixtral-8x7b");
  StepConfig c;
  c.precision = to_assignment(strategies().get("fp8_balanced"), m, hw, FeasibilityPolicy::emulate);
  c.attention = AttentionKernel::fa3;
  const StepEvaluator e(m, c, hw, cal);
  std::int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(e.evaluate(8, 1000 + (i++ % 4096)).time_s);
}
BENCHMARK(BM_moe_step_prediction)->Unit(benchmark::kMicrosecond);
}  // namespace

BENCHMARK_MAIN();

// Speed targets of the core (issue 2) and of batch prediction (issue 4), one core:
//   one per-operator report of a 32-layer model (build_step + predict every op): target < 50 us
//   one operator prediction: target < 100 ns
//   batch prediction including JSON parsing and output formatting: target >= 200k workloads/s
// With --benchmark_repetitions=N each benchmark also reports its fastest repetition ("_min"): on a shared
// machine the median moves with the neighbours' load, the minimum much less.
#include <benchmark/benchmark.h>

#include <algorithm>

#include <string>
#include <vector>

#include "bench_support.hpp"
#include "roofline.hpp"

using namespace roofline;
using roofline::bench::gpus;
using roofline::bench::models;

namespace {
double fastest(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }


void BM_step_report_32_layers(benchmark::State& state) {
  const HardwareSpec& h = gpus().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  StepConfig c;
  c.batch = 8;
  c.seq_len = 4096;
  for (auto _ : state) benchmark::DoNotOptimize(predict_step(models().get("llama3-8b"), c, h, cal));
}
BENCHMARK(BM_step_report_32_layers)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", fastest);

// One GEMM prediction with the parameters users get: the shipped calibrated H100 profile (fitted overlap
// exponents are not integers). The prior parameters (p = 4) are timed beside it.
void BM_one_operator_prediction(benchmark::State& state) {
  const HardwareSpec& h = gpus().get("h100_sxm");
  const Calibration cal = calibration_for(h, gpus());
  if (cal.status().rfind("calibrated", 0) != 0) state.SkipWithError("no calibrated h100_sxm profile");
  const Op op = gemm_op(GemmShape{64, 14336, 4096, 1}, Precision::bf16, Precision::bf16, h);
  for (auto _ : state) benchmark::DoNotOptimize(predict(op, h, cal));
}
BENCHMARK(BM_one_operator_prediction)->Unit(benchmark::kNanosecond)->ComputeStatistics("min", fastest);

void BM_one_operator_prediction_priors(benchmark::State& state) {
  const HardwareSpec& h = gpus().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const Op op = gemm_op(GemmShape{64, 14336, 4096, 1}, Precision::bf16, Precision::bf16, h);
  for (auto _ : state) benchmark::DoNotOptimize(predict(op, h, cal));
}
BENCHMARK(BM_one_operator_prediction_priors)->Unit(benchmark::kNanosecond)->ComputeStatistics("min", fastest);

void BM_batch_prediction_jsonl(benchmark::State& state) {
  const HardwareSpec& h = gpus().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const std::vector<std::string> lines = {
      R"({"op":"gemm","m":16,"n":14336,"k":4096,"dtype":"fp8_e4m3"})",
      R"({"op":"gemm","m":4096,"n":4096,"k":4096,"dtype":"bf16"})",
      R"({"op":"attention","phase":"decode","batch":8,"q_heads":32,"kv_heads":8,"q_len":1,"kv_len":8192,"head_dim":128,"causal":false,"dtype":"bf16","kernel":"fa2"})",
      R"({"op":"attention","phase":"prefill","batch":1,"q_heads":32,"kv_heads":8,"q_len":2048,"kv_len":2048,"head_dim":128,"causal":true,"dtype":"bf16","kernel":"cudnn"})",
  };
  std::string out;
  std::size_t i = 0;
  for (auto _ : state) {
    predict_line(lines[i++ % lines.size()], "bench", 1, h, cal, models(), out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_batch_prediction_jsonl)->Unit(benchmark::kNanosecond)->ComputeStatistics("min", fastest);
}  // namespace

BENCHMARK_MAIN();

// Quantise and dequantise throughput per format on one core (issue 5: "a benchmark prints quantise
// throughput, elements/s, one core, per format"). items_per_second is elements per second. The tensor is
// llm_like_activations [256 x 4096] (1 Mi elements, 4 MiB of fp32): larger than L2 on most CPUs.
#include <benchmark/benchmark.h>

#include "roofline/dynamic_quant.hpp"

namespace {

using namespace roofline;

const Matrix& activations() {
  static const Matrix x = llm_like_activations(256, 4096, 1);
  return x;
}

void quantize_bench(benchmark::State& state, QuantSpec spec) {
  const Matrix& x = activations();
  for (auto _ : state) {
    QuantizedTensor q = quantize(x, spec);
    benchmark::DoNotOptimize(q.codes.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * x.size());
  state.SetBytesProcessed(state.iterations() * x.size() * std::int64_t(sizeof(float)));
}

void dequantize_bench(benchmark::State& state, QuantSpec spec) {
  const QuantizedTensor q = quantize(activations(), spec);
  for (auto _ : state) {
    Matrix d = dequantize(q);
    benchmark::DoNotOptimize(d.values.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * q.rows * q.cols);
}

void stats_bench(benchmark::State& state) {
  const Matrix& x = activations();
  for (auto _ : state) {
    ActivationStats s = compute_activation_stats(x);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * x.size());
}

constexpr auto tok = Granularity::per_token;
constexpr auto blk = Granularity::per_block;
constexpr auto ten = Granularity::per_tensor;

// Each format with its usual dynamic scheme, absmax calibration.
BENCHMARK_CAPTURE(quantize_bench, fp8_e4m3_per_token, QuantSpec{.precision = Precision::fp8_e4m3, .granularity = tok});
BENCHMARK_CAPTURE(quantize_bench, fp8_e5m2_per_token, QuantSpec{.precision = Precision::fp8_e5m2, .granularity = tok});
BENCHMARK_CAPTURE(quantize_bench, int8_per_token, QuantSpec{.precision = Precision::int8, .granularity = tok});
BENCHMARK_CAPTURE(quantize_bench, int4_per_block128, QuantSpec{.precision = Precision::int4, .granularity = blk});
BENCHMARK_CAPTURE(quantize_bench, nvfp4_per_block16, QuantSpec{.precision = Precision::nvfp4, .granularity = blk});
BENCHMARK_CAPTURE(quantize_bench, mxfp4_per_block32, QuantSpec{.precision = Precision::mxfp4, .granularity = blk});
BENCHMARK_CAPTURE(quantize_bench, fp16, QuantSpec{.precision = Precision::fp16, .granularity = ten});
BENCHMARK_CAPTURE(quantize_bench, bf16, QuantSpec{.precision = Precision::bf16, .granularity = ten});
// Calibration cost: percentile (selection per granule) and mse_optimal (100 candidate scales per granule).
BENCHMARK_CAPTURE(quantize_bench, fp8_e4m3_per_token_percentile,
                  QuantSpec{.precision = Precision::fp8_e4m3, .granularity = tok,
                            .calibration_mode = CalibrationMode::percentile});
BENCHMARK_CAPTURE(quantize_bench, fp8_e4m3_per_token_mse_optimal,
                  QuantSpec{.precision = Precision::fp8_e4m3, .granularity = tok,
                            .calibration_mode = CalibrationMode::mse_optimal});
BENCHMARK_CAPTURE(quantize_bench, nvfp4_per_block16_mse_optimal,
                  QuantSpec{.precision = Precision::nvfp4, .granularity = blk,
                            .calibration_mode = CalibrationMode::mse_optimal});

BENCHMARK_CAPTURE(dequantize_bench, fp8_e4m3_per_token, QuantSpec{.precision = Precision::fp8_e4m3, .granularity = tok});
BENCHMARK_CAPTURE(dequantize_bench, int8_per_token, QuantSpec{.precision = Precision::int8, .granularity = tok});
BENCHMARK_CAPTURE(dequantize_bench, nvfp4_per_block16, QuantSpec{.precision = Precision::nvfp4, .granularity = blk});

BENCHMARK(stats_bench);

}  // namespace

BENCHMARK_MAIN();

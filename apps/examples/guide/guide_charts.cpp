// Guide example (docs/guide/08-cpp-api.md): the four charts of the library as SVG files, and the HTML
// report of the decode step. scripts/gen-doc-images.sh runs it to make docs/images/.
// Usage: guide_charts [OUT_DIR]   (default: the current directory)
#include <roofline.hpp>

#include <iostream>

using namespace roofline;

int main(int argc, char** argv) {
  const std::filesystem::path out = argc > 1 ? argv[1] : ".";
  std::filesystem::create_directories(out);
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const ModelRegistry models = ModelRegistry::load_default();
  const HardwareSpec& h100 = gpus.get("h100_sxm");
  const ModelConfig& llama = models.get("llama3-8b");
  const Calibration calibration = calibration_for(h100, gpus);

  // One decode step (8 sequences at 4096 cached tokens) and the prefill of one 4096-token prompt.
  const PrecisionAssignment bf16 = PrecisionAssignment::uniform(Precision::bf16, Precision::bf16, Precision::bf16);
  const StepConfig decode{.phase = Phase::decode, .batch = 8, .seq_len = 4096, .precision = bf16};
  const StepConfig prefill{.phase = Phase::prefill, .batch = 1, .seq_len = 4096, .precision = bf16};
  const StepPrediction d = predict_step(llama, decode, h100, calibration);
  const StepPrediction p = predict_step(llama, prefill, h100, calibration);

  // 1. The roofline: every operator of both steps under the H100's roofs.
  RooflineChart chart = roofline_chart(h100, "Llama-3-8B bf16 on H100 SXM: decode (batch 8, context 4096) and prefill (4096)");
  chart.subtitle = "calibration: " + d.calibration_status;
  add_step(chart, d, Phase::decode);
  add_step(chart, p, Phase::prefill);
  write_file_atomically(out / "roofline.svg", render_svg(chart));

  // 2. Where the time goes, by operator class.
  write_file_atomically(out / "breakdown.svg",
                        render_breakdown_svg({step_breakdown("decode, batch 8, context 4096", d),
                                              step_breakdown("prefill, 4096-token prompt", p)},
                                             BarScale::share, "Llama-3-8B bf16 on H100 SXM: time per operator class"));

  // 3. The shipped strategies (strategies/*.yaml) compared on the decode step, fp8_balanced highlighted.
  StepConfig requested = decode;
  requested.precision.name = "fp8_balanced";
  const std::vector<StrategyResult> rows =
      compare_strategies(llama, requested, h100, calibration, StrategyRegistry::load_default());
  write_file_atomically(out / "strategies.svg",
                        render_strategy_svg(rows, "Strategies: Llama-3-8B decode (batch 8, context 4096) on H100 SXM"));

  // 4. Attention kernels over context length (one layer's causal prefill attention, one sequence).
  const std::vector<KernelSeries> series = attention_sweep(
      llama, h100, calibration, Phase::prefill, 1, {1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072},
      {AttentionKernel::unfused, AttentionKernel::fa1, AttentionKernel::fa2, AttentionKernel::fa3, AttentionKernel::fa4});
  write_file_atomically(out / "attention.svg",
                        render_attention_svg(series, "Llama-3-8B prefill attention on H100 SXM, one sequence, one layer",
                                             "calibration: " + d.calibration_status));
  // 5. The HTML report: both steps, their charts, the strategies and the calibration status.
  HtmlReport report = html_report({{&llama, &h100, decode, d}, {&llama, &h100, prefill, p}}, calibration);
  report.strategies = rows;
  report.attention = series;
  write_file_atomically(out / "report.html", render_html(report));
  std::cout << "wrote roofline.svg, breakdown.svg, strategies.svg, attention.svg and report.html to " << out << "\n";
  return 0;
}

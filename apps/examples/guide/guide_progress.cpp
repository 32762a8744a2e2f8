// Guide example (docs/guide/08-cpp-api.md): a progress bar over a sweep of predictions. On a terminal it
// redraws one line in place; redirected to a file or a pipe it prints nothing.
#include <roofline.hpp>

#include <cstdio>

using namespace roofline;

int main() {
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const ModelRegistry models = ModelRegistry::load_default();
  const HardwareSpec& h100 = gpus.get("h100_sxm");
  const Calibration calibration = calibration_for(h100, gpus);
  const std::vector<std::int64_t> batches = {1, 2, 4, 8, 16, 32, 64, 128};

  ProgressBar bar("decode sweep", std::int64_t(batches.size()));  // on stderr
  double best_tokens_per_s = 0;
  for (std::int64_t b : batches) {
    const StepConfig c{.phase = Phase::decode, .batch = b, .seq_len = 4096,
                       .precision = PrecisionAssignment::uniform(Precision::bf16, Precision::bf16, Precision::bf16)};
    const StepPrediction p = predict_step(models.get("llama3-8b"), c, h100, calibration);
    if (p.fits) best_tokens_per_s = std::max(best_tokens_per_s, p.tokens_per_s);
    else bar.message("batch " + std::to_string(b) + " does not fit: " + p.infeasible_reason);
    bar.advance(1, "batch " + std::to_string(b));
  }
  bar.finish();
  std::printf("best throughput that fits: %.0f tokens/s\n", best_tokens_per_s);
  return best_tokens_per_s > 0 ? 0 : 1;
}

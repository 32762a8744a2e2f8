// Guide example (docs/guide/01-quick-start.md): one decode step of Llama-3-8B on an H100, with its
// interval, and the operators that take the most time.
#include <roofline.hpp>

#include <algorithm>
#include <iostream>

using namespace roofline;

int main() {
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const ModelRegistry models = ModelRegistry::load_default();
  const HardwareSpec& h100 = gpus.get("h100_sxm");

  // 8 sequences with 4096 cached tokens each, fp8 weights and activations, bf16 KV cache.
  const StepConfig step{.phase = Phase::decode,
                        .batch = 8,
                        .seq_len = 4096,
                        .precision = PrecisionAssignment::uniform(Precision::fp8_e4m3, Precision::fp8_e4m3, Precision::bf16)};
  const StepPrediction p = predict_step(models.get("llama3-8b"), step, h100, calibration_for(h100, gpus));

  std::cout << "step " << format_time_s(p.time_s) << " (interval " << format_time_s(p.interval_low_s) << " .. "
            << format_time_s(p.interval_high_s) << "), " << p.tokens_per_s << " tokens/s\n"
            << "memory " << format_bytes(p.memory.total_bytes()) << " of " << format_bytes(p.memory_capacity_bytes)
            << (p.fits ? ", fits" : ", does not fit: " + p.infeasible_reason) << "\n"
            << "calibration: " << p.calibration_status << "\n";

  // The three operator rows that take the most time (a row stands for all the layers it merges).
  std::vector<OpPrediction> ops = p.ops;
  std::sort(ops.begin(), ops.end(), [](const OpPrediction& a, const OpPrediction& b) { return a.total_s() > b.total_s(); });
  for (std::size_t i = 0; i < 3 && i < ops.size(); ++i)
    std::cout << op_label(ops[i].op) << ": " << format_time_s(ops[i].total_s()) << ", "
              << to_string(ops[i].prediction.bound) << "-bound\n";
  return p.time_s > 0 ? 0 : 1;
}

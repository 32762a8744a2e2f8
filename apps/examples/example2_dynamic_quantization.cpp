// Seed example 2, "Dynamic Quantization": per-token FP8 activations with percentile calibration, a fallback
// to fp16 when outliers are too strong. The "model" is synthetic LLM-like data (dynamic_quant.hpp).
#include <iostream>

#include "roofline.hpp"

int main() try {
  using namespace roofline;
  DynamicQuantConfig config;
  config.precision = Precision::fp8_e4m3;
  config.granularity = parse_granularity("per_token");
  config.calibration_mode = parse_calibration_mode("percentile");
  DynamicQuantizer quantizer(config);

  // Two layers' hidden states and q_proj weights; the second layer's activations carry extreme outliers.
  LlmTensorOptions mild, extreme;
  extreme.outlier_scale_min = 5e4;
  extreme.outlier_scale_max = 1e5;
  for (int layer = 0; layer < 2; ++layer) {
    const Matrix hidden = llm_like_activations(8, 512, 100 + layer, layer == 0 ? mild : extreme);
    const Matrix weight = llm_like_weights(256, 512, 200 + layer);
    for (std::int64_t token = 0; token < hidden.rows; token += 4) {
      Matrix x;  // one token of the batch
      x.rows = 1;
      x.cols = hidden.cols;
      x.values.assign(hidden.values.begin() + token * hidden.cols, hidden.values.begin() + (token + 1) * hidden.cols);
      const DynamicQuantResult r =
          quantizer.quantize_dynamic(x, weight, "layer_" + std::to_string(layer) + "_q_proj");
      const QuantMetadata& meta = r.metadata;
      std::cout << meta.operator_name << " token " << token << ": " << to_string(meta.precision) << ", outlier ratio "
                << meta.outlier_ratio << " (threshold " << meta.outlier_threshold << ")";
      if (meta.fallback) std::cout << "  -> fallback to FP16 due to outliers: " << meta.outlier_ratio;
      std::cout << "\n";
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "example2: " << e.what() << "\n";
  return 1;
}

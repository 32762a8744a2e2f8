// Guide example (docs/guide/02-roofline.md): the roofline of one matrix product, by hand and by the
// library: a decode-shaped product (8 tokens) is memory-bound, a prefill-shaped one (8192 tokens) is not.
#include <roofline.hpp>

#include <cstdio>

using namespace roofline;

int main() {
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const HardwareSpec& h100 = gpus.get("h100_sxm");
  const Calibration priors = Calibration::priors(h100);  // documented efficiencies, no measurements

  std::printf("ridge point of bf16 tensor cores: %.0f FLOP/byte\n", critical_intensity(h100, MathPath::tc_16bit));
  for (std::int64_t m : {8, 8192}) {
    // y[m, 14336] = x[m, 4096] · W[14336, 4096]ᵀ, the FFN up-projection of Llama-3-8B.
    const Op op = gemm_op({.m = m, .n = 14336, .k = 4096}, Precision::bf16, Precision::bf16, h100, OperatorType::FFN_UP);
    const double by_hand_flops = 2.0 * double(m) * 14336 * 4096;
    const double by_hand_bytes = 2.0 * (14336.0 * 4096 + double(m) * 4096 + double(m) * 14336);  // W + x + y, 2 B each
    const Prediction p = predict(op, h100, priors);
    std::printf("m = %5lld: %.3g FLOP (by hand %.3g), %.3g B (by hand %.3g), %.1f FLOP/byte\n",
                static_cast<long long>(m), op.flops, by_hand_flops, op.bytes.total(), by_hand_bytes,
                p.intensity_flop_per_byte);
    std::printf("          floor %s, predicted %s, %s-bound\n", format_time_s(datasheet_floor_s(op, h100)).c_str(),
                format_time_s(p.time_s).c_str(), std::string(to_string(p.bound)).c_str());
    if (op.flops != by_hand_flops || p.time_s < datasheet_floor_s(op, h100)) return 1;
  }
  return 0;
}

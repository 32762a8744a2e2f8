// Guide example (docs/guide/03-precisions.md): the bytes a format costs, and which math unit runs a
// product in it on three GPUs.
#include <roofline.hpp>

#include <cstdio>

using namespace roofline;

int main() {
  for (Precision p : {Precision::bf16, Precision::fp8_e4m3, Precision::int8, Precision::int4, Precision::nvfp4,
                      Precision::mxfp4})
    std::printf("%-9s %6.4g bits per element (scales included)\n", std::string(to_string(p)).c_str(), bits_per_element(p));

  const HardwareRegistry gpus = HardwareRegistry::load_default();
  for (const char* gpu : {"a100_sxm_80gb", "h100_sxm", "b200"}) {
    const HardwareSpec& hw = gpus.get(gpu);
    for (auto [w, a] : {std::pair{Precision::fp8_e4m3, Precision::fp8_e4m3}, std::pair{Precision::int4, Precision::bf16},
                        std::pair{Precision::nvfp4, Precision::nvfp4}}) {
      const MatmulPath m = matmul_path(hw, w, a);
      std::printf("%-14s W %-8s A %-8s -> %-9s %-11s %s\n", gpu, std::string(to_string(w)).c_str(),
                  std::string(to_string(a)).c_str(), std::string(to_string(m.math)).c_str(),
                  std::string(to_string(m.support)).c_str(), m.reason.c_str());
    }
  }
  return 0;
}

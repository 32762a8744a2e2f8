// Guide example (docs/guide/05-calibration.md): which parameters a GPU's predictions use and where they
// come from; with a records file or directory as argument, the ceilings measured in it.
// Usage: guide_calibration [RECORDS]
#include <roofline.hpp>

#include <cstdio>

using namespace roofline;

int main(int argc, char** argv) {
  const HardwareRegistry gpus = HardwareRegistry::load_default();
  const HardwareSpec& h100 = gpus.get("h100_sxm");
  const Calibration c = calibration_for(h100, gpus);
  std::printf("calibration: %s\n", c.status().c_str());
  for (const ParamKey& k : {ParamKey{KernelClass::gemm, MathPath::tc_16bit}, ParamKey{KernelClass::gemm, MathPath::tc_fp8},
                            ParamKey{KernelClass::elementwise, MathPath::simt_fp32}}) {
    const KernelParams& p = c.params(k);
    std::printf("%-22s %-11s memory eff %.2f, compute eff %.2f, fixed %s, interval x%.2f..x%.2f, %d records\n",
                to_string(k).c_str(), std::string(to_string(p.provenance)).c_str(), p.memory_efficiency_fraction,
                p.compute_efficiency_fraction, format_time_s(p.fixed_s).c_str(), p.interval_low_fraction,
                p.interval_high_fraction, p.records);
  }
  if (argc > 1) {
    const std::filesystem::path path = argv[1];
    const std::vector<MeasurementRecord> records =
        std::filesystem::is_directory(path) ? load_record_directory(path) : load_records(path);
    const MeasuredCeilings m = measured_ceilings(records, h100);
    if (m.memory) std::printf("measured bandwidth %s: %s\n", format_bytes_per_s(m.memory->bytes_per_s).c_str(), m.memory->source.c_str());
    for (const RooflineCeiling& r : m.compute)
      std::printf("measured %s %s: %s\n", std::string(to_string(r.math)).c_str(), format_flop_per_s(r.flop_per_s).c_str(),
                  r.source.c_str());
  }
  return 0;
}

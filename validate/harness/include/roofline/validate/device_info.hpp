// What a measurement ran on: device name and profile, compute capability, SMs, L2 and memory sizes,
// clocks (NVML current clocks when libnvidia-ml is loadable, else the CUDA attribute's maximum clock,
// with a note saying which), driver and CUDA runtime versions. Nothing here throws without a GPU.
#pragma once

#include <cstdint>
#include <string>

namespace roofline::validate {

struct DeviceInfo {
  std::string name;                ///< cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  std::string hw_profile;          ///< the hw_profiles/ name, e.g. "h100_sxm"
  std::string compute_capability;  ///< "9.0"
  int sm_count = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t memory_bytes = 0;
  double sm_clock_hz = 0;
  double mem_clock_hz = 0;
  std::string clock_note;          ///< how the clocks were read ("nvml current clocks", ...)
  std::string driver;              ///< NVML driver version ("580.95.05"), else the CUDA driver API version
  std::string cuda_runtime;        ///< "13.0"
  // Added members (not in the record's required set; written into device as well):
  int device = 0;                  ///< CUDA ordinal
  std::string pci_bus_id;          ///< "0000:19:00.0"
  double max_sm_clock_hz = 0;      ///< NVML max SM clock (0 when unknown)
  double max_mem_clock_hz = 0;
};

/// A reading of the clocks and power at one moment (NVML); fields are 0 where NVML is unavailable.
struct ClockSample {
  double sm_clock_hz = 0;
  double mem_clock_hz = 0;
  double power_w = 0;
  double temperature_c = 0;
  std::uint64_t clock_event_reasons = 0;  ///< NVML clocks-event (throttle) reason bit mask
  bool from_nvml = false;
};

/// True when a CUDA device and a working driver exist; otherwise false with the reason in *why_not.
/// Never throws and never aborts (it only asks the runtime for the device count). The environment variable
/// ROOFLINE_VALIDATE_FORCE_NO_GPU=1 makes it report no GPU (tests of the no-GPU paths).
bool gpu_available(std::string* why_not = nullptr);

/// Reads everything about `device`; `hw_profile` is stored as given. Throws CudaError on a CUDA failure.
DeviceInfo query_device_info(int device, const std::string& hw_profile);

/// Re-reads the current clocks into info.sm_clock_hz / mem_clock_hz / clock_note (call after warm-up).
void refresh_clocks(DeviceInfo& info);

/// Clocks, power, temperature and throttle reasons now (NVML), for sustained-load records.
ClockSample sample_clocks(const DeviceInfo& info);

/// The hw_profiles/ name for a CUDA device name, or "" when unknown:
/// "NVIDIA H100 80GB HBM3" → "h100_sxm", "NVIDIA H100 PCIe" → "h100_pcie", "NVIDIA H200" → "h200_sxm",
/// "NVIDIA A100-SXM4-80GB" → "a100_sxm_80gb", "NVIDIA B200" → "b200", "NVIDIA GB10" → "gb10"; Grace
/// superchips (GH200, GB200) and NVL variants are unknown (their power limits and memory differ).
std::string hw_profile_for_device_name(const std::string& device_name);

}  // namespace roofline::validate

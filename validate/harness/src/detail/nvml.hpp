// NVML, loaded at run time with dlopen("libnvidia-ml.so.1"): the driver ships it, the CUDA toolkit on the
// build machine does not, and a binary that linked it could not even start on a machine without a driver.
// Only the few calls the harness needs (clocks, power, temperature, throttle reasons, driver version).
#pragma once

#include <cstdint>
#include <string>

namespace roofline::validate::detail {

struct NvmlReading {
  bool ok = false;
  double sm_clock_hz = 0, mem_clock_hz = 0, max_sm_clock_hz = 0, max_mem_clock_hz = 0;
  double power_w = 0, temperature_c = 0;
  std::uint64_t clock_event_reasons = 0;
  std::string error;
};

/// True when NVML loaded and initialised; otherwise false with the reason.
bool nvml_available(std::string* why_not = nullptr);

/// The driver version string ("580.95.05"), or "" when NVML is unavailable.
std::string nvml_driver_version();

/// Reads the device given by its PCI bus id (cudaDeviceGetPCIBusId), falling back to the NVML index.
NvmlReading nvml_read(const std::string& pci_bus_id, int fallback_index);

}  // namespace roofline::validate::detail

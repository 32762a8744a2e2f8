#include "roofline/validate/device_info.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "detail/nvml.hpp"
#include "roofline/validate/cuda_check.hpp"

namespace roofline::validate {
namespace {

std::string version_string(int v) {  // 13000 → "13.0", 12080 → "12.8"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

bool contains(const std::string& haystack, const char* needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

bool gpu_available(std::string* why_not) {
  // Lets tests exercise the no-GPU paths on a machine that has one.
  if (const char* force = std::getenv("ROOFLINE_VALIDATE_FORCE_NO_GPU"); force != nullptr && *force != '\0' &&
                                                                        std::string(force) != "0") {
    if (why_not != nullptr) *why_not = "no usable CUDA device: ROOFLINE_VALIDATE_FORCE_NO_GPU is set";
    return false;
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why_not != nullptr) {
      *why_not = std::string("no usable CUDA device: cudaGetDeviceCount: ") + cudaGetErrorName(status) + ": " +
                 cudaGetErrorString(status);
    }
    cudaGetLastError();  // clear the (non-sticky) error so later calls start clean
    return false;
  }
  if (count <= 0) {
    if (why_not != nullptr) *why_not = "no usable CUDA device: cudaGetDeviceCount reports 0 devices";
    return false;
  }
  return true;
}

DeviceInfo query_device_info(int device, const std::string& hw_profile) {
  DeviceInfo info;
  info.device = device;
  info.hw_profile = hw_profile;
  cudaDeviceProp prop{};
  ROOFLINE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  info.name = prop.name;
  info.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  info.sm_count = prop.multiProcessorCount;
  info.l2_bytes = prop.l2CacheSize;
  info.memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  char bus[32] = {};
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) == cudaSuccess) info.pci_bus_id = bus;
  cudaGetLastError();
  int runtime = 0;
  ROOFLINE_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  info.cuda_runtime = version_string(runtime);
  info.driver = detail::nvml_driver_version();
  if (info.driver.empty()) {
    int driver = 0;
    ROOFLINE_CUDA_CHECK(cudaDriverGetVersion(&driver));
    info.driver = "CUDA driver API " + version_string(driver) + " (NVML unavailable: no driver version string)";
  }
  refresh_clocks(info);
  return info;
}

void refresh_clocks(DeviceInfo& info) {
  const detail::NvmlReading r = detail::nvml_read(info.pci_bus_id, info.device);
  if (r.ok) {
    info.sm_clock_hz = r.sm_clock_hz;
    info.mem_clock_hz = r.mem_clock_hz;
    info.max_sm_clock_hz = r.max_sm_clock_hz;
    info.max_mem_clock_hz = r.max_mem_clock_hz;
    info.clock_note = "nvml current clocks, read right after the measurement";
    return;
  }
  int sm_khz = 0;
  int mem_khz = 0;
  ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, info.device));
  ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, info.device));
  info.sm_clock_hz = sm_khz * 1e3;
  info.mem_clock_hz = mem_khz * 1e3;
  info.clock_note = "cudaDevAttrClockRate / cudaDevAttrMemoryClockRate (maximum clocks, not current: " + r.error + ")";
}

ClockSample sample_clocks(const DeviceInfo& info) {
  ClockSample s;
  const detail::NvmlReading r = detail::nvml_read(info.pci_bus_id, info.device);
  if (!r.ok) return s;
  s.sm_clock_hz = r.sm_clock_hz;
  s.mem_clock_hz = r.mem_clock_hz;
  s.power_w = r.power_w;
  s.temperature_c = r.temperature_c;
  s.clock_event_reasons = r.clock_event_reasons;
  s.from_nvml = true;
  return s;
}

std::string hw_profile_for_device_name(const std::string& device_name) {
  std::string n = device_name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  // Grace superchips carry the GPU's name inside theirs ("GH200", "GB200") but are different products.
  if (contains(n, "GH200") || contains(n, "GB200") || contains(n, "GB300")) return "";
  if (contains(n, "H100")) {
    if (contains(n, "PCIE")) return "h100_pcie";
    if (contains(n, "HBM3") || contains(n, "SXM")) return "h100_sxm";
    return "";  // H100 NVL and other variants have their own specs
  }
  if (contains(n, "H200")) {
    if (contains(n, "NVL")) return "";  // the H200 NVL (PCIe card) runs at a lower power limit
    return "h200_sxm";
  }
  if (contains(n, "A100")) {
    if (contains(n, "SXM") && contains(n, "80GB")) return "a100_sxm_80gb";
    return "";
  }
  if (contains(n, "B200")) return "b200";
  if (contains(n, "GB10")) return "gb10";
  return "";
}

}  // namespace roofline::validate

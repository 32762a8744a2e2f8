#include "detail/nvml.hpp"

#include <dlfcn.h>

#include <mutex>

namespace roofline::validate::detail {
namespace {

// NVML's C ABI as documented in the NVML API reference: handles are opaque pointers, results and enums ints.
using NvmlReturn = int;
using NvmlDevice = void*;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr int kClockSm = 1;          // NVML_CLOCK_SM
constexpr int kClockMem = 2;         // NVML_CLOCK_MEM
constexpr int kTemperatureGpu = 0;   // NVML_TEMPERATURE_GPU

struct Nvml {
  void* handle = nullptr;
  bool ok = false;
  std::string why_not;
  NvmlReturn (*init)() = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
  NvmlReturn (*by_pci)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*by_index)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*clock)(NvmlDevice, int, unsigned*) = nullptr;
  NvmlReturn (*max_clock)(NvmlDevice, int, unsigned*) = nullptr;
  NvmlReturn (*power)(NvmlDevice, unsigned*) = nullptr;
  NvmlReturn (*temperature)(NvmlDevice, int, unsigned*) = nullptr;
  NvmlReturn (*reasons)(NvmlDevice, unsigned long long*) = nullptr;
  NvmlReturn (*driver)(char*, unsigned) = nullptr;
};

template <typename F>
void load(void* handle, F& fn, const char* name) {
  fn = reinterpret_cast<F>(dlsym(handle, name));
}

Nvml& nvml() {
  static Nvml lib;
  static std::once_flag once;
  std::call_once(once, [] {
    lib.handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == nullptr) {
      const char* e = dlerror();
      lib.why_not = std::string("cannot load libnvidia-ml.so.1: ") + (e ? e : "unknown dlopen error");
      return;
    }
    load(lib.handle, lib.init, "nvmlInit_v2");
    load(lib.handle, lib.error_string, "nvmlErrorString");
    load(lib.handle, lib.by_pci, "nvmlDeviceGetHandleByPciBusId_v2");
    load(lib.handle, lib.by_index, "nvmlDeviceGetHandleByIndex_v2");
    load(lib.handle, lib.clock, "nvmlDeviceGetClockInfo");
    load(lib.handle, lib.max_clock, "nvmlDeviceGetMaxClockInfo");
    load(lib.handle, lib.power, "nvmlDeviceGetPowerUsage");
    load(lib.handle, lib.temperature, "nvmlDeviceGetTemperature");
    load(lib.handle, lib.reasons, "nvmlDeviceGetCurrentClocksEventReasons");
    if (lib.reasons == nullptr) load(lib.handle, lib.reasons, "nvmlDeviceGetCurrentClocksThrottleReasons");
    load(lib.handle, lib.driver, "nvmlSystemGetDriverVersion");
    if (lib.init == nullptr || lib.clock == nullptr || (lib.by_pci == nullptr && lib.by_index == nullptr)) {
      lib.why_not = "libnvidia-ml.so.1 lacks nvmlInit_v2 / nvmlDeviceGetClockInfo / a device-handle function";
      return;
    }
    const NvmlReturn r = lib.init();
    if (r != kNvmlSuccess) {
      lib.why_not = std::string("nvmlInit_v2 failed: ") + (lib.error_string ? lib.error_string(r) : std::to_string(r));
      return;
    }
    lib.ok = true;
  });
  return lib;
}

}  // namespace

bool nvml_available(std::string* why_not) {
  const Nvml& lib = nvml();
  if (!lib.ok && why_not != nullptr) *why_not = lib.why_not;
  return lib.ok;
}

std::string nvml_driver_version() {
  const Nvml& lib = nvml();
  if (!lib.ok || lib.driver == nullptr) return "";
  char buffer[96] = {};
  if (lib.driver(buffer, sizeof buffer) != kNvmlSuccess) return "";
  return buffer;
}

NvmlReading nvml_read(const std::string& pci_bus_id, int fallback_index) {
  NvmlReading out;
  const Nvml& lib = nvml();
  if (!lib.ok) {
    out.error = lib.why_not;
    return out;
  }
  NvmlDevice device = nullptr;
  NvmlReturn r = -1;
  if (lib.by_pci != nullptr && !pci_bus_id.empty()) r = lib.by_pci(pci_bus_id.c_str(), &device);
  if (r != kNvmlSuccess && lib.by_index != nullptr && fallback_index >= 0) {
    r = lib.by_index(static_cast<unsigned>(fallback_index), &device);
  }
  if (r != kNvmlSuccess) {
    out.error = std::string("NVML device handle: ") + (lib.error_string ? lib.error_string(r) : std::to_string(r));
    return out;
  }
  unsigned value = 0;
  if (lib.clock(device, kClockSm, &value) == kNvmlSuccess) out.sm_clock_hz = value * 1e6;
  if (lib.clock(device, kClockMem, &value) == kNvmlSuccess) out.mem_clock_hz = value * 1e6;
  if (lib.max_clock != nullptr && lib.max_clock(device, kClockSm, &value) == kNvmlSuccess) out.max_sm_clock_hz = value * 1e6;
  if (lib.max_clock != nullptr && lib.max_clock(device, kClockMem, &value) == kNvmlSuccess) out.max_mem_clock_hz = value * 1e6;
  if (lib.power != nullptr && lib.power(device, &value) == kNvmlSuccess) out.power_w = value * 1e-3;
  if (lib.temperature != nullptr && lib.temperature(device, kTemperatureGpu, &value) == kNvmlSuccess) out.temperature_c = value;
  unsigned long long reasons = 0;
  if (lib.reasons != nullptr && lib.reasons(device, &reasons) == kNvmlSuccess) out.clock_event_reasons = reasons;
  out.ok = out.sm_clock_hz > 0;
  if (!out.ok) out.error = "nvmlDeviceGetClockInfo returned no SM clock";
  return out;
}

}  // namespace roofline::validate::detail

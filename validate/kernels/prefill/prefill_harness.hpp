// The prefill suite's only dependency on the validate harness (CUDA checks, device info, timing,
// JSONL records). TEMPORARY: until branch `harness` is merged into main this header declares the
// interface of /work/harness-interface.md and prefill_harness_shim.cu implements a minimal version;
// after the merge it becomes three #includes of roofline/validate/{cuda_check,device_info,timing,record}.hpp.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "roofline/errors.hpp"

namespace roofline::validate {

/// A failed CUDA runtime call: "file:line: <call>: <error string>".
class CudaError : public roofline::Error {
 public:
  using roofline::Error::Error;
};
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);

#define ROOFLINE_CUDA_CHECK(call)                                                                   \
  do {                                                                                              \
    const cudaError_t roofline_status_ = (call);                                                    \
    if (roofline_status_ != cudaSuccess)                                                            \
      ::roofline::validate::throw_cuda_error(roofline_status_, #call, __FILE__, __LINE__);           \
  } while (0)
#define ROOFLINE_CUDA_CHECK_LAST() ROOFLINE_CUDA_CHECK(cudaGetLastError())

struct DeviceInfo {
  std::string name, hw_profile, compute_capability;
  int sm_count = 0;
  std::int64_t l2_bytes = 0, memory_bytes = 0;
  double sm_clock_hz = 0, mem_clock_hz = 0;
  std::string clock_note, driver, cuda_runtime;
};
bool gpu_available(std::string* why_not = nullptr);
DeviceInfo query_device_info(int device, const std::string& hw_profile);

struct TimeStats {
  double median_s = 0, min_s = 0, max_s = 0;
  int count = 0;
};
struct TimingOptions {
  int warmup = 5;
  int repetitions = 50;
  bool use_cuda_graph = true;
  int rotations = 1;
};
TimeStats time_gpu(const std::function<void(cudaStream_t, int)>& launch, const TimingOptions& options);
int rotations_for(std::int64_t bytes_per_input_set, std::int64_t l2_bytes);

class RecordWriter {
 public:
  explicit RecordWriter(const std::filesystem::path& jsonl_file);
  void append(const nlohmann::json& record);

 private:
  std::ofstream out_;
};
nlohmann::json make_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                           const TimeStats&, const std::string& timing_method, const std::string& l2,
                           int kernels_per_call, const DeviceInfo&, const nlohmann::json& counters = nlohmann::json::object(),
                           const nlohmann::json& extra = nlohmann::json::object());
nlohmann::json make_error_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                                 const std::string& error, const DeviceInfo&);

}  // namespace roofline::validate

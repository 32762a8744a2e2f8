// The one place where the decode programs touch the measurement harness (validate/harness, branch
// `harness`, written in parallel). With ROOFLINE_DECODE_USE_HARNESS (set by CMake when the target
// roofline::validate exists) these names are the harness's own; otherwise a minimal stand-in with the
// same signatures (docs/measurement-records.md schema, CUDA-graph + event timing) is compiled.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#if defined(ROOFLINE_DECODE_USE_HARNESS)
#include "roofline/validate/device_info.hpp"
#include "roofline/validate/record.hpp"
#include "roofline/validate/timing.hpp"
namespace roofline::validate::decode::bridge {
using roofline::validate::DeviceInfo;
using roofline::validate::make_error_record;
using roofline::validate::make_record;
using roofline::validate::query_device_info;
using roofline::validate::RecordWriter;
using roofline::validate::rotations_for;
using roofline::validate::time_gpu;
using roofline::validate::TimeStats;
using roofline::validate::TimingOptions;
inline void refresh(DeviceInfo& d) { roofline::validate::refresh_clocks(d); }
}  // namespace roofline::validate::decode::bridge
#else
namespace roofline::validate::decode::bridge {
struct DeviceInfo {
  std::string name, hw_profile, compute_capability;
  int sm_count = 0;
  std::int64_t l2_bytes = 0, memory_bytes = 0;
  double sm_clock_hz = 0, mem_clock_hz = 0;
  std::string clock_note, driver, cuda_runtime;
};
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
DeviceInfo query_device_info(int device, const std::string& hw_profile);
inline void refresh(DeviceInfo&) {}
/// launch(stream, rotation) is captured `rotations` times (one per input set) into one CUDA graph; a
/// sample is one replay's event time divided by rotations; median over `repetitions` replays.
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
                           const TimeStats& time, const std::string& timing_method, const std::string& l2,
                           int kernels_per_call, const DeviceInfo& device,
                           const nlohmann::json& counters = nlohmann::json::object(),
                           const nlohmann::json& extra = nlohmann::json::object());
nlohmann::json make_error_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                                 const std::string& error, const DeviceInfo& device);
}  // namespace roofline::validate::decode::bridge
#endif

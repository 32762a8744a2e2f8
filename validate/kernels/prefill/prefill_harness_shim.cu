// TEMPORARY minimal implementation of prefill_harness.hpp (the harness interface) until branch
// `harness` is merged; delete together with the declarations in prefill_harness.hpp then.
#include "prefill_harness.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

namespace roofline::validate {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " + cudaGetErrorString(status));
}

bool gpu_available(std::string* why_not) {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess || count == 0) {
    if (why_not) *why_not = st != cudaSuccess ? cudaGetErrorString(st) : "no CUDA device";
    return false;
  }
  return true;
}

DeviceInfo query_device_info(int device, const std::string& hw_profile) {
  cudaDeviceProp p{};
  ROOFLINE_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  DeviceInfo d;
  d.name = p.name;
  d.hw_profile = hw_profile;
  d.compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
  d.sm_count = p.multiProcessorCount;
  d.l2_bytes = p.l2CacheSize;
  d.memory_bytes = static_cast<std::int64_t>(p.totalGlobalMem);
  int clock_khz = 0, mem_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, device);
  d.sm_clock_hz = clock_khz * 1e3;
  d.mem_clock_hz = mem_khz * 1e3;
  d.clock_note = "cudaDevAttrClockRate (maximum clocks, not the clocks under load; prefill shim)";
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  d.driver = std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10);
  d.cuda_runtime = std::to_string(runtime / 1000) + "." + std::to_string((runtime % 1000) / 10);
  return d;
}

TimeStats time_gpu(const std::function<void(cudaStream_t, int)>& launch, const TimingOptions& o) {
  cudaStream_t stream{};
  ROOFLINE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const int rotations = std::max(1, o.rotations);
  std::vector<cudaGraphExec_t> graphs(rotations, nullptr);
  cudaEvent_t start{}, stop{};
  TimeStats stats;
  try {
    if (o.use_cuda_graph) {
      for (int r = 0; r < rotations; ++r) {
        cudaGraph_t g{};
        ROOFLINE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
        launch(stream, r);
        ROOFLINE_CUDA_CHECK(cudaStreamEndCapture(stream, &g));
        ROOFLINE_CUDA_CHECK(cudaGraphInstantiate(&graphs[r], g, 0));
        ROOFLINE_CUDA_CHECK(cudaGraphDestroy(g));
      }
    }
    auto run = [&](int i) {
      const int r = i % rotations;
      if (o.use_cuda_graph) {
        ROOFLINE_CUDA_CHECK(cudaGraphLaunch(graphs[r], stream));
      } else {
        launch(stream, r);
      }
    };
    for (int i = 0; i < o.warmup; ++i) run(i);
    ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream));
    ROOFLINE_CUDA_CHECK(cudaEventCreate(&start));
    ROOFLINE_CUDA_CHECK(cudaEventCreate(&stop));
    std::vector<double> t;
    for (int i = 0; i < o.repetitions; ++i) {
      ROOFLINE_CUDA_CHECK(cudaEventRecord(start, stream));
      run(i);
      ROOFLINE_CUDA_CHECK(cudaEventRecord(stop, stream));
      ROOFLINE_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      ROOFLINE_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      t.push_back(ms * 1e-3);
    }
    std::sort(t.begin(), t.end());
    stats.count = int(t.size());
    if (!t.empty()) {
      stats.min_s = t.front();
      stats.max_s = t.back();
      stats.median_s = t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
    }
  } catch (...) {
    for (auto g : graphs)
      if (g) cudaGraphExecDestroy(g);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    cudaStreamDestroy(stream);
    throw;
  }
  for (auto g : graphs)
    if (g) cudaGraphExecDestroy(g);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
  return stats;
}

int rotations_for(std::int64_t bytes_per_input_set, std::int64_t l2_bytes) {
  if (bytes_per_input_set <= 0) return 1;
  return int(std::max<std::int64_t>(1, (3 * l2_bytes + bytes_per_input_set - 1) / bytes_per_input_set));
}

RecordWriter::RecordWriter(const std::filesystem::path& jsonl_file) {
  if (jsonl_file.has_parent_path()) std::filesystem::create_directories(jsonl_file.parent_path());
  out_.open(jsonl_file, std::ios::app);
  if (!out_) throw roofline::Error("cannot open " + jsonl_file.string() + " for appending");
}

void RecordWriter::append(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
}

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

nlohmann::json device_json(const DeviceInfo& d) {
  return {{"name", d.name},           {"hw_profile", d.hw_profile}, {"compute_capability", d.compute_capability},
          {"sm_count", d.sm_count},   {"l2_bytes", d.l2_bytes},     {"memory_bytes", d.memory_bytes},
          {"sm_clock_hz", d.sm_clock_hz}, {"mem_clock_hz", d.mem_clock_hz}, {"clock_note", d.clock_note},
          {"driver", d.driver},       {"cuda_runtime", d.cuda_runtime}, {"torch", nullptr}};
}

}  // namespace

nlohmann::json make_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                           const TimeStats& t, const std::string& timing_method, const std::string& l2,
                           int kernels_per_call, const DeviceInfo& d, const nlohmann::json& counters,
                           const nlohmann::json& extra) {
  return {{"schema", "roofline.measurement.v1"},
          {"suite", suite},
          {"label", label},
          {"workload", workload},
          {"status", "ok"},
          {"time_s", {{"median", t.median_s}, {"min", t.min_s}, {"max", t.max_s}, {"count", t.count}}},
          {"timing", {{"method", timing_method}, {"l2", l2}, {"kernels_per_call", kernels_per_call}}},
          {"counters", counters},
          {"predicted_s", nullptr},
          {"device", device_json(d)},
          {"timestamp", utc_now()},
          {"extra", extra}};
}

nlohmann::json make_error_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                                 const std::string& error, const DeviceInfo& d) {
  return {{"schema", "roofline.measurement.v1"},
          {"suite", suite},
          {"label", label},
          {"workload", workload},
          {"status", "error"},
          {"error", error},
          {"timing", {{"method", "cuda_graph_events"}, {"l2", "cold_rotating"}, {"kernels_per_call", 1}}},
          {"counters", nlohmann::json::object()},
          {"predicted_s", nullptr},
          {"device", device_json(d)},
          {"timestamp", utc_now()}};
}

}  // namespace roofline::validate

// Stand-in for the harness (see harness_bridge.hpp); compiled only without roofline::validate.
#include "harness_bridge.hpp"

#if !defined(ROOFLINE_DECODE_USE_HARNESS)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <vector>

#include "cuda_util.hpp"

namespace roofline::validate::decode::bridge {

DeviceInfo query_device_info(int device, const std::string& hw_profile) {
  cudaDeviceProp p{};
  DECODE_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  DeviceInfo d;
  d.name = p.name;
  d.hw_profile = hw_profile;
  d.compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
  d.sm_count = p.multiProcessorCount;
  d.l2_bytes = p.l2CacheSize;
  d.memory_bytes = std::int64_t(p.totalGlobalMem);
  int clk = 0, mclk = 0;
  cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&mclk, cudaDevAttrMemoryClockRate, device);
  d.sm_clock_hz = clk * 1e3;
  d.mem_clock_hz = mclk * 1e3;
  d.clock_note = "CUDA attribute maximum clocks (stand-in harness: no NVML)";
  int drv = 0, rt = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  d.driver = "cuda-driver-api " + std::to_string(drv / 1000) + "." + std::to_string((drv % 1000) / 10);
  d.cuda_runtime = std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10);
  return d;
}

TimeStats time_gpu(const std::function<void(cudaStream_t, int)>& launch, const TimingOptions& o) {
  cudaStream_t s;
  DECODE_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  const int calls = std::max(1, o.rotations);
  cudaGraphExec_t exec = nullptr;
  cudaGraph_t graph = nullptr;
  if (o.use_cuda_graph) {
    launch(s, 0);  // first call outside the capture (lazy module load, attributes)
    DECODE_CUDA_CHECK(cudaStreamSynchronize(s));
    DECODE_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      for (int i = 0; i < calls; ++i) launch(s, i);
    } catch (...) {
      cudaStreamEndCapture(s, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    DECODE_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
    DECODE_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  }
  auto run = [&] {
    if (o.use_cuda_graph) DECODE_CUDA_CHECK(cudaGraphLaunch(exec, s));
    else for (int i = 0; i < calls; ++i) launch(s, i);
  };
  for (int i = 0; i < o.warmup; ++i) run();
  cudaEvent_t a, b;
  DECODE_CUDA_CHECK(cudaEventCreate(&a));
  DECODE_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> samples;
  for (int i = 0; i < o.repetitions; ++i) {
    DECODE_CUDA_CHECK(cudaEventRecord(a, s));
    run();
    DECODE_CUDA_CHECK(cudaEventRecord(b, s));
    DECODE_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    DECODE_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    samples.push_back(ms * 1e-3 / calls);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
  std::sort(samples.begin(), samples.end());
  TimeStats t;
  t.count = int(samples.size());
  t.min_s = samples.front();
  t.max_s = samples.back();
  const std::size_t n = samples.size();
  t.median_s = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  return t;
}

int rotations_for(std::int64_t bytes, std::int64_t l2) {
  if (bytes <= 0 || l2 <= 0) throw InvalidArgumentError("rotations_for: sizes must be > 0");
  return int(std::max<std::int64_t>(1, (3 * l2 + bytes - 1) / bytes));
}

RecordWriter::RecordWriter(const std::filesystem::path& f) {
  if (f.has_parent_path()) std::filesystem::create_directories(f.parent_path());
  out_.open(f, std::ios::app);
  if (!out_) throw roofline::Error("cannot open " + f.string());
}
void RecordWriter::append(const nlohmann::json& r) {
  out_ << r.dump() << "\n";
  out_.flush();
}

namespace {
nlohmann::json device_json(const DeviceInfo& d) {
  return {{"name", d.name}, {"hw_profile", d.hw_profile}, {"compute_capability", d.compute_capability},
          {"sm_count", d.sm_count}, {"l2_bytes", d.l2_bytes}, {"memory_bytes", d.memory_bytes},
          {"sm_clock_hz", d.sm_clock_hz}, {"mem_clock_hz", d.mem_clock_hz}, {"clock_note", d.clock_note},
          {"driver", d.driver}, {"cuda_runtime", d.cuda_runtime}, {"torch", nullptr}};
}
std::string now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

nlohmann::json make_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                           const TimeStats& t, const std::string& method, const std::string& l2, int kernels,
                           const DeviceInfo& d, const nlohmann::json& counters, const nlohmann::json& extra) {
  return {{"schema", "roofline.measurement.v1"}, {"suite", suite}, {"label", label}, {"workload", workload},
          {"status", "ok"},
          {"time_s", {{"median", t.median_s}, {"min", t.min_s}, {"max", t.max_s}, {"count", t.count}}},
          {"timing", {{"method", method}, {"l2", l2}, {"kernels_per_call", kernels}}},
          {"counters", counters}, {"predicted_s", nullptr}, {"device", device_json(d)}, {"timestamp", now()},
          {"extra", extra}};
}

nlohmann::json make_error_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                                 const std::string& error, const DeviceInfo& d) {
  return {{"schema", "roofline.measurement.v1"}, {"suite", suite}, {"label", label}, {"workload", workload},
          {"status", "error"}, {"error", error},
          {"timing", {{"method", "cuda_events"}, {"l2", "warm"}, {"kernels_per_call", 0}}},
          {"counters", nlohmann::json::object()}, {"predicted_s", nullptr}, {"device", device_json(d)},
          {"timestamp", now()}};
}

}  // namespace roofline::validate::decode::bridge
#endif

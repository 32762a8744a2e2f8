#include "roofline/validate/counters.hpp"

#include <cuda.h>
#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_target.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/device_info.hpp"

namespace roofline::validate {
namespace {

// The host object, the part of the profiler that needs no GPU: metric lookup, config images, evaluation.
class HostObject {
 public:
  HostObject(const std::string& chip, const std::vector<std::uint8_t>& availability) {
    CUpti_Profiler_Host_Initialize_Params p{CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE};
    p.profilerType = CUPTI_PROFILER_TYPE_RANGE_PROFILER;
    p.pChipName = chip.c_str();
    p.pCounterAvailabilityImage = availability.empty() ? nullptr : availability.data();
    ROOFLINE_CUPTI_CHECK(cuptiProfilerHostInitialize(&p));
    object_ = p.pHostObject;
  }
  ~HostObject() {
    if (object_ == nullptr) return;
    CUpti_Profiler_Host_Deinitialize_Params p{CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE};
    p.pHostObject = object_;
    ROOFLINE_CUPTI_REPORT(cuptiProfilerHostDeinitialize(&p));
  }
  HostObject(const HostObject&) = delete;
  HostObject& operator=(const HostObject&) = delete;
  CUpti_Profiler_Host_Object* get() const { return object_; }

  MetricInfo lookup(const std::string& name) const {
    MetricInfo info;
    info.name = name;
    CUpti_Profiler_Host_GetMetricProperties_Params p{CUpti_Profiler_Host_GetMetricProperties_Params_STRUCT_SIZE};
    p.pHostObject = object_;
    p.pMetricName = name.c_str();
    const CUptiResult r = cuptiProfilerHostGetMetricProperties(&p);
    if (r != CUPTI_SUCCESS) {
      const char* text = nullptr;
      cuptiGetResultString(r, &text);
      info.error = std::string("not a metric of this chip (") + (text ? text : "?") + ")";
      return info;
    }
    info.supported = true;
    info.description = p.pDescription ? p.pDescription : "";
    info.hw_unit = p.pHwUnit ? p.pHwUnit : "";
    info.dim_unit = p.pDimUnit ? p.pDimUnit : "";
    return info;
  }

 private:
  CUpti_Profiler_Host_Object* object_ = nullptr;
};

std::mutex& profiler_mutex() {
  static std::mutex m;
  return m;
}
bool g_session_active = false;

CUcontext current_context(int device) {
  ROOFLINE_CUDA_CHECK(cudaSetDevice(device));
  ROOFLINE_CUDA_CHECK(cudaFree(nullptr));  // creates the primary context
  using GetCurrent = CUresult (*)(CUcontext*);
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult query{};
  ROOFLINE_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000, cudaEnableDefault, &query));
  if (fn == nullptr || query != cudaDriverEntryPointSuccess) {
    throw CudaError("cudaGetDriverEntryPointByVersion(cuCtxGetCurrent): symbol not found", "cuda",
                    static_cast<int>(cudaErrorSymbolNotFound));
  }
  CUcontext ctx = nullptr;
  const CUresult r = reinterpret_cast<GetCurrent>(fn)(&ctx);
  if (r != CUDA_SUCCESS || ctx == nullptr) {
    throw CudaError("cuCtxGetCurrent failed (" + std::to_string(static_cast<int>(r)) + ")", "cuda",
                    static_cast<int>(cudaErrorDeviceUninitialized));
  }
  return ctx;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> default_metrics() {
  return {
      "gpu__time_duration.sum",
      "dram__bytes_read.sum",
      "dram__bytes_write.sum",
      "lts__t_bytes.sum",
      "sm__inst_executed_pipe_tensor.sum",
      "sm__pipe_tensor_cycles_active.sum",
      "sm__ops_path_tensor_src_bf16_dst_fp32.sum",
      "sm__ops_path_tensor_src_fp16.sum",
      "sm__ops_path_tensor_src_fp8.sum",
      "sm__ops_path_tensor_src_int8.sum",
      "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum",
      "smsp__sass_thread_inst_executed_op_fadd_pred_on.sum",
      "smsp__sass_thread_inst_executed_op_fmul_pred_on.sum",
      "smsp__sass_thread_inst_executed_op_hfma_pred_on.sum",
  };
}

std::string combine_rule(const std::string& metric) {
  if (ends_with(metric, ".sum")) return "sum";
  if (ends_with(metric, ".max")) return "max";
  if (ends_with(metric, ".min")) return "min";
  return "";
}

std::vector<std::string> profiler_supported_chips() {
  CUpti_Profiler_Host_GetSupportedChips_Params p{CUpti_Profiler_Host_GetSupportedChips_Params_STRUCT_SIZE};
  ROOFLINE_CUPTI_CHECK(cuptiProfilerHostGetSupportedChips(&p));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < p.numChips; ++i) out.emplace_back(p.ppChipNames[i]);
  return out;
}

std::vector<MetricInfo> check_metrics(const std::string& chip, const std::vector<std::string>& metrics) {
  const HostObject host(chip, {});
  std::vector<MetricInfo> out;
  for (const std::string& m : metrics) out.push_back(host.lookup(m));
  return out;
}

nlohmann::json CounterResult::values_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : values) j[k] = v;
  return j;
}

nlohmann::json CounterResult::errors_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : errors) j[k] = v;
  return j;
}

struct CounterSession::Impl {
  int device = 0;
  int max_ranges = 64;
  std::string chip;
  CUcontext context = nullptr;
  std::vector<std::uint8_t> availability;
  std::unique_ptr<HostObject> host;
  std::vector<std::string> metrics;
  std::vector<const char*> metric_ptrs;
  std::map<std::string, std::string> rejected;
  std::vector<std::uint8_t> config_image;
  std::vector<std::uint8_t> counter_data;
  CUpti_RangeProfiler_Object* range_profiler = nullptr;
  bool profiler_initialized = false;
  bool fresh = false;  // the counter data image set up by the constructor has not been used yet
  int passes = 0;

  ~Impl() {
    if (range_profiler != nullptr) {
      CUpti_RangeProfiler_Disable_Params p{CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE};
      p.pRangeProfilerObject = range_profiler;
      ROOFLINE_CUPTI_REPORT(cuptiRangeProfilerDisable(&p));
    }
    host.reset();
    if (profiler_initialized) {
      CUpti_Profiler_DeInitialize_Params p{CUpti_Profiler_DeInitialize_Params_STRUCT_SIZE};
      ROOFLINE_CUPTI_REPORT(cuptiProfilerDeInitialize(&p));
    }
    std::lock_guard<std::mutex> lock(profiler_mutex());
    g_session_active = false;
  }

  void set_config() {
    CUpti_RangeProfiler_CounterDataImage_Initialize_Params init{
        CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE};
    init.pRangeProfilerObject = range_profiler;
    init.pCounterData = counter_data.data();
    init.counterDataSize = counter_data.size();
    ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerCounterDataImageInitialize(&init));

    CUpti_RangeProfiler_SetConfig_Params p{CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE};
    p.pRangeProfilerObject = range_profiler;
    p.pConfig = config_image.data();
    p.configSize = config_image.size();
    p.pCounterDataImage = counter_data.data();
    p.counterDataImageSize = counter_data.size();
    p.range = CUPTI_AutoRange;
    p.replayMode = CUPTI_KernelReplay;
    p.maxRangesPerPass = static_cast<std::size_t>(max_ranges);
    p.numNestingLevels = 1;
    p.minNestingLevel = 1;
    p.passIndex = 0;
    p.targetNestingLevel = 1;
    ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerSetConfig(&p));
  }
};

CounterSession::CounterSession(int device, const std::vector<std::string>& requested, int max_kernels_per_call) {
  {
    std::lock_guard<std::mutex> lock(profiler_mutex());
    if (g_session_active) {
      throw CuptiError("CounterSession: another counter session is active in this process",
                       CUPTI_ERROR_INVALID_OPERATION);
    }
    g_session_active = true;
  }
  impl_ = std::make_unique<Impl>();  // from here on ~Impl releases whatever was acquired
  Impl& s = *impl_;
  s.device = device;
  s.max_ranges = std::max(1, max_kernels_per_call);
  s.context = current_context(device);

  CUpti_Profiler_Initialize_Params init{CUpti_Profiler_Initialize_Params_STRUCT_SIZE};
  ROOFLINE_CUPTI_CHECK(cuptiProfilerInitialize(&init));
  s.profiler_initialized = true;

  CUpti_Device_GetChipName_Params chip{CUpti_Device_GetChipName_Params_STRUCT_SIZE};
  chip.deviceIndex = static_cast<std::size_t>(device);
  ROOFLINE_CUPTI_CHECK(cuptiDeviceGetChipName(&chip));
  s.chip = chip.pChipName != nullptr ? chip.pChipName : "";

  CUpti_Profiler_GetCounterAvailability_Params avail{CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE};
  avail.ctx = s.context;
  ROOFLINE_CUPTI_CHECK(cuptiProfilerGetCounterAvailability(&avail));
  s.availability.assign(avail.counterAvailabilityImageSize, 0);
  avail.pCounterAvailabilityImage = s.availability.data();
  ROOFLINE_CUPTI_CHECK(cuptiProfilerGetCounterAvailability(&avail));

  s.host = std::make_unique<HostObject>(s.chip, s.availability);
  for (const std::string& m : requested) {
    const MetricInfo info = s.host->lookup(m);
    if (!info.supported) {
      s.rejected[m] = info.error + " on " + s.chip;
    } else if (std::find(s.metrics.begin(), s.metrics.end(), m) == s.metrics.end()) {
      s.metrics.push_back(m);
    }
  }
  if (s.metrics.empty()) {
    throw CuptiError("CounterSession: none of the requested metrics is supported on " + s.chip,
                     CUPTI_ERROR_INVALID_METRIC_NAME);
  }
  for (const std::string& m : s.metrics) s.metric_ptrs.push_back(m.c_str());

  CUpti_Profiler_Host_ConfigAddMetrics_Params add{CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE};
  add.pHostObject = s.host->get();
  add.ppMetricNames = s.metric_ptrs.data();
  add.numMetrics = s.metric_ptrs.size();
  ROOFLINE_CUPTI_CHECK(cuptiProfilerHostConfigAddMetrics(&add));

  CUpti_Profiler_Host_GetConfigImageSize_Params size{CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE};
  size.pHostObject = s.host->get();
  ROOFLINE_CUPTI_CHECK(cuptiProfilerHostGetConfigImageSize(&size));
  s.config_image.assign(size.configImageSize, 0);
  CUpti_Profiler_Host_GetConfigImage_Params image{CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE};
  image.pHostObject = s.host->get();
  image.pConfigImage = s.config_image.data();
  image.configImageSize = s.config_image.size();
  ROOFLINE_CUPTI_CHECK(cuptiProfilerHostGetConfigImage(&image));

  CUpti_Profiler_Host_GetNumOfPasses_Params passes{CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE};
  passes.pConfigImage = s.config_image.data();
  passes.configImageSize = s.config_image.size();
  ROOFLINE_CUPTI_CHECK(cuptiProfilerHostGetNumOfPasses(&passes));
  s.passes = static_cast<int>(passes.numOfPasses);

  CUpti_RangeProfiler_Enable_Params enable{CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE};
  enable.ctx = s.context;
  ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerEnable(&enable));
  s.range_profiler = enable.pRangeProfilerObject;

  CUpti_RangeProfiler_GetCounterDataSize_Params data{CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE};
  data.pRangeProfilerObject = s.range_profiler;
  data.pMetricNames = s.metric_ptrs.data();
  data.numMetrics = s.metric_ptrs.size();
  data.maxNumOfRanges = static_cast<std::size_t>(s.max_ranges);
  data.maxNumRangeTreeNodes = static_cast<std::uint32_t>(s.max_ranges);
  ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerGetCounterDataSize(&data));
  s.counter_data.assign(data.counterDataSize, 0);
  s.set_config();
  s.fresh = true;
}

CounterSession::~CounterSession() = default;
CounterSession::CounterSession(CounterSession&&) noexcept = default;
CounterSession& CounterSession::operator=(CounterSession&&) noexcept = default;

const std::string& CounterSession::chip() const { return impl_->chip; }
const std::vector<std::string>& CounterSession::metrics() const { return impl_->metrics; }
const std::map<std::string, std::string>& CounterSession::rejected() const { return impl_->rejected; }
int CounterSession::passes() const { return impl_->passes; }

CounterResult CounterSession::measure(const std::function<void(cudaStream_t)>& launch, cudaStream_t stream) {
  Impl& s = *impl_;
  if (!s.fresh) s.set_config();  // a clean counter data image for this call
  s.fresh = false;
  constexpr int kMaxRounds = 256;  // kernel replay finishes in one round; the bound only guards a CUPTI bug
  bool all_submitted = false;
  for (int round = 0; round < kMaxRounds && !all_submitted; ++round) {
    CUpti_RangeProfiler_Start_Params start{CUpti_RangeProfiler_Start_Params_STRUCT_SIZE};
    start.pRangeProfilerObject = s.range_profiler;
    ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerStart(&start));
    CUpti_RangeProfiler_Stop_Params stop{CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE};
    stop.pRangeProfilerObject = s.range_profiler;
    try {
      launch(stream);
      ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream));
    } catch (...) {
      cuptiRangeProfilerStop(&stop);
      throw;
    }
    ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerStop(&stop));
    all_submitted = stop.isAllPassSubmitted != 0;
  }
  if (!all_submitted) {
    throw CuptiError("CounterSession::measure: CUPTI did not finish its passes after " + std::to_string(kMaxRounds) +
                         " rounds",
                     CUPTI_ERROR_UNKNOWN);
  }
  CUpti_RangeProfiler_DecodeData_Params decode{CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE};
  decode.pRangeProfilerObject = s.range_profiler;
  ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerDecodeData(&decode));

  CUpti_RangeProfiler_GetCounterDataInfo_Params info{CUpti_RangeProfiler_GetCounterDataInfo_Params_STRUCT_SIZE};
  info.pCounterDataImage = s.counter_data.data();
  info.counterDataImageSize = s.counter_data.size();
  ROOFLINE_CUPTI_CHECK(cuptiRangeProfilerGetCounterDataInfo(&info));

  CounterResult result;
  result.kernels = static_cast<int>(info.numTotalRanges);
  result.passes = s.passes;
  result.dropped_ranges = decode.numOfRangeDropped;
  for (const auto& [metric, why] : s.rejected) result.errors[metric] = why;
  if (decode.numOfRangeDropped > 0) {
    const std::string why = std::to_string(decode.numOfRangeDropped) + " kernels beyond max_kernels_per_call (" +
                            std::to_string(s.max_ranges) + ") were not profiled";
    for (const std::string& m : s.metrics) result.errors[m] = why;
    return result;
  }
  if (result.kernels == 0) {
    for (const std::string& m : s.metrics) result.errors[m] = "the call launched no kernel that CUPTI profiled";
    return result;
  }
  std::vector<double> values(s.metrics.size(), 0.0);
  std::vector<double> combined(s.metrics.size(), 0.0);
  for (std::size_t range = 0; range < info.numTotalRanges; ++range) {
    CUpti_Profiler_Host_EvaluateToGpuValues_Params eval{CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE};
    eval.pHostObject = s.host->get();
    eval.pCounterDataImage = s.counter_data.data();
    eval.counterDataImageSize = s.counter_data.size();
    eval.rangeIndex = range;
    eval.ppMetricNames = s.metric_ptrs.data();
    eval.numMetrics = s.metric_ptrs.size();
    eval.pMetricValues = values.data();
    ROOFLINE_CUPTI_CHECK(cuptiProfilerHostEvaluateToGpuValues(&eval));
    for (std::size_t i = 0; i < s.metrics.size(); ++i) {
      const std::string rule = combine_rule(s.metrics[i]);
      if (range == 0 || rule.empty()) {
        combined[i] = values[i];
      } else if (rule == "sum") {
        combined[i] += values[i];
      } else if (rule == "max") {
        combined[i] = std::max(combined[i], values[i]);
      } else {
        combined[i] = std::min(combined[i], values[i]);
      }
    }
  }
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    const std::string& m = s.metrics[i];
    if (combine_rule(m).empty() && result.kernels > 1) {
      result.errors[m] = "not additive over the call's " + std::to_string(result.kernels) + " kernels";
    } else if (!std::isfinite(combined[i])) {
      result.errors[m] = "CUPTI returned a non-finite value";
    } else {
      result.values[m] = combined[i];
    }
  }
  return result;
}

bool CounterSession::available(int device, std::string* why_not) {
  if (!gpu_available(why_not)) return false;
  try {
    CounterSession probe(device, {"gpu__time_duration.sum"});
    return true;
  } catch (const std::exception& e) {
    if (why_not != nullptr) *why_not = e.what();
    return false;
  }
}

}  // namespace roofline::validate

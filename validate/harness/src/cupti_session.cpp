#include "roofline/validate/cupti_session.hpp"

#include <cupti.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/device_info.hpp"

namespace roofline::validate {
namespace {

constexpr std::size_t kBufferBytes = 8u << 20;  // 8 MiB per CUPTI activity buffer
constexpr std::size_t kBufferAlignment = 8;     // CUPTI requires 8-byte aligned buffers

// CUPTI's buffer callbacks are process-wide C functions, so the collected records live here.
struct Collector {
  std::mutex mutex;
  bool active = false;
  bool callbacks_registered = false;
  std::vector<KernelActivity> kernels;  // labels not yet resolved
  std::unordered_map<std::uint32_t, std::uint64_t> external_of_correlation;
  std::unordered_map<std::uint64_t, std::string> label_of_id;
  std::uint64_t next_id = 1;
  std::uint64_t dropped = 0;
};

Collector& collector() {
  static Collector c;
  return c;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kBufferAlignment, kBufferBytes));
  *size = *buffer != nullptr ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream_id, uint8_t* buffer, size_t /*size*/,
                               size_t valid_size) {
  Collector& c = collector();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    CUpti_Activity* record = nullptr;
    while (buffer != nullptr && cuptiActivityGetNextRecord(buffer, valid_size, &record) == CUPTI_SUCCESS) {
      if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || record->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
        const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
        if (k->start == 0 || k->end < k->start) continue;  // incomplete record
        KernelActivity a;
        a.name = k->name != nullptr ? k->name : "?";
        a.start_ns = k->start;
        a.end_ns = k->end;
        a.correlation_id = k->correlationId;
        a.graph_id = k->graphId;
        a.stream_id = k->streamId;
        a.device_id = k->deviceId;
        c.kernels.push_back(std::move(a));
      } else if (record->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
        const auto* e = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(record);
        if (e->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0) {
          c.external_of_correlation[e->correlationId] = e->externalId;
        }
      }
      // API records (RUNTIME, DRIVER) are enabled only so that CUPTI emits external correlations.
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(context, stream_id, &dropped) == CUPTI_SUCCESS) c.dropped += dropped;
  }
  std::free(buffer);
}

const CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                     CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER};

void disable_all() noexcept {
  for (CUpti_ActivityKind kind : kKinds) cuptiActivityDisable(kind);
}

}  // namespace

CuptiActivitySession::CuptiActivitySession() {
  Collector& c = collector();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.active) {
      throw CuptiError("CuptiActivitySession: another session is active in this process (CUPTI activity "
                       "callbacks are process-wide)",
                       CUPTI_ERROR_INVALID_OPERATION);
    }
    c.active = true;
    c.kernels.clear();
    c.external_of_correlation.clear();
    c.label_of_id.clear();
    c.dropped = 0;
  }
  try {
    if (!c.callbacks_registered) {
      ROOFLINE_CUPTI_CHECK(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
      c.callbacks_registered = true;
    }
    for (CUpti_ActivityKind kind : kKinds) ROOFLINE_CUPTI_CHECK(cuptiActivityEnable(kind));
  } catch (...) {
    disable_all();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.active = false;
    throw;
  }
  active_ = true;
}

CuptiActivitySession::~CuptiActivitySession() {
  if (!active_) return;
  ROOFLINE_CUPTI_REPORT(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
  disable_all();
  Collector& c = collector();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.kernels.clear();
  c.external_of_correlation.clear();
  c.label_of_id.clear();
  c.active = false;
}

CuptiActivitySession::CuptiActivitySession(CuptiActivitySession&& other) noexcept : active_(other.active_) {
  other.active_ = false;
}

CuptiActivitySession& CuptiActivitySession::operator=(CuptiActivitySession&& other) noexcept {
  if (this != &other) {
    if (active_) this->~CuptiActivitySession();
    active_ = other.active_;
    other.active_ = false;
  }
  return *this;
}

std::uint64_t CuptiActivitySession::push_label(const std::string& label) {
  if (!active_) throw CuptiError("CuptiActivitySession::push_label on a moved-from session", CUPTI_ERROR_INVALID_OPERATION);
  std::uint64_t id = 0;
  {
    Collector& c = collector();
    std::lock_guard<std::mutex> lock(c.mutex);
    id = c.next_id++;
    c.label_of_id[id] = label;
  }
  ROOFLINE_CUPTI_CHECK(cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, id));
  return id;
}

void CuptiActivitySession::pop_label() {
  uint64_t last = 0;
  ROOFLINE_CUPTI_CHECK(cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &last));
}

std::vector<KernelActivity> CuptiActivitySession::flush() {
  if (!active_) throw CuptiError("CuptiActivitySession::flush on a moved-from session", CUPTI_ERROR_INVALID_OPERATION);
  ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
  ROOFLINE_CUPTI_CHECK(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
  Collector& c = collector();
  std::vector<KernelActivity> out;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    out.swap(c.kernels);
    for (KernelActivity& k : out) {
      const auto e = c.external_of_correlation.find(k.correlation_id);
      if (e == c.external_of_correlation.end()) continue;
      k.external_id = e->second;
      const auto l = c.label_of_id.find(e->second);
      if (l != c.label_of_id.end()) k.label = l->second;
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const KernelActivity& a, const KernelActivity& b) { return a.start_ns < b.start_ns; });
  return out;
}

std::uint64_t CuptiActivitySession::dropped_records() const {
  Collector& c = collector();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.dropped;
}

bool CuptiActivitySession::available(std::string* why_not) {
  if (!gpu_available(why_not)) return false;
  try {
    CuptiActivitySession probe;
    return true;
  } catch (const std::exception& e) {
    if (why_not != nullptr) *why_not = e.what();
    return false;
  }
}

ScopedLabel::ScopedLabel(CuptiActivitySession& session, const std::string& label) : session_(&session) {
  session_->push_label(label);
}

ScopedLabel::~ScopedLabel() {
  uint64_t last = 0;
  ROOFLINE_CUPTI_REPORT(cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &last));
}

std::vector<LabelTiming> timings_by_label(const std::vector<KernelActivity>& kernels) {
  std::vector<LabelTiming> out;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::uint64_t> first_start;
  std::vector<std::uint64_t> last_end;
  for (const KernelActivity& k : kernels) {
    if (k.label.empty()) continue;
    auto [it, inserted] = index.emplace(k.label, out.size());
    if (inserted) {
      out.push_back(LabelTiming{k.label, 0, 0, 0});
      first_start.push_back(k.start_ns);
      last_end.push_back(k.end_ns);
    }
    const std::size_t i = it->second;
    out[i].kernels += 1;
    out[i].kernel_sum_s += k.duration_s();
    first_start[i] = std::min(first_start[i], k.start_ns);
    last_end[i] = std::max(last_end[i], k.end_ns);
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i].span_s = static_cast<double>(last_end[i] - first_start[i]) * 1e-9;
  return out;
}

}  // namespace roofline::validate

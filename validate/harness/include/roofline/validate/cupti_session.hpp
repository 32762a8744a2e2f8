// CUPTI Activity API session: collects one record per kernel execution (CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
// CUpti_ActivityKernel10 in CUDA 13: the kernel's own GPU start and end timestamps in ns) and ties each to
// the caller's label. Labels are CUPTI external correlation ids (kind CUSTOM0) pushed around the launches:
// CUPTI emits an EXTERNAL_CORRELATION record that maps the launching API call's correlation id (also the
// correlation id of every kernel of a graph replay) to the label. One session at a time per process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roofline::validate {

/// One kernel execution seen by CUPTI.
struct KernelActivity {
  std::string name;                 ///< mangled kernel name
  std::uint64_t start_ns = 0;       ///< GPU timestamp, ns
  std::uint64_t end_ns = 0;
  std::uint32_t correlation_id = 0; ///< the launching API call (cudaLaunchKernel, cudaGraphLaunch, ...)
  std::uint64_t external_id = 0;    ///< the label id pushed around the launch, 0 when none
  std::string label;                ///< the pushed label, "" when none
  std::uint32_t graph_id = 0;       ///< 0 when not launched from a graph
  std::uint32_t stream_id = 0;
  std::uint32_t device_id = 0;
  double duration_s() const { return static_cast<double>(end_ns - start_ns) * 1e-9; }
};

/// Per-label aggregate: kernels, sum of their durations, and last end − first start.
struct LabelTiming {
  std::string label;
  int kernels = 0;
  double kernel_sum_s = 0;
  double span_s = 0;
};

/// RAII: enables kernel activity collection on construction, disables it and drops unread records on
/// destruction. Move-only; constructing a second live session throws CuptiError.
class CuptiActivitySession {
 public:
  /// Throws CuptiError when CUPTI cannot enable activity collection (no driver, CUPTI missing, another
  /// session active). Kernel records of work launched before construction are not collected.
  CuptiActivitySession();
  ~CuptiActivitySession();
  CuptiActivitySession(CuptiActivitySession&& other) noexcept;
  CuptiActivitySession& operator=(CuptiActivitySession&& other) noexcept;
  CuptiActivitySession(const CuptiActivitySession&) = delete;
  CuptiActivitySession& operator=(const CuptiActivitySession&) = delete;

  /// Labels every launch made by this thread until the matching pop_label(); returns the label's id (> 0).
  std::uint64_t push_label(const std::string& label);
  void pop_label();

  /// Synchronises the device, forces CUPTI to deliver its buffers and returns every kernel record
  /// collected since the last flush, sorted by start time, labels resolved.
  std::vector<KernelActivity> flush();

  /// Records CUPTI dropped for lack of buffer space since the session began (0 in a healthy run).
  std::uint64_t dropped_records() const;

  /// True when a session can be opened (a GPU exists and CUPTI activity can be enabled); never throws.
  static bool available(std::string* why_not = nullptr);

 private:
  bool active_ = false;
};

/// RAII label: push_label in the constructor, pop_label in the destructor.
class ScopedLabel {
 public:
  ScopedLabel(CuptiActivitySession& session, const std::string& label);
  ~ScopedLabel();
  ScopedLabel(const ScopedLabel&) = delete;
  ScopedLabel& operator=(const ScopedLabel&) = delete;

 private:
  CuptiActivitySession* session_;
};

/// Groups kernels by label (kernels without one are skipped), in order of first appearance.
std::vector<LabelTiming> timings_by_label(const std::vector<KernelActivity>& kernels);

}  // namespace roofline::validate

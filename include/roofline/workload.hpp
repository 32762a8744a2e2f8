// Workloads: the unit of batch prediction and of measurement. One JSON object describes one GPU call
// (a GEMM, an attention call, a whole model step, a bandwidth or elementwise kernel); the same objects
// are `roofline predict` input lines and the `workload` of every measurement record
// (docs/measurement-records.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

enum class WorkloadKind : std::uint8_t { gemm, attention, model_step, stream, elementwise, launch };
std::string_view to_string(WorkloadKind k);

enum class StreamKind : std::uint8_t { read, write, copy };
enum class ElementwiseKind : std::uint8_t { rmsnorm, rope, silu_mul, add, kv_write, quantize_fp8, embedding };
std::string_view to_string(ElementwiseKind k);

struct Workload {
  WorkloadKind kind = WorkloadKind::gemm;
  // gemm
  GemmShape gemm;
  Precision dtype = Precision::bf16;  ///< gemm / attention / elementwise element type
  // attention
  Phase phase = Phase::decode;
  AttentionShape attention;
  AttentionKernel attention_kernel = AttentionKernel::fa2;
  double skip_fraction = 0;
  // model_step
  std::string model;
  std::int64_t batch = 1;
  std::int64_t context = 1;
  Precision weights = Precision::bf16;
  Precision kv_cache = Precision::bf16;
  std::optional<std::int64_t> num_layers;
  // stream
  StreamKind stream = StreamKind::read;
  std::int64_t bytes = 0;
  // elementwise
  ElementwiseKind elementwise = ElementwiseKind::add;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  // launch
  bool graph = true;
  bool operator==(const Workload&) const = default;
};

/// Parses one workload object (a JSON line). `file` and `line` locate errors ("workloads.jsonl:3: k: must
/// be >= 1, got 0"); unknown keys and missing keys are errors.
Workload parse_workload(std::string_view json_text, const std::string& file = "<workload>", int line = 0);
/// The canonical JSON text of a workload (round-trips through parse_workload).
std::string workload_json(const Workload& w);

/// The operators a workload runs (a model step: all of its operators).
std::vector<Op> workload_ops(const Workload& w, const HardwareSpec& hw, const ModelRegistry& models);

struct WorkloadPrediction {
  double time_s = 0;
  double interval_low_s = 0;
  double interval_high_s = 0;
  Bound bound = Bound::memory;  ///< of the operator that takes the most time
  double flops = 0;
  double bytes = 0;
  /// Share of the time priced by a measured library kernel choice (GemmException); 0: none.
  double measured_choice_share_fraction = 0;
  bool operator==(const WorkloadPrediction&) const = default;
};

/// Predicted GPU time (cold L2) of a workload. Throws InvalidArgumentError / UnknownNameError for a
/// workload that cannot run (an unknown model, an unsupported kernel on this GPU). A model step runs under
/// Load::sustained and a single kernel under Load::burst unless `load` says otherwise.
WorkloadPrediction predict_workload(const Workload& w, const HardwareSpec& hw, const Calibration& calibration,
                                    const ModelRegistry& models, std::optional<Load> load = std::nullopt);

/// One line of batch prediction: the JSON answer for one workload line (no trailing newline), either
/// {"predicted_s":..,"bound":..,"interval_s":[lo,hi],"flops":..,"bytes":..} or {"error":"<message>"}.
/// Returns false when the line could not be predicted.
bool predict_line(std::string_view line, const std::string& file, int line_number, const HardwareSpec& hw,
                  const Calibration& calibration, const ModelRegistry& models, std::string& out);

}  // namespace roofline

// Charts drawn by the library itself as self-contained SVG text (no plotting program, no scripts): the
// roofline (log-log; one ceiling per math path the GPU has, measured ceilings dashed; one labelled point
// per operator, decode and prefill with different markers), time per operator class, a comparison of
// strategies (time and memory with intervals) and of attention kernels over context length.
// Colours: Okabe & Ito, "Color Universal Design" (2008), and Paul Tol's "muted" scheme (Tol, "Colour
// Schemes", SRON/EPS/TN/09-002): both distinguishable with the common colour-vision deficiencies; marker
// shape and dash pattern carry the same information as colour wherever it matters.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/calibration.hpp"
#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/precision.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

/// Pixel size of a chart (the SVG's width and height; it scales in a browser). A height of 0 lets the bar
/// charts size themselves to their rows.
struct ChartSize {
  int width_px = 1000;
  int height_px = 640;
  bool operator==(const ChartSize&) const = default;
};

/// Okabe–Ito colour of a math path ("#0072B2" for tc_16bit): ceilings and points of one path share it.
std::string_view math_path_colour(MathPath m);
/// Words for a math path on a chart: "bf16/fp16 tensor", "fp8 tensor", "fp32 CUDA cores".
std::string_view math_path_title(MathPath m);

// ---- roofline chart -----------------------------------------------------------------------------

/// A horizontal compute ceiling.
struct RooflineCeiling {
  MathPath math = MathPath::tc_16bit;
  double flop_per_s = 0;
  bool measured = false;  ///< measured: dashed; datasheet: solid
  std::string source;     ///< "datasheet, dense" or "best of 12 gemm records: 8192x8192x8192 bf16 (gemm.jsonl:3)"
  bool operator==(const RooflineCeiling&) const = default;
};

/// The sloped memory roof: attainable FLOP/s = bandwidth × intensity.
struct MemoryRoof {
  double bytes_per_s = 0;
  bool measured = false;
  std::string source;
  bool operator==(const MemoryRoof&) const = default;
};

enum class PointKind : std::uint8_t {
  predicted,          ///< an operator of a predicted step (decode ●, prefill ■)
  measured,           ///< a measured kernel (◇, hollow)
  kernel_prediction,  ///< the model's prediction for a measured kernel (◆, joined to it)
};

/// One operator (or one measured kernel) on the chart: where its FLOPs per byte put it, and the FLOP/s it
/// attains, FLOPs / time.
struct RooflinePoint {
  std::string label;  ///< "q_proj"; identical labels at one position are drawn as one label
  Phase phase = Phase::decode;
  MathPath math = MathPath::tc_16bit;
  PointKind kind = PointKind::predicted;
  double intensity_flop_per_byte = 0;
  double flop_per_s = 0;
  std::string tooltip;  ///< shown on hover in a browser (<title>)
  int predicted_index = -1;  ///< a measured point: index of its kernel_prediction in `points` (joined by a line)
  bool operator==(const RooflinePoint&) const = default;
};

struct RooflineChart {
  std::string title;
  std::string subtitle;  ///< e.g. the calibration status
  std::vector<MemoryRoof> memory_roofs;
  std::vector<RooflineCeiling> ceilings;
  std::vector<RooflinePoint> points;
  std::vector<std::string> notes;  ///< footnotes (operators that cannot be drawn on log axes, skipped records)
  bool operator==(const RooflineChart&) const = default;
};

/// The datasheet roofs of `hw`: its memory bandwidth and one ceiling per supported math path (dense).
RooflineChart roofline_chart(const HardwareSpec& hw, std::string title = "");

/// Adds one point per operator row of `step` at (FLOPs / bytes, FLOPs / predicted time of one instance).
/// Operators without FLOPs or bytes (embedding gathers, KV-cache writes) cannot sit on log axes: they are
/// listed in the chart's notes instead.
void add_step(RooflineChart& chart, const StepPrediction& step, Phase phase);

/// The best rates measured on `hw` (records whose device.hw_profile is hw.name, status ok): the memory
/// roof from suite "stream" records larger than twice the L2 (read and write: bytes / time; copy:
/// 2 × bytes / time), and one compute ceiling per math path from gemm workloads of suites "ceilings" and
/// "gemm" (2·m·n·k / time).
struct MeasuredCeilings {
  std::optional<MemoryRoof> memory;
  std::vector<RooflineCeiling> compute;
  bool empty() const { return !memory && compute.empty(); }
  bool operator==(const MeasuredCeilings&) const = default;
};
MeasuredCeilings measured_ceilings(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw);
void add_measured_ceilings(RooflineChart& chart, const MeasuredCeilings& measured);

/// Adds measured kernels (ok gemm, attention and elementwise records of `hw`, of the given suites or all
/// when empty) as hollow diamonds, each joined to a filled diamond at its prediction by `calibration`
/// (the same intensity: the model's FLOPs and bytes; attained FLOP/s from the measured and the predicted
/// time). Records the model cannot predict are counted in a note. Returns the number of measured points.
int add_measured_kernels(RooflineChart& chart, const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                         const Calibration& calibration, const ModelRegistry& models,
                         const std::vector<std::string>& suites = {});

/// The chart as an SVG document: log-log axes with decade ticks (FLOP/byte, TFLOP/s), the roofs with
/// their values, labelled points (decode ●, prefill ■, measured ◇), a legend and the notes.
std::string render_svg(const RooflineChart& chart, const ChartSize& size = {});

// ---- time per operator class ------------------------------------------------------------------

/// Operator classes of the breakdown chart.
enum class OperatorClass : std::uint8_t {
  attention_projections,  ///< q, k, v, o projections
  attention,              ///< fused attention or QK/softmax/SV
  ffn,                    ///< gate, up, down projections and the MoE router
  lm_head,
  norm,
  elementwise,            ///< RoPE, activation, residual add
  kv_cache_write,
  quantize,               ///< activation quantisation (dynamic scaling)
  embedding,
  allreduce,
};
inline constexpr std::size_t operator_class_count = 10;
std::string_view to_string(OperatorClass c);  ///< "attention projections", "FFN", ...
OperatorClass operator_class(OperatorType t);
/// Paul Tol "muted" colour of a class.
std::string_view operator_class_colour(OperatorClass c);

/// One bar: a step's time split by operator class.
struct StepBreakdown {
  std::string label;  ///< e.g. "decode, batch 8, context 4096"
  double time_s = 0;
  double interval_low_s = 0;
  double interval_high_s = 0;
  std::array<double, operator_class_count> class_time_s{};
  bool operator==(const StepBreakdown&) const = default;
};
/// Sums each operator row's total time (instances × per-instance time) into its class.
StepBreakdown step_breakdown(std::string label, const StepPrediction& step);

enum class BarScale : std::uint8_t {
  share,     ///< every bar 100%: compares where time goes in steps of very different length
  absolute,  ///< bar length = step time
};
/// Horizontal stacked bars, one per step, a legend of the classes present, the total time (with its
/// interval) beside each bar.
std::string render_breakdown_svg(const std::vector<StepBreakdown>& bars, BarScale scale, std::string_view title,
                                 const ChartSize& size = {1000, 0});

// ---- strategy comparison ------------------------------------------------------------------------

/// One strategy's predicted step: time with its interval, memory by kind, and whether it fits.
struct StrategyResult {
  std::string label;
  double time_s = 0;
  double interval_low_s = 0;
  double interval_high_s = 0;
  MemoryFootprint memory;
  double capacity_bytes = 0;
  bool fits = true;
  bool highlighted = false;  ///< the recommendation: drawn bold
  std::string note;          ///< why it does not fit, or what runs emulated: printed under the chart
  bool operator==(const StrategyResult&) const = default;
};
StrategyResult strategy_result(std::string label, const StepPrediction& step);

/// Two panels sharing the strategy rows: time per step (bar to the prediction, whisker over its
/// interval) and memory (weights, KV cache, activations stacked, the GPU's capacity as a dashed line).
std::string render_strategy_svg(const std::vector<StrategyResult>& strategies, std::string_view title,
                                const ChartSize& size = {1000, 0});

// ---- attention kernels over context length -----------------------------------------------------

struct SeriesPoint {
  double x = 0;
  double y = 0;
  double low = 0;   ///< interval; equal to y when unknown
  double high = 0;
  bool operator==(const SeriesPoint&) const = default;
};

/// One attention kernel's time per call over context lengths; an empty series with a reason when the
/// kernel cannot run on the GPU.
struct KernelSeries {
  std::string label;
  std::vector<SeriesPoint> points;  ///< x: context tokens, y: time of one call in seconds
  std::string unavailable_reason;
  bool operator==(const KernelSeries&) const = default;
};

/// Predicted time of one attention call (one layer) of `model` for each kernel and context length, as
/// `roofline predict` predicts an attention workload: decode (q_len 1, kv_len = context) or causal prefill
/// (q_len = kv_len = context), batch `batch`, the model's GQA heads, head size and sliding window, Q, K, V
/// and cache all in `dtype`. A kernel the GPU cannot run gets no points and the reason.
std::vector<KernelSeries> attention_sweep(const ModelConfig& model, const HardwareSpec& hw,
                                          const Calibration& calibration, Phase phase, std::int64_t batch,
                                          const std::vector<std::int64_t>& contexts,
                                          const std::vector<AttentionKernel>& kernels, Precision dtype = Precision::bf16);

/// Log-log lines (context tokens, time per call) with a shaded interval band per kernel, a legend, and
/// the kernels that cannot run listed with their reasons.
std::string render_attention_svg(const std::vector<KernelSeries>& series, std::string_view title,
                                 std::string_view subtitle, const ChartSize& size = {1000, 560});

}  // namespace roofline

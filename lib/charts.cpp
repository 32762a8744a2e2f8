#include "roofline/charts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "detail/svg.hpp"
#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"
#include "roofline/units.hpp"
#include "roofline/workload.hpp"

namespace roofline {

using detail::Attributes;
using detail::Axis;
using detail::Box;
using detail::px;
using detail::SvgWriter;
using detail::text_width_px;

// ---- colours and names ----------------------------------------------------------------------------

std::string_view math_path_colour(MathPath m) {
  switch (m) {  // Okabe–Ito; yellow (#F0E442) is left out: too faint as a line on white
    case MathPath::simt_fp32: return "#56B4E9";  // sky blue
    case MathPath::tc_16bit: return "#0072B2";   // blue
    case MathPath::tc_fp8: return "#D55E00";     // vermillion
    case MathPath::tc_int8: return "#009E73";    // bluish green
    case MathPath::tc_fp4: return "#CC79A7";     // reddish purple
    case MathPath::tc_int4: return "#E69F00";    // orange
  }
  return "#000000";
}

std::string_view math_path_title(MathPath m) {
  switch (m) {
    case MathPath::simt_fp32: return "fp32 CUDA cores";
    case MathPath::tc_16bit: return "bf16/fp16 tensor";
    case MathPath::tc_fp8: return "fp8 tensor";
    case MathPath::tc_int8: return "int8 tensor";
    case MathPath::tc_fp4: return "fp4 tensor";
    case MathPath::tc_int4: return "int4 tensor";
  }
  return "?";
}

std::string_view to_string(OperatorClass c) {
  switch (c) {
    case OperatorClass::attention_projections: return "attention projections";
    case OperatorClass::attention: return "attention";
    case OperatorClass::ffn: return "FFN";
    case OperatorClass::lm_head: return "LM head";
    case OperatorClass::norm: return "norm";
    case OperatorClass::elementwise: return "RoPE, activation, residual";
    case OperatorClass::kv_cache_write: return "KV-cache write";
    case OperatorClass::quantize: return "quantize";
    case OperatorClass::embedding: return "embedding";
    case OperatorClass::allreduce: return "all-reduce";
  }
  return "?";
}

OperatorClass operator_class(OperatorType t) {
  switch (t) {
    case OperatorType::Q_PROJ:
    case OperatorType::K_PROJ:
    case OperatorType::V_PROJ:
    case OperatorType::O_PROJ: return OperatorClass::attention_projections;
    case OperatorType::QK_MATMUL:
    case OperatorType::SV_MATMUL:
    case OperatorType::SOFTMAX:
    case OperatorType::ATTENTION: return OperatorClass::attention;
    case OperatorType::FFN_GATE:
    case OperatorType::FFN_UP:
    case OperatorType::FFN_DOWN:
    case OperatorType::MOE_ROUTER: return OperatorClass::ffn;
    case OperatorType::LM_HEAD: return OperatorClass::lm_head;
    case OperatorType::RMSNORM: return OperatorClass::norm;
    case OperatorType::ROPE:
    case OperatorType::RESIDUAL:
    case OperatorType::ACTIVATION: return OperatorClass::elementwise;
    case OperatorType::KV_CACHE: return OperatorClass::kv_cache_write;
    case OperatorType::QUANTIZE: return OperatorClass::quantize;
    case OperatorType::EMBEDDINGS: return OperatorClass::embedding;
    case OperatorType::ALLREDUCE: return OperatorClass::allreduce;
  }
  return OperatorClass::elementwise;
}

std::string_view operator_class_colour(OperatorClass c) {
  switch (c) {  // Paul Tol "muted"
    case OperatorClass::attention_projections: return "#332288";  // indigo
    case OperatorClass::attention: return "#CC6677";              // rose
    case OperatorClass::ffn: return "#44AA99";                    // teal
    case OperatorClass::lm_head: return "#882255";                // wine
    case OperatorClass::norm: return "#DDCC77";                   // sand
    case OperatorClass::elementwise: return "#88CCEE";            // cyan
    case OperatorClass::kv_cache_write: return "#999933";         // olive
    case OperatorClass::quantize: return "#AA4499";               // purple
    case OperatorClass::embedding: return "#117733";              // green
    case OperatorClass::allreduce: return "#777777";              // grey
  }
  return "#777777";
}

namespace {

constexpr double kTitlePx = 17;
constexpr double kFontPx = 12;
constexpr double kSmallPx = 11;
const char* const kInk = "#222222";
const char* const kGrid = "#e3e3e3";
const char* const kMuted = "#555555";

// Black text on light fills, white on dark ones (relative luminance of the sRGB colour, WCAG 2 formula).
const char* text_on(std::string_view hex) {
  auto channel = [&](int i) {
    const double v = std::stoi(std::string(hex.substr(1 + 2 * i, 2)), nullptr, 16) / 255.0;
    return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  };
  const double l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  return l > 0.25 ? "#000000" : "#ffffff";
}

std::string id_prefix(std::string_view kind, std::string_view text) {
  std::uint32_t h = 2166136261u;  // FNV-1a: ids unique per chart content, stable between runs
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return std::string(kind) + "-" + buf;
}

Attributes text_attrs(double x, double y, double font_px, std::string_view anchor = "start",
                      std::string_view cls = "", std::string_view fill = kInk) {
  Attributes a = {{"x", px(x)}, {"y", px(y)}, {"font-size", px(font_px)}, {"fill", std::string(fill)}};
  if (anchor != "start") a.emplace_back("text-anchor", std::string(anchor));
  if (!cls.empty()) a.emplace_back("class", std::string(cls));
  return a;
}

// A white outline behind the glyphs keeps text readable where it crosses lines.
Attributes with_halo(Attributes a) {
  a.emplace_back("stroke", "#ffffff");
  a.emplace_back("stroke-width", "3");
  a.emplace_back("stroke-linejoin", "round");
  a.emplace_back("paint-order", "stroke");
  return a;
}

void line(SvgWriter& svg, double x1, double y1, double x2, double y2, std::string_view stroke, double width,
          std::string_view cls = "", std::string_view dash = "") {
  Attributes a = {{"x1", px(x1)}, {"y1", px(y1)}, {"x2", px(x2)}, {"y2", px(y2)}, {"stroke", std::string(stroke)},
                  {"stroke-width", px(width)}};
  if (!dash.empty()) a.emplace_back("stroke-dasharray", std::string(dash));
  if (!cls.empty()) a.emplace_back("class", std::string(cls));
  svg.leaf("line", a);
}

void title_block(SvgWriter& svg, double width, std::string_view title, std::string_view subtitle) {
  if (!title.empty()) {
    Attributes a = text_attrs(width / 2, 24, kTitlePx, "middle", "chart-title");
    a.emplace_back("font-weight", "bold");
    svg.text(a, title);
  }
  if (!subtitle.empty()) svg.text(text_attrs(width / 2, 43, kSmallPx, "middle", "chart-subtitle", kMuted), subtitle);
}

// Splits `text` into lines no wider than `width_px` at `font_px`, breaking at spaces.
std::vector<std::string> wrap(const std::string& text, double width_px, double font_px) {
  std::vector<std::string> lines;
  std::string current;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    const std::string word = text.substr(i, j - i);
    const std::string candidate = current.empty() ? word : current + " " + word;
    if (!current.empty() && text_width_px(candidate, font_px) > width_px) {
      lines.push_back(current);
      current = word;
    } else {
      current = candidate;
    }
    i = j + 1;
  }
  if (!current.empty()) lines.push_back(current);
  return lines;
}

enum class Marker { circle, square, diamond, triangle };

// One marker centred on (x, y) with radius r; hollow markers have a white fill and a coloured outline.
void marker(SvgWriter& svg, Marker m, double x, double y, double r, std::string_view colour, bool hollow,
            const Attributes& extra, std::string_view tooltip) {
  Attributes a;
  std::string name;
  switch (m) {
    case Marker::circle:
      name = "circle";
      a = {{"cx", px(x)}, {"cy", px(y)}, {"r", px(r)}};
      break;
    case Marker::square:
      name = "rect";
      a = {{"x", px(x - r * 0.9)}, {"y", px(y - r * 0.9)}, {"width", px(r * 1.8)}, {"height", px(r * 1.8)}};
      break;
    case Marker::diamond: {
      name = "path";
      const double d = r * 1.25;
      a = {{"d", "M" + px(x) + " " + px(y - d) + "L" + px(x + d) + " " + px(y) + "L" + px(x) + " " + px(y + d) + "L" +
                     px(x - d) + " " + px(y) + "Z"}};
      break;
    }
    case Marker::triangle: {
      name = "path";
      const double d = r * 1.2;
      a = {{"d", "M" + px(x) + " " + px(y - d) + "L" + px(x + d) + " " + px(y + d * 0.8) + "L" + px(x - d) + " " +
                     px(y + d * 0.8) + "Z"}};
      break;
    }
  }
  a.emplace_back("fill", hollow ? "#ffffff" : std::string(colour));
  a.emplace_back("stroke", hollow ? std::string(colour) : "#ffffff");
  a.emplace_back("stroke-width", hollow ? "1.8" : "1");
  a.insert(a.end(), extra.begin(), extra.end());
  if (tooltip.empty()) svg.leaf(name, a);
  else svg.leaf_with_title(name, a, tooltip);
}

// Right-margin labels at the height of the line they name, moved apart when they would overlap.
struct MarginLabel {
  double want_y = 0;  // the line's pixel height
  double y = 0;       // where the label goes
  std::string text;
  std::string colour;
  std::string cls;
  Marker marker = Marker::circle;
  bool with_marker = false;
  bool bold = false;
};
void dodge(std::vector<MarginLabel>& labels, double spacing, double top, double bottom) {
  std::sort(labels.begin(), labels.end(), [](const MarginLabel& a, const MarginLabel& b) { return a.want_y < b.want_y; });
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i].y = std::max(labels[i].want_y, i ? labels[i - 1].y + spacing : top);
  }
  // Pushed past the bottom: shift the run back up, keeping the spacing.
  for (std::size_t k = labels.size(); k-- > 0;) {
    const double limit = k + 1 < labels.size() ? labels[k + 1].y - spacing : bottom;
    if (labels[k].y > limit) labels[k].y = limit;
  }
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : std::string(sep)) + p;
  return s;
}

std::string tflops_text(double flop_per_s) { return detail::short_number(flop_per_s / 1e12, 3) + " TFLOP/s"; }

}  // namespace

// ---- roofline chart: data ---------------------------------------------------------------------------

RooflineChart roofline_chart(const HardwareSpec& hw, std::string title) {
  RooflineChart c;
  c.title = title.empty() ? hw.display_name + ": roofline" : std::move(title);
  std::string memory(to_string(hw.memory_kind));
  for (char& ch : memory) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  c.memory_roofs.push_back(
      {hw.bandwidth_bytes_per_s(), false,
       memory + ", " + std::string(to_string(hw.memory_bandwidth_bytes_per_s.provenance))});
  for (std::size_t i = 0; i < math_path_count; ++i) {
    const MathPath m = static_cast<MathPath>(i);
    const PeakRate& p = hw.peak(m);
    if (!p.supported || !(p.dense_flop_per_s.value > 0)) continue;
    std::string source = std::string(to_string(p.dense_flop_per_s.provenance)) + ", dense";
    if (p.datasheet_sparse) source += " (sparse figure / 2)";
    c.ceilings.push_back({m, p.dense_flop_per_s.value, false, source});
  }
  return c;
}

void add_step(RooflineChart& chart, const StepPrediction& step, Phase phase) {
  // A type whose rows all sit at one position gets its short name ("rmsnorm" for the per-layer and the
  // final norm); rows that differ (layer bands in different precisions) keep their layer range.
  std::map<OperatorType, std::set<std::pair<double, double>>> positions;
  for (const OpPrediction& o : step.ops) {
    const Prediction& p = o.prediction;
    if (p.flops > 0 && p.bytes > 0 && p.time_s > 0)
      positions[o.op.type].insert({std::round(std::log10(p.intensity_flop_per_byte) * 1e4),
                                   std::round(std::log10(p.flops / p.time_s) * 1e4)});
  }
  std::vector<std::string> skipped;
  for (const OpPrediction& o : step.ops) {
    const Prediction& p = o.prediction;
    if (!(p.flops > 0 && p.bytes > 0 && p.time_s > 0)) {
      const std::string name(to_string(o.op.type));
      if (std::find(skipped.begin(), skipped.end(), name) == skipped.end()) skipped.push_back(name);
      continue;
    }
    RooflinePoint pt;
    pt.label = positions[o.op.type].size() > 1 ? op_label(o.op) : std::string(to_string(o.op.type));
    pt.phase = phase;
    pt.math = o.op.math;
    pt.intensity_flop_per_byte = p.flops / p.bytes;
    pt.flop_per_s = p.flops / p.time_s;
    char tip[512];
    std::snprintf(tip, sizeof tip, "%s (%s, %s): %.3g FLOP/byte, %s attained, %s per instance x %d, %s-bound",
                  op_label(o.op).c_str(), std::string(to_string(phase)).c_str(),
                  std::string(to_string(o.op.math)).c_str(), pt.intensity_flop_per_byte,
                  format_flop_per_s(pt.flop_per_s).c_str(), format_time_s(p.time_s).c_str(), o.op.instances,
                  std::string(to_string(p.bound)).c_str());
    pt.tooltip = tip;
    chart.points.push_back(std::move(pt));
  }
  if (skipped.empty()) return;
  // One note for both phases when they leave out the same operators.
  const std::string tail = ", no FLOPs to place on log axes): " + join(skipped, ", ") + ".";
  const std::string other(to_string(phase == Phase::decode ? Phase::prefill : Phase::decode));
  for (std::string& n : chart.notes)
    if (n == "Not drawn (" + other + tail) {
      n = "Not drawn (decode and prefill" + tail;
      return;
    }
  chart.notes.push_back("Not drawn (" + std::string(to_string(phase)) + tail);
}

namespace {
std::string record_place(const MeasurementRecord& r) {
  return std::filesystem::path(r.file).filename().string() + ":" + std::to_string(r.line);
}
bool of_gpu(const MeasurementRecord& r, const HardwareSpec& hw) { return r.ok && r.device.hw_profile == hw.name && r.median_s > 0; }
}  // namespace

MeasuredCeilings measured_ceilings(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw) {
  MeasuredCeilings out;
  const double l2 = hw.l2_bytes ? hw.l2_bytes->value : 0.0;
  // Memory: the best streaming rate over buffers well beyond the L2.
  const MeasurementRecord* best_stream = nullptr;
  double best_bw = 0;
  int streams = 0;
  for (const MeasurementRecord& r : records) {
    if (!of_gpu(r, hw) || r.suite != "stream" || r.workload.kind != WorkloadKind::stream) continue;
    if (double(r.workload.bytes) < 2 * l2) continue;
    ++streams;
    const double moved = double(r.workload.bytes) * (r.workload.stream == StreamKind::copy ? 2.0 : 1.0);
    const double bw = moved / r.median_s;
    if (bw > best_bw) {
      best_bw = bw;
      best_stream = &r;
    }
  }
  if (best_stream) {
    static const char* const kinds[] = {"read", "write", "copy"};
    out.memory = MemoryRoof{best_bw, true,
                            "best of " + std::to_string(streams) + " stream records: " +
                                kinds[static_cast<int>(best_stream->workload.stream)] + " of " +
                                format_bytes(double(best_stream->workload.bytes)) + ", " + best_stream->label + " (" +
                                record_place(*best_stream) + ")"};
  }
  // Compute: the best GEMM rate per math path.
  struct Best {
    const MeasurementRecord* record = nullptr;
    double rate = 0;
    int count = 0;
  };
  std::map<MathPath, Best> best;
  for (const MeasurementRecord& r : records) {
    if (!of_gpu(r, hw) || (r.suite != "ceilings" && r.suite != "gemm") || r.workload.kind != WorkloadKind::gemm) continue;
    const GemmShape& g = r.workload.gemm;
    const MathPath m = matmul_path(hw, r.workload.dtype, r.workload.dtype).math;
    const double rate = 2.0 * double(g.m) * double(g.n) * double(g.k) * double(g.groups) / r.median_s;
    Best& b = best[m];
    ++b.count;
    if (rate > b.rate) {
      b.rate = rate;
      b.record = &r;
    }
  }
  for (const auto& [m, b] : best) {
    const GemmShape& g = b.record->workload.gemm;
    out.compute.push_back({m, b.rate, true,
                           "best of " + std::to_string(b.count) + " gemm records: " + std::to_string(g.m) + "x" +
                               std::to_string(g.n) + "x" + std::to_string(g.k) + " " +
                               std::string(to_string(b.record->workload.dtype)) + ", " + b.record->label + " (" +
                               record_place(*b.record) + ")"});
  }
  return out;
}

void add_measured_ceilings(RooflineChart& chart, const MeasuredCeilings& measured) {
  if (measured.memory) chart.memory_roofs.push_back(*measured.memory);
  for (const RooflineCeiling& c : measured.compute) chart.ceilings.push_back(c);
}

int add_measured_kernels(RooflineChart& chart, const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                         const Calibration& calibration, const ModelRegistry& models,
                         const std::vector<std::string>& suites) {
  int added = 0, unpredictable = 0;
  for (const MeasurementRecord& r : records) {
    if (!of_gpu(r, hw)) continue;
    if (!suites.empty() && std::find(suites.begin(), suites.end(), r.suite) == suites.end()) continue;
    const WorkloadKind k = r.workload.kind;
    if (k != WorkloadKind::gemm && k != WorkloadKind::attention && k != WorkloadKind::elementwise) continue;
    WorkloadPrediction p;
    MathPath math = MathPath::simt_fp32;
    try {
      const std::vector<Op> ops = workload_ops(r.workload, hw, models);
      if (!ops.empty()) math = ops.front().math;
      p = predict_workload(r.workload, hw, calibration, models);
    } catch (const Error&) {
      ++unpredictable;
      continue;
    }
    if (!(p.flops > 0 && p.bytes > 0 && p.time_s > 0)) continue;  // no place on log axes
    const double intensity = p.flops / p.bytes;
    const Phase phase = k == WorkloadKind::attention ? r.workload.phase : Phase::decode;
    RooflinePoint predicted;
    predicted.kind = PointKind::kernel_prediction;
    predicted.label = r.label;
    predicted.phase = phase;
    predicted.math = math;
    predicted.intensity_flop_per_byte = intensity;
    predicted.flop_per_s = p.flops / p.time_s;
    predicted.tooltip = "predicted " + r.label + " " + workload_json(r.workload) + ": " + format_time_s(p.time_s);
    RooflinePoint measured = predicted;
    measured.kind = PointKind::measured;
    measured.flop_per_s = p.flops / r.median_s;
    measured.tooltip = "measured " + r.label + " " + workload_json(r.workload) + ": " + format_time_s(r.median_s) +
                       " (" + record_place(r) + ")";
    chart.points.push_back(std::move(predicted));
    measured.predicted_index = int(chart.points.size()) - 1;
    chart.points.push_back(std::move(measured));
    ++added;
  }
  if (unpredictable > 0)
    chart.notes.push_back(std::to_string(unpredictable) + " measured records not drawn: the model cannot predict them "
                                                          "on this GPU.");
  return added;
}

// ---- roofline chart: drawing ------------------------------------------------------------------------

namespace {

struct LegendEntry {
  enum Kind { swatch_line, swatch_dashed, swatch_marker } kind = swatch_line;
  std::string colour;
  Marker marker = Marker::circle;
  bool hollow = false;
  std::string text;
};

Box legend_box(const std::vector<LegendEntry>& entries, double x, double y) {
  double w = 0;
  for (const LegendEntry& e : entries) w = std::max(w, text_width_px(e.text, kSmallPx));
  return {x, y, w + 46, 10 + 17.0 * double(entries.size())};
}

void draw_legend(SvgWriter& svg, const std::vector<LegendEntry>& entries, const Box& box) {
  svg.open("g", {{"class", "legend"}});
  svg.leaf("rect", {{"x", px(box.x)}, {"y", px(box.y)}, {"width", px(box.w)}, {"height", px(box.h)}, {"fill", "#ffffff"},
                    {"fill-opacity", "0.92"}, {"stroke", "#bbbbbb"}, {"stroke-width", "1"}, {"rx", "3"}});
  double y = box.y + 5 + 8.5;
  for (const LegendEntry& e : entries) {
    const double x = box.x + 8;
    if (e.kind == LegendEntry::swatch_marker) marker(svg, e.marker, x + 12, y, 4.5, e.colour, e.hollow, {}, "");
    else line(svg, x, y, x + 24, y, e.colour, 2, "", e.kind == LegendEntry::swatch_dashed ? "6 3" : "");
    svg.text(text_attrs(x + 32, y + 4, kSmallPx, "start", "legend-entry"), e.text);
    y += 17;
  }
  svg.close();
}

}  // namespace

std::string render_svg(const RooflineChart& chart, const ChartSize& size) {
  const double W = size.width_px, H = size.height_px;
  SvgWriter svg(W, H, chart.title,
                "Roofline chart: attainable FLOP/s against arithmetic intensity (FLOP per byte of memory traffic), "
                "log-log, with the GPU's memory roof and compute ceilings and one point per operator.");

  // ---- data extent
  double peak_max = 0;
  for (const RooflineCeiling& c : chart.ceilings) peak_max = std::max(peak_max, c.flop_per_s);
  double bw_min = 0;
  for (const MemoryRoof& m : chart.memory_roofs)
    if (m.bytes_per_s > 0) bw_min = bw_min > 0 ? std::min(bw_min, m.bytes_per_s) : m.bytes_per_s;
  if (!(peak_max > 0)) peak_max = 1e15;
  if (!(bw_min > 0)) bw_min = 1e12;
  std::vector<const RooflinePoint*> drawable;
  std::vector<std::string> notes = chart.notes;
  int dropped = 0;
  double xi_lo = 1e300, xi_hi = 0, y_lo = 1e300;
  for (const RooflinePoint& p : chart.points) {
    if (!(p.intensity_flop_per_byte > 0 && p.flop_per_s > 0) || !std::isfinite(p.intensity_flop_per_byte) ||
        !std::isfinite(p.flop_per_s)) {
      ++dropped;
      continue;
    }
    drawable.push_back(&p);
    xi_lo = std::min(xi_lo, p.intensity_flop_per_byte);
    xi_hi = std::max(xi_hi, p.intensity_flop_per_byte);
    y_lo = std::min(y_lo, p.flop_per_s);
  }
  if (dropped > 0) notes.push_back(std::to_string(dropped) + " points without a positive, finite position not drawn.");
  const double ridge_max = peak_max / bw_min;
  if (drawable.empty()) {
    xi_lo = ridge_max / 1e3;
    xi_hi = ridge_max;
    y_lo = peak_max / 1e4;
  }
  auto [x_d0, x_d1] = detail::decade_range(std::min(xi_lo, ridge_max / 100), std::max(xi_hi * 1.5, ridge_max * 4));
  auto [y_d0, y_d1] = detail::decade_range(std::min(y_lo / 1.5, peak_max / 1e3), peak_max * 1.6);
  std::vector<std::string> note_lines;
  for (const std::string& n : notes)
    for (const std::string& l : wrap(n, W - 100, kSmallPx)) note_lines.push_back(l);

  // ---- layout: right margin for the ceiling labels, bottom for the axis title and notes
  std::vector<MarginLabel> margin;
  std::map<std::pair<bool, long>, std::vector<const RooflineCeiling*>> merged;  // (measured, rounded log) -> ceilings
  for (const RooflineCeiling& c : chart.ceilings)
    merged[{c.measured, std::lround(std::log10(c.flop_per_s) * 400)}].push_back(&c);  // within ~0.3%
  double label_w = 0;
  for (const auto& [key, cs] : merged) {
    std::vector<std::string> names;
    for (const RooflineCeiling* c : cs) names.emplace_back(math_path_title(c->math));
    const std::string text = tflops_text(cs.front()->flop_per_s) + " " + join(names, " · ") + (key.first ? " (measured)" : "");
    label_w = std::max(label_w, text_width_px(text, kSmallPx));
  }
  const double left = 74, top = chart.subtitle.empty() ? 44 : 58;
  const double right = std::clamp(label_w + 22, 110.0, W * 0.32);
  const double bottom = 52 + 15.0 * double(note_lines.size());
  const Box plot{left, top, W - left - right, H - top - bottom};
  Axis ax{std::pow(10.0, x_d0), std::pow(10.0, x_d1), plot.x, plot.right(), true};
  Axis ay{std::pow(10.0, y_d0), std::pow(10.0, y_d1), plot.bottom(), plot.y, true};

  // ---- legend, in the empty corner above the memory roof (extend the x axis left until it fits there)
  std::vector<LegendEntry> legend;
  {
    std::set<MathPath> paths;
    for (const RooflineCeiling& c : chart.ceilings) paths.insert(c.math);
    for (const RooflinePoint* p : drawable) paths.insert(p->math);
    for (MathPath m : paths)
      legend.push_back({LegendEntry::swatch_line, std::string(math_path_colour(m)), Marker::circle, false,
                        std::string(math_path_title(m))});
    bool measured_roof = false, any_decode = false, any_prefill = false, any_measured = false;
    for (const RooflineCeiling& c : chart.ceilings) measured_roof |= c.measured;
    for (const MemoryRoof& m : chart.memory_roofs) measured_roof |= m.measured;
    for (const RooflinePoint* p : drawable) {
      any_measured |= p->kind != PointKind::predicted;
      if (p->kind == PointKind::predicted) (p->phase == Phase::decode ? any_decode : any_prefill) = true;
    }
    legend.push_back({LegendEntry::swatch_line, kMuted, Marker::circle, false, "datasheet roof"});
    if (measured_roof) legend.push_back({LegendEntry::swatch_dashed, kMuted, Marker::circle, false, "measured roof"});
    if (any_decode) legend.push_back({LegendEntry::swatch_marker, kMuted, Marker::circle, false, "decode operator (predicted)"});
    if (any_prefill)
      legend.push_back({LegendEntry::swatch_marker, kMuted, Marker::square, false, "prefill operator (predicted)"});
    if (any_measured) {
      legend.push_back({LegendEntry::swatch_marker, kMuted, Marker::diamond, true, "measured kernel"});
      legend.push_back({LegendEntry::swatch_marker, kMuted, Marker::diamond, false, "its prediction"});
    }
  }
  const Box legend_at = legend_box(legend, plot.x + 10, plot.y + 10);
  for (int extra = 0; extra < 4; ++extra) {
    // The roof's height at the legend's right edge must lie below the legend.
    const double x_right = std::pow(10.0, std::log10(ax.min) + (legend_at.right() - plot.x) / plot.w *
                                                                 (std::log10(ax.max) - std::log10(ax.min)));
    const double roof_px = ay.to_px(std::min(peak_max, bw_min * x_right * (1 + 1e-9)));
    if (roof_px >= legend_at.bottom() + 4 || bw_min * x_right > peak_max * 10) break;
    ax.min /= 10;
  }

  std::string fingerprint = chart.title + "|" + chart.subtitle;
  for (const RooflinePoint& p : chart.points) fingerprint += "|" + p.label + std::to_string(p.flop_per_s);
  for (const RooflineCeiling& c : chart.ceilings) fingerprint += "|" + std::to_string(c.flop_per_s);
  const std::string id = id_prefix("roofline", fingerprint);
  svg.open("defs", {});
  svg.open("clipPath", {{"id", id + "-plot"}});
  svg.leaf("rect", {{"x", px(plot.x)}, {"y", px(plot.y)}, {"width", px(plot.w)}, {"height", px(plot.h)}});
  svg.close();
  svg.close();
  svg.leaf("rect", {{"x", "0"}, {"y", "0"}, {"width", px(W)}, {"height", px(H)}, {"fill", "#ffffff"}});
  title_block(svg, W, chart.title, chart.subtitle);

  // ---- grid and axes
  const auto [gx0, gx1] = std::pair<int, int>{int(std::lround(std::log10(ax.min))), int(std::lround(std::log10(ax.max)))};
  svg.open("g", {{"class", "grid"}});
  for (int e = gx0; e <= gx1; ++e) line(svg, ax.to_px(std::pow(10.0, e)), plot.y, ax.to_px(std::pow(10.0, e)), plot.bottom(), kGrid, 1);
  for (int e = y_d0; e <= y_d1; ++e) line(svg, plot.x, ay.to_px(std::pow(10.0, e)), plot.right(), ay.to_px(std::pow(10.0, e)), kGrid, 1);
  svg.close();
  svg.open("g", {{"class", "axis x"}});
  line(svg, plot.x, plot.bottom(), plot.right(), plot.bottom(), kInk, 1);
  for (int e = gx0; e <= gx1; ++e) {
    const double x = ax.to_px(std::pow(10.0, e));
    line(svg, x, plot.bottom(), x, plot.bottom() + 5, kInk, 1);
    svg.text(text_attrs(x, plot.bottom() + 18, kFontPx, "middle", "tick-label x"), detail::decade_label(e));
    if (e < gx1)
      for (int m = 2; m <= 9; ++m) {
        const double xm = ax.to_px(m * std::pow(10.0, e));
        line(svg, xm, plot.bottom(), xm, plot.bottom() + 3, kInk, 0.8);
      }
  }
  svg.text(text_attrs(plot.x + plot.w / 2, plot.bottom() + 38, kFontPx, "middle", "axis-title x"),
           "arithmetic intensity (FLOP/byte)");
  svg.close();
  svg.open("g", {{"class", "axis y"}});
  line(svg, plot.x, plot.y, plot.x, plot.bottom(), kInk, 1);
  for (int e = y_d0; e <= y_d1; ++e) {
    const double y = ay.to_px(std::pow(10.0, e));
    line(svg, plot.x - 5, y, plot.x, y, kInk, 1);
    svg.text(text_attrs(plot.x - 8, y + 4, kFontPx, "end", "tick-label y"), detail::decade_label(e - 12));
    if (e < y_d1)
      for (int m = 2; m <= 9; ++m) {
        const double ym = ay.to_px(m * std::pow(10.0, e));
        line(svg, plot.x - 3, ym, plot.x, ym, kInk, 0.8);
      }
  }
  {
    Attributes a = text_attrs(0, 0, kFontPx, "middle", "axis-title y");
    a.emplace_back("transform", "translate(" + px(18) + " " + px(plot.y + plot.h / 2) + ") rotate(-90)");
    svg.text(a, "attained performance (TFLOP/s)");
  }
  svg.close();

  // ---- roofs
  detail::LabelPlacer placer({plot.x + 2, plot.y + 2, plot.w - 4, plot.h - 4});
  svg.open("g", {{"class", "roofs"}, {"clip-path", "url(#" + id + "-plot)"}});
  const MemoryRoof* datasheet_roof = nullptr;
  const MemoryRoof* measured_roof = nullptr;
  for (const MemoryRoof& m : chart.memory_roofs) (m.measured ? measured_roof : datasheet_roof) = &m;
  std::vector<std::pair<const MemoryRoof*, double>> roof_label_at;  // roof, pixel x of its label
  for (const MemoryRoof& m : chart.memory_roofs) {
    if (!(m.bytes_per_s > 0)) continue;
    const double x_end = peak_max / m.bytes_per_s;
    Attributes a = {{"x1", px(ax.to_px(ax.min))}, {"y1", px(ay.to_px(m.bytes_per_s * ax.min))},
                    {"x2", px(ax.to_px(x_end))},  {"y2", px(ay.to_px(peak_max))},
                    {"stroke", kInk},              {"stroke-width", "2"},
                    {"class", m.measured ? "memory-roof measured" : "memory-roof"}};
    if (m.measured) a.emplace_back("stroke-dasharray", "7 4");
    svg.leaf_with_title("line", a, "memory roof " + format_bytes_per_s(m.bytes_per_s) + ": " + m.source);
    // Labels keep off the roof: small obstacles every few pixels along it.
    const double x0 = ax.to_px(ax.min), y0 = ay.to_px(m.bytes_per_s * ax.min);
    const double x1 = ax.to_px(x_end), y1 = ay.to_px(peak_max);
    const int steps = int(std::hypot(x1 - x0, y1 - y0) / 6) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      placer.add_soft_obstacle({x0 + t * (x1 - x0) - 1.5, y0 + t * (y1 - y0) - 1.5, 3, 3});
    }
  }
  for (const RooflineCeiling& c : chart.ceilings) {
    const MemoryRoof* roof = c.measured && measured_roof ? measured_roof : datasheet_roof ? datasheet_roof : measured_roof;
    const double bw = roof ? roof->bytes_per_s : bw_min;
    // Ceilings of equal height (fp8 and int8 on Hopper) are drawn as parallel lines 2.5 px apart.
    const std::vector<const RooflineCeiling*>& twins = merged.at({c.measured, std::lround(std::log10(c.flop_per_s) * 400)});
    const double offset =
        2.5 * (double(std::find(twins.begin(), twins.end(), &c) - twins.begin()) - (double(twins.size()) - 1) / 2);
    const double cy = ay.to_px(c.flop_per_s) + offset;
    for (double x = ax.to_px(c.flop_per_s / bw); x < plot.right(); x += 8) placer.add_soft_obstacle({x, cy - 1.5, 8, 3});
    Attributes a = {{"x1", px(ax.to_px(c.flop_per_s / bw))},
                    {"y1", px(cy)},
                    {"x2", px(plot.right())},
                    {"y2", px(cy)},
                    {"stroke", std::string(math_path_colour(c.math))},
                    {"stroke-width", "2"},
                    {"class", c.measured ? "ceiling measured" : "ceiling"},
                    {"data-math", std::string(to_string(c.math))}};
    if (c.measured) a.emplace_back("stroke-dasharray", "7 4");
    svg.leaf_with_title("line", a, std::string(math_path_title(c.math)) + " " + tflops_text(c.flop_per_s) + ": " + c.source);
  }
  svg.close();

  // Memory-roof labels along the line, near where it enters the plot.
  svg.open("g", {{"class", "roof-labels"}});
  {
    const double slope_deg =
        std::atan2(ay.to_px(10.0) - ay.to_px(1.0), ax.to_px(10.0) - ax.to_px(1.0)) * 180.0 / 3.14159265358979323846;
    // Every label sits above its roof, where no point can be; a second roof's label follows the first
    // along the line.
    double next_x = -1e9;
    for (const MemoryRoof& m : chart.memory_roofs) {
      if (!(m.bytes_per_s > 0)) continue;
      // Start a little right of where the roof enters the plot (its left edge or its bottom).
      const double x_enter = std::max(ax.min, ay.min / m.bytes_per_s);
      const double x0 = std::max(ax.to_px(x_enter) + 14, next_x);
      const double xi = std::pow(10.0, std::log10(ax.min) + (x0 - plot.x) / plot.w * (std::log10(ax.max) - std::log10(ax.min)));
      const double y0 = ay.to_px(m.bytes_per_s * xi);
      const std::string text = format_bytes_per_s(m.bytes_per_s) + (m.measured ? " measured" : " " + std::string(m.source));
      const double off = -6;
      Attributes a = with_halo(text_attrs(0, off, kSmallPx, "start", m.measured ? "roof-label measured" : "roof-label"));
      a.emplace_back("transform", "translate(" + px(x0) + " " + px(y0) + ") rotate(" + px(slope_deg) + ")");
      svg.text(a, text);
      // Its bounding box, for the point labels to avoid: the text's rectangle (baseline at `off`, ascent
      // 0.8 em, descent 0.25 em) rotated with it.
      const double tw = text_width_px(text, kSmallPx);
      const double rad = slope_deg * 3.14159265358979323846 / 180.0;
      next_x = x0 + (tw + 24) * std::cos(rad);
      double bx0 = 1e9, by0 = 1e9, bx1 = -1e9, by1 = -1e9;
      for (double u : {0.0, tw})
        for (double v : {off - 0.8 * kSmallPx, off + 0.25 * kSmallPx}) {
          const double x = x0 + u * std::cos(rad) - v * std::sin(rad), y = y0 + u * std::sin(rad) + v * std::cos(rad);
          bx0 = std::min(bx0, x);
          by0 = std::min(by0, y);
          bx1 = std::max(bx1, x);
          by1 = std::max(by1, y);
        }
      placer.add_obstacle({bx0, by0, bx1 - bx0, by1 - by0});
    }
  }
  svg.close();

  // Ceiling labels in the right margin.
  for (const auto& [key, cs] : merged) {
    std::vector<std::string> names;
    for (const RooflineCeiling* c : cs) names.emplace_back(math_path_title(c->math));
    MarginLabel l;
    l.want_y = ay.to_px(cs.front()->flop_per_s) + 4;
    l.text = tflops_text(cs.front()->flop_per_s) + " " + join(names, " · ") + (key.first ? " (measured)" : "");
    l.colour = math_path_colour(cs.front()->math);
    l.cls = key.first ? "ceiling-label measured" : "ceiling-label";
    margin.push_back(l);
  }
  dodge(margin, 14, plot.y + 4, plot.bottom());
  svg.open("g", {{"class", "ceiling-labels"}});
  for (const MarginLabel& l : margin) {
    if (std::fabs(l.y - l.want_y) > 1) line(svg, plot.right(), l.want_y - 4, plot.right() + 6, l.y - 4, l.colour, 1);
    svg.text(text_attrs(plot.right() + 8, l.y, kSmallPx, "start", l.cls, l.colour), l.text);
  }
  svg.close();

  // ---- legend
  draw_legend(svg, legend, legend_at);
  placer.add_obstacle(legend_at);

  // ---- points: markers first (labels avoid every marker), then labels
  struct Placed {
    double x, y;
    const RooflinePoint* p;
  };
  std::vector<Placed> placed;
  std::vector<std::pair<double, double>> pixel_of(chart.points.size(), {0, 0});
  for (const RooflinePoint* p : drawable) {
    const double x = ax.to_px(p->intensity_flop_per_byte), y = ay.to_px(p->flop_per_s);
    placed.push_back({x, y, p});
    pixel_of[std::size_t(p - chart.points.data())] = {x, y};
    placer.add_obstacle({x - 5.5, y - 5.5, 11, 11});
  }
  int measured_count = 0;
  for (const Placed& q : placed) measured_count += q.p->kind == PointKind::measured;
  auto kind_class = [](PointKind k) {
    return k == PointKind::predicted ? "predicted" : k == PointKind::measured ? "measured" : "kernel-prediction";
  };
  svg.open("g", {{"class", "points"}, {"clip-path", "url(#" + id + "-plot)"}});
  for (const Placed& q : placed) {  // connectors from measured kernels to their predictions
    if (q.p->kind != PointKind::measured || q.p->predicted_index < 0) continue;
    const auto [px0, py0] = pixel_of[std::size_t(q.p->predicted_index)];
    line(svg, px0, py0, q.x, q.y, math_path_colour(q.p->math), 1, "connector", "2 2");
  }
  for (const Placed& q : placed) {
    const bool measured = q.p->kind == PointKind::measured;
    const bool kernel = q.p->kind != PointKind::predicted;
    const Marker m = kernel ? Marker::diamond : q.p->phase == Phase::decode ? Marker::circle : Marker::square;
    marker(svg, m, q.x, q.y, kernel ? 4 : 5, math_path_colour(q.p->math), measured,
           {{"class", std::string("point ") + kind_class(q.p->kind) + " " + std::string(to_string(q.p->phase))},
            {"data-label", q.p->label},
            {"data-math", std::string(to_string(q.p->math))}},
           q.p->tooltip);
  }
  svg.close();

  // Labels: one per cluster of markers drawn on top of each other (same phase and kind); measured kernels
  // only when there are few of them (the hover text names every one).
  struct Cluster {
    double x, y;
    std::vector<std::string> labels;
    const RooflinePoint* first;
  };
  std::vector<Cluster> clusters;
  for (const Placed& q : placed) {
    if (q.p->kind == PointKind::kernel_prediction) continue;  // its measured twin carries the label
    if (q.p->kind == PointKind::measured && measured_count > 8) continue;
    Cluster* hit = nullptr;
    for (Cluster& c : clusters)
      if (c.first->phase == q.p->phase && c.first->kind == q.p->kind && std::hypot(c.x - q.x, c.y - q.y) < 3.5) hit = &c;
    if (!hit) {
      clusters.push_back({q.x, q.y, {}, q.p});
      hit = &clusters.back();
    }
    if (std::find(hit->labels.begin(), hit->labels.end(), q.p->label) == hit->labels.end()) hit->labels.push_back(q.p->label);
  }
  // Crowded areas first get the closest positions: place clusters from the densest outwards.
  std::vector<std::size_t> order(clusters.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto crowd = [&](const Cluster& c) {
    int n = 0;
    for (const Placed& q : placed) n += std::hypot(c.x - q.x, c.y - q.y) < 40;
    return n;
  };
  std::vector<int> crowding(clusters.size());
  for (std::size_t i = 0; i < clusters.size(); ++i) crowding[i] = crowd(clusters[i]);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return crowding[a] > crowding[b]; });
  svg.open("g", {{"class", "point-labels"}});
  for (std::size_t i : order) {
    const Cluster& c = clusters[i];
    const std::string text = join(c.labels, ", ");
    const double w = text_width_px(text, kSmallPx) + 2, h = kSmallPx + 3;
    // The way out of the crowd: from the centre of the markers within 60 px towards this one.
    double cx = 0, cy = 0;
    int near = 0;
    for (const Placed& q : placed)
      if (std::hypot(q.x - c.x, q.y - c.y) < 60) {
        cx += q.x;
        cy += q.y;
        ++near;
      }
    double away_x = 1, away_y = 0;
    if (near > 1 && std::hypot(c.x - cx / near, c.y - cy / near) > 0.5) {
      away_x = c.x - cx / near;
      away_y = c.y - cy / near;
    }
    const detail::LabelPlacer::Placement pl = placer.place(c.x, c.y, 5, w, h, away_x, away_y);
    if (pl.leader) line(svg, c.x, c.y, pl.leader_x, pl.leader_y, "#888888", 0.8, "leader");
    Attributes a = with_halo(text_attrs(pl.text_x + (pl.anchor == "start" ? 1 : pl.anchor == "end" ? -1 : 0), pl.text_y,
                                        kSmallPx, pl.anchor, "point-label"));
    a.emplace_back("data-phase", std::string(to_string(c.first->phase)));
    svg.text(a, text);
  }
  svg.close();

  // ---- notes
  svg.open("g", {{"class", "notes"}});
  double ny = plot.bottom() + 58;
  for (const std::string& l : note_lines) {
    svg.text(text_attrs(plot.x, ny, kSmallPx, "start", "note", kMuted), l);
    ny += 15;
  }
  svg.close();
  return svg.finish();
}

// ---- time per operator class ----------------------------------------------------------------------

StepBreakdown step_breakdown(std::string label, const StepPrediction& step) {
  StepBreakdown b;
  b.label = std::move(label);
  b.time_s = step.time_s;
  b.interval_low_s = step.interval_low_s;
  b.interval_high_s = step.interval_high_s;
  for (const OpPrediction& o : step.ops) b.class_time_s[static_cast<std::size_t>(operator_class(o.op.type))] += o.total_s();
  return b;
}

namespace {

// A time axis unit for values up to `max_s`: (scale, unit) with max_s / scale in [1, 1000).
std::pair<double, std::string> time_unit(double max_s) {
  if (max_s >= 1) return {1, "s"};
  if (max_s >= 1e-3) return {1e-3, "ms"};
  if (max_s >= 1e-6) return {1e-6, "µs"};
  return {1e-9, "ns"};
}

std::string interval_text(double t, double lo, double hi) {
  const auto [scale, unit] = time_unit(hi > 0 ? hi : t);
  return format_time_s(t) + "  [" + detail::short_number(lo / scale, 3) + "–" + detail::short_number(hi / scale, 3) +
         " " + unit + "]";
}

// Legend entries laid out in rows across `width` (drawn when `svg` is given); returns the height used.
double swatch_legend(SvgWriter* svg_or_null, const std::vector<std::pair<std::string, std::string>>& entries,
                     double x0, double y0, double width) {
  const bool draw = svg_or_null != nullptr;
  double x = x0, y = y0;
  if (draw) svg_or_null->open("g", {{"class", "legend"}});
  for (const auto& [colour, text] : entries) {
    const double w = 18 + text_width_px(text, kSmallPx) + 18;
    if (x + w > x0 + width && x > x0) {
      x = x0;
      y += 18;
    }
    if (draw) {
      svg_or_null->leaf("rect", {{"x", px(x)}, {"y", px(y - 9)}, {"width", "12"}, {"height", "12"}, {"fill", colour},
                                 {"stroke", "#ffffff"}, {"stroke-width", "0.5"}});
      svg_or_null->text(text_attrs(x + 17, y + 1, kSmallPx, "start", "legend-entry"), text);
    }
    x += w;
  }
  if (draw) svg_or_null->close();
  return y - y0 + 18;
}

}  // namespace

std::string render_breakdown_svg(const std::vector<StepBreakdown>& bars, BarScale scale, std::string_view title,
                                 const ChartSize& size) {
  const double W = size.width_px;
  double label_w = 0;
  for (const StepBreakdown& b : bars) label_w = std::max(label_w, text_width_px(b.label, kFontPx));
  double total_w = 0;
  for (const StepBreakdown& b : bars)
    total_w = std::max(total_w, text_width_px(interval_text(b.time_s, b.interval_low_s, b.interval_high_s), kSmallPx));
  const double left = std::min(label_w + 20, W * 0.35), right = total_w + 20;
  const double bar_h = 26, gap = 16, top = 54;
  const double plot_w = W - left - right;
  std::array<bool, operator_class_count> present{};
  for (const StepBreakdown& b : bars)
    for (std::size_t c = 0; c < operator_class_count; ++c) present[c] = present[c] || b.class_time_s[c] > 0;
  std::vector<std::pair<std::string, std::string>> legend;
  for (std::size_t c = 0; c < operator_class_count; ++c)
    if (present[c]) legend.emplace_back(operator_class_colour(OperatorClass(c)), std::string(to_string(OperatorClass(c))));
  const double plot_h = double(bars.size()) * (bar_h + gap);
  const double legend_h = swatch_legend(nullptr, legend, left, 0, plot_w + right - 10);
  const double H = size.height_px > 0 ? size.height_px : top + plot_h + 50 + legend_h + 10;
  SvgWriter svg(W, H, title,
                "Stacked horizontal bars: the predicted time of each step split by operator class" +
                    std::string(scale == BarScale::share ? ", as a share of the step." : "."));
  svg.leaf("rect", {{"x", "0"}, {"y", "0"}, {"width", px(W)}, {"height", px(H)}, {"fill", "#ffffff"}});
  title_block(svg, W, title, "");

  double max_s = 0;
  for (const StepBreakdown& b : bars) max_s = std::max(max_s, b.time_s);
  const auto [unit_scale, unit] = time_unit(max_s > 0 ? max_s : 1);
  const std::vector<double> ticks =
      scale == BarScale::share ? std::vector<double>{0, 20, 40, 60, 80, 100} : detail::nice_ticks(max_s / unit_scale, 5);
  const double axis_max = ticks.back();
  Axis ax{0, axis_max, left, left + plot_w, false};
  const double axis_y = top + plot_h;

  svg.open("g", {{"class", "grid"}});
  for (double t : ticks) line(svg, ax.to_px(t), top - 6, ax.to_px(t), axis_y, kGrid, 1);
  svg.close();
  svg.open("g", {{"class", "bars"}});
  double y = top + gap / 2;
  for (const StepBreakdown& b : bars) {
    svg.text(text_attrs(left - 8, y + bar_h / 2 + 4, kFontPx, "end", "bar-label"), b.label);
    double x = left;
    for (std::size_t c = 0; c < operator_class_count; ++c) {
      const double t = b.class_time_s[c];
      if (!(t > 0)) continue;
      const double v = scale == BarScale::share ? (b.time_s > 0 ? 100 * t / b.time_s : 0) : t / unit_scale;
      const double w = ax.to_px(v) - ax.to_px(0);
      const std::string colour(operator_class_colour(OperatorClass(c)));
      const double share = b.time_s > 0 ? t / b.time_s : 0;
      char tip[256];
      std::snprintf(tip, sizeof tip, "%s: %s (%.1f%% of the step)", std::string(to_string(OperatorClass(c))).c_str(),
                    format_time_s(t).c_str(), 100 * share);
      svg.leaf_with_title("rect",
                          {{"x", px(x)}, {"y", px(y)}, {"width", px(std::max(w, 0.0))}, {"height", px(bar_h)},
                           {"fill", colour}, {"stroke", "#ffffff"}, {"stroke-width", "0.75"},
                           {"class", "segment"}, {"data-class", std::string(to_string(OperatorClass(c)))}},
                          tip);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.0f%%", 100 * share);
      if (w >= text_width_px(pct, kSmallPx) + 6)
        svg.text(text_attrs(x + w / 2, y + bar_h / 2 + 4, kSmallPx, "middle", "segment-label", text_on(colour)), pct);
      x += w;
    }
    svg.text(text_attrs(x + 8, y + bar_h / 2 + 4, kSmallPx, "start", "bar-total"),
             interval_text(b.time_s, b.interval_low_s, b.interval_high_s));
    y += bar_h + gap;
  }
  svg.close();
  svg.open("g", {{"class", "axis x"}});
  line(svg, left, axis_y, left + plot_w, axis_y, kInk, 1);
  for (double t : ticks) {
    line(svg, ax.to_px(t), axis_y, ax.to_px(t), axis_y + 5, kInk, 1);
    svg.text(text_attrs(ax.to_px(t), axis_y + 18, kFontPx, "middle", "tick-label x"), detail::short_number(t, 3));
  }
  svg.text(text_attrs(left + plot_w / 2, axis_y + 36, kFontPx, "middle", "axis-title x"),
           scale == BarScale::share ? "share of step time (%)" : "time per step (" + unit + ")");
  svg.close();
  swatch_legend(&svg, legend, left, axis_y + 58, plot_w + right - 10);
  return svg.finish();
}

// ---- strategy comparison --------------------------------------------------------------------------

StrategyResult strategy_result(std::string label, const StepPrediction& step) {
  StrategyResult r;
  r.label = std::move(label);
  r.time_s = step.time_s;
  r.interval_low_s = step.interval_low_s;
  r.interval_high_s = step.interval_high_s;
  r.memory = step.memory;
  r.capacity_bytes = step.memory_capacity_bytes;
  r.fits = step.fits;
  r.note = step.infeasible_reason;
  return r;
}

std::string render_strategy_svg(const std::vector<StrategyResult>& strategies, std::string_view title,
                                const ChartSize& size) {
  const double W = size.width_px;
  double label_w = 0;
  for (const StrategyResult& s : strategies) label_w = std::max(label_w, text_width_px(s.label, kFontPx) + (s.highlighted ? 8 : 0));
  const double left = std::min(label_w + 20, W * 0.3);
  const double row_h = 34, bar_h = 18, top = 70;
  const double gutter = 40;
  const double panel_w = (W - left - 20 - gutter) / 2;
  const double time_x0 = left, mem_x0 = left + panel_w + gutter;
  const double plot_h = double(strategies.size()) * row_h;
  std::vector<std::pair<std::string, std::string>> legend = {
      {"#0072B2", "predicted time (whisker: interval)"},
      {"#332288", "weights"}, {"#88CCEE", "KV cache"}, {"#DDCC77", "activations"}};
  std::vector<std::string> notes;
  for (const StrategyResult& s : strategies)
    if (!s.fits) notes.push_back(s.label + ": does not fit" + (s.note.empty() ? "" : " (" + s.note + ")"));
    else if (!s.note.empty()) notes.push_back(s.label + ": " + s.note);
  std::vector<std::string> note_lines;
  for (const std::string& n : notes)
    for (const std::string& l : wrap(n, W - left - 20, kSmallPx)) note_lines.push_back(l);
  const double H = size.height_px > 0 ? size.height_px : top + plot_h + 100 + 15.0 * double(note_lines.size());
  SvgWriter svg(W, H, title,
                "Strategy comparison: predicted time per step with its interval, and memory on one GPU (weights, KV "
                "cache, activations) against its capacity.");
  svg.leaf("rect", {{"x", "0"}, {"y", "0"}, {"width", px(W)}, {"height", px(H)}, {"fill", "#ffffff"}});
  title_block(svg, W, title, "");

  double t_max = 0, m_max = 0, capacity = 0;
  for (const StrategyResult& s : strategies) {
    t_max = std::max({t_max, s.time_s, s.interval_high_s});
    m_max = std::max(m_max, s.memory.total_bytes());
    capacity = std::max(capacity, s.capacity_bytes);
  }
  const auto [t_scale, t_unit] = time_unit(t_max > 0 ? t_max : 1);
  const std::vector<double> t_ticks = detail::nice_ticks(t_max / t_scale * 1.02, 5);
  const std::vector<double> m_ticks = detail::nice_ticks(std::max(m_max, capacity) / 1e9 * 1.02, 5);
  Axis at{0, t_ticks.back(), time_x0, time_x0 + panel_w, false};
  Axis am{0, m_ticks.back(), mem_x0, mem_x0 + panel_w, false};
  const double axis_y = top + plot_h;

  svg.text(text_attrs(time_x0, top - 12, kFontPx, "start", "panel-title"), "time per step");
  svg.text(text_attrs(mem_x0, top - 12, kFontPx, "start", "panel-title"), "memory on one GPU");
  svg.open("g", {{"class", "grid"}});
  for (double t : t_ticks) line(svg, at.to_px(t), top, at.to_px(t), axis_y, kGrid, 1);
  for (double t : m_ticks) line(svg, am.to_px(t), top, am.to_px(t), axis_y, kGrid, 1);
  svg.close();

  double y = top;
  svg.open("g", {{"class", "strategies"}});
  for (const StrategyResult& s : strategies) {
    const double cy = y + row_h / 2;
    Attributes la = text_attrs(left - 8, cy + 4, kFontPx, "end", "bar-label", s.fits ? kInk : "#D55E00");
    if (s.highlighted) la.emplace_back("font-weight", "bold");
    svg.text(la, s.label);
    // time
    const double x1 = at.to_px(s.time_s / t_scale);
    svg.leaf_with_title("rect",
                        {{"x", px(time_x0)}, {"y", px(cy - bar_h / 2)}, {"width", px(x1 - time_x0)}, {"height", px(bar_h)},
                         {"fill", "#0072B2"}, {"fill-opacity", s.fits ? "1" : "0.35"}, {"class", "time-bar"},
                         {"data-label", s.label}},
                        s.label + ": " + interval_text(s.time_s, s.interval_low_s, s.interval_high_s));
    const double lo = at.to_px(s.interval_low_s / t_scale), hi = at.to_px(s.interval_high_s / t_scale);
    svg.open("g", {{"class", "interval"}});
    line(svg, lo, cy, hi, cy, kInk, 1.3);
    line(svg, lo, cy - 5, lo, cy + 5, kInk, 1.3);
    line(svg, hi, cy - 5, hi, cy + 5, kInk, 1.3);
    svg.close();
    svg.text(with_halo(text_attrs(std::max(hi, x1) + 6, cy + 4, kSmallPx, "start", "value-label")), format_time_s(s.time_s));
    // memory
    double x = mem_x0;
    const std::pair<double, const char*> parts[] = {
        {s.memory.weights_bytes, "#332288"}, {s.memory.kv_cache_bytes, "#88CCEE"}, {s.memory.activations_bytes, "#DDCC77"}};
    for (const auto& [bytes, colour] : parts) {
      const double w = am.to_px(bytes / 1e9) - am.to_px(0);
      if (w > 0)
        svg.leaf("rect", {{"x", px(x)}, {"y", px(cy - bar_h / 2)}, {"width", px(w)}, {"height", px(bar_h)}, {"fill", colour},
                          {"fill-opacity", s.fits ? "1" : "0.45"}, {"class", "memory-segment"}});
      x += w;
    }
    svg.text(with_halo(text_attrs(x + 6, cy + 4, kSmallPx, "start", "value-label", s.fits ? kInk : "#D55E00")),
             format_bytes(s.memory.total_bytes()) + (s.fits ? "" : "  does not fit"));
    y += row_h;
  }
  svg.close();
  if (capacity > 0) {
    const double cx = am.to_px(capacity / 1e9);
    line(svg, cx, top - 4, cx, axis_y, "#D55E00", 1.5, "capacity", "6 3");
    svg.text(with_halo(text_attrs(cx, top - 12 + 0, kSmallPx, "end", "capacity-label", "#D55E00")),
             "capacity " + format_bytes(capacity));
  }
  svg.open("g", {{"class", "axis x"}});
  line(svg, time_x0, axis_y, time_x0 + panel_w, axis_y, kInk, 1);
  line(svg, mem_x0, axis_y, mem_x0 + panel_w, axis_y, kInk, 1);
  for (double t : t_ticks) {
    line(svg, at.to_px(t), axis_y, at.to_px(t), axis_y + 5, kInk, 1);
    svg.text(text_attrs(at.to_px(t), axis_y + 18, kFontPx, "middle", "tick-label x"), detail::short_number(t, 3));
  }
  for (double t : m_ticks) {
    line(svg, am.to_px(t), axis_y, am.to_px(t), axis_y + 5, kInk, 1);
    svg.text(text_attrs(am.to_px(t), axis_y + 18, kFontPx, "middle", "tick-label x"), detail::short_number(t, 3));
  }
  svg.text(text_attrs(time_x0 + panel_w / 2, axis_y + 36, kFontPx, "middle", "axis-title x"), "time per step (" + t_unit + ")");
  svg.text(text_attrs(mem_x0 + panel_w / 2, axis_y + 36, kFontPx, "middle", "axis-title x"), "memory (GB)");
  svg.close();
  swatch_legend(&svg, legend, left, axis_y + 62, W - left - 20);
  svg.open("g", {{"class", "notes"}});
  double ny = axis_y + 86;
  for (const std::string& l : note_lines) {
    svg.text(text_attrs(left, ny, kSmallPx, "start", "note", kMuted), l);
    ny += 15;
  }
  svg.close();
  return svg.finish();
}

// ---- attention kernels over context length ------------------------------------------------------

std::vector<KernelSeries> attention_sweep(const ModelConfig& model, const HardwareSpec& hw,
                                          const Calibration& calibration, Phase phase, std::int64_t batch,
                                          const std::vector<std::int64_t>& contexts,
                                          const std::vector<AttentionKernel>& kernels, Precision dtype) {
  require_positive("batch", double(batch));
  std::vector<KernelSeries> out;
  const ModelRegistry no_models;  // attention workloads name no model
  for (AttentionKernel k : kernels) {
    KernelSeries s;
    s.label = std::string(to_string(k));
    for (std::int64_t ctx : contexts) {
      require_positive("context", double(ctx));
      Workload w;
      w.kind = WorkloadKind::attention;
      w.phase = phase;
      w.attention_kernel = k;
      w.dtype = dtype;
      w.attention = {.batch = batch,
                     .q_heads = model.num_attention_heads,
                     .kv_heads = model.num_kv_heads,
                     .q_len = phase == Phase::decode ? 1 : ctx,
                     .kv_len = ctx,
                     .head_dim = model.head_dim,
                     .causal = phase == Phase::prefill,
                     .window_tokens = model.sliding_window_tokens.value_or(0)};
      const AttentionCost cost = attention_cost(w.attention, k, dtype, dtype, hw);
      if (!cost.supported) {
        s.points.clear();
        s.unavailable_reason = cost.reason;
        break;
      }
      const WorkloadPrediction p = predict_workload(w, hw, calibration, no_models);
      s.points.push_back({double(ctx), p.time_s, p.interval_low_s, p.interval_high_s});
    }
    out.push_back(std::move(s));
  }
  return out;
}

namespace {
std::string tokens_text(double n) {
  if (n >= 1024 && std::fmod(n, 1024) == 0) return detail::short_number(n / 1024, 4) + "k";
  return detail::short_number(n, 4);
}
std::string decade_time_label(int e) {  // 10^e seconds
  if (e >= 0) return detail::short_number(std::pow(10.0, e), 3) + " s";
  if (e >= -3) return detail::short_number(std::pow(10.0, e + 3), 3) + " ms";
  if (e >= -6) return detail::short_number(std::pow(10.0, e + 6), 3) + " µs";
  return detail::short_number(std::pow(10.0, e + 9), 3) + " ns";
}
}  // namespace

std::string render_attention_svg(const std::vector<KernelSeries>& series, std::string_view title,
                                 std::string_view subtitle, const ChartSize& size) {
  const double W = size.width_px;
  static const char* const colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
  static const Marker markers[] = {Marker::circle, Marker::square, Marker::triangle, Marker::diamond};
  std::vector<std::string> notes;
  std::set<double> xs;
  double y_lo = 1e300, y_hi = 0;
  double label_w = 0;
  // Series that predict the same times hide each other: say so.
  std::vector<bool> reported(series.size(), false);
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (series[i].points.empty() || reported[i]) continue;
    std::vector<std::string> same = {series[i].label};
    for (std::size_t j = i + 1; j < series.size(); ++j)
      if (!reported[j] && series[j].points == series[i].points) {
        same.push_back(series[j].label);
        reported[j] = true;
      }
    if (same.size() > 1) notes.push_back("Identical predictions (lines drawn over each other): " + join(same, " = ") + ".");
  }
  for (const KernelSeries& s : series) {
    if (s.points.empty()) {
      notes.push_back(s.label + " not shown: " + (s.unavailable_reason.empty() ? "no data" : s.unavailable_reason));
      continue;
    }
    label_w = std::max(label_w, text_width_px(s.label, kFontPx));
    for (const SeriesPoint& p : s.points) {
      if (!(p.x > 0 && p.y > 0)) continue;
      xs.insert(p.x);
      y_lo = std::min({y_lo, p.y, p.low > 0 ? p.low : p.y});
      y_hi = std::max({y_hi, p.y, p.high});
    }
  }
  if (xs.empty()) {
    xs = {1024, 131072};
    y_lo = 1e-6;
    y_hi = 1e-3;
  }
  std::vector<std::string> note_lines;
  for (const std::string& n : notes)
    for (const std::string& l : wrap(n, W - 100, kSmallPx)) note_lines.push_back(l);
  const double H = size.height_px;
  const double left = 78, top = subtitle.empty() ? 44 : 58, right = label_w + 40, bottom = 52 + 15.0 * double(note_lines.size());
  const Box plot{left, top, W - left - right, H - top - bottom};
  const double x_lo = *xs.begin(), x_hi = *xs.rbegin();
  const double pad = std::pow(x_hi / x_lo, 0.04);
  Axis ax{x_lo / pad, x_hi * pad, plot.x, plot.right(), true};
  if (x_hi == x_lo) ax = {x_lo / 2, x_hi * 2, plot.x, plot.right(), true};
  auto [y_d0, y_d1] = detail::decade_range(y_lo, y_hi);
  Axis ay{std::pow(10.0, y_d0), std::pow(10.0, y_d1), plot.bottom(), plot.y, true};

  SvgWriter svg(W, H, title,
                "Predicted time of one attention call against context length, log-log, one line per kernel with its "
                "prediction interval shaded.");
  std::string fingerprint = std::string(title) + "|" + std::string(subtitle);
  for (const KernelSeries& k : series) {
    fingerprint += "|" + k.label;
    for (const SeriesPoint& p : k.points) fingerprint += "," + std::to_string(p.y);
  }
  const std::string id = id_prefix("attention", fingerprint);
  svg.open("defs", {});
  svg.open("clipPath", {{"id", id + "-plot"}});
  svg.leaf("rect", {{"x", px(plot.x)}, {"y", px(plot.y)}, {"width", px(plot.w)}, {"height", px(plot.h)}});
  svg.close();
  svg.close();
  svg.leaf("rect", {{"x", "0"}, {"y", "0"}, {"width", px(W)}, {"height", px(H)}, {"fill", "#ffffff"}});
  title_block(svg, W, title, subtitle);

  // x ticks: the context lengths themselves when few, else decades
  std::vector<double> x_ticks;
  if (xs.size() <= 12) x_ticks.assign(xs.begin(), xs.end());
  else
    for (int e = int(std::ceil(std::log10(ax.min))); e <= int(std::floor(std::log10(ax.max))); ++e) x_ticks.push_back(std::pow(10.0, e));
  svg.open("g", {{"class", "grid"}});
  for (double t : x_ticks) line(svg, ax.to_px(t), plot.y, ax.to_px(t), plot.bottom(), kGrid, 1);
  for (int e = y_d0; e <= y_d1; ++e) line(svg, plot.x, ay.to_px(std::pow(10.0, e)), plot.right(), ay.to_px(std::pow(10.0, e)), kGrid, 1);
  svg.close();
  svg.open("g", {{"class", "axis x"}});
  line(svg, plot.x, plot.bottom(), plot.right(), plot.bottom(), kInk, 1);
  for (double t : x_ticks) {
    line(svg, ax.to_px(t), plot.bottom(), ax.to_px(t), plot.bottom() + 5, kInk, 1);
    svg.text(text_attrs(ax.to_px(t), plot.bottom() + 18, kFontPx, "middle", "tick-label x"), tokens_text(t));
  }
  svg.text(text_attrs(plot.x + plot.w / 2, plot.bottom() + 38, kFontPx, "middle", "axis-title x"), "context length (tokens)");
  svg.close();
  svg.open("g", {{"class", "axis y"}});
  line(svg, plot.x, plot.y, plot.x, plot.bottom(), kInk, 1);
  for (int e = y_d0; e <= y_d1; ++e) {
    const double y = ay.to_px(std::pow(10.0, e));
    line(svg, plot.x - 5, y, plot.x, y, kInk, 1);
    svg.text(text_attrs(plot.x - 8, y + 4, kFontPx, "end", "tick-label y"), decade_time_label(e));
    if (e < y_d1)
      for (int m = 2; m <= 9; ++m) line(svg, plot.x - 3, ay.to_px(m * std::pow(10.0, e)), plot.x, ay.to_px(m * std::pow(10.0, e)), kInk, 0.8);
  }
  {
    Attributes a = text_attrs(0, 0, kFontPx, "middle", "axis-title y");
    a.emplace_back("transform", "translate(" + px(18) + " " + px(plot.y + plot.h / 2) + ") rotate(-90)");
    svg.text(a, "time per call");
  }
  svg.close();

  std::vector<MarginLabel> ends;
  svg.open("g", {{"class", "series"}, {"clip-path", "url(#" + id + "-plot)"}});
  std::size_t drawn = 0;
  for (const KernelSeries& s : series) {
    if (s.points.empty()) continue;
    const std::string colour = colours[drawn % 7];
    const Marker mk = markers[drawn % 4];
    ++drawn;
    std::vector<SeriesPoint> pts;
    for (const SeriesPoint& p : s.points)
      if (p.x > 0 && p.y > 0) pts.push_back(p);
    std::sort(pts.begin(), pts.end(), [](const SeriesPoint& a, const SeriesPoint& b) { return a.x < b.x; });
    if (pts.empty()) continue;
    svg.open("g", {{"class", "kernel-series"}, {"data-label", s.label}});
    std::string band = "M";
    for (const SeriesPoint& p : pts) band += px(ax.to_px(p.x)) + " " + px(ay.to_px(p.high > 0 ? p.high : p.y)) + " L";
    for (auto it = pts.rbegin(); it != pts.rend(); ++it)
      band += px(ax.to_px(it->x)) + " " + px(ay.to_px(it->low > 0 ? it->low : it->y)) + " L";
    band.resize(band.size() - 2);
    svg.leaf("path", {{"d", band + " Z"}, {"fill", colour}, {"fill-opacity", "0.10"}, {"stroke", "none"}, {"class", "band"}});
    std::string poly;
    for (const SeriesPoint& p : pts) poly += px(ax.to_px(p.x)) + "," + px(ay.to_px(p.y)) + " ";
    poly.pop_back();
    svg.leaf("polyline", {{"points", poly}, {"fill", "none"}, {"stroke", colour}, {"stroke-width", "2"}});
    for (const SeriesPoint& p : pts)
      marker(svg, mk, ax.to_px(p.x), ay.to_px(p.y), 4.5, colour, false, {{"class", "point"}},
             s.label + " at " + tokens_text(p.x) + " tokens: " + interval_text(p.y, p.low, p.high));
    svg.close();
    MarginLabel l;
    l.want_y = ay.to_px(pts.back().y) + 4;
    l.text = s.label;
    l.colour = colour;
    l.cls = "series-label";
    l.marker = mk;
    l.with_marker = true;
    ends.push_back(l);
  }
  svg.close();
  dodge(ends, 16, plot.y + 4, plot.bottom());
  svg.open("g", {{"class", "series-labels"}});
  for (const MarginLabel& l : ends) {
    marker(svg, l.marker, plot.right() + 12, l.y - 4, 4.5, l.colour, false, {}, "");
    svg.text(text_attrs(plot.right() + 22, l.y, kFontPx, "start", l.cls, l.colour), l.text);
  }
  svg.close();
  svg.open("g", {{"class", "notes"}});
  double ny = plot.bottom() + 58;
  for (const std::string& l : note_lines) {
    svg.text(text_attrs(plot.x, ny, kSmallPx, "start", "note", kMuted), l);
    ny += 15;
  }
  svg.close();
  return svg.finish();
}

}  // namespace roofline

#include "roofline/report.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>
#include <vector>

#include "roofline/errors.hpp"
#include "roofline/units.hpp"

namespace roofline {

ReportFormat parse_report_format(std::string_view s) {
  if (s == "table") return ReportFormat::table;
  if (s == "json") return ReportFormat::json;
  if (s == "csv") return ReportFormat::csv;
  throw UnknownNameError("report format", std::string(s), {"table", "json", "csv"});
}

namespace {

std::string num(double v, const char* fmt = "%.3g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string precision_text(const Op& op) {
  if (op.kernel == KernelClass::gemm)
    return std::string(to_string(op.weight_precision)) + "/" + std::string(to_string(op.activation_precision));
  if (op.type == OperatorType::ATTENTION || op.type == OperatorType::KV_CACHE)
    return std::string(to_string(op.activation_precision)) + " kv " +
           std::string(to_string(op.type == OperatorType::ATTENTION ? op.weight_precision : op.activation_precision));
  return std::string(to_string(op.activation_precision));
}

nlohmann::json bytes_json(const TensorBytes& b) {
  return {{"weights", b.weights_bytes},       {"activations_read", b.activations_read_bytes},
          {"activations_written", b.activations_written_bytes}, {"kv_read", b.kv_read_bytes},
          {"kv_written", b.kv_written_bytes}, {"scales", b.scales_bytes},
          {"total", b.total()}};
}

nlohmann::json to_json(const StepReport& r) {
  const StepPrediction& p = r.prediction;
  nlohmann::json ops = nlohmann::json::array();
  for (const OpPrediction& o : p.ops) {
    const Op& op = o.op;
    const Prediction& q = o.prediction;
    nlohmann::json j = {
        {"operator", op_label(op)},
        {"type", std::string(to_string(op.type))},
        {"first_layer", op.first_layer},
        {"instances", op.instances},
        {"kernel_class", std::string(to_string(op.kernel))},
        {"kernels_per_instance", op.kernels_per_instance},
        {"math_path", std::string(to_string(op.math))},
        {"support", std::string(to_string(op.support))},
        {"weight_precision", std::string(to_string(op.weight_precision))},
        {"activation_precision", std::string(to_string(op.activation_precision))},
        {"flops", op.flops * op.instances},
        {"bytes", bytes_json(op.bytes)},
        {"intensity_flop_per_byte", q.intensity_flop_per_byte},
        {"critical_intensity_flop_per_byte", q.critical_intensity_flop_per_byte},
        {"bound", std::string(to_string(q.bound))},
        {"time_s", o.total_s()},
        {"time_per_instance_s", q.time_s},
        {"interval_s", {q.interval_low_s * op.instances, q.interval_high_s * op.instances}},
        {"share_fraction", p.time_s > 0 ? o.total_s() / p.time_s : 0.0},
    };
    if (op.kernel == KernelClass::gemm) j["gemm"] = {{"m", op.gemm.m}, {"n", op.gemm.n}, {"k", op.gemm.k}, {"groups", op.gemm.groups}};
    if (!op.note.empty()) j["note"] = op.note;
    if (q.exception_factor != 1.0) j["measured_kernel_choice_factor"] = q.exception_factor;
    ops.push_back(std::move(j));
  }
  nlohmann::json out = {
      {"schema", "roofline.report.v1"},
      {"model", r.model->name},
      {"hw", r.hw->name},
      {"phase", std::string(to_string(r.config.phase))},
      {"batch", r.config.batch},
      {"seq_len", r.config.seq_len},
      {"precision", r.config.precision.name},
      {"kv_cache", std::string(to_string(r.config.precision.kv_cache))},
      {"attention_kernel", std::string(to_string(r.config.attention))},
      {"tensor_parallel", r.config.tensor_parallel},
      {"calibration", p.calibration_status},
      {"ops", ops},
      {"totals",
       {{"time_s", p.time_s},
        {"interval_s", {p.interval_low_s, p.interval_high_s}},
        {"tokens_per_s", p.tokens_per_s},
        {"flops", p.flops},
        {"bytes", p.bytes}}},
      {"memory",
       {{"weights_bytes", p.memory.weights_bytes},
        {"kv_cache_bytes", p.memory.kv_cache_bytes},
        {"activations_bytes", p.memory.activations_bytes},
        {"total_bytes", p.memory.total_bytes()},
        {"capacity_bytes", p.memory_capacity_bytes}}},
      {"fits", p.fits},
  };
  if (!p.infeasible_reason.empty()) out["infeasible_reason"] = p.infeasible_reason;
  return out;
}

std::string render_table(const StepReport& r) {
  const StepPrediction& p = r.prediction;
  std::ostringstream os;
  os << r.model->display_name << " on " << r.hw->display_name << ": " << to_string(r.config.phase) << ", batch "
     << r.config.batch << ", " << (r.config.phase == Phase::decode ? "context " : "prompt ") << r.config.seq_len
     << " tokens, precision " << r.config.precision.name << " (KV " << to_string(r.config.precision.kv_cache)
     << "), attention " << to_string(r.config.attention);
  if (r.config.tensor_parallel > 1) os << ", tensor parallel " << r.config.tensor_parallel;
  os << "\n";
  os << "calibration: " << p.calibration_status << "\n\n";

  const std::vector<std::string> header = {"operator", "x", "kernel", "precision", "FLOP", "bytes", "FLOP/B", "bound",
                                           "time", "share"};
  std::vector<std::vector<std::string>> rows;
  int exceptions = 0;
  for (const OpPrediction& o : p.ops) {
    const Op& op = o.op;
    const bool measured_choice = o.prediction.exception_factor != 1.0;
    exceptions += measured_choice;
    rows.push_back({op_label(op) + (measured_choice ? " *" : ""), std::to_string(op.instances),
                    std::string(to_string(op.kernel)), precision_text(op),
                    num(op.flops * op.instances), num(op.bytes.total() * op.instances),
                    num(o.prediction.intensity_flop_per_byte, "%.1f"), std::string(to_string(o.prediction.bound)),
                    format_time_s(o.total_s()), num(p.time_s > 0 ? 100.0 * o.total_s() / p.time_s : 0, "%.1f%%")});
  }
  std::vector<std::size_t> w(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(w[i] - row[i].size(), ' ');
      os << (i ? "  " : "") << (i < 4 ? row[i] + pad : pad + row[i]);
    }
    os << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  if (exceptions > 0)
    os << "* a GEMM library kernel choice measured on this GPU, applied as measured (calibration: gemm_exceptions)\n";
  os << "\n";
  os << "step time     " << format_time_s(p.time_s) << "  (interval " << format_time_s(p.interval_low_s) << " .. "
     << format_time_s(p.interval_high_s) << ")\n";
  os << "throughput    " << num(p.tokens_per_s, "%.1f") << " tokens/s\n";
  os << "work          " << format_flops(p.flops) << ", " << format_bytes(p.bytes) << " moved\n";
  os << "memory        weights " << format_bytes(p.memory.weights_bytes) << " + KV cache "
     << format_bytes(p.memory.kv_cache_bytes) << " + activations ~" << format_bytes(p.memory.activations_bytes) << " = "
     << format_bytes(p.memory.total_bytes()) << " of " << format_bytes(p.memory_capacity_bytes) << "\n";
  os << "fits          " << (p.fits ? "yes" : "NO: " + p.infeasible_reason) << "\n";
  return os.str();
}

std::string render_csv(const StepReport& r) {
  std::ostringstream os;
  os << "operator,type,first_layer,instances,kernel_class,math_path,support,weight_precision,activation_precision,"
        "flops,bytes,intensity_flop_per_byte,bound,time_s,interval_low_s,interval_high_s,share_fraction\n";
  const StepPrediction& p = r.prediction;
  for (const OpPrediction& o : p.ops) {
    const Op& op = o.op;
    const double n = op.instances;
    os << op_label(op) << ',' << to_string(op.type) << ',' << op.first_layer << ',' << op.instances << ','
       << to_string(op.kernel) << ',' << to_string(op.math) << ',' << to_string(op.support) << ','
       << to_string(op.weight_precision) << ',' << to_string(op.activation_precision) << ',' << num(op.flops * n, "%.9g")
       << ',' << num(op.bytes.total() * n, "%.9g") << ',' << num(o.prediction.intensity_flop_per_byte, "%.6g") << ','
       << to_string(o.prediction.bound) << ',' << num(o.total_s(), "%.6g") << ','
       << num(o.prediction.interval_low_s * n, "%.6g") << ',' << num(o.prediction.interval_high_s * n, "%.6g") << ','
       << num(p.time_s > 0 ? o.total_s() / p.time_s : 0, "%.6g") << '\n';
  }
  return os.str();
}

}  // namespace

std::string render_report(const StepReport& report, ReportFormat format) {
  if (!report.model || !report.hw) throw InvalidArgumentError("render_report: model and hardware are required");
  switch (format) {
    case ReportFormat::table: return render_table(report);
    case ReportFormat::json: return to_json(report).dump(2) + "\n";
    case ReportFormat::csv: return render_csv(report);
  }
  return {};
}

}  // namespace roofline

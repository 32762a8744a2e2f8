#include "report_visuals.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>

#include "roofline/charts.hpp"
#include "roofline/errors.hpp"
#include "roofline/html_report.hpp"
#include "roofline/io.hpp"
#include "roofline/mixed_precision.hpp"

namespace roofline::cli {

void add_visual_options(CLI::App* app, VisualOptions& o) {
  app->add_option("--svg", o.svg,
                  "also write the roofline chart (this step and the other phase at the same length) as SVG to FILE");
  app->add_option("--html", o.html,
                  "also write a self-contained HTML report (charts, operator tables, calibration status) to FILE");
  app->add_option("--records", o.records,
                  "measurement records (a .jsonl file or a directory) for measured ceilings on the charts; default: "
                  "validate/data/<gpu>/ of the data directory when it exists");
  app->add_flag("--no-records", o.no_records, "draw datasheet ceilings only, even where records exist");
  app->add_flag("--measured-kernels", o.measured_kernels,
                "draw the measured kernels of the records beside their predictions on the roofline chart");
}

namespace {

std::vector<MeasurementRecord> records_for(const VisualOptions& o, const HardwareSpec& hw) {
  if (o.no_records) return {};
  std::filesystem::path path = o.records;
  if (path.empty()) {
    path = data_directory() / "validate" / "data" / hw.name;
    if (!std::filesystem::is_directory(path)) return {};
  }
  if (!std::filesystem::exists(path)) throw InvalidArgumentError("--records: no such file or directory: " + path.string());
  return std::filesystem::is_directory(path) ? load_record_directory(path) : load_records(path);
}

}  // namespace

void write_visuals(const VisualOptions& o, const StepReport& requested, const Calibration& calibration,
                   const ModelRegistry& models) {
  if (o.svg.empty() && o.html.empty()) return;
  const HardwareSpec& hw = *requested.hw;
  const ModelConfig& model = *requested.model;
  std::vector<StepReport> steps = {requested};
  std::vector<std::string> notes;
  // The other phase at the same length and batch: a prompt of seq_len tokens, or decoding at that context.
  StepConfig other = requested.config;
  other.phase = requested.config.phase == Phase::decode ? Phase::prefill : Phase::decode;
  StepPrediction p = predict_step(model, other, hw, calibration);
  std::string refused;
  for (const OpPrediction& op : p.ops)
    if (op.op.support == Support::unsupported) refused = std::string(to_string(op.op.type)) + ": " + op.op.note;
  if (refused.empty()) steps.push_back({&model, &hw, other, std::move(p)});
  else notes.push_back(std::string(to_string(other.phase)) + " is not shown: " + refused);

  const std::vector<MeasurementRecord> records = records_for(o, hw);
  HtmlReport report = html_report(steps, calibration, measured_ceilings(records, hw));
  if (o.measured_kernels) add_measured_kernels(report.roofline, records, hw, calibration, models);
  for (const std::string& n : notes) report.roofline.notes.push_back(n);
  if (!o.svg.empty()) write_file_atomically(o.svg, render_svg(report.roofline));
  if (o.html.empty()) return;

  // Every shipped strategy; parts a GPU lacks the units for run as their documented fallbacks (emulated).
  report.strategies =
      compare_strategies(model, requested.config, hw, calibration, StrategyRegistry::load_default());
  report.strategies_title = "Strategies (strategies/), " + std::string(to_string(requested.config.phase)) + " step";
  const Phase phase = requested.config.phase;
  std::vector<std::int64_t> contexts;
  const std::int64_t longest = model.max_context_tokens > 0 ? model.max_context_tokens : 131072;
  for (std::int64_t c = 1024; c <= longest; c *= 2) contexts.push_back(c);
  report.attention = attention_sweep(model, hw, calibration, phase, requested.config.batch, contexts,
                                     {AttentionKernel::fa1, AttentionKernel::fa2, AttentionKernel::fa3, AttentionKernel::fa4},
                                     Precision::bf16);
  report.attention_title = "FlashAttention versions, " + std::string(to_string(phase)) + ", batch " +
                           std::to_string(requested.config.batch) + ", one layer";
  report.notes = notes;
  write_file_atomically(o.html, render_html(report));
}

}  // namespace roofline::cli

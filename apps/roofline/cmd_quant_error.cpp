// roofline quant-error: measured quantisation error of every format x granularity x calibration mode on
// synthetic LLM-like activations and weights, as a table, Markdown (docs/quantization-error.md) or JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "command.hpp"
#include "roofline/dynamic_quant.hpp"
#include "roofline/errors.hpp"

namespace roofline::cli {
namespace {

std::string num(double v, const char* f = "%.4g") {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string command_line(const QuantErrorOptions& o, const std::string& format) {
  std::ostringstream os;
  os << "roofline quant-error --format " << format << " --rows " << o.tokens << " --cols " << o.in_features
     << " --out " << o.out_features << " --seed " << o.seed;
  return os.str();
}

std::string granularity_cell(const QuantErrorRow& r) {
  std::string g(to_string(r.granularity));
  if (r.granularity == Granularity::per_block) g += " (" + std::to_string(r.block_elements) + ")";
  return g;
}

struct Report {
  std::vector<QuantErrorRow> rows;
  std::vector<OutlierSweepRow> sweep;
  std::vector<OutlierTolerance> tolerance_1_5;  // bulk error x1.5
  std::vector<OutlierTolerance> tolerance_2;    // bulk error x2 (one bit)
};

void print_table(std::ostream& os, const QuantErrorOptions& o, const Report& rep) {
  const std::vector<QuantErrorRow>& rows = rep.rows;
  const std::vector<OutlierSweepRow>& sweep = rep.sweep;
  char line[256];
  os << "Quantisation error on LLM-like tensors: X [" << o.tokens << " x " << o.in_features << "], W ["
     << o.out_features << " x " << o.in_features << "], seed " << o.seed << "\n\n";
  std::snprintf(line, sizeof line, "%-9s %-16s %-12s %-11s %7s %7s %10s %8s %10s %8s %10s %10s\n", "format",
                "granularity", "weight_gran", "calibration", "bits_X", "bits_W", "X_relrmse", "X_sqnr", "W_relrmse",
                "W_sqnr", "Y_cosine", "Y_relrmse");
  os << line;
  for (const QuantErrorRow& r : rows) {
    std::snprintf(line, sizeof line, "%-9s %-16s %-12s %-11s %7s %7s %10s %8s %10s %8s %10s %10s\n",
                  std::string(to_string(r.precision)).c_str(), granularity_cell(r).c_str(),
                  std::string(to_string(r.weight_granularity)).c_str(),
                  std::string(to_string(r.calibration_mode)).c_str(), num(r.activation_bits_per_element, "%.3f").c_str(),
                  num(r.weight_bits_per_element, "%.3f").c_str(), num(r.activation_rel_rmse).c_str(),
                  num(r.activation_sqnr_db, "%.2f").c_str(), num(r.weight_rel_rmse).c_str(),
                  num(r.weight_sqnr_db, "%.2f").c_str(), num(r.matmul_cosine, "%.6f").c_str(),
                  num(r.matmul_rel_rmse).c_str());
    os << line;
  }
  os << "\nOutlier sweep (absmax calibration; outlier channels scaled by the given factor):\n";
  std::snprintf(line, sizeof line, "%-8s %-13s %-9s %-12s %10s %10s %10s %10s\n", "scale", "outlier_ratio", "format",
                "granularity", "X_relrmse", "bulk_rel", "Y_cosine", "Y_relrmse");
  os << line;
  for (const OutlierSweepRow& r : sweep) {
    std::snprintf(line, sizeof line, "%-8s %-13s %-9s %-12s %10s %10s %10s %10s\n", num(r.outlier_scale, "%g").c_str(),
                  num(r.outlier_ratio, "%.3f").c_str(), std::string(to_string(r.precision)).c_str(),
                  std::string(to_string(r.granularity)).c_str(), num(r.activation_rel_rmse).c_str(),
                  num(r.bulk_rel_rmse).c_str(),
                  num(r.matmul_cosine, "%.6f").c_str(), num(r.matmul_rel_rmse).c_str());
    os << line;
  }
  os << "\nOutlier ratio at which the bulk error grows x1.5 and x2 over its value without outlier channels:\n";
  std::snprintf(line, sizeof line, "%-9s %-12s %10s %12s %12s\n", "format", "granularity", "bulk_base", "ratio_x1.5",
                "ratio_x2");
  os << line;
  for (std::size_t i = 0; i < rep.tolerance_2.size(); ++i) {
    const OutlierTolerance& a = rep.tolerance_1_5[i];
    const OutlierTolerance& b = rep.tolerance_2[i];
    std::snprintf(line, sizeof line, "%-9s %-12s %10s %12s %12s\n", std::string(to_string(b.precision)).c_str(),
                  std::string(to_string(b.granularity)).c_str(), num(b.baseline_bulk_rel_rmse).c_str(),
                  num(a.crossing_ratio, "%.3g").c_str(), num(b.crossing_ratio, "%.3g").c_str());
    os << line;
  }
}

std::string bracket(const OutlierTolerance& t) {
  if (std::isinf(t.crossing_ratio)) return "not reached (> " + num(t.ratio_below, "%.4g") + ")";
  return num(t.crossing_ratio, "%.3g") + " (" + num(t.ratio_below, "%.4g") + " – " + num(t.ratio_above, "%.4g") + ")";
}

void print_markdown(std::ostream& os, const QuantErrorOptions& o, const Report& rep) {
  const std::vector<QuantErrorRow>& rows = rep.rows;
  const std::vector<OutlierSweepRow>& sweep = rep.sweep;
  const LlmTensorOptions& d = o.data;
  os << "# Measured quantisation error\n\n"
     << "<!-- Generated by `" << command_line(o, "markdown")
     << " > docs/quantization-error.md`; do not edit by hand. -->\n\n"
     << "Generated by `" << command_line(o, "markdown") << "`. Every number below is measured by\n"
     << "`roofline::measure_quant_error` / `measure_outlier_sweep` (lib/detail/quant_error.cpp) on the CPU,\n"
     << "bit-exact to the formats' encodings (docs/precisions-numerics.md). Rerun the command to reproduce it.\n\n"
     << "## Data\n\n"
     << "Synthetic tensors shaped like one linear layer of an LLM, `Y = X Wᵀ`:\n\n"
     << "- Activations X [" << o.tokens << " tokens x " << o.in_features
     << " channels]: Student-t (" << d.activation_student_t_dof << " degrees of freedom, unit variance) times a\n"
     << "  per-token magnitude lognormal(0, " << d.token_scale_sigma << "); " << d.outlier_channel_fraction * 100
     << " % of the channels (at least one) are outlier channels, ×U[" << d.outlier_scale_min << ", "
     << d.outlier_scale_max << "],\n"
     << "  the same channels for every token. Outlier features in fixed hidden dimensions are reported by\n"
     << "  LLM.int8() (Dettmers et al. 2022, arXiv:2208.07339, sec. 4) and SmoothQuant (Xiao et al. 2023,\n"
     << "  arXiv:2211.10438, fig. 4: outliers about 100x larger, in fixed channels). This is a model of\n"
     << "  those reports, not a dump of a real checkpoint's activations.\n"
     << "- Weights W [" << o.out_features << " x " << o.in_features << "]: " << d.weight_std
     << " x Student-t (" << d.weight_student_t_dof << " dof, unit variance) x a per-row magnitude\n"
     << "  lognormal(0, " << d.weight_row_scale_sigma
     << "). 0.02 is the initializer_range of GPT-2 / LLaMA-family configs; the tails and\n"
     << "  row-norm spread are modelling assumptions.\n\n"
     << "## Metrics\n\n"
     << "- `rel RMSE` = ‖x̂ − x‖₂ / ‖x‖₂ over the tensor; `SQNR` = 10 log10(Σx² / Σ(x̂ − x)²) dB (= −20 log10 rel RMSE).\n"
     << "- `Y cosine`, `Y rel RMSE`: the product dequant(Xq) · dequant(Wq)ᵀ against X · Wᵀ, both in fp64.\n"
     << "- `bits`: measured storage (codes + scales) × 8 / elements. Per-token/per-channel/per-tensor scales\n"
     << "  are fp32; int4 group scales fp16; nvfp4 E4M3 per 16 + one fp32; mxfp4 E8M0 per 32.\n"
     << "- Weights use the activation's granularity except per_token → per_channel (one scale per output row).\n"
     << "  per_channel on activations means one scale per input channel: a numerics reference that a GEMM\n"
     << "  cannot apply without folding it into the weights (SmoothQuant's migration).\n"
     << "- Calibration: `absmax`; `percentile` = 99.9th percentile of |x| per granule; `mse_optimal` = the\n"
     << "  clipping ratio in {0.5 + 0.5 k / 99, k = 0..99} × absmax that minimises the granule's squared error.\n\n"
     << "## Format × granularity × calibration\n\n"
     << "| format | granularity (block) | weight granularity | calibration | bits X | bits W | X rel RMSE | X SQNR dB "
        "| W rel RMSE | W SQNR dB | Y cosine | Y rel RMSE |\n"
     << "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const QuantErrorRow& r : rows) {
    os << "| " << r.precision << " | " << granularity_cell(r) << " | " << r.weight_granularity << " | "
       << r.calibration_mode << " | " << num(r.activation_bits_per_element, "%.3f") << " | "
       << num(r.weight_bits_per_element, "%.3f") << " | " << num(r.activation_rel_rmse) << " | "
       << num(r.activation_sqnr_db, "%.2f") << " | " << num(r.weight_rel_rmse) << " | "
       << num(r.weight_sqnr_db, "%.2f") << " | " << num(r.matmul_cosine, "%.6f") << " | "
       << num(r.matmul_rel_rmse) << " |\n";
  }
  os << "\n## Error against the outlier ratio\n\n"
     << "The same activations with every outlier channel scaled by exactly the given factor (1 = no outlier\n"
     << "channels), absmax calibration, each format with its usual dynamic scheme; weights as above.\n"
     << "`outlier ratio` is `ActivationStats::outlier_ratio` = absmax / (rms · z_N), about 1 for Gaussian data\n"
     << "(include/roofline/dynamic_quant.hpp). `DynamicQuantizer`'s default fp16 fallback thresholds and\n"
     << "`AdaptiveQuantConfig`'s default thresholds are read from this table (docs/precisions-numerics.md).\n\n"
     << "`bulk rel RMSE` is the error over the other channels only (channel RMS ≤ 3 × the median channel RMS):\n"
     << "what the bulk of the activations loses; the whole-tensor figure is dominated by the outlier channels.\n\n"
     << "| outlier scale | outlier ratio | format | granularity | X rel RMSE | bulk rel RMSE | Y cosine | Y rel RMSE |\n"
     << "|---:|---:|---|---|---:|---:|---:|---:|\n";
  for (const OutlierSweepRow& r : sweep) {
    os << "| " << num(r.outlier_scale, "%g") << " | " << num(r.outlier_ratio, "%.3f") << " | " << r.precision << " | "
       << r.granularity << " | " << num(r.activation_rel_rmse) << " | " << num(r.bulk_rel_rmse) << " | "
       << num(r.matmul_cosine, "%.6f") << " | "
       << num(r.matmul_rel_rmse) << " |\n";
  }
  os << "\n## Outlier tolerance\n\n"
     << "From the sweep above: the outlier ratio at which each format's bulk rel RMSE first exceeds 1.5x and 2x\n"
     << "its value without outlier channels (2x = 6 dB = one bit lost to the outliers), interpolated in\n"
     << "(log ratio, log error) between the two measured points around the crossing (in brackets).\n"
     << "`roofline::outlier_tolerance` computes it; `default_outlier_threshold` and `AdaptiveQuantConfig`'s\n"
     << "defaults are these values rounded, and tests/test_dynamic_quant.cpp checks that they stay inside the\n"
     << "brackets.\n\n"
     << "| format | granularity | bulk rel RMSE without outliers | ratio at x1.5 | ratio at x2 |\n"
     << "|---|---|---:|---|---|\n";
  for (std::size_t i = 0; i < rep.tolerance_2.size(); ++i) {
    const OutlierTolerance& a = rep.tolerance_1_5[i];
    const OutlierTolerance& b = rep.tolerance_2[i];
    os << "| " << b.precision << " | " << b.granularity << " | " << num(b.baseline_bulk_rel_rmse) << " | "
       << bracket(a) << " | " << bracket(b) << " |\n";
  }
}

nlohmann::json finite_or_string(double v) {
  if (std::isfinite(v)) return v;
  return num(v);
}

void print_json(std::ostream& os, const QuantErrorOptions& o, const Report& rep) {
  const std::vector<QuantErrorRow>& rows = rep.rows;
  const std::vector<OutlierSweepRow>& sweep = rep.sweep;
  nlohmann::json j;
  j["command"] = command_line(o, "json");
  j["tokens"] = o.tokens;
  j["in_features"] = o.in_features;
  j["out_features"] = o.out_features;
  j["seed"] = o.seed;
  j["rows"] = nlohmann::json::array();
  for (const QuantErrorRow& r : rows) {
    j["rows"].push_back({{"precision", std::string(to_string(r.precision))},
                         {"granularity", std::string(to_string(r.granularity))},
                         {"weight_granularity", std::string(to_string(r.weight_granularity))},
                         {"calibration_mode", std::string(to_string(r.calibration_mode))},
                         {"block_elements", r.block_elements},
                         {"activation_bits_per_element", r.activation_bits_per_element},
                         {"weight_bits_per_element", r.weight_bits_per_element},
                         {"activation_rel_rmse", finite_or_string(r.activation_rel_rmse)},
                         {"activation_sqnr_db", finite_or_string(r.activation_sqnr_db)},
                         {"weight_rel_rmse", finite_or_string(r.weight_rel_rmse)},
                         {"weight_sqnr_db", finite_or_string(r.weight_sqnr_db)},
                         {"matmul_cosine", finite_or_string(r.matmul_cosine)},
                         {"matmul_rel_rmse", finite_or_string(r.matmul_rel_rmse)}});
  }
  j["outlier_sweep"] = nlohmann::json::array();
  for (const OutlierSweepRow& r : sweep) {
    j["outlier_sweep"].push_back({{"outlier_scale", r.outlier_scale},
                                  {"outlier_ratio", finite_or_string(r.outlier_ratio)},
                                  {"precision", std::string(to_string(r.precision))},
                                  {"granularity", std::string(to_string(r.granularity))},
                                  {"activation_rel_rmse", finite_or_string(r.activation_rel_rmse)},
                                  {"bulk_rel_rmse", finite_or_string(r.bulk_rel_rmse)},
                                  {"matmul_cosine", finite_or_string(r.matmul_cosine)},
                                  {"matmul_rel_rmse", finite_or_string(r.matmul_rel_rmse)}});
  }
  j["outlier_tolerance"] = nlohmann::json::array();
  for (std::size_t i = 0; i < rep.tolerance_2.size(); ++i) {
    for (const OutlierTolerance* t : {&rep.tolerance_1_5[i], &rep.tolerance_2[i]}) {
      j["outlier_tolerance"].push_back({{"precision", std::string(to_string(t->precision))},
                                        {"granularity", std::string(to_string(t->granularity))},
                                        {"error_factor", t->error_factor},
                                        {"baseline_bulk_rel_rmse", finite_or_string(t->baseline_bulk_rel_rmse)},
                                        {"ratio_below", finite_or_string(t->ratio_below)},
                                        {"ratio_above", finite_or_string(t->ratio_above)},
                                        {"crossing_ratio", finite_or_string(t->crossing_ratio)}});
    }
  }
  os << j.dump(2) << '\n';
}

struct Args {
  std::string format = "table";
  std::int64_t rows = 256;
  std::int64_t cols = 1024;
  std::int64_t out = 128;
  std::uint64_t seed = 42;
};

const bool registered = register_command(60, [](CLI::App& app, int& exit_code) {
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(
      "quant-error",
      "Measure the error of every quantisation format x granularity x calibration mode on LLM-like tensors");
  sub->add_option("--format", args->format, "Output: table, markdown (docs/quantization-error.md) or json")
      ->capture_default_str();
  sub->add_option("--rows", args->rows, "Activation rows (tokens)")->capture_default_str();
  sub->add_option("--cols", args->cols, "Activation columns = weight columns (reduction dimension)")
      ->capture_default_str();
  sub->add_option("--out", args->out, "Weight rows (output features)")->capture_default_str();
  sub->add_option("--seed", args->seed, "Random seed of the synthetic tensors")->capture_default_str();
  sub->callback([args, &exit_code] {
    if (args->format != "table" && args->format != "markdown" && args->format != "json")
      throw UnknownNameError("output format", args->format, {"table", "markdown", "json"});
    QuantErrorOptions o;
    o.tokens = args->rows;
    o.in_features = args->cols;
    o.out_features = args->out;
    o.seed = args->seed;
    Report rep;
    rep.rows = measure_quant_error(o);
    rep.sweep = measure_outlier_sweep(o, default_outlier_sweep_scales());
    rep.tolerance_1_5 = outlier_tolerance(rep.sweep, 1.5);
    rep.tolerance_2 = outlier_tolerance(rep.sweep, 2.0);
    if (args->format == "table") print_table(std::cout, o, rep);
    if (args->format == "markdown") print_markdown(std::cout, o, rep);
    if (args->format == "json") print_json(std::cout, o, rep);
    exit_code = exit_ok;
  });
});

}  // namespace
}  // namespace roofline::cli

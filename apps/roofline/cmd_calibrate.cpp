// roofline calibrate RECORDS...: fit the model to measurements and report its held-out error.
// roofline validate-report RECORDS...: predicted against measured per operator class, and counter bytes
// against modelled bytes.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"

namespace roofline::cli {
namespace {

std::vector<MeasurementRecord> load_all(const std::vector<std::string>& paths) {
  std::vector<MeasurementRecord> out;
  for (const std::string& p : paths) {
    std::vector<MeasurementRecord> r = std::filesystem::is_directory(p) ? load_record_directory(p) : load_records(p);
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

std::string gpu_of(const std::vector<MeasurementRecord>& records, const std::string& requested) {
  if (!requested.empty()) return requested;
  std::set<std::string> gpus;
  for (const auto& r : records) gpus.insert(r.device.hw_profile);
  if (gpus.size() != 1) {
    std::string list;
    for (const auto& g : gpus) list += (list.empty() ? "" : ", ") + g;
    throw InvalidArgumentError("the records come from several GPUs (" + list + "): choose one with --hw");
  }
  return *gpus.begin();
}

std::string pct(const ErrorStats& s) {
  if (s.count == 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * s.median);
  return buf;
}
std::string pct90(const ErrorStats& s) {
  if (s.count == 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * s.p90);
  return buf;
}
std::string pctm(const ErrorStats& s) {
  if (s.count == 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * s.mape);
  return buf;
}

// --out, or <data dir>/<folder>/<gpu>.json; its folder created.
std::filesystem::path output_file(const std::string& requested, const char* folder, const HardwareSpec& hw) {
  const std::filesystem::path out =
      requested.empty() ? data_directory() / folder / (hw.name + ".json") : std::filesystem::path(requested);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  return out;
}

void print_result(const CalibrationResult& r) {
  std::cout << "calibration of " << r.gpu << " from " << r.records_used << " fitted records (" << r.records_skipped
            << " skipped) in " << r.record_files.size() << " files; device " << r.device.name << ", driver "
            << r.device.driver << ", CUDA " << r.device.cuda_runtime << "\n\n";
  for (const auto& [path, v] : r.sustained)
    std::printf("sustained ceiling %s: %.0f TFLOP/s (%s; whole steps are capped at it)\n", to_string(path).data(), v.first / 1e12,
                v.second.c_str());
  if (!r.sustained.empty()) std::cout << "\n";
  std::cout << "Fitted parameter keys: error |predicted - measured| / measured, held out by k-fold over shapes\n";
  TextTable t({"key", "records", "prior median", "held-out median", "held-out p90", "held-out MAPE", "fixed", "mem eff",
               "compute eff", "interval"});
  for (const KeyFit& f : r.fits) {
    char fixed[32], me[32], ce[32], iv[48];
    std::snprintf(fixed, sizeof fixed, "%.2f us", f.params.fixed_s * 1e6);
    std::snprintf(me, sizeof me, "%.3f", f.params.memory_efficiency_fraction);
    std::snprintf(ce, sizeof ce, "%.3f", f.params.compute_efficiency_fraction);
    std::snprintf(iv, sizeof iv, "x[%.2f, %.2f]", f.params.interval_low_fraction, f.params.interval_high_fraction);
    t.add({to_string(f.key), std::to_string(f.records), pct(f.prior_cv), f.fitted ? pct(f.heldout_cv) : f.message,
           f.fitted ? pct90(f.heldout_cv) : "-", f.fitted ? pctm(f.heldout_cv) : "-", fixed, me, ce, iv});
  }
  t.print(std::cout);
  for (const KeyFit& f : r.fits)
    if (f.fitted && !f.message.empty()) std::cout << "  " << to_string(f.key) << ": " << f.message << "\n";
  if (!r.evaluations.empty()) {
    std::cout << "\nNever fitted (hold-out suites, whole model steps): error of the datasheet-prior model and of the "
                 "calibrated model\n";
    TextTable e({"group", "records", "prior median", "calibrated median", "calibrated p90", "calibrated MAPE"});
    for (const EvaluationGroup& g : r.evaluations)
      e.add({g.name, std::to_string(g.calibrated.count), pct(g.prior), pct(g.calibrated), pct90(g.calibrated),
             pctm(g.calibrated)});
    e.print(std::cout);
  }
  if (!r.speedups.empty()) {
    std::cout << "\nFP8-over-BF16 speedup of model steps, measured against predicted\n";
    TextTable s({"workload (bf16 side)", "measured", "predicted", "error"});
    for (const SpeedupCheck& c : r.speedups) {
      char m[32], p[32], e[32];
      std::snprintf(m, sizeof m, "%.3fx", c.measured_speedup);
      std::snprintf(p, sizeof p, "%.3fx", c.predicted_speedup);
      std::snprintf(e, sizeof e, "%.1f%%", 100 * c.error_fraction);
      s.add({c.workload, m, p, e});
    }
    s.print(std::cout);
  }
  for (const std::string& w : r.warnings) std::cerr << "warning: " << w << "\n";
}

struct CalibrateOptions {
  std::vector<std::string> records;
  std::string hw;
  std::string out;
  int folds = 5;
  bool dry_run = false;
};

struct ValidateReportOptions {
  std::vector<std::string> records;
  std::string hw;
};

const bool registered = register_command(50, [](CLI::App& app, int&) {
  static CalibrateOptions o;
  auto* sub = app.add_subcommand("calibrate", "fit the model to measurement records (validate/data/...) and report "
                                              "its error on records the fit never saw");
  sub->add_option("records", o.records, "JSON Lines record files or directories")->required()->check(CLI::ExistingPath);
  sub->add_option("--hw", o.hw, "the GPU whose records to fit (default: the records' only GPU)");
  sub->add_option("--out", o.out, "where to write the calibrated profile (default: <data dir>/calibration/<gpu>.json)");
  sub->add_option("--folds", o.folds, "k of the k-fold cross-validation over shapes")->check(CLI::Range(2, 50));
  sub->add_flag("--dry-run", o.dry_run, "report only; write nothing");
  sub->callback([] {
    const std::vector<MeasurementRecord> records = load_all(o.records);
    HardwareRegistry hws = HardwareRegistry::load_default();
    const ModelRegistry models = ModelRegistry::load_default();
    const HardwareSpec& hw = hws.get(gpu_of(records, o.hw));
    FitOptions fo;
    fo.folds = o.folds;
    const CalibrationResult r = calibrate(records, hw, models, fo);
    print_result(r);
    if (!r.all_converged()) {
      std::string keys;
      for (const KeyFit& f : r.fits)
        if (f.fitted && !f.converged) keys += (keys.empty() ? "" : ", ") + to_string(f.key) + " (" + f.message + ")";
      throw InvalidArgumentError("the fit did not converge for " + keys + "; no profile written");
    }
    if (o.dry_run) return;
    const std::filesystem::path out = output_file(o.out, "calibration", hw);
    save_calibration(r, out);
    std::cout << "\nwrote " << out.string() << "\n";
  });

  // roofline kernel-choices RECORDS... [--hw GPU] [--out FILE]: cuBLASLt's pick per GEMM shape on one GPU,
  // from the algorithm field of its GEMM records (no time is read): what a transfer to that GPU prices with
  // the source GPU's timed candidates.
  static CalibrateOptions kc;
  auto* ks = app.add_subcommand("kernel-choices", "extract cuBLASLt's kernel pick per GEMM shape of one GPU from its "
                                                  "records (no times): used when a calibration is transferred to it");
  ks->add_option("records", kc.records, "JSON Lines record files or directories")->required()->check(CLI::ExistingPath);
  ks->add_option("--hw", kc.hw, "the GPU whose records to read (default: the records' only GPU)");
  ks->add_option("--out", kc.out, "where to write (default: <data dir>/kernel_choices/<gpu>.json)");
  ks->callback([] {
    const std::vector<MeasurementRecord> records = load_all(kc.records);
    HardwareRegistry hws = HardwareRegistry::load_default();
    const HardwareSpec& hw = hws.get(gpu_of(records, kc.hw));
    const std::vector<KernelChoice> choices = kernel_choices_of(records, hw);
    if (choices.empty())
      throw InvalidArgumentError("no GEMM record of " + hw.name + " carries cuBLASLt's algorithm; nothing written");
    const std::filesystem::path out = output_file(kc.out, "kernel_choices", hw);
    save_kernel_choices(choices, hw.name, out);
    std::cout << "wrote " << choices.size() << " kernel choices of " << hw.name << " to " << out.string() << "\n";
  });

  static ValidateReportOptions v;
  auto* vr = app.add_subcommand("validate-report", "predicted against measured per operator class, with error "
                                                   "statistics, and hardware-counter bytes against modelled bytes");
  vr->add_option("records", v.records, "JSON Lines record files or directories")->required()->check(CLI::ExistingPath);
  vr->add_option("--hw", v.hw, "the GPU whose records to report (default: the records' only GPU)");
  vr->callback([] {
    const std::vector<MeasurementRecord> records = load_all(v.records);
    HardwareRegistry hws = HardwareRegistry::load_default();
    const ModelRegistry models = ModelRegistry::load_default();
    const HardwareSpec& hw = hws.get(gpu_of(records, v.hw));
    const Calibration cal = calibration_for(hw, hws);
    std::cout << "model: " << hw.name << ", calibration " << cal.status() << "\n\n";
    const std::vector<EvaluationGroup> groups = evaluate(records, hw, cal, models);
    TextTable t({"suite and key", "records", "datasheet-prior median", "model median", "model p90", "model MAPE"});
    for (const EvaluationGroup& g : groups)
      t.add({g.name, std::to_string(g.calibrated.count), pct(g.prior), pct(g.calibrated), pct90(g.calibrated),
             pctm(g.calibrated)});
    t.print(std::cout);
    // Hardware counters: DRAM bytes against the model's bytes for the records that carry them.
    TextTable c({"record", "label", "counter DRAM bytes", "model bytes", "ratio"});
    int with_counters = 0;
    for (const MeasurementRecord& r : records) {
      auto rd = r.counters.find("dram__bytes_read.sum");
      auto wr = r.counters.find("dram__bytes_write.sum");
      if (!r.ok || rd == r.counters.end() || r.device.hw_profile != hw.name) continue;
      double model_bytes = 0;
      try {
        for (const Op& op : workload_ops(r.workload, hw, models)) model_bytes += op.bytes.total() * op.instances;
      } catch (const Error&) {
        continue;
      }
      const double measured = rd->second + (wr == r.counters.end() ? 0.0 : wr->second);
      char a[32], b[32], q[32];
      std::snprintf(a, sizeof a, "%.4g", measured);
      std::snprintf(b, sizeof b, "%.4g", model_bytes);
      std::snprintf(q, sizeof q, "%.3f", model_bytes > 0 ? measured / model_bytes : 0.0);
      c.add({r.file + ":" + std::to_string(r.line), r.label, a, b, q});
      ++with_counters;
    }
    if (with_counters) {
      std::cout << "\nHardware counters (Range Profiler) against the model's bytes\n";
      c.print(std::cout);
    }
  });
});

}  // namespace
}  // namespace roofline::cli

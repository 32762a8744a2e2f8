// roofline accuracy RECORDS... [--out docs/accuracy.md]: the accuracy report. For every GPU with records:
// held-out error per parameter key (k-fold over shapes), error on suites never fitted (hold-out shapes,
// whole model steps), the FP8-over-BF16 speedup check; and for every pair of measured GPUs of one
// architecture, the error of a calibration transferred from one to the other (a GPU the fit never saw).
// Each number is beside the plain datasheet roofline's error on the same records.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/io.hpp"
#include "roofline/operators.hpp"

namespace roofline::cli {
namespace {

std::string cell(const ErrorStats& s) {
  if (s.count == 0) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * s.median);
  return buf;
}
std::string cell90(const ErrorStats& s) {
  if (s.count == 0) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * s.p90);
  return buf;
}

std::string coverage(const EvaluationGroup& g) {
  if (g.calibrated.count == 0) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * g.inside_interval / g.calibrated.count);
  return buf;
}

std::string micros(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f µs", s * 1e6);
  return buf;
}

// (4) For each measured library kernel choice (GemmException) of one GPU: the kernel it ran there, and, on
// every other GPU with a gemm_candidates suite, the kernel cuBLASLt's heuristic chose there and the same
// kernel as one of its lower-ranked candidates. Tells a choice of the library's heuristic (the same kernel
// is as slow elsewhere) from a property of the GPU.
void kernel_choice_section(std::ostringstream& md, const std::map<std::string, CalibrationResult>& results,
                           const std::map<std::string, std::vector<MeasurementRecord>>& by_gpu,
                           const HardwareRegistry& hws) {
  std::map<std::string, std::vector<GemmCandidate>> candidates;  // GPU -> its gemm_candidates suite
  for (const auto& [gpu, recs] : by_gpu)
    if (const HardwareSpec* h = hws.find(gpu)) candidates[gpu] = gemm_candidates_of(recs, *h);
  std::ostringstream rows;
  for (const auto& [gpu, res] : results) {
    const HardwareSpec& hw = *hws.find(gpu);
    if (res.calibration.gemm_exceptions().empty()) continue;
    // The kernel cuBLASLt picked on this GPU (kernel_choices_of) and the time of the gemm record.
    const std::vector<KernelChoice> picks = kernel_choices_of(by_gpu.at(gpu), hw);
    for (const GemmException& e : res.calibration.gemm_exceptions()) {
      for (const std::int64_t m : e.m) {
        const auto pick = std::find_if(picks.begin(), picks.end(), [&](const KernelChoice& c) {
          return c.math == e.math && c.m == m && c.n == e.n && c.k == e.k;
        });
        const auto own = std::find_if(by_gpu.at(gpu).begin(), by_gpu.at(gpu).end(), [&](const MeasurementRecord& r) {
          return r.ok && r.suite == "gemm" && r.workload.kind == WorkloadKind::gemm && r.workload.gemm.groups == 1 &&
                 r.workload.gemm.m == m && r.workload.gemm.n == e.n && r.workload.gemm.k == e.k &&
                 gemm_op(r.workload.gemm, r.workload.dtype, r.workload.dtype, hw).math == e.math;
        });
        if (pick == picks.end() || own == by_gpu.at(gpu).end()) continue;
        for (const auto& [other, theirs] : candidates) {
          if (other == gpu) continue;
          const GemmCandidate* chosen = nullptr;
          const GemmCandidate* same = nullptr;
          for (const GemmCandidate& g : theirs) {
            if (g.math != e.math || g.m != m || g.n != e.n || g.k != e.k) continue;
            if (g.rank == 0) chosen = &g;
            if (!pick->kernel.empty() && g.kernel == pick->kernel && (!same || g.rank < same->rank)) same = &g;
          }
          if (!chosen) continue;
          rows << "| " << gpu << " | " << to_string(e.math) << " " << m << " x " << e.n << " x " << e.k << " | `"
               << pick->kernel << "` | " << micros(own->median_s) << " | " << other << ": `" << chosen->kernel
               << "` | " << micros(chosen->time_s) << " | "
               << (same ? "rank " + std::to_string(same->rank) + ", " + micros(same->time_s)
                        : std::string("not among its candidates"))
               << " |\n";
        }
      }
    }
  }
  if (rows.str().empty()) return;
  md << "\n## (4) Measured library kernel choices, seen from the other GPU\n\n"
     << "Each GPU's measured kernel choices (`GemmException`, above) beside the `gemm_candidates` suite of the "
        "other GPU, which times every algorithm cuBLASLt's heuristic offers for the shape (rank 0 is its choice, "
        "the one PyTorch runs). When the same kernel is as slow on the other GPU, the exception is the library's "
        "ranking on that GPU, not its hardware: no calibration of the other GPU can predict it, which is why "
        "exceptions are never transferred.\n\n"
     << "| measured on | GEMM (M x N x K) | kernel there (rank 0) | time there | other GPU: its rank 0 | time | "
        "the same kernel on the other GPU |\n|---|---|---|---:|---|---:|---|\n"
     << rows.str();
}

// The class a step's operator belongs to in the model_step records' in-step profile (extra.profile.by_class).
const char* profile_class(const Op& op) {
  switch (op.type) {
    case OperatorType::ROPE: return "rope";
    case OperatorType::KV_CACHE: return "kv_write";
    case OperatorType::RESIDUAL: return "add";
    case OperatorType::ACTIVATION: return "activation";
    case OperatorType::QUANTIZE: return "quantize";
    case OperatorType::EMBEDDINGS: return "embedding";
    case OperatorType::RMSNORM: return "norm";
    case OperatorType::ATTENTION: return "attention";
    default: break;
  }
  return op.kernel == KernelClass::gemm ? "gemm" : nullptr;
}

// (5) Where whole steps err: per kernel class, the calibrated prediction over the kernel time the step
// record measured for that class inside the step (eager, under the profiler, extra.profile.by_class), and the
// graph's time over the kernels' sum. Diagnostic only: nothing here is fitted or changes a prediction.
void in_step_section(std::ostringstream& md, const std::map<std::string, CalibrationResult>& results,
                     const std::map<std::string, std::vector<MeasurementRecord>>& by_gpu, const HardwareRegistry& hws,
                     const ModelRegistry& models) {
  static const char* classes[] = {"gemm", "attention", "norm", "rope", "kv_write", "add", "activation", "quantize"};
  std::ostringstream rows;
  for (const auto& [gpu, res] : results) {
    const HardwareSpec& hw = *hws.find(gpu);
    std::map<std::string, std::map<std::string, std::vector<double>>> groups;  // group -> class -> ratios
    for (const MeasurementRecord& r : by_gpu.at(gpu)) {
      if (!r.ok || r.workload.kind != WorkloadKind::model_step) continue;
      const nlohmann::json x = nlohmann::json::parse(r.extra_json, nullptr, false);
      if (!x.is_object() || !x.contains("profile") || !x["profile"].is_object() ||
          !x["profile"].contains("by_class") || !x["profile"]["by_class"].is_object())
        continue;
      std::map<std::string, double> predicted;
      try {
        for (const Op& op : workload_ops(r.workload, hw, models))
          if (const char* c = profile_class(op))
            predicted[c] += predict(op, hw, res.calibration, Load::sustained).time_s * op.instances;
      } catch (const Error&) {
        continue;
      }
      auto& g = groups[r.suite + " " + std::string(to_string(r.workload.phase)) + " " +
                       std::string(to_string(r.workload.weights))];
      for (const auto& [c, t] : predicted) {
        const auto& m = x["profile"]["by_class"];
        if (m.contains(c) && m[c].is_object() && m[c].contains("time_s") && m[c]["time_s"].is_number() &&
            m[c]["time_s"].get<double>() > 0)
          g[c].push_back(t / m[c]["time_s"].get<double>());
      }
      if (x.contains("graph_time_over_kernel_sum") && x["graph_time_over_kernel_sum"].is_number())
        g["graph"].push_back(x["graph_time_over_kernel_sum"].get<double>());
    }
    for (auto& [name, g] : groups) {
      rows << "| " << gpu << " | " << name << " | " << (g.count("gemm") ? g["gemm"].size() : 0);
      for (const char* c : classes) {
        if (!g.count(c)) {
          rows << " | –";
          continue;
        }
        std::vector<double>& v = g[c];
        std::sort(v.begin(), v.end());
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", v[v.size() / 2]);
        rows << " | " << buf;
      }
      std::vector<double>& v = g["graph"];
      std::sort(v.begin(), v.end());
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", v.empty() ? 0.0 : v[v.size() / 2]);
      rows << " | " << (v.empty() ? "–" : buf) << " |\n";
    }
  }
  if (rows.str().empty()) return;
  md << "\n## (5) Inside whole steps: predicted over measured, per kernel class\n\n"
     << "Each step record carries the kernel time of every class measured inside the step (PyTorch eager under "
        "the profiler, `extra.profile.by_class`). Medians over a group's steps of the calibrated prediction of a "
        "class over that time (1.00: exact; above: over-predicted), and of the CUDA graph's step time over the "
        "sum of its kernels. A diagnostic: nothing here is fitted.\n\n"
     << "| GPU | steps | records | gemm | attention | norm | rope | kv_write | add | activation | quantize | graph / "
        "kernel sum |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
     << rows.str();
}

struct AccuracyOptions {
  std::vector<std::string> records;
  std::string out;
  int folds = 5;
};

const bool registered = register_command(55, [](CLI::App& app, int&) {
  static AccuracyOptions o;
  auto* sub = app.add_subcommand("accuracy", "generate the accuracy report (docs/accuracy.md) from measurement records");
  sub->add_option("records", o.records, "record files or directories (e.g. validate/data)")->required()->check(CLI::ExistingPath);
  sub->add_option("--out", o.out, "write the Markdown report here (atomically) instead of standard output");
  sub->add_option("--folds", o.folds, "k of the k-fold cross-validation over shapes")->check(CLI::Range(2, 50));
  sub->callback([] {
    std::vector<MeasurementRecord> records;
    for (const std::string& p : o.records) {
      auto r = std::filesystem::is_directory(p) ? load_record_directory(p) : load_records(p);
      records.insert(records.end(), r.begin(), r.end());
    }
    const HardwareRegistry hws = HardwareRegistry::load_default();
    const ModelRegistry models = ModelRegistry::load_default();
    std::map<std::string, std::vector<MeasurementRecord>> by_gpu;
    for (const auto& r : records) by_gpu[r.device.hw_profile].push_back(r);
    FitOptions fo;
    fo.folds = o.folds;

    std::ostringstream md;
    md << "# Accuracy of roofline's predictions\n\n"
       << "Generated by `roofline accuracy";
    for (const auto& p : o.records) md << " " << p;
    md << (o.out.empty() ? "" : " --out " + o.out) << "` from the measurement records committed under "
       << "validate/data/ (docs/measurement-records.md). Error = |predicted − measured| / measured, "
          "GPU time with a cold L2. *Datasheet* is the plain roofline max(FLOPs / peak, bytes / bandwidth) "
          "from the hardware profile with no efficiency and no fixed cost; *prior* adds the documented "
          "default efficiencies; *calibrated* is the fitted model.\n\n"
          "Three kinds of held-out error are reported, from weakest to strongest claim: (1) k-fold over shapes "
          "within the fitted suites (each shape predicted by a fit that never saw it); (2) suites never fitted "
          "at all (random hold-out shapes, whole model steps run by PyTorch; the `*_fresh` suites were measured "
          "after the model was frozen at commit c26c4f4, so no choice between model variants up to it saw them; two "
          "later FlashAttention-2 prefill changes were made with the fresh suites already evaluated: the README "
          "says which figure informed which choice; `model_step_fresh`, steps of batches, contexts and prefill "
          "shapes `model_step` never ran, was measured on 2026-12-07 after the step model was committed, and "
          "`model_step_session2` re-ran `model_step`'s configurations on another lease that day); (3) a GPU never fitted "
          "(the calibration of one GPU transferred to another of its architecture by the documented rule).\n";

    // Every GPU's fit first, then the inputs one GPU of an architecture measured and another lacks
    // (borrow_architecture_inputs, as calibration_for does), with that GPU's never-fitted suites re-evaluated.
    std::map<std::string, CalibrationResult> fitted;
    std::map<std::string, std::string> failed, borrowed;
    for (const auto& [gpu, recs] : by_gpu) {
      const HardwareSpec* hw = hws.find(gpu);
      if (!hw) continue;
      try {
        fitted.emplace(gpu, calibrate(recs, *hw, models, fo));
      } catch (const Error& e) {
        failed[gpu] = e.what();
      }
    }
    std::map<std::string, Calibration> own;
    for (const auto& [gpu, r] : fitted) own.emplace(gpu, r.calibration);
    for (auto& [gpu, r] : fitted) {
      const HardwareSpec& hw = *hws.find(gpu);
      for (const auto& [other, oc] : own) {
        if (other == gpu || hws.find(other)->architecture != hw.architecture) continue;
        Calibration c = r.calibration;
        borrow_architecture_inputs(c, oc);
        if (c == r.calibration) break;
        r.calibration = c;
        std::vector<MeasurementRecord> never_fitted;
        for (const MeasurementRecord& m : by_gpu.at(gpu))
          if (!suite_listed(fo.fit_suites, m.suite) && !suite_listed(fo.microbenchmark_suites, m.suite) &&
              !is_sustained_ceiling(m))
            never_fitted.push_back(m);
        r.evaluations = evaluate(never_fitted, hw, c, models);
        r.speedups = speedup_checks(never_fitted, hw, c, models);
        borrowed[gpu] = other;
        break;
      }
    }

    std::map<std::string, CalibrationResult> results;
    for (const auto& [gpu, recs] : by_gpu) {
      const HardwareSpec* hw = hws.find(gpu);
      if (!hw) {
        md << "\n## " << gpu << "\n\nNo hardware profile named '" << gpu << "': records skipped.\n";
        continue;
      }
      if (failed.count(gpu)) {
        md << "\n## " << hw->display_name << " (" << gpu << ")\n\nNot calibrated: " << failed[gpu] << "\n";
        continue;
      }
      CalibrationResult r = fitted.at(gpu);
      md << "\n## " << hw->display_name << " (" << gpu << ")\n\n"
         << recs.size() << " records; device " << r.device.name << ", driver " << r.device.driver << ", CUDA "
         << r.device.cuda_runtime << (r.device.torch.empty() ? "" : ", PyTorch " + r.device.torch) << ".\n\n";
      if (borrowed.count(gpu))
        md << "Not measured on this GPU and taken from " << borrowed[gpu]
           << " (`borrow_architecture_inputs`, as `calibration_for` does): the session band and the in-step L2 "
              "factors of the step's small kernels. The never-fitted figures below use them.\n\n";
      if (!r.sustained.empty()) {
        md << "Sustained ceilings (inputs of the model, not evaluated: whole steps run their tensor-core work at "
              "most at these rates, the power limit having pulled the clocks down):";
        for (const auto& [path, v] : r.sustained) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " %s %.0f TFLOP/s", to_string(path).data(), v.first / 1e12);
          md << buf << " (`" << v.second << "`)" << (&v == &r.sustained.rbegin()->second ? ".\n\n" : ";");
        }
      }
      if (r.session.pairs > 0) {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "Session band (`%s`, %d sessions): %d workloads re-run on other leases ran %.3fx the "
                      "reference session's time (median; p10..p90 %.3f..%.3f), so one session's speed is taken to "
                      "spread ±%.1f%% (90%%); every interval below adds it in quadrature.\n\n",
                      r.session.suites.c_str(), r.session.sessions, r.session.pairs, r.session.median_ratio,
                      r.session.p10_ratio, r.session.p90_ratio, 100 * r.session.band_fraction);
        md << buf;
      }
      if (!r.calibration.gemm_exceptions().empty()) {
        md << "Measured library kernel choices (`GemmException`: a fitted GEMM record beyond the square of its key's "
              "90% held-out band and at least 25% off, in both its event and its CUPTI kernel timing; applied to "
              "that math path, N and K between the flagged Ms, never transferred to another GPU; the k-fold "
              "figures below predate them and no hold-out GEMM record falls under one; whole steps use them):";
        const auto& ex = r.calibration.gemm_exceptions();
        for (std::size_t i = 0; i < ex.size(); ++i) {
          md << " " << to_string(ex[i].math) << " N " << ex[i].n << " K " << ex[i].k << " M ";
          for (std::size_t q = 0; q < ex[i].m.size(); ++q) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%s%lld: %.2fx", q ? ", " : "", static_cast<long long>(ex[i].m[q]),
                          ex[i].ratio[q]);
            md << buf;
          }
          md << (i + 1 == ex.size() ? ".\n\n" : ";");
        }
      }
      md << "### (1) Fitted operator classes, k-fold over shapes (" << o.folds << " folds)\n\n"
         << "| parameter key | records | datasheet median | prior median | held-out median | held-out p90 |\n"
         << "|---|---:|---:|---:|---:|---:|\n";
      for (const KeyFit& f : r.fits)
        md << "| " << to_string(f.key) << " | " << f.records << " | " << cell(f.datasheet) << " | " << cell(f.prior_cv)
           << " | " << (f.fitted ? cell(f.heldout_cv) : "not fitted: " + f.message) << " | "
           << (f.fitted ? cell90(f.heldout_cv) : "–") << " |\n";
      md << "\n### (2) Never fitted: hold-out suites and whole model steps\n\n"
         << "*In interval*: the share of records whose measured time lies inside the interval the prediction "
            "states (its key's 5th..95th percentile k-fold residuals, or its random-shape suite's when wider: "
            "nominally 90%).\n\n"
         << "| suite and key | records | datasheet median | prior median | calibrated median | calibrated p90 | "
            "in interval |\n"
         << "|---|---:|---:|---:|---:|---:|---:|\n";
      for (const EvaluationGroup& g : r.evaluations)
        md << "| " << g.name << " | " << g.calibrated.count << " | " << cell(g.datasheet) << " | " << cell(g.prior) << " | "
           << cell(g.calibrated) << " | " << cell90(g.calibrated) << " | " << coverage(g) << " |\n";
      if (!r.speedups.empty()) {
        md << "\nFP8-over-BF16 speedup of whole model steps:\n\n| step (bf16 side) | measured | predicted | error |\n"
           << "|---|---:|---:|---:|\n";
        for (const SpeedupCheck& s : r.speedups) {
          char buf[160];
          std::snprintf(buf, sizeof buf, " | %.3fx | %.3fx | %.1f%% |\n", s.measured_speedup, s.predicted_speedup,
                        100 * s.error_fraction);
          md << "| " << s.suite << " `" << s.workload << "`" << buf;
        }
      }
      results.emplace(gpu, std::move(r));
    }

    // (3) Transfer across GPUs of one architecture.
    bool header = false;
    std::vector<std::string> speedup_notes;
    for (const auto& [from, fr] : results) {
      for (const auto& [to, recs] : by_gpu) {
        if (to == from) continue;
        const HardwareSpec* a = hws.find(from);
        const HardwareSpec* b = hws.find(to);
        if (!a || !b || a->architecture != b->architecture) continue;
        if (!header) {
          md << "\n## (3) A GPU never fitted: calibration transferred within an architecture\n\n"
             << "Transferred intervals are the fitted GPU's widened by 10% each way (`transfer_interval_widening`).\n\n"
             << "| fitted on → predicted on | suite and key | records | datasheet median | transferred median | "
                "transferred p90 | in interval |\n|---|---|---:|---:|---:|---:|---:|\n";
          header = true;
        }
        const Calibration t = transfer_calibration(fr.calibration, *a, *b);
        // As in (1) and (2): validate/'s own microbenchmarks measure ceilings and other kernels than the
        // model predicts, so they are not counted as model error here either.
        std::vector<MeasurementRecord> model_recs;
        for (const MeasurementRecord& m : recs)
          if (!suite_listed(fo.microbenchmark_suites, m.suite)) model_recs.push_back(m);
        for (const EvaluationGroup& g : evaluate(model_recs, *b, t, models))
          md << "| " << from << " → " << to << " | " << g.name << " | " << g.calibrated.count << " | " << cell(g.datasheet)
             << " | " << cell(g.calibrated) << " | " << cell90(g.calibrated) << " | " << coverage(g) << " |\n";
        // The speedup check twice: the plain transfer, and with the target's cuBLASLt picks (the algorithm
        // field of its GEMM records, no times) priced by the source's timed candidates.
        const std::vector<KernelChoice> choices = kernel_choices_of(recs, *b);
        const Calibration tc = transfer_calibration(fr.calibration, *a, *b, choices);
        for (const Calibration* cal : {&t, &tc}) {
          std::vector<double> predicted, measured;
          int over = 0;
          for (const SpeedupCheck& sc : speedup_checks(model_recs, *b, *cal, models)) {
            if (sc.workload.find("\"phase\":\"decode\"") == std::string::npos) continue;
            predicted.push_back(sc.predicted_speedup);
            measured.push_back(sc.measured_speedup);
            over += sc.error_fraction > 0.10;
          }
          if (measured.empty()) continue;
          const ErrorStats e = error_stats(predicted, measured);
          char buf[512];
          if (cal == &t) {
            std::snprintf(buf, sizeof buf,
                          "%s → %s: FP8-over-BF16 speedup of %d decode steps, error median %.1f%%, worst %.1f%%, %d "
                          "over 10%% (the plain transfer: no kernel choice of %s known)",
                          from.c_str(), to.c_str(), e.count, 100 * e.median, 100 * e.max, over, to.c_str());
          } else {
            std::snprintf(buf, sizeof buf,
                          "%s → %s with %s's cuBLASLt picks (%zu shapes, from the algorithm field of its records, no "
                          "times) priced by %s's timed candidates (%zu exceptions): FP8-over-BF16 speedup of %d decode "
                          "steps, error median %.1f%%, worst %.1f%%, %d over 10%%",
                          from.c_str(), to.c_str(), to.c_str(), choices.size(), from.c_str(),
                          tc.gemm_exceptions().size(), e.count, 100 * e.median, 100 * e.max, over);
          }
          speedup_notes.push_back(buf);
        }
      }
    }
    if (!speedup_notes.empty()) {
      md << "\n";
      for (const std::string& n : speedup_notes) md << n << ".\n\n";
    }
    kernel_choice_section(md, results, by_gpu, hws);
    in_step_section(md, results, by_gpu, hws, models);
    if (results.empty()) md << "\nNo GPU has enough records to calibrate.\n";
    if (o.out.empty()) std::cout << md.str();
    else write_file_atomically(o.out, md.str());
  });
});

}  // namespace
}  // namespace roofline::cli

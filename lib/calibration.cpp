#include "roofline/calibration.hpp"

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>

#include "detail/json_reader.hpp"
#include "roofline/errors.hpp"
#include "roofline/io.hpp"

namespace roofline {

// ---- records ---------------------------------------------------------------------------------------

namespace {
constexpr const char* record_schema = "roofline.measurement.v1";
constexpr const char* calibration_schema = "roofline.calibration.v1";

MeasurementRecord parse_record(const std::string& text, const std::string& file, int line) {
  const nlohmann::json j = detail::parse_json(text, file, line - 1);
  const detail::JsonObject o(j, file, line, "");
  o.allow_only({"schema", "suite", "label", "workload", "status", "error", "time_s", "timing", "counters", "predicted_s",
                "device", "timestamp", "extra"});
  const std::string schema = o.string("schema");
  if (schema != record_schema) o.fail("schema", "expected '" + std::string(record_schema) + "', got '" + schema + "'");
  MeasurementRecord r;
  r.file = file;
  r.line = line;
  r.suite = o.string("suite");
  r.label = o.string("label");
  r.ok = o.choice("status", {"ok", "error"}) == "ok";
  if (!r.ok) r.error = o.string("error");
  if (!j.contains("workload")) o.fail("workload", "missing required key");
  try {
    r.workload = parse_workload(j["workload"].dump(), file, line);
  } catch (const ConfigError& e) {
    throw ConfigError(e.where(), "workload." + e.key_path(), e.problem());
  }
  if (r.ok) {
    const detail::JsonObject t = o.object("time_s");
    t.allow_only({"median", "min", "max", "count"});
    r.median_s = t.positive("median");
    r.min_s = t.positive("min");
    r.max_s = t.positive("max");
    r.count = int(t.positive_integer("count"));
    if (r.min_s > r.median_s || r.median_s > r.max_s) t.fail("median", "must satisfy min <= median <= max");
  }
  const detail::JsonObject timing = o.object("timing");
  timing.allow_only({"method", "l2", "kernels_per_call"});
  r.timing_method = timing.choice("method", {"cupti_activity", "cuda_graph_events", "cuda_events"});
  r.l2 = timing.choice("l2", {"cold_rotating", "cold_flushed", "cold_working_set", "warm"});
  // 0: the suite did not observe its kernels (CUPTI off); the model does not use this field.
  if (!j["timing"].contains("kernels_per_call") || !j["timing"]["kernels_per_call"].is_number_integer() ||
      j["timing"]["kernels_per_call"].get<std::int64_t>() < 0)
    timing.fail("kernels_per_call", "must be an integer >= 0");
  r.kernels_per_call = int(j["timing"]["kernels_per_call"].get<std::int64_t>());
  const detail::JsonObject counters = o.object("counters");
  for (auto it = j["counters"].begin(); it != j["counters"].end(); ++it) r.counters[it.key()] = counters.number(it.key());
  if (!j.contains("predicted_s")) o.fail("predicted_s", "missing required key (null when unknown)");
  if (!j["predicted_s"].is_null()) r.predicted_s = o.positive("predicted_s");
  const detail::JsonObject d = o.object("device");
  d.allow_only({"name", "hw_profile", "compute_capability", "sm_count", "l2_bytes", "memory_bytes", "sm_clock_hz",
                "mem_clock_hz", "clock_note", "driver", "cuda_runtime", "torch"});
  r.device.name = d.string("name");
  r.device.hw_profile = d.string("hw_profile");
  r.device.compute_capability = d.string("compute_capability");
  r.device.sm_count = int(d.positive_integer("sm_count"));
  r.device.l2_bytes = d.positive("l2_bytes");
  r.device.memory_bytes = d.positive("memory_bytes");
  r.device.sm_clock_hz = d.optional_number("sm_clock_hz").value_or(0);
  r.device.mem_clock_hz = d.optional_number("mem_clock_hz").value_or(0);
  r.device.clock_note = d.has("clock_note") && j["device"]["clock_note"].is_string() ? d.string("clock_note") : "";
  r.device.driver = d.string("driver");
  r.device.cuda_runtime = d.string("cuda_runtime");
  r.device.torch = d.has("torch") && j["device"]["torch"].is_string() ? d.string("torch") : "";
  r.timestamp = o.string("timestamp");
  r.extra_json = j.contains("extra") ? j["extra"].dump() : "{}";
  return r;
}
}  // namespace

std::vector<MeasurementRecord> load_records(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError({file.string(), 0, 0}, "", "cannot open measurement file");
  std::vector<MeasurementRecord> out;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find('\0') != std::string::npos) throw ConfigError({file.string(), line, 0}, "", "not a text file (NUL bytes)");
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(parse_record(text, file.string(), line));
  }
  if (out.empty()) throw ConfigError({file.string(), 0, 0}, "", "no measurement records in file");
  return out;
}

std::vector<MeasurementRecord> load_record_directory(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<MeasurementRecord> out;
  for (const auto& f : files) {
    auto r = load_records(f);
    out.insert(out.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
  }
  return out;
}

// ---- statistics -----------------------------------------------------------------------------------

namespace {
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t i = std::size_t(std::floor(pos));
  const double f = pos - double(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

ErrorStats error_stats(const std::vector<double>& predicted_s, const std::vector<double>& measured_s) {
  ErrorStats s;
  std::vector<double> e;
  for (std::size_t i = 0; i < predicted_s.size() && i < measured_s.size(); ++i)
    e.push_back(std::fabs(predicted_s[i] - measured_s[i]) / measured_s[i]);
  s.count = int(e.size());
  if (e.empty()) return s;
  s.mape = std::accumulate(e.begin(), e.end(), 0.0) / double(e.size());
  s.median = quantile(e, 0.5);
  s.p90 = quantile(e, 0.9);
  s.max = *std::max_element(e.begin(), e.end());
  return s;
}

bool CalibrationResult::all_converged() const {
  return std::all_of(fits.begin(), fits.end(), [](const KeyFit& f) { return !f.fitted || f.converged; });
}

// ---- the fit --------------------------------------------------------------------------------------

namespace {
constexpr int n_params = 8;
using Vec = Eigen::Matrix<double, n_params, 1>;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

// Transformed parameters: log fixed cost (µs), logit efficiencies, logit of (p − 1)/15, logit occupancy,
// log of the per-tile K overhead (in units of 64 elements of K), log of the serial step (in units of 0.1 µs),
// log of the burst window (ms).
Vec to_theta(const KernelParams& p) {
  Vec t;
  t << std::log(std::max(p.fixed_s, 1e-9) / 1e-6), logit(p.memory_efficiency_fraction), logit(p.compute_efficiency_fraction),
      logit((p.overlap_exponent - 1.0) / 15.0), logit(p.occupancy_fraction),
      std::log(std::max(p.tile_overhead_k_elements, 1.0) / 64.0), std::log(std::max(p.serial_step_s, 1e-9) / 1e-7),
      std::log(std::max(p.burst_s, 1e-9) / 1e-3);
  return t;
}

KernelParams from_theta(const Vec& t, KernelParams base) {
  base.fixed_s = 1e-6 * std::exp(std::clamp(t(0), std::log(0.02), std::log(500.0)));
  base.memory_efficiency_fraction = sigmoid(t(1));
  base.compute_efficiency_fraction = sigmoid(t(2));
  base.overlap_exponent = 1.0 + 15.0 * sigmoid(t(3));
  base.occupancy_fraction = sigmoid(t(4));
  base.tile_overhead_k_elements = 64.0 * std::exp(std::clamp(t(5), std::log(1.0 / 64), std::log(64.0)));
  base.serial_step_s = 1e-7 * std::exp(std::clamp(t(6), std::log(0.1), std::log(100.0)));  // 10 ns .. 10 µs
  base.burst_s = 1e-3 * std::exp(std::clamp(t(7), std::log(0.05), std::log(1000.0)));     // 50 µs .. 1 s
  return base;
}

struct Sample {
  const MeasurementRecord* record;
  Op op;
  std::uint64_t fold_hash;
};

// Levenberg–Marquardt on r_i = log(pred_i / meas_i) plus ridge terms sqrt(ridge)·(θ − θ_prior).
struct LmResult {
  Vec theta;
  bool converged = false;
  int iterations = 0;
};

// `fixed`: a bit per transformed parameter held at the prior's value (its Jacobian column is zero, so the
// step leaves it).
LmResult fit_key(const std::vector<const Sample*>& samples, const ParamKey& key, const KernelParams& prior,
                 const HardwareSpec& hw, Calibration& scratch, const FitOptions& opt, unsigned fixed = 0) {
  const Vec theta0 = to_theta(prior);
  const std::size_t n = samples.size();
  const double sr = std::sqrt(opt.ridge);
  auto held = [&](Vec t) {
    for (int j = 0; j < n_params; ++j)
      if (fixed & (1u << j)) t(j) = theta0(j);
    return t;
  };
  auto residuals = [&](const Vec& free, Eigen::VectorXd& r) {
    const Vec t = held(free);
    scratch.set(key, from_theta(t, prior));
    r.resize(Eigen::Index(n + n_params));
    for (std::size_t i = 0; i < n; ++i) {
      const double p = predict(samples[i]->op, hw, scratch).time_s;
      r(Eigen::Index(i)) = std::log(p / samples[i]->record->median_s);
    }
    for (int j = 0; j < n_params; ++j) r(Eigen::Index(n) + j) = sr * (t(j) - theta0(j));
  };
  // The occupancy term clamps at 1, so the cost is flat in it wherever every sample is saturated: start
  // from the prior and from low and high occupancy fractions, keep the lowest cost.
  LmResult best;
  double best_cost = std::numeric_limits<double>::infinity();
  for (const double start : {std::numeric_limits<double>::quiet_NaN(), 0.2, 0.85}) {
    LmResult res;
    Vec t = theta0;
    if (!std::isnan(start)) {
      if (std::fabs(sigmoid(theta0(4)) - start) < 0.05) continue;
      t(4) = logit(start);
    }
    Eigen::VectorXd r, r2;
    residuals(t, r);
    double cost = r.squaredNorm();
    double mu = 1e-2;
    for (res.iterations = 0; res.iterations < opt.max_iterations; ++res.iterations) {
      Eigen::MatrixXd J(r.size(), n_params);
      for (int j = 0; j < n_params; ++j) {
        const double h = 1e-5;
        Vec tp = t, tm = t;
        tp(j) += h;
        tm(j) -= h;
        Eigen::VectorXd rp, rm;
        residuals(tp, rp);
        residuals(tm, rm);
        J.col(j) = (rp - rm) / (2 * h);
      }
      const Eigen::Matrix<double, n_params, n_params> JtJ = J.transpose() * J;
      const Vec g = J.transpose() * r;
      bool improved = false;
      for (int attempt = 0; attempt < 12; ++attempt) {
        Eigen::Matrix<double, n_params, n_params> A = JtJ;
        for (int j = 0; j < n_params; ++j) A(j, j) += mu * (JtJ(j, j) + 1e-9);
        const Vec step = A.ldlt().solve(-g);
        const Vec tn = t + step;
        residuals(tn, r2);
        const double c2 = r2.squaredNorm();
        if (std::isfinite(c2) && c2 < cost) {
          const double rel = (cost - c2) / std::max(cost, 1e-300);
          t = tn;
          r = r2;
          cost = c2;
          mu = std::max(mu / 3, 1e-12);
          improved = true;
          if (rel < 1e-10 || step.norm() < 1e-8) res.converged = true;
          break;
        }
        mu *= 4;
      }
      if (!improved) {  // no descent direction left: a (local) minimum
        res.converged = g.norm() < 1e-3 * std::max(1.0, std::sqrt(cost)) || mu > 1e6;
        break;
      }
      if (res.converged) break;
    }
    res.theta = held(t);
    if (cost < best_cost) {
      best_cost = cost;
      best = res;
    }
  }
  scratch.set(key, prior);
  return best;
}

bool is_single_key(const std::vector<Op>& ops) {
  if (ops.size() != 1) return false;
  return ops[0].instances == 1;
}

// Adjacent Ms of one (math path, N, K) flagged the same way (sign 1: slower than predicted, -1: faster) form
// one GemmException; sign 0 ends the run. Returns the entry M went into, or nullptr when it was not flagged.
GemmException* flag_m(std::vector<GemmException>& out, int& run_sign, int sign, MathPath math, std::int64_t n,
                      std::int64_t k, std::int64_t m, double ratio) {
  if (sign == 0) {
    run_sign = 0;
    return nullptr;
  }
  if (sign != run_sign) out.push_back(GemmException{math, n, k, {}, {}, {}});  // a new run of flagged Ms
  run_sign = sign;
  GemmException& e = out.back();
  e.m.push_back(m);
  e.ratio.push_back(ratio);
  return &e;
}

// Measured library kernel choices the model cannot see (GemmException): fitted GEMM records whose
// measured / predicted ratio under the final fit lies beyond the square of the key's 90% held-out band and
// at least 25% off; adjacent measured Ms of one (math path, N, K) flagged the same way form one entry.
std::vector<GemmException> find_gemm_exceptions(const std::vector<Sample>& samples, const HardwareSpec& hw,
                                                const Calibration& cal) {
  struct Point {
    std::int64_t m;
    double ratio;
    std::string source;
  };
  // Two timings of each record: the CUDA-event median (what the fit uses) and, where the harness took it, the
  // CUPTI kernel time plus the key's median event - kernel gap (launch gaps inside the replayed graph). An
  // event median can be inflated by a clock dip in its run; a kernel choice shows in both. A record is
  // flagged only when both ratios are beyond the band, with the one nearer 1.
  std::map<MathPath, std::vector<double>> gaps;
  std::vector<double> kernel_s(samples.size(), 0);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (s.op.kernel != KernelClass::gemm) continue;
    const nlohmann::json x = nlohmann::json::parse(s.record->extra_json, nullptr, false);
    if (x.is_object() && x.contains("cupti_kernel_sum_s") && x["cupti_kernel_sum_s"].is_number() &&
        x["cupti_kernel_sum_s"].get<double>() > 0) {
      kernel_s[i] = x["cupti_kernel_sum_s"].get<double>();
      gaps[s.op.math].push_back(s.record->median_s - kernel_s[i]);
    }
  }
  std::map<MathPath, double> gap;
  for (auto& [math, v] : gaps) gap[math] = std::max(0.0, quantile(v, 0.5));
  std::map<std::tuple<MathPath, std::int64_t, std::int64_t>, std::vector<Point>> by_nk;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (s.op.kernel != KernelClass::gemm || s.op.gemm.groups != 1) continue;
    const double predicted = predict(s.op, hw, cal).time_s;
    if (!(predicted > 0)) continue;
    const double event = s.record->median_s / predicted;
    const double kernel = kernel_s[i] > 0 ? (kernel_s[i] + gap[s.op.math]) / predicted : event;
    const bool agree = (event > 1) == (kernel > 1);
    const double ratio = !agree ? 1.0 : std::fabs(std::log(event)) < std::fabs(std::log(kernel)) ? event : kernel;
    by_nk[{s.op.math, s.op.gemm.n, s.op.gemm.k}].push_back(
        {s.op.gemm.m, ratio, s.record->file + ":" + std::to_string(s.record->line)});
  }
  std::vector<GemmException> out;
  for (auto& [nk, points] : by_nk) {
    const auto& [math, n, k] = nk;
    const KernelParams& p = cal.params(ParamKey{KernelClass::gemm, math});
    // Beyond the square of the key's 90% held-out band, and material (25% or more off).
    const double hi = std::max(1.25, p.interval_high_fraction * p.interval_high_fraction);
    const double lo = std::min(0.8, p.interval_low_fraction * p.interval_low_fraction);
    // One ratio per measured M (the median of its records), in ascending M.
    std::map<std::int64_t, std::vector<const Point*>> by_m;
    for (const Point& pt : points) by_m[pt.m].push_back(&pt);
    int run_sign = 0;  // the direction of the entry being built; 0: none open
    for (const auto& [m, at] : by_m) {
      std::vector<double> r;
      for (const Point* pt : at) r.push_back(pt->ratio);
      const double ratio = quantile(r, 0.5);
      GemmException* e = flag_m(out, run_sign, ratio > hi ? 1 : ratio < lo ? -1 : 0, math, n, k, m, ratio);
      if (!e) continue;
      for (const Point* pt : at) e->source += (e->source.empty() ? "" : ", ") + pt->source;
    }
  }
  return out;
}


// The sm_partition suite's pairs: one workload timed on all SMs (extra.green_context_sms null) and in a
// partition of k of extra.device_sms SMs. time(f) = a + b / f with f = k / SMs gives b = (t_k - t_all) /
// (1 / f - 1), the SM-scaled share b / t_all (clamped to [0, 1]); per parameter key the largest (the most
// SM-bound of its measured sizes).
std::map<std::string, std::pair<double, std::string>> sm_shares_of(const std::vector<const MeasurementRecord*>& recs,
                                                                    const HardwareSpec& hw, const ModelRegistry& models) {
  struct Pair {
    const Workload* workload = nullptr;
    double all = 0, part = 0, fraction = 0;
    std::string source;
  };
  std::map<std::string, Pair> by_workload;
  for (const MeasurementRecord* r : recs) {
    const nlohmann::json extra = detail::parse_json(r->extra_json, r->file, r->line - 1);
    const detail::JsonObject x(extra, r->file, r->line, "extra");
    if (!x.has("device_sms")) x.fail("device_sms", "an sm_partition record needs the device's SM count");
    const double sms = x.positive("device_sms");
    Pair& p = by_workload[workload_json(r->workload)];
    p.workload = &r->workload;
    const std::optional<double> part_sms = x.optional_number("green_context_sms");
    if (!part_sms) {
      p.all = r->median_s;
    } else {
      if (!(*part_sms > 0 && *part_sms < sms))
        x.fail("green_context_sms", "must be null (all SMs) or a number of SMs below extra.device_sms");
      p.part = r->median_s;
      p.fraction = *part_sms / sms;
      p.source = r->file + ":" + std::to_string(r->line);
    }
  }
  std::map<std::string, std::pair<double, std::string>> out;
  for (const auto& [text, p] : by_workload) {
    if (!(p.all > 0) || !(p.part > 0)) continue;
    const std::vector<Op> ops = workload_ops(*p.workload, hw, models);
    if (ops.size() != 1) continue;
    const double b = (p.part - p.all) / (1.0 / p.fraction - 1.0);
    const double share = std::clamp(b / p.all, 0.0, 1.0);
    const std::string key = to_string(param_key(ops[0]));
    auto it = out.find(key);
    if (it == out.end() || share > it->second.first) out[key] = {share, p.source};
  }
  return out;
}

// The l2_warm suite's pairs: one workload timed with L2-resident inputs (timing.l2 "warm") and cold
// ("cold_rotating"); per parameter key the median warm / cold ratio and the largest bytes measured.
std::map<std::string, L2Warm> l2_warm_of(const std::vector<const MeasurementRecord*>& recs, const HardwareSpec& hw,
                                         const ModelRegistry& models) {
  struct Pair {
    const MeasurementRecord* record = nullptr;
    double warm = 0, cold = 0;
  };
  std::map<std::string, Pair> by_workload;
  for (const MeasurementRecord* r : recs) {
    Pair& p = by_workload[workload_json(r->workload)];
    p.record = r;
    (r->l2 == "warm" ? p.warm : p.cold) = r->median_s;
  }
  std::map<std::string, std::vector<double>> ratios;
  std::map<std::string, L2Warm> out;
  for (const auto& [text, p] : by_workload) {
    if (!(p.warm > 0) || !(p.cold > 0)) continue;
    const MeasurementRecord* r = p.record;
    std::vector<Op> ops;
    try {
      ops = workload_ops(r->workload, hw, models);
    } catch (const Error&) {
      continue;
    }
    if (ops.size() != 1) continue;
    const std::string key = to_string(param_key(ops[0]));
    ratios[key].push_back(p.warm / p.cold);
    L2Warm& w = out[key];
    w.max_bytes = std::max(w.max_bytes, ops[0].bytes.total() / std::max(1, ops[0].kernels_per_instance));
    w.source = r->file;
  }
  for (auto& [key, w] : out) {
    w.pairs = int(ratios[key].size());
    w.ratio = quantile(ratios[key], 0.5);
  }
  return out;
}

}  // namespace

bool suite_listed(const std::vector<std::string>& suites, const std::string& suite) {
  return std::find(suites.begin(), suites.end(), suite) != suites.end();
}

bool is_sustained_ceiling(const MeasurementRecord& rec) {
  return rec.suite == "ceilings" && rec.workload.kind == WorkloadKind::gemm && rec.label.ends_with("_sustained");
}

CalibrationResult calibrate(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                            const ModelRegistry& models, const FitOptions& opt) {
  if (opt.folds < 2) throw InvalidArgumentError("folds: must be >= 2, got " + std::to_string(opt.folds));
  CalibrationResult result;
  result.gpu = hw.name;
  result.created_utc = utc_now();
  const Calibration priors = Calibration::priors(hw);
  std::set<std::string> files;

  // Decompose records into samples (fitted) and evaluation-only records.
  std::vector<const MeasurementRecord*> partition_records;
  std::vector<const MeasurementRecord*> warm_records;
  std::vector<Sample> fit_samples;
  std::vector<const MeasurementRecord*> eval_records;
  for (const MeasurementRecord& rec : records) {
    if (!rec.ok || rec.device.hw_profile != hw.name) {
      ++result.records_skipped;
      continue;
    }
    files.insert(rec.file);
    if (rec.suite == sm_partition_suite) {
      partition_records.push_back(&rec);
      continue;
    }
    if (rec.suite == l2_warm_suite) {
      warm_records.push_back(&rec);
      continue;
    }
    if (suite_listed(opt.microbenchmark_suites, rec.suite)) continue;
    if (result.device.name.empty()) result.device = rec.device;
    // Back-to-back saturating GEMMs after the power limit has pulled the clocks down: the sustained ceiling
    // of their math path, an input of the model (Load::sustained), so never counted as its error.
    if (is_sustained_ceiling(rec)) {
      const Op op = gemm_op(rec.workload.gemm, rec.workload.dtype, rec.workload.dtype, hw);
      const double rate = op.flops / rec.median_s;
      auto& slot = result.sustained[op.math];
      if (rate > slot.first) slot = {rate, rec.file + ":" + std::to_string(rec.line)};
      continue;
    }
    const bool fit_suite = suite_listed(opt.fit_suites, rec.suite);
    std::vector<Op> ops;
    try {
      ops = workload_ops(rec.workload, hw, models);
    } catch (const Error& e) {
      ++result.records_skipped;
      result.warnings.push_back(rec.file + ":" + std::to_string(rec.line) + ": skipped: " + e.what());
      continue;
    }
    // Launch and stream microbenchmarks measure ceilings and overheads; they are reported, never fitted.
    const bool fittable = rec.workload.kind == WorkloadKind::gemm || rec.workload.kind == WorkloadKind::attention ||
                          rec.workload.kind == WorkloadKind::elementwise;
    if (fit_suite && fittable && is_single_key(ops)) {
      fit_samples.push_back(Sample{&rec, ops[0], fnv1a(workload_json(rec.workload))});
    } else {
      eval_records.push_back(&rec);
    }
  }
  result.record_files.assign(files.begin(), files.end());
  result.sm_shares = sm_shares_of(partition_records, hw, models);
  result.l2_warm = l2_warm_of(warm_records, hw, models);

  // Group fitted samples by parameter key.
  std::map<std::string, std::pair<ParamKey, std::vector<const Sample*>>> by_key;
  for (const Sample& s : fit_samples) {
    const ParamKey k = param_key(s.op);
    auto& slot = by_key[to_string(k)];
    slot.first = k;
    slot.second.push_back(&s);
  }

  Calibration cal = priors;
  cal.set_status("calibrated");
  Calibration scratch = priors;
  for (const auto& [path, v] : result.sustained) scratch.set_sustained_flop_per_s(path, v.first);
  int fitted_keys = 0;
  // The follow-up kernel's key first: the other keys' predictions use its fixed cost (Op::follow_up_kernels).
  // Decode attention last: a decode key whose kernel is its prefill key's (shares_prefill_compute) takes
  // that key's fitted compute efficiency.
  std::vector<std::pair<ParamKey, std::vector<const Sample*>>*> order;
  for (auto& [name, slot] : by_key)
    if (slot.first == follow_up_kernel_key) order.insert(order.begin(), &slot);
    else if (slot.first.kernel != KernelClass::attention_decode) order.push_back(&slot);
  for (auto& [name, slot] : by_key)
    if (slot.first.kernel == KernelClass::attention_decode) order.push_back(&slot);
  for (auto* slot_ptr : order) {
    auto& slot = *slot_ptr;
    const ParamKey& key = slot.first;
    const std::vector<const Sample*>& samples = slot.second;
    KeyFit kf;
    kf.key = key;
    kf.records = int(samples.size());
    KernelParams prior = priors.params(key);
    unsigned fixed = 0;
    std::string tied;
    if (shares_prefill_compute(key)) {
      ParamKey prefill = key;
      prefill.kernel = KernelClass::attention_prefill;
      const KernelParams& q = cal.params(prefill);
      if (q.provenance == Provenance::measured) {
        prior.compute_efficiency_fraction = q.compute_efficiency_fraction;
        fixed = 1u << 2;  // to_theta's index of the compute efficiency
        tied = "compute efficiency held at " + to_string(prefill) + "'s (the same kernel)";
      }
    }
    std::vector<double> meas, prior_pred, floor_pred;
    for (const Sample* s : samples) {
      meas.push_back(s->record->median_s);
      prior_pred.push_back(predict(s->op, hw, priors).time_s);
      floor_pred.push_back(datasheet_floor_s(s->op, hw));
    }
    kf.prior_cv = error_stats(prior_pred, meas);
    kf.datasheet = error_stats(floor_pred, meas);
    if (kf.records < opt.min_records) {
      kf.fitted = false;
      kf.params = prior;
      kf.message = "only " + std::to_string(kf.records) + " records (need " + std::to_string(opt.min_records) + "): prior kept";
      result.fits.push_back(kf);
      continue;
    }
    // k-fold over shapes: a shape's records share one fold.
    std::vector<double> cv_pred(samples.size(), 0), cv_log_res;
    for (int f = 0; f < opt.folds; ++f) {
      std::vector<const Sample*> train;
      std::vector<std::size_t> test;
      for (std::size_t i = 0; i < samples.size(); ++i) {
        if (int(samples[i]->fold_hash % std::uint64_t(opt.folds)) == f) test.push_back(i);
        else train.push_back(samples[i]);
      }
      if (test.empty()) continue;
      const bool enough = int(train.size()) >= std::max(3, opt.min_records / 2);
      const KernelParams p = enough ? from_theta(fit_key(train, key, prior, hw, scratch, opt, fixed).theta, prior) : prior;
      scratch.set(key, p);
      for (std::size_t i : test) cv_pred[i] = predict(samples[i]->op, hw, scratch).time_s;
      scratch.set(key, prior);
    }
    for (std::size_t i = 0; i < samples.size(); ++i) cv_log_res.push_back(std::log(meas[i] / cv_pred[i]));
    kf.heldout_cv = error_stats(cv_pred, meas);

    const LmResult lm = fit_key(samples, key, prior, hw, scratch, opt, fixed);
    kf.fitted = true;
    kf.converged = lm.converged;
    kf.iterations = lm.iterations;
    kf.params = from_theta(lm.theta, prior);
    kf.params.provenance = Provenance::measured;
    kf.params.records = kf.records;
    kf.params.heldout_median_error_fraction = kf.heldout_cv.median;
    // Interval: the 5th..95th percentile of held-out measured/predicted ratios (min..max widened by 20%
    // below 20 records), always containing 1. The grid suites' shapes are easier than the random draws that
    // stand for deployments (the hold-out and fresh suites are drawn alike): with 20 or more held-out
    // residuals from the key's random suites, the wider of the two bands (their coverage on never-fitted
    // suites: docs/accuracy.md, "in interval").
    double lo = 0, hi = 0;
    if (cv_log_res.size() >= 20) {
      lo = quantile(cv_log_res, 0.05);
      hi = quantile(cv_log_res, 0.95);
      std::vector<double> random_res;
      for (std::size_t i = 0; i < samples.size(); ++i)
        if (suite_listed(opt.random_suites, samples[i]->record->suite)) random_res.push_back(cv_log_res[i]);
      if (random_res.size() >= 20) {
        lo = std::min(lo, quantile(random_res, 0.05));
        hi = std::max(hi, quantile(random_res, 0.95));
      }
    } else {
      lo = 1.2 * *std::min_element(cv_log_res.begin(), cv_log_res.end());
      hi = 1.2 * *std::max_element(cv_log_res.begin(), cv_log_res.end());
    }
    if (const auto it = result.sm_shares.find(to_string(key)); it != result.sm_shares.end())
      kf.params.sm_share = it->second.first;
    if (const auto it = result.l2_warm.find(to_string(key)); it != result.l2_warm.end()) {
      kf.params.l2_warm_ratio = it->second.ratio;
      kf.params.l2_warm_max_bytes = it->second.max_bytes;
    }
    kf.params.interval_low_fraction = std::min(1.0, std::exp(lo));
    kf.params.interval_high_fraction = std::max(1.0, std::exp(hi));
    kf.message = tied;
    if (!lm.converged)
      kf.message = (tied.empty() ? "" : tied + "; ") + "did not converge in " + std::to_string(opt.max_iterations) + " iterations";
    cal.set(key, kf.params);
    scratch.set(key, kf.params);
    std::vector<double> train_pred;
    for (const Sample* s : samples) train_pred.push_back(predict(s->op, hw, scratch).time_s);
    if (!(key == follow_up_kernel_key)) scratch.set(key, prior);  // the follow-up cost stays for the other keys
    kf.train = error_stats(train_pred, meas);
    result.records_used += kf.records;
    ++fitted_keys;
    result.fits.push_back(kf);
  }
  std::sort(result.fits.begin(), result.fits.end(),
            [](const KeyFit& a, const KeyFit& b) { return to_string(a.key) < to_string(b.key); });
  if (fitted_keys == 0) {
    throw InvalidArgumentError("calibration of " + hw.name + ": no parameter key has " + std::to_string(opt.min_records) +
                               " or more usable records (" + std::to_string(fit_samples.size()) + " fit records, " +
                               std::to_string(result.records_skipped) + " skipped)");
  }
  for (const auto& [path, v] : result.sustained) cal.set_sustained_flop_per_s(path, v.first);
  result.session = session_band(records, hw, opt);
  cal.set_session_band_fraction(result.session.band_fraction);
  if (opt.gemm_exceptions) cal.set_gemm_exceptions(find_gemm_exceptions(fit_samples, hw, cal));
  cal.set_gemm_candidates(gemm_candidates_of(records, hw));
  result.calibration = cal;
  std::vector<MeasurementRecord> eval_copy;
  for (const MeasurementRecord* r : eval_records) eval_copy.push_back(*r);
  result.evaluations = evaluate(eval_copy, hw, cal, models);

  // FP8-over-BF16 speedups of model steps measured in pairs (speedup_checks keeps the model steps).
  result.speedups = speedup_checks(eval_copy, hw, cal, models);
  return result;
}

SessionBand session_band(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw, const FitOptions& opt) {
  SessionBand b;
  std::vector<double> log_ratios;
  std::map<std::string, std::vector<double>> by_reference;  // earlier suite -> each later session's median log ratio
  for (const auto& [later, earlier] : opt.session_pairs) {
    const std::size_t before = log_ratios.size();
    std::map<std::string, double> first;
    for (const MeasurementRecord& r : records)
      if (r.ok && r.device.hw_profile == hw.name && r.suite == earlier) first[workload_json(r.workload)] = r.median_s;
    bool any = false;
    for (const MeasurementRecord& r : records) {
      if (!r.ok || r.device.hw_profile != hw.name || r.suite != later) continue;
      const auto it = first.find(workload_json(r.workload));
      if (it == first.end()) continue;
      log_ratios.push_back(std::log(r.median_s / it->second));
      any = true;
    }
    if (!any) continue;
    b.suites += (b.suites.empty() ? "" : ", ") + later + " / " + earlier;
    by_reference[earlier].push_back(
        quantile(std::vector<double>(log_ratios.begin() + std::ptrdiff_t(before), log_ratios.end()), 0.5));
  }
  b.pairs = int(log_ratios.size());
  if (log_ratios.empty()) return b;
  const double m = quantile(log_ratios, 0.5);
  b.median_ratio = std::exp(m);
  b.p10_ratio = std::exp(quantile(log_ratios, 0.1));
  b.p90_ratio = std::exp(quantile(log_ratios, 0.9));
  // Each session's speed is one draw: the reference session at 0 and each later one at its median log ratio;
  // their sample standard deviation (pooled over references) is the spread of one session.
  double ss = 0;
  int dof = 0;
  for (const auto& [ref, offsets] : by_reference) {
    std::vector<double> v = offsets;
    v.push_back(0.0);
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    for (double x : v) ss += (x - mean) * (x - mean);
    dof += int(v.size()) - 1;
  }
  b.sessions = dof + int(by_reference.size());
  b.band_fraction = std::exp(1.645 * std::sqrt(ss / dof)) - 1.0;
  return b;
}

std::vector<SpeedupCheck> speedup_checks(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                                         const Calibration& calibration, const ModelRegistry& models) {
  std::map<std::pair<std::string, std::string>, std::pair<const MeasurementRecord*, const MeasurementRecord*>> pairs;
  for (const MeasurementRecord& r : records) {
    if (!r.ok || r.device.hw_profile != hw.name || r.workload.kind != WorkloadKind::model_step) continue;
    if (r.workload.weights != Precision::bf16 && r.workload.weights != Precision::fp8_e4m3) continue;
    Workload base = r.workload;
    base.weights = Precision::bf16;
    // Keyed by suite too: a session re-run (FitOptions::session_pairs) pairs within its own session.
    auto& p = pairs[{r.suite, workload_json(base)}];
    (r.workload.weights == Precision::bf16 ? p.first : p.second) = &r;
  }
  std::vector<SpeedupCheck> out;
  for (auto& [key, p] : pairs) {
    if (!p.first || !p.second) continue;
    SpeedupCheck sc;
    sc.suite = key.first;
    sc.workload = key.second;
    sc.measured_speedup = p.first->median_s / p.second->median_s;
    sc.predicted_speedup = predict_workload(p.first->workload, hw, calibration, models).time_s /
                           predict_workload(p.second->workload, hw, calibration, models).time_s;
    sc.error_fraction = std::fabs(sc.predicted_speedup - sc.measured_speedup) / sc.measured_speedup;
    out.push_back(sc);
  }
  return out;
}

double datasheet_roofline_s(const Workload& w, const HardwareSpec& hw, const ModelRegistry& models) {
  double t = 0;
  for (const Op& op : workload_ops(w, hw, models)) t += datasheet_floor_s(op, hw) * op.instances;
  return t;
}

std::vector<EvaluationGroup> evaluate(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                                      const Calibration& calibration, const ModelRegistry& models) {
  const Calibration priors = Calibration::priors(hw);
  std::map<std::string, std::array<std::vector<double>, 4>> groups;  // prior, calibrated, measured, datasheet
  std::map<std::string, int> inside;  // measured within the calibrated interval
  for (const MeasurementRecord& r : records) {
    if (!r.ok || r.device.hw_profile != hw.name) continue;
    // Launch and stream records measure overheads and ceilings, not operators the model predicts.
    if (r.workload.kind == WorkloadKind::launch || r.workload.kind == WorkloadKind::stream) continue;
    // SM-partition and L2-warm records time a kernel on part of the GPU or with its inputs in L2: inputs
    // (sm_share, l2_warm_ratio), never a prediction's target.
    if (r.suite == sm_partition_suite || r.suite == l2_warm_suite) continue;
    // Sustained ceilings (inputs of the calibration that measured them) are predicted as sustained work.
    const bool sustained = is_sustained_ceiling(r);
    const std::optional<Load> load = sustained ? std::optional<Load>(Load::sustained) : std::nullopt;
    std::string name = r.suite + (sustained ? " sustained " : " ");
    try {
      const std::vector<Op> ops = workload_ops(r.workload, hw, models);
      if (r.workload.kind == WorkloadKind::model_step) {
        name += std::string(to_string(r.workload.phase)) + " " + std::string(to_string(r.workload.weights));
      } else if (r.workload.kind == WorkloadKind::launch || r.workload.kind == WorkloadKind::stream) {
        name += std::string(to_string(r.workload.kind));
      } else {
        name += to_string(param_key(ops.at(0)));
      }
      const double prior_s = predict_workload(r.workload, hw, priors, models, load).time_s;
      const WorkloadPrediction p = predict_workload(r.workload, hw, calibration, models, load);
      auto& g = groups[name];
      g[0].push_back(prior_s);
      g[1].push_back(p.time_s);
      inside[name] += r.median_s >= p.interval_low_s && r.median_s <= p.interval_high_s;
      g[2].push_back(r.median_s);
      g[3].push_back(datasheet_roofline_s(r.workload, hw, models));
    } catch (const Error&) {
      continue;  // unknown model or unsupported kernel: not evaluable here
    }
  }
  std::vector<EvaluationGroup> out;
  for (auto& [name, g] : groups)
    out.push_back({name, error_stats(g[3], g[2]), error_stats(g[0], g[2]), error_stats(g[1], g[2]), inside[name]});
  return out;
}

// ---- calibrated profiles --------------------------------------------------------------------------

namespace {
nlohmann::json stats_json(const ErrorStats& s) {
  return {{"count", s.count}, {"mape", s.mape}, {"median", s.median}, {"p90", s.p90}, {"max", s.max}};
}
}  // namespace

void save_calibration(const CalibrationResult& r, const std::filesystem::path& file) {
  if (!r.all_converged()) throw InvalidArgumentError("calibration of " + r.gpu + " did not converge; nothing written");
  nlohmann::json params = nlohmann::json::array();
  for (const KeyFit& f : r.fits) {
    if (!f.fitted) continue;
    const KernelParams& p = f.params;
    params.push_back({{"key", to_string(f.key)},
                      {"fixed_s", p.fixed_s},
                      {"memory_efficiency_fraction", p.memory_efficiency_fraction},
                      {"compute_efficiency_fraction", p.compute_efficiency_fraction},
                      {"overlap_exponent", p.overlap_exponent},
                      {"occupancy_fraction", p.occupancy_fraction},
                      {"tile_overhead_k_elements", p.tile_overhead_k_elements},
                      {"serial_step_s", p.serial_step_s},
                      {"burst_s", p.burst_s},
                      {"interval_fraction", {p.interval_low_fraction, p.interval_high_fraction}},
                      {"records", f.records},
                      {"iterations", f.iterations},
                      {"datasheet_error", stats_json(f.datasheet)},
                      {"prior_error", stats_json(f.prior_cv)},
                      {"train_error", stats_json(f.train)},
                      {"heldout_error", stats_json(f.heldout_cv)}});
    if (!f.message.empty()) params.back()["note"] = f.message;
    if (p.l2_warm_ratio != 1.0) {
      const auto measured = r.l2_warm.find(to_string(f.key));
      params.back()["l2_warm_ratio"] = p.l2_warm_ratio;
      params.back()["l2_warm_max_bytes"] = p.l2_warm_max_bytes;
      params.back()["l2_warm_records"] = measured != r.l2_warm.end() ? measured->second.source : "";
    }
    if (p.sm_share >= 0) {
      const auto measured = r.sm_shares.find(to_string(f.key));
      params.back()["sm_share"] = p.sm_share;
      params.back()["sm_share_record"] = measured != r.sm_shares.end() ? measured->second.second : "";
    }
  }
  nlohmann::json evals = nlohmann::json::array();
  for (const EvaluationGroup& g : r.evaluations)
    evals.push_back({{"group", g.name},
                     {"datasheet_error", stats_json(g.datasheet)},
                     {"prior_error", stats_json(g.prior)},
                     {"calibrated_error", stats_json(g.calibrated)},
                     {"inside_interval", g.inside_interval}});
  nlohmann::json sustained = nlohmann::json::array();
  for (const auto& [path, v] : r.sustained)
    sustained.push_back({{"math", to_string(path)}, {"flop_per_s", v.first}, {"record", v.second}});
  nlohmann::json exceptions = nlohmann::json::array();
  for (const GemmException& e : r.calibration.gemm_exceptions())
    exceptions.push_back({{"math", to_string(e.math)}, {"n", e.n}, {"k", e.k}, {"m", e.m}, {"ratio", e.ratio},
                          {"records", e.source}});
  nlohmann::json candidates = nlohmann::json::array();
  for (const GemmCandidate& g : r.calibration.gemm_candidates())
    candidates.push_back({{"math", to_string(g.math)}, {"m", g.m}, {"n", g.n}, {"k", g.k}, {"rank", g.rank},
                          {"algorithm", g.algorithm}, {"kernel", g.kernel}, {"time_s", g.time_s}});
  nlohmann::json speedups = nlohmann::json::array();
  for (const SpeedupCheck& s : r.speedups)
    speedups.push_back({{"suite", s.suite}, {"workload", s.workload}, {"measured", s.measured_speedup}, {"predicted", s.predicted_speedup},
                        {"error_fraction", s.error_fraction}});
  const nlohmann::json j = {
      {"schema", calibration_schema},
      {"gpu", r.gpu},
      {"created_utc", r.created_utc},
      {"fit",
       "Levenberg-Marquardt on log(predicted/measured) per parameter key, ridge towards the documented priors; "
       "errors held out by k-fold over shapes; suites outside the fit set evaluated only"},
      {"record_files", r.record_files},
      {"records_used", r.records_used},
      {"records_skipped", r.records_skipped},
      {"device",
       {{"name", r.device.name},
        {"driver", r.device.driver},
        {"cuda_runtime", r.device.cuda_runtime},
        {"torch", r.device.torch},
        {"sm_clock_hz", r.device.sm_clock_hz},
        {"mem_clock_hz", r.device.mem_clock_hz}}},
      {"params", params},
      {"sustained_flop_per_s", sustained},
      {"gemm_exceptions", exceptions},
      {"gemm_candidates", candidates},
      {"session_band",
       {{"band_fraction", r.session.band_fraction},
        {"pairs", r.session.pairs},
        {"median_ratio", r.session.median_ratio},
        {"p10_ratio", r.session.p10_ratio},
        {"p90_ratio", r.session.p90_ratio},
        {"suites", r.session.suites},
        {"sessions", r.session.sessions},
        {"rule", "90% half-width of one session's speed: exp(1.645 s) - 1, s the sample standard deviation of "
                 "the sessions' median log time ratios to the reference session (0 for it); every workload's "
                 "interval adds it in quadrature"}}},
      {"evaluations", evals},
      {"speedups", speedups},
      {"warnings", r.warnings},
  };
  write_file_atomically(file, j.dump(1) + "\n");
}

namespace {
// The "math" key of a profile entry, refused with its key path when it names no math path.
MathPath read_math(const detail::JsonObject& e) {
  const std::string math = e.string("math");
  try {
    return parse_math_path(math);
  } catch (const UnknownNameError&) {
    e.fail("math", "unknown math path '" + math + "'");
  }
  return MathPath::tc_16bit;  // not reached: fail() throws
}

// A JSON file of one GPU (`what`: "calibration file", "kernel-choice file"): parsed, its schema and GPU
// checked; ConfigError naming the file and the key otherwise.
nlohmann::json read_gpu_json(const std::filesystem::path& file, const char* what, const char* schema,
                             const char* made_for, const HardwareSpec& hw) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError({file.string(), 0, 0}, "", std::string("cannot open ") + what);
  std::ostringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = detail::parse_json(ss.str(), file.string());
  const detail::JsonObject o(j, file.string(), 0, "");
  const std::string got = o.string("schema");
  if (got != schema) o.fail("schema", "expected '" + std::string(schema) + "', got '" + got + "'");
  const std::string gpu = o.string("gpu");
  if (gpu != hw.name) o.fail("gpu", std::string(made_for) + " '" + gpu + "', not '" + hw.name + "'");
  return j;
}
}  // namespace

Calibration load_calibration(const std::filesystem::path& file, const HardwareSpec& hw) {
  const nlohmann::json j = read_gpu_json(file, "calibration file", calibration_schema, "this profile is for", hw);
  const detail::JsonObject o(j, file.string(), 0, "");
  Calibration c = Calibration::priors(hw);
  c.set_status("calibrated (" + std::string(o.string("created_utc")) + ")");
  c.set_source_file(file.string());
  if (!j.contains("params") || !j["params"].is_array()) o.fail("params", "must be an array");
  for (std::size_t i = 0; i < j["params"].size(); ++i) {
    const std::string path = "params[" + std::to_string(i) + "]";
    const detail::JsonObject p(j["params"][i], file.string(), 0, path);
    const std::string key = p.string("key");
    ParamKey k;
    try {
      k = parse_param_key(key);
    } catch (const Error& e) {
      p.fail("key", e.what());
    }
    KernelParams kp;
    kp.fixed_s = p.positive("fixed_s");
    kp.memory_efficiency_fraction = p.positive("memory_efficiency_fraction");
    kp.compute_efficiency_fraction = p.positive("compute_efficiency_fraction");
    if (kp.memory_efficiency_fraction > 1.0) p.fail("memory_efficiency_fraction", "must be <= 1");
    if (kp.compute_efficiency_fraction > 1.0) p.fail("compute_efficiency_fraction", "must be <= 1");
    kp.overlap_exponent = p.positive("overlap_exponent");
    kp.occupancy_fraction = p.positive("occupancy_fraction");
    kp.tile_overhead_k_elements = p.positive("tile_overhead_k_elements");
    if (p.has("serial_step_s")) kp.serial_step_s = p.positive("serial_step_s");  // absent before 2026-11-22: the prior
    if (p.has("burst_s")) kp.burst_s = p.positive("burst_s");                    // absent before 2026-12-07: the prior
    if (p.has("l2_warm_ratio")) {
      kp.l2_warm_ratio = p.number("l2_warm_ratio");
      if (!(kp.l2_warm_ratio > 0 && kp.l2_warm_ratio <= 2)) p.fail("l2_warm_ratio", "must be in (0, 2]");
      kp.l2_warm_max_bytes = p.positive("l2_warm_max_bytes");
    }
    if (p.has("sm_share")) {
      kp.sm_share = p.number("sm_share");
      if (!(kp.sm_share >= 0 && kp.sm_share <= 1)) p.fail("sm_share", "must be in [0, 1]");
    }
    const nlohmann::json& iv = j["params"][i]["interval_fraction"];
    if (!iv.is_array() || iv.size() != 2 || !iv[0].is_number() || !iv[1].is_number())
      p.fail("interval_fraction", "must be [low, high]");
    kp.interval_low_fraction = iv[0].get<double>();
    kp.interval_high_fraction = iv[1].get<double>();
    if (!(kp.interval_low_fraction > 0 && kp.interval_low_fraction <= 1 && kp.interval_high_fraction >= 1))
      p.fail("interval_fraction", "must satisfy 0 < low <= 1 <= high");
    kp.records = int(p.positive_integer("records"));
    kp.provenance = Provenance::measured;
    const detail::JsonObject h = p.object("heldout_error");
    kp.heldout_median_error_fraction = h.number("median");
    c.set(k, kp);
  }
  if (j.contains("sustained_flop_per_s")) {
    if (!j["sustained_flop_per_s"].is_array()) o.fail("sustained_flop_per_s", "must be an array");
    for (std::size_t i = 0; i < j["sustained_flop_per_s"].size(); ++i) {
      const detail::JsonObject e(j["sustained_flop_per_s"][i], file.string(), 0,
                                 "sustained_flop_per_s[" + std::to_string(i) + "]");
      const MathPath path = read_math(e);
      c.set_sustained_flop_per_s(path, e.positive("flop_per_s"));
    }
  }
  if (j.contains("session_band")) {  // absent before 2026-12-07 (session 2): no band
    const detail::JsonObject sb = o.object("session_band");
    const double f = sb.number("band_fraction");
    if (!(f >= 0 && f < 1)) sb.fail("band_fraction", "must be in [0, 1)");
    c.set_session_band_fraction(f);
  }
  if (j.contains("gemm_exceptions")) {  // absent before 2026-12-07
    if (!j["gemm_exceptions"].is_array()) o.fail("gemm_exceptions", "must be an array");
    std::vector<GemmException> list;
    for (std::size_t i = 0; i < j["gemm_exceptions"].size(); ++i) {
      const nlohmann::json& x = j["gemm_exceptions"][i];
      const detail::JsonObject e(x, file.string(), 0, "gemm_exceptions[" + std::to_string(i) + "]");
      GemmException g;
      g.math = read_math(e);
      g.n = e.positive_integer("n");
      g.k = e.positive_integer("k");
      if (!x.contains("m") || !x["m"].is_array() || x["m"].empty()) e.fail("m", "must be a non-empty array of Ms");
      if (!x.contains("ratio") || !x["ratio"].is_array() || x["ratio"].size() != x["m"].size())
        e.fail("ratio", "must be an array with one ratio per M");
      for (std::size_t q = 0; q < x["m"].size(); ++q) {
        if (!x["m"][q].is_number_integer() || x["m"][q].get<std::int64_t>() < 1 ||
            (q > 0 && x["m"][q].get<std::int64_t>() <= g.m.back()))
          e.fail("m", "must be positive integers in ascending order");
        if (!x["ratio"][q].is_number() || !(x["ratio"][q].get<double>() > 0) ||
            !std::isfinite(x["ratio"][q].get<double>()))
          e.fail("ratio", "must be positive numbers");
        g.m.push_back(x["m"][q].get<std::int64_t>());
        g.ratio.push_back(x["ratio"][q].get<double>());
      }
      g.source = e.string("records");
      list.push_back(std::move(g));
    }
    c.set_gemm_exceptions(std::move(list));
  }
  if (j.contains("gemm_candidates")) {  // absent before 2026-12-07 (session 2)
    if (!j["gemm_candidates"].is_array()) o.fail("gemm_candidates", "must be an array");
    std::vector<GemmCandidate> list;
    for (std::size_t i = 0; i < j["gemm_candidates"].size(); ++i) {
      const detail::JsonObject e(j["gemm_candidates"][i], file.string(), 0, "gemm_candidates[" + std::to_string(i) + "]");
      GemmCandidate g;
      g.math = read_math(e);
      g.m = e.positive_integer("m");
      g.n = e.positive_integer("n");
      g.k = e.positive_integer("k");
      const double rank = e.number("rank");
      if (!(rank >= 0 && rank == std::floor(rank))) e.fail("rank", "must be an integer >= 0");
      g.rank = int(rank);
      g.algorithm = e.string("algorithm");
      g.kernel = e.string("kernel");
      g.time_s = e.positive("time_s");
      list.push_back(std::move(g));
    }
    c.set_gemm_candidates(std::move(list));
  }
  return c;
}

std::string gemm_algorithm_key(const std::string& extra_json) {
  const nlohmann::json x = nlohmann::json::parse(extra_json, nullptr, false);
  if (!x.is_object() || !x.contains("algorithm") || !x["algorithm"].is_object()) return "";
  const nlohmann::json& a = x["algorithm"];
  std::string key;
  for (const auto& [field, name] : {std::pair{"algo_id", "algo"}, {"tile_id", "tile"}, {"stages_id", "stages"},
                                    {"splitk", "splitk"}, {"reduction_scheme", "reduction"}, {"swizzle", "swizzle"},
                                    {"cluster_shape_id", "cluster"}}) {
    if (!a.contains(field) || !a[field].is_number_integer()) continue;
    key += (key.empty() ? "" : " ") + std::string(name) + " " + std::to_string(a[field].get<std::int64_t>());
  }
  return key;
}

namespace {
std::string first_kernel(const std::string& extra_json) {
  const nlohmann::json x = nlohmann::json::parse(extra_json, nullptr, false);
  if (x.is_object() && x.contains("kernel_names") && x["kernel_names"].is_array() && !x["kernel_names"].empty() &&
      x["kernel_names"][0].is_string())
    return x["kernel_names"][0].get<std::string>();
  return "";
}
bool single_gemm(const MeasurementRecord& r, const HardwareSpec& hw) {
  return r.ok && r.device.hw_profile == hw.name && r.workload.kind == WorkloadKind::gemm && r.workload.gemm.groups == 1;
}
}  // namespace

std::vector<GemmCandidate> gemm_candidates_of(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw) {
  std::vector<GemmCandidate> out;
  for (const MeasurementRecord& r : records) {
    if (r.suite != "gemm_candidates" || !single_gemm(r, hw)) continue;
    const nlohmann::json x = nlohmann::json::parse(r.extra_json, nullptr, false);
    if (!x.is_object() || !x.contains("heuristic_rank") || !x["heuristic_rank"].is_number_integer()) continue;
    GemmCandidate g;
    g.math = gemm_op(r.workload.gemm, r.workload.dtype, r.workload.dtype, hw).math;
    g.m = r.workload.gemm.m;
    g.n = r.workload.gemm.n;
    g.k = r.workload.gemm.k;
    g.rank = x["heuristic_rank"].get<int>();
    g.algorithm = gemm_algorithm_key(r.extra_json);
    g.kernel = first_kernel(r.extra_json);
    g.time_s = r.median_s;
    if (!g.algorithm.empty()) out.push_back(std::move(g));
  }
  return out;
}

std::vector<KernelChoice> kernel_choices_of(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw) {
  std::vector<KernelChoice> out;
  std::set<std::tuple<MathPath, std::int64_t, std::int64_t, std::int64_t>> seen;
  for (const MeasurementRecord& r : records) {
    if (r.suite == "gemm_candidates" || !single_gemm(r, hw)) continue;
    KernelChoice c;
    c.math = gemm_op(r.workload.gemm, r.workload.dtype, r.workload.dtype, hw).math;
    c.m = r.workload.gemm.m;
    c.n = r.workload.gemm.n;
    c.k = r.workload.gemm.k;
    c.algorithm = gemm_algorithm_key(r.extra_json);
    c.kernel = first_kernel(r.extra_json);
    if (c.algorithm.empty() || !seen.insert({c.math, c.m, c.n, c.k}).second) continue;
    out.push_back(std::move(c));
  }
  return out;
}

namespace {
constexpr const char* kernel_choices_schema = "roofline.kernel_choices.v1";
}

void save_kernel_choices(const std::vector<KernelChoice>& choices, const std::string& gpu, const std::filesystem::path& file) {
  nlohmann::json list = nlohmann::json::array();
  for (const KernelChoice& c : choices)
    list.push_back({{"math", to_string(c.math)}, {"m", c.m}, {"n", c.n}, {"k", c.k}, {"algorithm", c.algorithm},
                    {"kernel", c.kernel}});
  const nlohmann::json j = {
      {"schema", kernel_choices_schema},
      {"gpu", gpu},
      {"what", "cuBLASLt's heuristic pick (its rank 0) per GEMM shape on this GPU, from the algorithm field of its "
               "GEMM records: what cublasLtMatmulAlgoGetHeuristic returns there; no time is read"},
      {"choices", list}};
  write_file_atomically(file, j.dump(1) + "\n");
}

std::vector<KernelChoice> load_kernel_choices(const std::filesystem::path& file, const HardwareSpec& hw) {
  const nlohmann::json j = read_gpu_json(file, "kernel-choice file", kernel_choices_schema, "these choices are for", hw);
  const detail::JsonObject o(j, file.string(), 0, "");
  if (!j.contains("choices") || !j["choices"].is_array()) o.fail("choices", "must be an array");
  std::vector<KernelChoice> out;
  for (std::size_t i = 0; i < j["choices"].size(); ++i) {
    const detail::JsonObject e(j["choices"][i], file.string(), 0, "choices[" + std::to_string(i) + "]");
    KernelChoice c;
    c.math = read_math(e);
    c.m = e.positive_integer("m");
    c.n = e.positive_integer("n");
    c.k = e.positive_integer("k");
    c.algorithm = e.string("algorithm");
    c.kernel = e.string("kernel");
    out.push_back(std::move(c));
  }
  return out;
}

namespace {
// The target's different cuBLASLt picks, priced by the source's timed candidates (transfer_calibration).
std::vector<GemmException> transferred_kernel_choices(const Calibration& from, const std::vector<KernelChoice>& to_choices,
                                                      const std::string& to_gpu) {
  using Shape = std::tuple<MathPath, std::int64_t, std::int64_t, std::int64_t>;  // math, n, k, m
  std::map<Shape, const KernelChoice*> choice;
  for (const KernelChoice& c : to_choices) choice[{c.math, c.n, c.k, c.m}] = &c;
  std::map<Shape, std::vector<const GemmCandidate*>> candidates;
  for (const GemmCandidate& g : from.gemm_candidates()) candidates[{g.math, g.n, g.k, g.m}].push_back(&g);
  std::vector<GemmException> out;
  int run_sign = 0;
  std::tuple<MathPath, std::int64_t, std::int64_t> run_nk{};
  for (const auto& [shape, list] : candidates) {  // ascending M within one (math, N, K)
    const auto& [math, n, k, m] = shape;
    const auto nk = std::make_tuple(math, n, k);
    if (nk != run_nk) run_sign = 0;
    run_nk = nk;
    const GemmCandidate* own = nullptr;
    for (const GemmCandidate* g : list)
      if (g->rank == 0) own = g;
    const auto it = choice.find(shape);
    const GemmCandidate* theirs = nullptr;
    if (own && it != choice.end() && it->second->algorithm != own->algorithm)
      for (const GemmCandidate* g : list)
        if (g->algorithm == it->second->algorithm && (!theirs || g->rank < theirs->rank)) theirs = g;
    const double ratio = theirs ? theirs->time_s / own->time_s : 1.0;
    // Material, as measured exceptions.
    GemmException* e = flag_m(out, run_sign, ratio >= 1.25 ? 1 : ratio <= 0.8 ? -1 : 0, math, n, k, m, ratio);
    if (!e) continue;
    char times[96];
    std::snprintf(times, sizeof times, " (%.2f us) over its pick ", theirs->time_s * 1e6);
    char own_time[32];
    std::snprintf(own_time, sizeof own_time, " (%.2f us)", own->time_s * 1e6);
    e->source += (e->source.empty() ? "" : "; ") + std::string("M ") + std::to_string(m) + ": " + to_gpu + " picks " +
                theirs->kernel + ", the source's candidate rank " + std::to_string(theirs->rank) + times + own->kernel +
                own_time;
  }
  return out;
}
}  // namespace

double transfer_streaming_efficiency(double efficiency, double eta, double from_bw, double to_bw, double sm_rate_ratio,
                                     double sm_share) {
  if (!(efficiency > 0) || !(from_bw > 0) || !(to_bw > 0) || !(sm_rate_ratio > 0)) return efficiency;
  // The share of the time per byte a faster HBM can shorten: what the source GPU's best streaming efficiency
  // allows (1 / (eta x bandwidth) of it is the HBM's), and at most what the SM-partition probe left
  // unexplained by the SMs. The rest is SM-side (bytes in flight per SM over a latency the HBM does not set).
  double hbm_share = eta > 0 ? std::min(1.0, efficiency / eta) : 1.0;
  if (sm_share >= 0) hbm_share = std::min(hbm_share, 1.0 - std::min(1.0, sm_share));
  if (hbm_share >= 1.0) return efficiency;
  const double per_byte = 1.0 / (efficiency * from_bw);
  const double target = hbm_share * per_byte * (from_bw / to_bw) + (1.0 - hbm_share) * per_byte / sm_rate_ratio;
  return 1.0 / (target * to_bw);
}

Calibration transfer_calibration(const Calibration& from, const HardwareSpec& from_hw, const HardwareSpec& to_hw,
                                 const std::vector<KernelChoice>& to_choices) {
  Calibration c = Calibration::priors(to_hw);
  const double clock_ratio = (from_hw.boost_clock_hz && to_hw.boost_clock_hz)
                                 ? from_hw.boost_clock_hz->value / to_hw.boost_clock_hz->value
                                 : 1.0;
  // SIMT streaming kernels (elementwise, norm, embedding): the one closest to the HBM sets the HBM's
  // streaming efficiency eta on the source GPU; what any other falls short of it is SM-side (Little's law:
  // bytes in flight per SM over a latency that does not depend on the HBM), which scales with SMs x clock,
  // not with the bandwidth.
  double eta = 0;
  for (const ParamKey& k : all_param_keys()) {
    const KernelParams& p = from.params(k);
    if (p.provenance == Provenance::measured && is_simt_streaming(k.kernel))
      eta = std::max(eta, p.memory_efficiency_fraction);
  }
  const double from_bw = from_hw.bandwidth_bytes_per_s(), to_bw = to_hw.bandwidth_bytes_per_s();
  const double sm_rate_ratio = double(to_hw.sms()) / double(from_hw.sms()) / clock_ratio;
  for (const ParamKey& k : all_param_keys()) {
    KernelParams p = from.params(k);
    if (p.provenance != Provenance::measured) continue;
    p.fixed_s *= clock_ratio;
    p.serial_step_s *= clock_ratio;
    const double from_rate = from_bw * p.memory_efficiency_fraction;
    if (is_simt_streaming(k.kernel))
      p.memory_efficiency_fraction =
          transfer_streaming_efficiency(p.memory_efficiency_fraction, eta, from_bw, to_bw, sm_rate_ratio, p.sm_share);
    // The occupancy ramp (Little's law again): below saturation each block streams what it keeps in flight
    // over a latency the HBM does not change, bandwidth x efficiency / (SMs x occupancy fraction) per block;
    // that rate is kept (scaled by the clock) and a faster HBM needs more blocks to saturate. Decode
    // attention's fraction is already a latency (Op::inflight_bytes) and stays.
    if (k.kernel != KernelClass::attention_decode && p.occupancy_fraction > 0) {
      const double per_block = from_rate / (double(from_hw.sms()) * p.occupancy_fraction) / clock_ratio;
      p.occupancy_fraction = std::min(1.0, to_bw * p.memory_efficiency_fraction / (double(to_hw.sms()) * per_block));
    }
    p.provenance = Provenance::transferred;
    p.interval_low_fraction *= (1.0 - transfer_interval_widening);
    p.interval_high_fraction *= (1.0 + transfer_interval_widening);
    c.set(k, p);
  }
  // Sustained ceilings are set by the power limit: carried over only between GPUs of equal power limit and
  // SM count (H100 SXM -> H200 SXM: both 700 W, 132 SMs); otherwise none (burst rates, stated as such).
  if (from_hw.power_w.value == to_hw.power_w.value && from_hw.sms() == to_hw.sms()) {
    for (std::size_t m = 0; m < math_path_count; ++m)
      c.set_sustained_flop_per_s(MathPath(m), from.sustained_flop_per_s(MathPath(m)));
  }
  // A session's (a unit's, a lease's) speed spreads alike on a GPU of the same architecture: kept.
  c.set_session_band_fraction(from.session_band_fraction());
  c.set_gemm_exceptions(transferred_kernel_choices(from, to_choices, to_hw.name));
  c.set_status("transferred from " + from_hw.name + " (same architecture, " + std::string(to_string(to_hw.architecture)) +
               "); not measured on " + to_hw.name);
  return c;
}

void borrow_architecture_inputs(Calibration& own, const Calibration& other) {
  if (own.session_band_fraction() == 0) own.set_session_band_fraction(other.session_band_fraction());
  for (const ParamKey& k : all_param_keys()) {
    const KernelParams& theirs = other.params(k);
    KernelParams mine = own.params(k);
    if (mine.l2_warm_ratio != 1.0 || theirs.l2_warm_ratio == 1.0) continue;
    mine.l2_warm_ratio = theirs.l2_warm_ratio;
    mine.l2_warm_max_bytes = theirs.l2_warm_max_bytes;
    own.set(k, mine);
  }
}

Calibration calibration_for(const HardwareSpec& hw, const HardwareRegistry& registry) {
  const std::filesystem::path dir = data_directory() / "calibration";
  std::error_code ec;
  const std::filesystem::path own = dir / (hw.name + ".json");
  // Nearest calibrated GPU of the same architecture: the smallest bandwidth ratio distance.
  const HardwareSpec* best = nullptr;
  double best_distance = 0;
  for (const auto& [name, other] : registry.all()) {
    if (name == hw.name || other.architecture != hw.architecture) continue;
    if (!std::filesystem::exists(dir / (name + ".json"), ec)) continue;
    const double d = std::fabs(std::log(other.bandwidth_bytes_per_s() / hw.bandwidth_bytes_per_s()));
    if (!best || d < best_distance) {
      best = &other;
      best_distance = d;
    }
  }
  if (std::filesystem::exists(own, ec)) {
    Calibration c = load_calibration(own, hw);
    if (best) borrow_architecture_inputs(c, load_calibration(dir / (best->name + ".json"), *best));
    return c;
  }
  if (best) {
    // The target's cuBLASLt picks, where shipped (roofline kernel-choices): its different kernels are priced
    // by the source's timed candidates.
    const std::filesystem::path choices = data_directory() / "kernel_choices" / (hw.name + ".json");
    return transfer_calibration(load_calibration(dir / (best->name + ".json"), *best), *best, hw,
                                std::filesystem::exists(choices, ec) ? load_kernel_choices(choices, hw)
                                                                     : std::vector<KernelChoice>{});
  }
  Calibration c = Calibration::priors(hw);
  c.set_status("prior: no measurements for " + hw.name + " or any " + std::string(to_string(hw.architecture)) +
               " GPU; expect errors of 40% or more");
  return c;
}

}  // namespace roofline

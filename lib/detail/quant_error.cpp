// Measured quantisation error: synthetic LLM-like tensors, error metrics in fp64 (Eigen for the products),
// and the tables behind `roofline quant-error` and docs/quantization-error.md.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <ostream>
#include <random>
#include <sstream>

#include "roofline/dynamic_quant.hpp"
#include "roofline/errors.hpp"

namespace roofline {

namespace {

using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatD = Eigen::MatrixXd;

MatD to_eigen(const Matrix& m) {
  return Eigen::Map<const RowMajorF>(m.values.data(), Eigen::Index(m.rows), Eigen::Index(m.cols)).cast<double>();
}

// Portable deterministic random numbers: mt19937_64 is fully specified by the standard; the conversions
// below are ours (std::normal_distribution's algorithm differs between standard libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {                                                  // Box-Muller, both outputs used
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }
  // Student-t with integer dof >= 3, scaled to unit variance (var of t_nu = nu / (nu - 2)); dof 0: normal.
  double student_t_unit(int dof) {
    const double z = normal();
    if (dof == 0) return z;
    double chi2 = 0;
    for (int i = 0; i < dof; ++i) {
      const double n = normal();
      chi2 += n * n;
    }
    return z / std::sqrt(chi2 / dof) / std::sqrt(double(dof) / double(dof - 2));
  }
  std::uint64_t below(std::uint64_t n) { return std::uint64_t(uniform() * double(n)); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

int checked_dof(double dof, const char* what) {
  if (dof == 0) return 0;
  if (!(dof >= 3 && dof <= 1000 && std::floor(dof) == dof)) {
    std::ostringstream os;
    os << what << ": must be 0 (Gaussian) or an integer in [3, 1000] (finite variance), got " << dof;
    throw InvalidArgumentError(os.str());
  }
  return int(dof);
}

void require_shape(std::int64_t rows, std::int64_t cols, const char* what) {
  if (rows <= 0 || cols <= 0) {
    std::ostringstream os;
    os << what << ": shape [" << rows << "x" << cols << "] must have rows > 0 and cols > 0";
    throw InvalidArgumentError(os.str());
  }
}

ErrorMetrics metrics(const Eigen::Ref<const MatD>& ref, const Eigen::Ref<const MatD>& approx) {
  ErrorMetrics e;
  const double ref2 = ref.squaredNorm();
  const double err2 = (approx - ref).squaredNorm();
  const double app2 = approx.squaredNorm();
  e.rel_rmse = ref2 > 0 ? std::sqrt(err2 / ref2) : (err2 > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  e.sqnr_db = err2 > 0 ? 10.0 * std::log10(ref2 / err2) : std::numeric_limits<double>::infinity();
  e.cosine = (ref2 > 0 && app2 > 0) ? ref.cwiseProduct(approx).sum() / std::sqrt(ref2 * app2) : 0.0;
  e.max_abs_error = (approx - ref).cwiseAbs().maxCoeff();
  return e;
}

double bits_per_element_of(const QuantizedTensor& q) {
  return double(storage_bytes(q)) * 8.0 / double(q.rows * q.cols);
}

}  // namespace

ErrorMetrics compare(const Matrix& reference, const Matrix& approx) {
  if (reference.rows != approx.rows || reference.cols != approx.cols || reference.size() <= 0)
    throw InvalidArgumentError("compare: shapes [" + std::to_string(reference.rows) + "x" +
                               std::to_string(reference.cols) + "] and [" + std::to_string(approx.rows) + "x" +
                               std::to_string(approx.cols) + "] must match and be non-empty");
  double ref2 = 0, err2 = 0, app2 = 0, dot = 0, max_abs = 0;
  for (std::size_t i = 0; i < reference.values.size(); ++i) {
    const double r = reference.values[i], a = approx.values[i], d = a - r;
    ref2 += r * r;
    app2 += a * a;
    err2 += d * d;
    dot += r * a;
    max_abs = std::max(max_abs, std::fabs(d));
    if (std::isnan(d)) max_abs = d;
  }
  ErrorMetrics e;
  e.rel_rmse = ref2 > 0 ? std::sqrt(err2 / ref2) : (err2 > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  e.sqnr_db = err2 > 0 ? 10.0 * std::log10(ref2 / err2) : std::numeric_limits<double>::infinity();
  e.cosine = (ref2 > 0 && app2 > 0) ? dot / std::sqrt(ref2 * app2) : 0.0;
  e.max_abs_error = max_abs;
  if (std::isnan(err2)) e.rel_rmse = e.sqnr_db = e.cosine = std::numeric_limits<double>::quiet_NaN();
  return e;
}

ErrorMetrics matmul_error(const Matrix& x, const Matrix& w, const Matrix& xq, const Matrix& wq) {
  if (x.cols != w.cols || x.rows != xq.rows || x.cols != xq.cols || w.rows != wq.rows || w.cols != wq.cols ||
      x.size() <= 0 || w.size() <= 0)
    throw InvalidArgumentError("matmul_error: need x, xq [T, K] and w, wq [N, K]; got x [" + std::to_string(x.rows) +
                               "x" + std::to_string(x.cols) + "], w [" + std::to_string(w.rows) + "x" +
                               std::to_string(w.cols) + "], xq [" + std::to_string(xq.rows) + "x" +
                               std::to_string(xq.cols) + "], wq [" + std::to_string(wq.rows) + "x" +
                               std::to_string(wq.cols) + "]");
  const MatD y = to_eigen(x) * to_eigen(w).transpose();
  const MatD yq = to_eigen(xq) * to_eigen(wq).transpose();
  return metrics(y, yq);
}

Matrix gaussian_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double std) {
  require_shape(rows, cols, "gaussian_matrix");
  Rng rng(seed);
  Matrix m{rows, cols, std::vector<float>(std::size_t(rows * cols))};
  for (float& v : m.values) v = float(std * rng.normal());
  return m;
}

// Activations: X[t, c] = token_scale[t] * channel_scale[c] * t_nu (unit variance).
// token_scale ~ lognormal(0, token_scale_sigma); channel_scale = 1, or U[outlier_scale_min, outlier_scale_max]
// for max(1, round(fraction * channels)) channels chosen at random. Outlier channels are the same for every
// token (LLM.int8(), arXiv:2208.07339, sec. 4: outlier features sit in a few fixed hidden dimensions;
// SmoothQuant, arXiv:2211.10438, fig. 4: activation outliers persist in fixed channels, ~100x the rest).
Matrix llm_like_activations(std::int64_t tokens, std::int64_t channels, std::uint64_t seed,
                            const LlmTensorOptions& o) {
  require_shape(tokens, channels, "llm_like_activations");
  const int dof = checked_dof(o.activation_student_t_dof, "activation_student_t_dof");
  if (!(o.outlier_channel_fraction >= 0 && o.outlier_channel_fraction <= 1))
    throw InvalidArgumentError("outlier_channel_fraction: must be in [0, 1], got " +
                               std::to_string(o.outlier_channel_fraction));
  if (!(o.outlier_scale_min > 0 && o.outlier_scale_min <= o.outlier_scale_max))
    throw InvalidArgumentError("outlier scales: need 0 < outlier_scale_min <= outlier_scale_max, got " +
                               std::to_string(o.outlier_scale_min) + ", " + std::to_string(o.outlier_scale_max));
  if (!(o.token_scale_sigma >= 0))
    throw InvalidArgumentError("token_scale_sigma: must be >= 0, got " + std::to_string(o.token_scale_sigma));
  Rng rng(seed);
  std::vector<double> channel_scale(std::size_t(channels), 1.0);
  if (o.outlier_channel_fraction > 0) {
    const auto n_out = std::max<std::int64_t>(1, std::llround(o.outlier_channel_fraction * double(channels)));
    std::vector<std::int64_t> idx(static_cast<std::size_t>(channels));
    for (std::int64_t i = 0; i < channels; ++i) idx[std::size_t(i)] = i;
    for (std::int64_t i = 0; i < n_out; ++i) {  // partial Fisher-Yates
      const auto j = i + std::int64_t(rng.below(std::uint64_t(channels - i)));
      std::swap(idx[std::size_t(i)], idx[std::size_t(j)]);
      channel_scale[std::size_t(idx[std::size_t(i)])] =
          o.outlier_scale_min + (o.outlier_scale_max - o.outlier_scale_min) * rng.uniform();
    }
  }
  Matrix m{tokens, channels, std::vector<float>(std::size_t(tokens * channels))};
  for (std::int64_t t = 0; t < tokens; ++t) {
    const double ts = std::exp(o.token_scale_sigma * rng.normal());
    for (std::int64_t c = 0; c < channels; ++c)
      m.values[std::size_t(t * channels + c)] = float(ts * channel_scale[std::size_t(c)] * rng.student_t_unit(dof));
  }
  return m;
}

// Weights: W[o, i] = weight_std * row_scale[o] * t_nu (unit variance), row_scale ~ lognormal(0, sigma).
// 0.02 is the initialiser standard deviation of GPT-2 and LLaMA-family configs (initializer_range 0.02);
// the Student-t tails and unequal row norms are modelling assumptions, not measurements of a checkpoint.
Matrix llm_like_weights(std::int64_t out_features, std::int64_t in_features, std::uint64_t seed,
                        const LlmTensorOptions& o) {
  require_shape(out_features, in_features, "llm_like_weights");
  const int dof = checked_dof(o.weight_student_t_dof, "weight_student_t_dof");
  if (!(o.weight_std > 0)) throw InvalidArgumentError("weight_std: must be > 0, got " + std::to_string(o.weight_std));
  if (!(o.weight_row_scale_sigma >= 0))
    throw InvalidArgumentError("weight_row_scale_sigma: must be >= 0, got " + std::to_string(o.weight_row_scale_sigma));
  Rng rng(seed);
  Matrix m{out_features, in_features, std::vector<float>(std::size_t(out_features * in_features))};
  for (std::int64_t r = 0; r < out_features; ++r) {
    const double rs = o.weight_std * std::exp(o.weight_row_scale_sigma * rng.normal());
    for (std::int64_t c = 0; c < in_features; ++c)
      m.values[std::size_t(r * in_features + c)] = float(rs * rng.student_t_unit(dof));
  }
  return m;
}

std::ostream& operator<<(std::ostream& os, const QuantErrorRow& r) {
  return os << "QuantErrorRow{" << r.precision << ", " << r.granularity << "/" << r.weight_granularity << ", "
            << r.calibration_mode << ", block " << r.block_elements << ", bits " << r.activation_bits_per_element
            << "/" << r.weight_bits_per_element << ", act rel_rmse " << r.activation_rel_rmse << " ("
            << r.activation_sqnr_db << " dB), weight rel_rmse " << r.weight_rel_rmse << " (" << r.weight_sqnr_db
            << " dB), matmul cosine " << r.matmul_cosine << ", rel_rmse " << r.matmul_rel_rmse << '}';
}

std::ostream& operator<<(std::ostream& os, const OutlierSweepRow& r) {
  return os << "OutlierSweepRow{scale " << r.outlier_scale << ", outlier_ratio " << r.outlier_ratio << ", "
            << r.precision << " " << r.granularity << ", act rel_rmse " << r.activation_rel_rmse << ", bulk rel_rmse "
            << r.bulk_rel_rmse << ", matmul cosine "
            << r.matmul_cosine << ", rel_rmse " << r.matmul_rel_rmse << '}';
}

namespace {

void check_options(const QuantErrorOptions& o) {
  require_shape(o.tokens, o.in_features, "quant-error activations");
  require_shape(o.out_features, o.in_features, "quant-error weights");
  if (o.precisions.empty()) throw InvalidArgumentError("quant-error: no precision to measure");
  if (o.calibration_modes.empty()) throw InvalidArgumentError("quant-error: no calibration mode to measure");
}

struct Measured {
  Matrix activation_dequantized;
  ErrorMetrics activation;
  ErrorMetrics weight;
  ErrorMetrics matmul;
  double activation_bits = 0;
  double weight_bits = 0;
};

Measured measure_one(const Matrix& x, const Matrix& w, const MatD& y_ref, const QuantSpec& xs, const QuantSpec& ws) {
  const QuantizedTensor xq = quantize(x, xs);
  const QuantizedTensor wq = quantize(w, ws);
  const Matrix xd = dequantize(xq);
  const Matrix wd = dequantize(wq);
  Measured m;
  m.activation = compare(x, xd);
  m.activation_dequantized = xd;
  m.weight = compare(w, wd);
  const MatD yq = to_eigen(xd) * to_eigen(wd).transpose();
  m.matmul = metrics(y_ref, yq);
  m.activation_bits = bits_per_element_of(xq);
  m.weight_bits = bits_per_element_of(wq);
  return m;
}

bool block_format(Precision p) { return p == Precision::nvfp4 || p == Precision::mxfp4; }

}  // namespace

std::vector<QuantErrorRow> measure_quant_error(const QuantErrorOptions& o) {
  check_options(o);
  const Matrix x = llm_like_activations(o.tokens, o.in_features, o.seed, o.data);
  const Matrix w = llm_like_weights(o.out_features, o.in_features, o.seed + 1, o.data);
  const MatD y_ref = to_eigen(x) * to_eigen(w).transpose();
  std::vector<QuantErrorRow> rows;
  for (Precision p : o.precisions) {
    std::vector<Granularity> grans;
    if (block_format(p)) {
      grans = {Granularity::per_block};
    } else {
      grans = {Granularity::per_tensor, Granularity::per_token, Granularity::per_channel, Granularity::per_block};
    }
    for (Granularity g : grans) {
      for (CalibrationMode cal : o.calibration_modes) {
        const QuantSpec xs{.precision = p, .granularity = g, .calibration_mode = cal, .role = TensorRole::activation};
        QuantSpec ws = xs;
        ws.role = TensorRole::weight;
        ws.granularity = weight_granularity_for(g);
        const Measured m = measure_one(x, w, y_ref, xs, ws);
        QuantErrorRow row;
        row.precision = p;
        row.granularity = g;
        row.weight_granularity = ws.granularity;
        row.calibration_mode = cal;
        row.block_elements = g == Granularity::per_block ? resolved_block_elements(xs) : 0;
        row.activation_bits_per_element = m.activation_bits;
        row.weight_bits_per_element = m.weight_bits;
        row.activation_rel_rmse = m.activation.rel_rmse;
        row.activation_sqnr_db = m.activation.sqnr_db;
        row.weight_rel_rmse = m.weight.rel_rmse;
        row.weight_sqnr_db = m.weight.sqnr_db;
        row.matmul_cosine = m.matmul.cosine;
        row.matmul_rel_rmse = m.matmul.rel_rmse;
        rows.push_back(row);
      }
    }
  }
  return rows;
}

std::vector<OutlierSweepRow> measure_outlier_sweep(const QuantErrorOptions& o, const std::vector<double>& scales) {
  check_options(o);
  if (scales.empty()) throw InvalidArgumentError("outlier sweep: no outlier scale given");
  const Matrix w = llm_like_weights(o.out_features, o.in_features, o.seed + 1, o.data);
  const MatD wt = to_eigen(w).transpose();
  struct Scheme {
    Precision p;
    Granularity g;
  };
  const Scheme schemes[] = {{Precision::fp8_e4m3, Granularity::per_token},
                            {Precision::fp8_e5m2, Granularity::per_token},
                            {Precision::int8, Granularity::per_token},
                            {Precision::int4, Granularity::per_block},
                            {Precision::nvfp4, Granularity::per_block},
                            {Precision::mxfp4, Granularity::per_block}};
  std::vector<OutlierSweepRow> rows;
  for (double s : scales) {
    LlmTensorOptions data = o.data;
    data.outlier_scale_min = s;
    data.outlier_scale_max = s;
    const Matrix x = llm_like_activations(o.tokens, o.in_features, o.seed, data);
    const double ratio = compute_activation_stats(x).outlier_ratio;
    const MatD y_ref = to_eigen(x) * wt;
    // Bulk channels: RMS over tokens at most 3x the median channel RMS.
    const MatD xe = to_eigen(x);
    std::vector<double> ch_rms(std::size_t(x.cols));
    for (Eigen::Index c = 0; c < xe.cols(); ++c) ch_rms[std::size_t(c)] = std::sqrt(xe.col(c).squaredNorm() / double(x.rows));
    std::vector<double> sorted = ch_rms;
    std::nth_element(sorted.begin(), sorted.begin() + std::ptrdiff_t(sorted.size() / 2), sorted.end());
    const double median = sorted[sorted.size() / 2];
    auto bulk_rel_rmse = [&](const Matrix& xd) {
      const MatD de = to_eigen(xd);
      double err2 = 0, ref2 = 0;
      for (Eigen::Index c = 0; c < xe.cols(); ++c) {
        if (ch_rms[std::size_t(c)] > 3.0 * median) continue;
        err2 += (de.col(c) - xe.col(c)).squaredNorm();
        ref2 += xe.col(c).squaredNorm();
      }
      return ref2 > 0 ? std::sqrt(err2 / ref2) : 0.0;
    };
    for (const Scheme& sc : schemes) {
      const QuantSpec xs{.precision = sc.p, .granularity = sc.g, .role = TensorRole::activation};
      QuantSpec ws = xs;
      ws.role = TensorRole::weight;
      ws.granularity = weight_granularity_for(sc.g);
      const Measured m = measure_one(x, w, y_ref, xs, ws);
      rows.push_back(OutlierSweepRow{.outlier_scale = s,
                                     .outlier_ratio = ratio,
                                     .precision = sc.p,
                                     .granularity = sc.g,
                                     .activation_rel_rmse = m.activation.rel_rmse,
                                     .bulk_rel_rmse = bulk_rel_rmse(m.activation_dequantized),
                                     .matmul_cosine = m.matmul.cosine,
                                     .matmul_rel_rmse = m.matmul.rel_rmse});
    }
  }
  return rows;
}

std::vector<double> default_outlier_sweep_scales() { return {1, 3, 10, 30, 100, 1000, 10000, 100000}; }

std::ostream& operator<<(std::ostream& os, const OutlierTolerance& t) {
  return os << "OutlierTolerance{" << t.precision << " " << t.granularity << ", x" << t.error_factor << " of "
            << t.baseline_bulk_rel_rmse << ": between outlier ratio " << t.ratio_below << " and " << t.ratio_above
            << ", crossing " << t.crossing_ratio << '}';
}

std::vector<OutlierTolerance> outlier_tolerance(const std::vector<OutlierSweepRow>& sweep, double error_factor) {
  if (!(error_factor > 1))
    throw InvalidArgumentError("outlier tolerance: error_factor must be > 1, got " + std::to_string(error_factor));
  std::vector<OutlierTolerance> out;
  std::vector<std::pair<Precision, Granularity>> schemes;
  for (const OutlierSweepRow& r : sweep) {
    const std::pair<Precision, Granularity> key{r.precision, r.granularity};
    if (std::find(schemes.begin(), schemes.end(), key) == schemes.end()) schemes.push_back(key);
  }
  for (const auto& [p, g] : schemes) {
    std::vector<OutlierSweepRow> rows;
    for (const OutlierSweepRow& r : sweep) {
      if (r.precision == p && r.granularity == g) rows.push_back(r);
    }
    std::sort(rows.begin(), rows.end(),
              [](const OutlierSweepRow& a, const OutlierSweepRow& b) { return a.outlier_scale < b.outlier_scale; });
    const auto base = std::find_if(rows.begin(), rows.end(), [](const OutlierSweepRow& r) { return r.outlier_scale == 1; });
    if (base == rows.end())
      throw InvalidArgumentError("outlier tolerance: the sweep of " + std::string(to_string(p)) +
                                 " has no outlier_scale 1 row (the baseline)");
    OutlierTolerance t{.precision = p, .granularity = g, .error_factor = error_factor,
                       .baseline_bulk_rel_rmse = base->bulk_rel_rmse};
    const double limit = error_factor * base->bulk_rel_rmse;
    t.ratio_below = base->outlier_ratio;
    t.ratio_above = std::numeric_limits<double>::infinity();
    t.crossing_ratio = std::numeric_limits<double>::infinity();
    for (auto it = base + 1; it != rows.end(); ++it) {
      if (it->bulk_rel_rmse <= limit) {
        t.ratio_below = it->outlier_ratio;
        continue;
      }
      const OutlierSweepRow& lo = *(it - 1);
      t.ratio_above = it->outlier_ratio;
      const double f = (std::log(limit) - std::log(lo.bulk_rel_rmse)) /
                       (std::log(it->bulk_rel_rmse) - std::log(lo.bulk_rel_rmse));
      t.crossing_ratio = std::exp(std::log(lo.outlier_ratio) + f * (std::log(it->outlier_ratio) - std::log(lo.outlier_ratio)));
      break;
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace roofline

// Dynamic quantisation: quantises activations and weights to FP8 (E4M3, E5M2), INT8, INT4, NVFP4 and MXFP4
// with scales computed from the data at run time, and measures the error that causes. Scales are per tensor,
// token, channel or block, calibrated by absmax, a percentile or an MSE search of the clipping ratio.
// Sources: OCP Microscaling Formats (MX) v1.0 (MXFP4); NVIDIA, "Pretraining LLMs with NVFP4",
// arXiv:2509.25149 (NVFP4 two-level scaling); Dettmers et al., LLM.int8(), arXiv:2208.07339 and Xiao et al.,
// SmoothQuant, arXiv:2211.10438 (outlier channels). The math is in docs/precisions-numerics.md.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/operators.hpp"  // Phase
#include "roofline/precision.hpp"

namespace roofline {

// ---- names -----------------------------------------------------------------------------------------

/// Which elements share one scale. For an activation [tokens, in] and a weight [out, in] (the layout of
/// Y = X Wᵀ; the row is the reduction dimension of both):
enum class Granularity : std::uint8_t {
  per_tensor,   ///< one scale for the whole tensor
  per_token,    ///< activations only: one scale per row (token)
  per_channel,  ///< activations: one scale per column (input channel); weights: one per row (output channel)
  per_block,    ///< one scale per block of block_elements consecutive elements of a row (1 x B tiles)
};
inline constexpr std::size_t granularity_count = 4;

/// How the clipping magnitude c of each granule is chosen (the scale maps c to the format's largest value).
enum class CalibrationMode : std::uint8_t {
  absmax,       ///< c = max |x| over the granule (nothing clips)
  percentile,   ///< c = the given percentile of |x| over the granule (linear interpolation)
  mse_optimal,  ///< c = r * absmax with r from a grid in [mse_min_ratio, 1] minimising sum (dequant(quant(x)) - x)^2
};
inline constexpr std::size_t calibration_mode_count = 3;

/// Whether a matrix is an activation [tokens, in] or a weight [out, in]; decides what per_channel means.
enum class TensorRole : std::uint8_t { activation, weight };

std::string_view to_string(Granularity g);
std::string_view to_string(CalibrationMode m);
std::string_view to_string(TensorRole r);
std::ostream& operator<<(std::ostream& os, Granularity g);
std::ostream& operator<<(std::ostream& os, CalibrationMode m);
std::ostream& operator<<(std::ostream& os, TensorRole r);
/// Parse a canonical lowercase name ("per_token", "mse_optimal", "weight", "decode"); throws
/// UnknownNameError listing the known names.
Granularity parse_granularity(std::string_view text);
CalibrationMode parse_calibration_mode(std::string_view text);
TensorRole parse_tensor_role(std::string_view text);
std::vector<std::string> granularity_names();
std::vector<std::string> calibration_mode_names();

// ---- tensors ---------------------------------------------------------------------------------------

/// A dense row-major fp32 matrix: activations are [tokens, in_features], weights [out_features, in_features].
struct Matrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> values;  ///< rows * cols elements, row-major

  std::int64_t size() const { return rows * cols; }
  float operator()(std::int64_t r, std::int64_t c) const { return values[std::size_t(r * cols + c)]; }
  friend bool operator==(const Matrix&, const Matrix&) = default;
};
/// Prints the shape and the first few values: "Matrix[2x3]{1, 2, 3, ...}".
std::ostream& operator<<(std::ostream& os, const Matrix& m);

/// Everything that defines one quantisation of one tensor.
struct QuantSpec {
  Precision precision = Precision::fp8_e4m3;
  Granularity granularity = Granularity::per_token;
  CalibrationMode calibration_mode = CalibrationMode::absmax;
  TensorRole role = TensorRole::activation;
  double percentile = 99.9;     ///< percentile mode: which percentile of |x|, in (0, 100]
  int block_elements = 0;       ///< per_block: elements per block; 0 = the default (nvfp4 16, mxfp4 32, else 128)
  int mse_grid_points = 100;    ///< mse_optimal: ratios r_k = min + (1 - min) k / (points - 1), k = 0..points-1
  double mse_min_ratio = 0.5;   ///< mse_optimal: the smallest clipping ratio searched, in (0, 1]
  Overflow overflow = Overflow::saturate;  ///< what ±inf inputs become in fp8/fp16/bf16 (see docs)
  bool power_of_two_scales = false;  ///< fp8/int: round each scale up to a power of two (2^ceil(log2 s))

  friend bool operator==(const QuantSpec&, const QuantSpec&) = default;
};
std::ostream& operator<<(std::ostream& os, const QuantSpec& s);

/// Inputs that a quantisation could not represent as they were.
struct QuantCounts {
  std::int64_t nan_count = 0;        ///< NaN inputs (fp formats keep NaN; integers store 0; fp4 blocks become NaN)
  std::int64_t inf_count = 0;        ///< ±inf inputs (saturate to ±max, or propagate where the format can)
  std::int64_t saturated_count = 0;  ///< finite inputs beyond the clipping magnitude, stored as ±max

  friend bool operator==(const QuantCounts&, const QuantCounts&) = default;
};
std::ostream& operator<<(std::ostream& os, const QuantCounts& c);

/// A quantised tensor: one code per element plus the scales that dequantise it:
/// codes[i] = Q(x[i] * (1 / s)) in fp32, Q = nearest representable value, ties to even, saturating at the
/// format's maximum; x_hat[i] = decode(codes[i]) * s, with s = scales[granule(i)].
struct QuantizedTensor {
  QuantSpec spec;  ///< block_elements resolved to the value used
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  /// One code per element, row-major: fp8 byte; int8 two's-complement byte; int4 two's-complement low nibble;
  /// E2M1 (nvfp4, mxfp4) low nibble; fp16/bf16 the 16-bit pattern.
  std::vector<std::uint16_t> codes;
  /// Decode scale of each granule, fp32: per_tensor 1; per_token rows; per_channel cols (activation) or rows
  /// (weight); per_block rows * ceil(cols / block_elements), row-major. nvfp4: decode(E4M3 code) * tensor_scale;
  /// mxfp4: 2^(E8M0 code - 127); fp16/bf16: 1.
  std::vector<float> scales;
  std::vector<std::uint8_t> scale_codes;  ///< nvfp4: E4M3 code per block; mxfp4: E8M0 code per block; else empty
  float tensor_scale = 1.0f;              ///< nvfp4: the per-tensor FP32 decode scale amax / (448 * 6); else 1
  int scale_bits = 32;                    ///< stored bits per entry of scales (nvfp4/mxfp4 8, int4 groups 16, fp16/bf16 0)
  QuantCounts counts;

  friend bool operator==(const QuantizedTensor&, const QuantizedTensor&) = default;
};
/// Prints precision, granularity, shape, scale count and counts (not every code).
std::ostream& operator<<(std::ostream& os, const QuantizedTensor& q);

/// Elements per block used for `spec` (nvfp4 16, mxfp4 32, else spec.block_elements or 128); throws
/// InvalidArgumentError for a block size the format cannot use.
int resolved_block_elements(const QuantSpec& spec);

/// The granularity a weight gets when the activation of the same operator uses `activation`: per_token and
/// per_channel map to per_channel (one scale per output row, the usual W8A8 pairing), the others to themselves.
Granularity weight_granularity_for(Granularity activation);

/// Quantises `x` with scales computed from its own values (dynamic quantisation): s = c / max per granule for
/// fp8/int (int4 groups: rounded to fp16, saturating at 65504), NVFP4 and MXFP4 as their specifications say
/// (docs/precisions-numerics.md). Supported precisions: fp16, bf16, fp8_e4m3, fp8_e5m2, int8, int4, nvfp4,
/// mxfp4. Throws InvalidArgumentError for an empty tensor, a granularity the format cannot use (nvfp4/mxfp4
/// are per_block only; weights have no per_token), a scale that is zero, subnormal or non-finite in fp32, or
/// a bad option.
QuantizedTensor quantize(const Matrix& x, const QuantSpec& spec);

/// Quantises `x` with the scales of `reference` (static quantisation: same precision, granularity and shape;
/// nvfp4 reuses its block-scale codes and tensor scale). Throws InvalidArgumentError on a shape mismatch or on
/// a zero or non-finite scale in `reference`.
QuantizedTensor quantize_with_scales(const Matrix& x, const QuantizedTensor& reference);

/// The fp32 values the codes stand for. Throws InvalidArgumentError when codes or scales do not match the
/// shape, or a scale is zero or non-finite (nvfp4/mxfp4 NaN scale codes decode to NaN blocks, as specified).
Matrix dequantize(const QuantizedTensor& q);

/// Stored bytes of codes plus scales: ceil(elements * element_bits / 8) + scale entries * scale_bits / 8
/// (+ 4 for the nvfp4 tensor scale). Example: nvfp4 [1, 32] = 16 + 2 + 4 = 22 bytes.
std::int64_t storage_bytes(const QuantizedTensor& q);

// ---- statistics and error --------------------------------------------------------------------------

/// Statistics of a tensor's finite values.
///
/// outlier_ratio = absmax / (sigma_bulk * z_N): how far the largest magnitude lies above what the bulk of the
/// values would reach on its own. sigma_bulk = p50 / Phi^-1(0.75) = p50 / 0.6745 is the standard deviation
/// of a zero-mean Gaussian with the same median |x| (robust: a few outlier channels do not move it; it falls
/// back to the RMS when p50 is 0); z_N = Phi^-1(1 - 1/(2N)) is the magnitude such a Gaussian exceeds once, on
/// average, in N samples. So the ratio is about 1 for Gaussian data of any size, and under absmax scaling on a
/// uniform grid the bulk gets 1/outlier_ratio of the resolution a Gaussian tensor would get: 2.0 costs the
/// bulk 20 log10(2) = 6.0 dB of SQNR, one bit. An RMS in the denominator would not do: when outlier channels
/// carry most of the energy the RMS follows them and the ratio saturates near 1/sqrt(outlier fraction).
/// Heavy tails without outlier channels (Student-t, 5 dof) give about 4; outlier channels 10-100x the rest
/// (LLM.int8(): systematic large-magnitude features in a few hidden dimensions; SmoothQuant: outliers ~100x
/// most values) give 20-200; "massive activations" (Sun et al. 2024, arXiv:2402.17762: up to 100,000x
/// others) give 10^4 and more.
/// dynamic_range = absmax / p50: a format whose max / min-normal ratio is below it puts half the values in
/// its subnormal range under absmax scaling.
struct ActivationStats {
  double absmax = 0;
  double mean = 0;
  double std = 0;              ///< population standard deviation
  double p50 = 0;              ///< median of |x|
  double p99 = 0;              ///< 99th percentile of |x|
  double p999 = 0;             ///< 99.9th percentile of |x|
  double outlier_ratio = 0;    ///< absmax / (sigma_bulk * z_N); 0 for an all-zero tensor
  double dynamic_range = 1;    ///< absmax / p50; 1 for an all-zero tensor
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t finite_count = 0;
  std::int64_t nan_count = 0;
  std::int64_t inf_count = 0;

  friend bool operator==(const ActivationStats&, const ActivationStats&) = default;
};
std::ostream& operator<<(std::ostream& os, const ActivationStats& s);

/// Statistics of `x` (one pass plus three selections). Throws InvalidArgumentError for an empty tensor or one
/// with no finite value.
ActivationStats compute_activation_stats(const Matrix& x);
/// Statistics from a summary (the seed's ActivationStats(absmax, mean, std, p99, p999, shape) plus the median
/// |x|): fills outlier_ratio and dynamic_range from the given fields as compute_activation_stats does.
ActivationStats activation_stats_from_summary(double absmax, double mean, double std, double p50, double p99,
                                              double p999, std::int64_t rows, std::int64_t cols);
/// absmax / (sigma_bulk * z_N) as defined above, sigma_bulk = p50 / 0.6745, or rms when p50 is 0; 0 when both
/// are 0. Example: absmax 10, p50 0.6745 (sigma_bulk 1), N = 4096 (z_N = 3.49): 2.87. Throws
/// InvalidArgumentError for element_count < 1.
double outlier_ratio(double absmax, double p50, double rms, std::int64_t element_count);
/// The standard normal quantile Phi^-1(p), p in (0, 1) (Acklam's approximation refined by one Newton step,
/// relative error < 1e-12); e.g. normal_quantile(0.975) = 1.959964.
double normal_quantile(double p);

/// How far an approximation is from a reference, in fp64.
struct ErrorMetrics {
  double rel_rmse = 0;       ///< ||approx - ref||_2 / ||ref||_2
  double sqnr_db = 0;        ///< 10 log10(sum ref^2 / sum (approx - ref)^2); +inf when equal
  double cosine = 0;         ///< <approx, ref> / (||approx|| ||ref||) over all elements
  double max_abs_error = 0;  ///< max |approx - ref|

  friend bool operator==(const ErrorMetrics&, const ErrorMetrics&) = default;
};
std::ostream& operator<<(std::ostream& os, const ErrorMetrics& e);

/// Error of `approx` against `reference` (same shape, else InvalidArgumentError).
ErrorMetrics compare(const Matrix& reference, const Matrix& approx);
/// Error of the output of Y = X Wᵀ computed from the approximations: compares xq · wqᵀ with x · wᵀ, both in
/// fp64 (x, xq: [T, K]; w, wq: [N, K]).
ErrorMetrics matmul_error(const Matrix& x, const Matrix& w, const Matrix& xq, const Matrix& wq);

// ---- synthetic LLM-like tensors --------------------------------------------------------------------

/// Shape of the synthetic data (see docs/quantization-error.md for the choice and its sources).
struct LlmTensorOptions {
  double activation_student_t_dof = 5;     ///< heavy-tailed bulk: Student-t, scaled to unit variance
  double outlier_channel_fraction = 0.005; ///< input channels that carry outlier features (at least 1)
  double outlier_scale_min = 20;           ///< outlier channel magnitude multiplier, uniform in [min, max]
  double outlier_scale_max = 100;
  double token_scale_sigma = 0.25;         ///< per-token magnitude: lognormal(0, sigma)
  double weight_std = 0.02;                ///< weight standard deviation
  double weight_student_t_dof = 6;         ///< weight tails: Student-t, scaled to weight_std
  double weight_row_scale_sigma = 0.2;     ///< per-output-row magnitude: lognormal(0, sigma)

  friend bool operator==(const LlmTensorOptions&, const LlmTensorOptions&) = default;
};

/// Activations [tokens, channels] with outlier channels (deterministic for a seed on every platform).
Matrix llm_like_activations(std::int64_t tokens, std::int64_t channels, std::uint64_t seed,
                            const LlmTensorOptions& options = {});
/// Weights [out_features, in_features], heavy-tailed around N(0, weight_std).
Matrix llm_like_weights(std::int64_t out_features, std::int64_t in_features, std::uint64_t seed,
                        const LlmTensorOptions& options = {});
/// Standard normal data [rows, cols] (Box-Muller on mt19937_64, deterministic for a seed).
Matrix gaussian_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double std = 1.0);

// ---- measured error table (the engine's quality signal) ---------------------------------------------

struct QuantErrorOptions {
  std::int64_t tokens = 256;        ///< activation rows
  std::int64_t in_features = 1024;  ///< activation columns = weight columns (the reduction dimension)
  std::int64_t out_features = 128;  ///< weight rows
  std::uint64_t seed = 42;
  LlmTensorOptions data;
  /// Formats measured; nvfp4 and mxfp4 only per_block, the others at every granularity.
  std::vector<Precision> precisions = {Precision::fp8_e4m3, Precision::fp8_e5m2, Precision::int8,
                                       Precision::int4,     Precision::nvfp4,    Precision::mxfp4};
  std::vector<CalibrationMode> calibration_modes = {CalibrationMode::absmax, CalibrationMode::percentile,
                                                    CalibrationMode::mse_optimal};
};

/// One measurement: activations quantised with `granularity`, weights with `weight_granularity`, both with the
/// same precision and calibration; errors of each tensor and of the product X Wᵀ.
struct QuantErrorRow {
  Precision precision = Precision::fp8_e4m3;
  Granularity granularity = Granularity::per_tensor;
  Granularity weight_granularity = Granularity::per_tensor;
  CalibrationMode calibration_mode = CalibrationMode::absmax;
  int block_elements = 0;                ///< 0 unless per_block
  double activation_bits_per_element = 0;  ///< measured storage_bytes * 8 / elements, scales included
  double weight_bits_per_element = 0;
  double activation_rel_rmse = 0;
  double activation_sqnr_db = 0;
  double weight_rel_rmse = 0;
  double weight_sqnr_db = 0;
  double matmul_cosine = 0;
  double matmul_rel_rmse = 0;

  friend bool operator==(const QuantErrorRow&, const QuantErrorRow&) = default;
};
std::ostream& operator<<(std::ostream& os, const QuantErrorRow& r);

/// Measures every precision x granularity x calibration mode on llm_like_activations and llm_like_weights.
std::vector<QuantErrorRow> measure_quant_error(const QuantErrorOptions& options = {});

/// One point of the outlier sweep: activations whose outlier channels are `outlier_scale` times larger
/// (1 = no outliers), quantised with one format's usual dynamic scheme (absmax calibration).
struct OutlierSweepRow {
  double outlier_scale = 1;
  double outlier_ratio = 0;  ///< measured ActivationStats::outlier_ratio of the activations
  Precision precision = Precision::fp8_e4m3;
  Granularity granularity = Granularity::per_token;
  double activation_rel_rmse = 0;
  /// rel RMSE over the other channels only (channel RMS <= 3x the median channel RMS): what the bulk of
  /// the activations loses, which the whole-tensor figure hides when outlier channels carry most energy.
  double bulk_rel_rmse = 0;
  double matmul_cosine = 0;
  double matmul_rel_rmse = 0;

  friend bool operator==(const OutlierSweepRow&, const OutlierSweepRow&) = default;
};
std::ostream& operator<<(std::ostream& os, const OutlierSweepRow& r);

/// For each outlier scale, measures fp8_e4m3, fp8_e5m2 and int8 per_token, int4 per_block (128), nvfp4 and
/// mxfp4 (per_block): how the error of each format grows with the outlier ratio.
std::vector<OutlierSweepRow> measure_outlier_sweep(const QuantErrorOptions& options,
                                                   const std::vector<double>& outlier_scales);

/// The outlier scales of the sweep in docs/quantization-error.md: 1 (none), 3, 10, 30, 100, 1e3, 1e4, 1e5.
std::vector<double> default_outlier_sweep_scales();

/// Where one format's bulk error crosses `error_factor` times its error without outlier channels.
struct OutlierTolerance {
  Precision precision = Precision::fp8_e4m3;
  Granularity granularity = Granularity::per_token;
  double error_factor = 2;
  double baseline_bulk_rel_rmse = 0;  ///< at outlier_scale 1
  double ratio_below = 0;             ///< largest measured outlier ratio still under the factor
  double ratio_above = 0;             ///< first measured outlier ratio over it (+inf: none in the sweep)
  double crossing_ratio = 0;          ///< interpolated linearly in (log ratio, log error) between the two

  friend bool operator==(const OutlierTolerance&, const OutlierTolerance&) = default;
};
std::ostream& operator<<(std::ostream& os, const OutlierTolerance& t);

/// For each (precision, granularity) of a sweep: the outlier ratio at which its bulk_rel_rmse first exceeds
/// error_factor x its value at outlier_scale 1 (error_factor 2 = one bit, 6 dB, lost to the outliers).
/// Throws InvalidArgumentError when the sweep has no outlier_scale 1 row or error_factor <= 1.
std::vector<OutlierTolerance> outlier_tolerance(const std::vector<OutlierSweepRow>& sweep, double error_factor);

// ---- dynamic quantiser (seed API) ------------------------------------------------------------------

/// Configuration of DynamicQuantizer (the seed's DynamicQuantConfig).
struct DynamicQuantConfig {
  Precision precision = Precision::fp8_e4m3;
  Granularity granularity = Granularity::per_token;  ///< of the activation; weights use weight_granularity_for
  CalibrationMode calibration_mode = CalibrationMode::absmax;
  double percentile = 99.9;
  int block_elements = 0;  ///< 0 = the format's default
  bool fallback_to_fp16 = true;
  /// Fall back to fp16 when ActivationStats::outlier_ratio exceeds this; unset = default_outlier_threshold.
  std::optional<double> outlier_threshold;
  /// Exponential smoothing of the clipping magnitude across calls with the same operator_name:
  /// c_t = decay * c_(t-1) + (1 - decay) * c_measured. 0 = off; in [0, 1). Applies to per_tensor and
  /// per_channel activations (per_token and per_block granules are new tokens on every call).
  double scale_ema_decay = 0.0;
  Overflow overflow = Overflow::saturate;
  bool power_of_two_scales = false;

  friend bool operator==(const DynamicQuantConfig&, const DynamicQuantConfig&) = default;
};

/// The outlier_ratio above which DynamicQuantizer falls back to fp16 by default: where the format's bulk error
/// has doubled (one bit, 6 dB, lost to outliers) in the measured outlier sweep of docs/quantization-error.md
/// (outlier_tolerance(sweep, 2), rounded): int8 12, int4 24, mxfp4 80, nvfp4 100, fp8_e4m3 30000; fp8_e5m2
/// +inf (not reached in the sweep, up to 1.9e5); 16-bit formats +inf. Measured on the synthetic family of
/// llm_like_activations with each format's usual scheme (int8/fp8 per_token, int4 groups of 128, nvfp4/mxfp4
/// blocks); tests/test_dynamic_quant.cpp re-measures the sweep and checks every value against it.
double default_outlier_threshold(Precision p);

/// What quantize_dynamic did (the seed's metadata dict).
struct QuantMetadata {
  std::string operator_name;
  Precision requested_precision = Precision::fp8_e4m3;
  Precision precision = Precision::fp8_e4m3;  ///< what was used: fp16 after a fallback
  Granularity granularity = Granularity::per_token;
  std::vector<float> scales;                  ///< the activation's decode scales (QuantizedTensor::scales)
  double outlier_ratio = 0;
  double outlier_threshold = 0;
  bool fallback = false;
  bool ema_applied = false;
  QuantCounts activation_counts;
  QuantCounts weight_counts;
  ActivationStats stats;

  friend bool operator==(const QuantMetadata&, const QuantMetadata&) = default;
};
std::ostream& operator<<(std::ostream& os, const QuantMetadata& m);

struct DynamicQuantResult {
  QuantizedTensor activation;
  std::optional<QuantizedTensor> weight;  ///< absent when quantize_dynamic got no weight
  QuantMetadata metadata;

  friend bool operator==(const DynamicQuantResult&, const DynamicQuantResult&) = default;
};

/// Quantises each call's activation (and weight) with fresh scales; keeps per-operator EMA state.
class DynamicQuantizer {
 public:
  /// Throws InvalidArgumentError for an invalid configuration.
  explicit DynamicQuantizer(DynamicQuantConfig config);

  /// Quantises `activation` [T, K] and `weight` [N, K] for operator `operator_name` at `target_precision`
  /// (default: the config's), falling back to fp16 for both when the activation's outlier ratio is over the
  /// threshold. Throws InvalidArgumentError for empty tensors or mismatched K.
  DynamicQuantResult quantize_dynamic(const Matrix& activation, const Matrix& weight, std::string_view operator_name,
                                      std::optional<Precision> target_precision = std::nullopt);
  /// The same without a weight.
  DynamicQuantResult quantize_dynamic(const Matrix& activation, std::string_view operator_name,
                                      std::optional<Precision> target_precision = std::nullopt);

  const DynamicQuantConfig& config() const { return config_; }
  /// Forgets the EMA state of every operator.
  void reset_ema() { ema_clip_.clear(); }

 private:
  DynamicQuantResult run(const Matrix& activation, const Matrix* weight, std::string_view operator_name,
                         std::optional<Precision> target_precision);
  DynamicQuantConfig config_;
  std::map<std::string, std::vector<double>, std::less<>> ema_clip_;  // operator -> smoothed clip per granule
};

// ---- adaptive precision selection (seed API) -------------------------------------------------------

/// The seed's AdaptiveQuantConfig: candidates and the outlier_ratio thresholds that move between them.
/// Defaults, from the measured outlier sweep (docs/quantization-error.md, "Outlier tolerance"): low 40 =
/// where nvfp4's bulk error has grown 1.5x (measured 38), medium 100 = where it has doubled (99.8), high
/// 30000 = where fp8_e4m3's has doubled (3.3e4).
struct AdaptiveQuantConfig {
  std::vector<Precision> precision_candidates = {Precision::nvfp4, Precision::fp8_e4m3, Precision::fp16};
  double high_outlier_threshold = 30000.0;  ///< above: the widest candidate (16-bit)
  double medium_outlier_threshold = 100.0;  ///< above: the narrowest 8-bit candidate
  double low_outlier_threshold = 40.0;      ///< above (up to medium): 4-bit only where its bytes dominate
  /// From this many tokens on, the KV cache counts as dominating the step's memory traffic (the seed's
  /// "beyond ~8K the KV cache is the bottleneck"; a policy default: an engine that knows the model and batch
  /// should set it where KV bytes exceed weight bytes).
  std::int64_t long_context_seq_len = 8192;

  friend bool operator==(const AdaptiveQuantConfig&, const AdaptiveQuantConfig&) = default;
};

/// Where the operator runs (the seed's context dict).
struct SelectionContext {
  Phase phase = Phase::decode;
  std::int64_t seq_len = 0;
  bool is_kv_cache = false;

  friend bool operator==(const SelectionContext&, const SelectionContext&) = default;
};

struct PrecisionSelection {
  Precision precision = Precision::fp16;
  std::string reason;  ///< which rule chose it, with the numbers

  friend bool operator==(const PrecisionSelection&, const PrecisionSelection&) = default;
};
std::ostream& operator<<(std::ostream& os, const PrecisionSelection& s);

/// Chooses a precision per operator from its activation statistics and context (a policy; see the rules in
/// lib/dynamic_quant.cpp and docs/precisions-numerics.md).
class AdaptivePrecisionSelector {
 public:
  /// Throws InvalidArgumentError for no candidates or thresholds that are not 0 < low <= medium <= high.
  explicit AdaptivePrecisionSelector(AdaptiveQuantConfig config);

  /// The precision for `operator_name` and the rule that chose it.
  PrecisionSelection select(std::string_view operator_name, const ActivationStats& stats,
                            const SelectionContext& context) const;
  /// select(...).precision.
  Precision select_precision(std::string_view operator_name, const ActivationStats& stats,
                             const SelectionContext& context) const;
  const AdaptiveQuantConfig& config() const { return config_; }

 private:
  AdaptiveQuantConfig config_;
  std::vector<Precision> by_bits_;  // candidates, narrowest first
};

}  // namespace roofline

// Mixed-precision strategies: per-operator weight and activation precision, a KV-cache format, layer
// bands, activation scaling and quantisation fusion, as plain data (strategies/*.yaml) that the cost
// model runs as a PrecisionAssignment. A strategy that needs a tensor-core path the GPU lacks is reported
// (emulated, with the fallback it runs as, or refused, with the reason), never costed as if native.
// Sources: seed 002 (the strategy names and API); docs/strategies.md (definitions and cited quality).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/precision.hpp"

namespace roofline {

/// The linear layers (operators with a weight matrix) a strategy assigns: q/k/v/o projections, the three
/// FFN projections and the LM head. A strategy file must list every one of them.
inline constexpr std::array<OperatorType, 8> strategy_linear_operators{
    OperatorType::Q_PROJ,   OperatorType::K_PROJ, OperatorType::V_PROJ,   OperatorType::O_PROJ,
    OperatorType::FFN_GATE, OperatorType::FFN_UP, OperatorType::FFN_DOWN, OperatorType::LM_HEAD};

/// One operator's precision in a strategy. Linear layers: `weight` is required in files (bf16 when left
/// out in code), `activation` defaults to the strategy's (or band's) default activation precision.
/// ATTENTION: only `activation` (the Q/K/V precision inside the attention kernel; bf16 when left out).
struct OperatorPrecisionSpec {
  std::optional<Precision> weight;
  std::optional<Precision> activation;
  bool operator==(const OperatorPrecisionSpec&) const = default;
};

/// Layers a band covers: fractions of depth, or an explicit inclusive range.
/// Fractions: layer i of L belongs to the band when start_fraction·L <= i < end_fraction·L, i.e. layers
/// ceil(start·L) .. ceil(end·L) − 1 (products within 1e-9 of an integer count as that integer). Thirds of
/// 32 layers: 0–10, 11–21, 22–31 (the seed's create_layerwise_gradient(32)).
struct LayerRange {
  bool fractional = true;
  double start_fraction = 0;  ///< in [0, 1)
  double end_fraction = 1;    ///< in (start_fraction, 1]
  std::int64_t first_layer = 0;  ///< explicit form, inclusive
  std::int64_t last_layer = 0;   ///< explicit form, inclusive
  bool operator==(const LayerRange&) const = default;

  static LayerRange fractions(double start, double end) { return {true, start, end, 0, 0}; }
  static LayerRange layers(std::int64_t first, std::int64_t last) { return {false, 0, 1, first, last}; }
  /// The inclusive layer range for a model of `num_layers` layers; nullopt when the band is empty there.
  std::optional<std::pair<std::int64_t, std::int64_t>> resolve(std::int64_t num_layers) const;
};
std::ostream& operator<<(std::ostream& os, const LayerRange& r);

/// A band of layers whose listed operators override the strategy's; bands never overlap.
struct StrategyBand {
  LayerRange layers;
  std::optional<Precision> default_activation_precision;  ///< nullopt: the strategy's
  std::map<OperatorType, OperatorPrecisionSpec> operator_precisions;  ///< overrides, any subset
  bool operator==(const StrategyBand&) const = default;
};

/// One cited quality result. Numbers appear only with their exact source; `scheme` says what was
/// measured, which may differ from the strategy (and the finding says how).
struct QualityEvidence {
  std::string source;   ///< the publication, with its address
  std::string locator;  ///< where in it: "Table 3", "model card, Evaluation section"
  std::string model;    ///< the model measured
  std::string scheme;   ///< the quantisation measured
  std::string metric;
  std::optional<double> baseline;   ///< unquantised value, when the source gives numbers
  std::optional<double> quantized;  ///< quantised value (both or neither)
  std::optional<double> recovery_percent;  ///< the source's own quantised / unquantised × 100, when it gives one
  std::string finding;  ///< one sentence: what the source reports
  bool operator==(const QualityEvidence&) const = default;
};

struct QualityInfo {
  std::string summary;  ///< what the evidence says about this strategy; "no published figure found ..." if none
  std::vector<QualityEvidence> evidence;
  bool operator==(const QualityInfo&) const = default;
};

/// A mixed-precision strategy (the seed's MixedPrecisionConfig).
struct MixedPrecisionConfig {
  std::string name;
  std::string description;
  std::map<OperatorType, OperatorPrecisionSpec> operator_precisions;  ///< linear layers and attention
  Precision default_activation_precision = Precision::bf16;  ///< activations of linear layers not given one
  Precision kv_cache_precision = Precision::bf16;
  ActivationScaling activation_scaling = ActivationScaling::static_per_tensor;
  QuantizeFusion quantize_fusion = QuantizeFusion::separate;
  std::vector<StrategyBand> bands;
  QualityInfo quality;  ///< cited evidence (strategy files only; the code factories leave it empty)
  std::string file;     ///< where it was loaded from ("" for code)
  bool operator==(const MixedPrecisionConfig&) const = default;

  /// The seed's config.get_precision(op): weight and activation precision of `op` outside any band.
  /// Linear layers as assigned; ATTENTION {bf16, Q/K/V precision}; KV_CACHE {kv format, kv format};
  /// every other operator {bf16, bf16} (16-bit in the cost model).
  OpPrecision get_precision(OperatorType op) const;
  /// The precision of `op` in `layer`; throws InvalidArgumentError when a band is given as fractions of
  /// depth (use the overload with num_layers, or a factory that resolves the bands).
  OpPrecision get_precision(OperatorType op, std::int64_t layer) const;
  OpPrecision get_precision(OperatorType op, std::int64_t layer, std::int64_t num_layers) const;
};
std::ostream& operator<<(std::ostream& os, const MixedPrecisionConfig& c);

/// Throws InvalidArgumentError when a strategy built in code is inconsistent: a weight on ATTENTION, an
/// operator other than a linear layer or ATTENTION, a band fraction outside [0, 1] or an empty or
/// overlapping band, or fused quantisation with dynamic_per_tensor scaling.
void validate_strategy(const MixedPrecisionConfig& c);

/// The cost model's assignment as the strategy literally asks, bands resolved for `model`'s depth;
/// throws InvalidArgumentError when an explicit band lies beyond the model's layers.
PrecisionAssignment to_assignment(const MixedPrecisionConfig& c, const ModelConfig& model);

// ---- feasibility on a GPU -------------------------------------------------------------------------

/// What to do with a path the GPU cannot run natively.
enum class FeasibilityPolicy : std::uint8_t {
  emulate,  ///< run the documented fallback and cost it honestly (default)
  refuse,   ///< the strategy is infeasible on this GPU
};
std::string_view to_string(FeasibilityPolicy p);
FeasibilityPolicy parse_feasibility_policy(std::string_view s);  ///< "emulate", "refuse"

/// How one operator of a strategy runs on a GPU.
enum class StrategySupport : std::uint8_t {
  native,       ///< a tensor-core path consumes the requested formats directly
  dequantized,  ///< as designed: weights (or KV) dequantised in the kernel's main loop (W4A16, W4A8, int4 KV)
  emulated,     ///< the GPU lacks the requested unit: runs as the fallback in `reason` (policy emulate)
  refused,      ///< policy refuse and the GPU lacks the unit
};
std::string_view to_string(StrategySupport s);

struct OperatorFeasibility {
  OperatorType op = OperatorType::Q_PROJ;
  std::string scope;  ///< "all layers", or the band: "layers 11-21", "fraction 0.333-0.667 of depth"
  OpPrecision requested;  ///< KV_CACHE: weight = the stored format, activation = the attention's Q/K/V precision
  OpPrecision effective;  ///< what runs (the fallback when emulated)
  MathPath math = MathPath::tc_16bit;  ///< the unit that does the arithmetic
  StrategySupport support = StrategySupport::native;
  std::string reason;
  bool operator==(const OperatorFeasibility&) const = default;
};
std::ostream& operator<<(std::ostream& os, const OperatorFeasibility& f);

struct StrategyFeasibility {
  std::string strategy;
  std::string gpu;
  FeasibilityPolicy policy = FeasibilityPolicy::emulate;
  bool feasible = true;
  std::string reason;  ///< the first refusal, "q_proj (all layers): ..." when !feasible
  std::vector<OperatorFeasibility> operators;  ///< linear layers, attention and the KV cache, per scope
  bool operator==(const StrategyFeasibility&) const = default;

  /// The entry of `op` in `scope` ("all layers" by default), or null.
  const OperatorFeasibility* find(OperatorType op, std::string_view scope = "all layers") const;
  /// True when any entry is emulated (or refused).
  bool any_emulated() const;
};

/// How `c` runs on `hw`, per operator and scope. Fallbacks (policy emulate): a linear layer whose
/// activation format has no tensor-core path here runs weight-only (the weights stay in their format and
/// are dequantised to 16-bit in the main loop; activations stay 16-bit: NVFP4 W4A4 on sm_90 becomes
/// weight-only NVFP4 on 16-bit tensor cores, FP8 W8A8 on sm_80 becomes W8A16, as vLLM's Marlin fallbacks
/// do); fp8 attention without fp8 tensor cores runs in 16-bit; a KV format without a tensor-core path is
/// read as stored and dequantised in the attention kernel. Policy refuse turns each fallback into a refusal.
StrategyFeasibility check_strategy(const MixedPrecisionConfig& c, const HardwareSpec& hw,
                                   FeasibilityPolicy policy = FeasibilityPolicy::emulate);

/// The assignment the strategy runs as on `hw`: to_assignment(c, model) with the fallbacks of
/// check_strategy applied (policy emulate). Under policy refuse the literal assignment is returned; check
/// feasibility first.
PrecisionAssignment to_assignment(const MixedPrecisionConfig& c, const ModelConfig& model, const HardwareSpec& hw,
                                  FeasibilityPolicy policy = FeasibilityPolicy::emulate);

// ---- loading and the registry ---------------------------------------------------------------------

/// Loads and validates one strategy file; throws ConfigError naming file:line:column and key path.
MixedPrecisionConfig load_strategy_file(const std::filesystem::path& path);

/// The strategies known to the library: the shipped strategies/ plus user files.
class StrategyRegistry {
 public:
  static StrategyRegistry load_directory(const std::filesystem::path& dir);
  /// The shipped strategies (data_directory() / "strategies").
  static StrategyRegistry load_default();
  /// Adds a strategy from a user file; a duplicate name is an error.
  const MixedPrecisionConfig& add_file(const std::filesystem::path& path);
  /// Adds a strategy built in code (validated); a duplicate name is an error.
  void add(MixedPrecisionConfig c);
  /// Throws UnknownNameError listing the known names.
  const MixedPrecisionConfig& get(std::string_view name) const;
  const MixedPrecisionConfig* find(std::string_view name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, MixedPrecisionConfig, std::less<>>& all() const { return strategies_; }

 private:
  std::map<std::string, MixedPrecisionConfig, std::less<>> strategies_;
};

/// The seed's get_strategy(name): a shipped strategy (loaded once); throws UnknownNameError.
MixedPrecisionConfig get_strategy(std::string_view name);

// ---- the shipped strategies in code (each equals its strategies/*.yaml, quality evidence aside) -----

/// Every linear layer and the attention in 16-bit (fp16), fp16 KV cache: the reference.
MixedPrecisionConfig create_fp16_baseline();
/// FP8 E4M3 W8A8 linear layers (dynamic per-token activation scales), LM head bf16, FP8 KV cache.
MixedPrecisionConfig create_fp8_balanced();
/// INT4 group-128 weight-only linear layers (W4A16), LM head and KV cache bf16.
MixedPrecisionConfig create_w4a16_aggressive();
/// NVFP4 W4A4 linear layers (static global activation scale, per-16 block scales), LM head bf16, NVFP4 KV.
MixedPrecisionConfig create_nvfp4_blackwell();
/// FP8 W8A8 linear layers with an NVFP4 KV cache: the KV bytes dominate long-context decode.
MixedPrecisionConfig create_hybrid_long_context();
/// Thirds of depth: fp16, then FP8 W8A8, then NVFP4 W4A4 (bands as fractions of depth).
MixedPrecisionConfig create_layerwise_gradient();
/// The seed's create_layerwise_gradient(num_layers): the same bands resolved to explicit layer ranges
/// (32 layers: 0–10 fp16, 11–21 fp8_e4m3, 22–31 nvfp4).
MixedPrecisionConfig create_layerwise_gradient(std::int64_t num_layers);

}  // namespace roofline

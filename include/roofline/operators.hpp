// Operator cost model of one transformer forward step: per operator, FLOPs and bytes split by tensor
// class (weights, activations, KV cache, scales) for a prefill of S tokens or a decode step at context S,
// batch B, each operator in its own precision; GQA, MoE with active experts, tensor parallelism.
// Assumption: the step runs as a plain implementation does (one kernel per linear layer, fused RMSNorm,
// separate RoPE, activation, residual-add and KV-write kernels, one fused attention kernel).
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/precision.hpp"

namespace roofline {

/// The seed's operator types (Q_PROJ ... EMBEDDINGS) plus the kernels a real step also runs.
enum class OperatorType : std::uint8_t {
  Q_PROJ,
  K_PROJ,
  V_PROJ,
  O_PROJ,
  QK_MATMUL,   ///< unfused attention only: S = Q·Kᵀ
  SV_MATMUL,   ///< unfused attention only: O = P·V
  SOFTMAX,     ///< unfused attention only
  FFN_GATE,
  FFN_UP,
  FFN_DOWN,
  KV_CACHE,    ///< writing the new tokens' K and V into the cache
  RMSNORM,
  EMBEDDINGS,
  ROPE,
  RESIDUAL,
  ACTIVATION,  ///< SiLU(gate)·up
  LM_HEAD,
  QUANTIZE,    ///< activation quantisation before a low-precision GEMM (amax, scale, cast)
  ATTENTION,   ///< fused attention (QK_MATMUL + SOFTMAX + SV_MATMUL in one kernel)
  MOE_ROUTER,
  ALLREDUCE,   ///< tensor-parallel all-reduce
};
inline constexpr std::size_t operator_type_count = 21;
/// Lower-case name, e.g. "q_proj", "ffn_gate", "kv_cache" (the seed's OperatorType values).
std::string_view to_string(OperatorType t);
OperatorType parse_operator_type(std::string_view name);  ///< accepts "q_proj" and "Q_PROJ"; throws UnknownNameError
std::ostream& operator<<(std::ostream& os, OperatorType t);

enum class Phase : std::uint8_t { prefill, decode };
std::string_view to_string(Phase p);
Phase parse_phase(std::string_view s);

/// The kind of GPU kernel an operator runs as; calibration fits one set of parameters per kind.
enum class KernelClass : std::uint8_t {
  gemm,               ///< cuBLAS-class matrix product
  attention_prefill,  ///< fused attention, q_len > 1
  attention_decode,   ///< fused attention, q_len = 1 (split-KV)
  elementwise,        ///< RoPE, activation, residual add, KV write, quantise
  norm,               ///< RMSNorm (a row reduction)
  embedding,          ///< table gather
  allreduce,          ///< NVLink all-reduce
};
inline constexpr std::size_t kernel_class_count = 7;
std::string_view to_string(KernelClass k);
KernelClass parse_kernel_class(std::string_view s);

/// Bytes moved through device memory by one operator instance, by tensor class.
struct TensorBytes {
  double weights_bytes = 0;
  double activations_read_bytes = 0;
  double activations_written_bytes = 0;
  double kv_read_bytes = 0;
  double kv_written_bytes = 0;
  double scales_bytes = 0;
  double total() const {
    return weights_bytes + activations_read_bytes + activations_written_bytes + kv_read_bytes + kv_written_bytes +
           scales_bytes;
  }
  bool operator==(const TensorBytes&) const = default;
};

/// y[m, n] = x[m, k]·W[n, k]ᵀ, `groups` independent products of this shape (MoE experts).
struct GemmShape {
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::int64_t groups = 1;
  bool operator==(const GemmShape&) const = default;
};

struct AttentionShape {
  std::int64_t batch = 1;
  std::int64_t q_heads = 1;
  std::int64_t kv_heads = 1;
  std::int64_t q_len = 1;
  std::int64_t kv_len = 1;
  std::int64_t head_dim = 128;
  bool causal = false;                 ///< bottom-right aligned: query i sees keys [0, kv_len - q_len + i]
  std::int64_t window_tokens = 0;      ///< sliding window (0: none)
  bool operator==(const AttentionShape&) const = default;
};

/// Which attention implementation runs. fa3 and cudnn are FA3-class Hopper kernels (wgmma + TMA).
enum class AttentionKernel : std::uint8_t {
  unfused, fa1, fa2, fa3, fa4, cudnn, splitkv_bf16, q2fp8, fp8fp8, sage_int8_fp16, sage_int8_fp8,
  mem_efficient,  ///< PyTorch SDPA's memory-efficient backend (xFormers-style CUTLASS kernel, FA2-class)
};
inline constexpr std::size_t attention_kernel_count = 12;
std::string_view to_string(AttentionKernel k);
AttentionKernel parse_attention_kernel(std::string_view s);  ///< throws UnknownNameError

/// Activation quantisation before a low-precision GEMM (issue: the runtime cost of dynamic quantisation).
enum class ActivationScaling : std::uint8_t {
  static_per_tensor,   ///< calibrated offline: one cast kernel (read 16-bit, write 8-bit)
  dynamic_per_tensor,  ///< amax reduction kernel + cast kernel (two passes over the input)
  dynamic_per_token,   ///< one kernel: per-row amax, scale and cast fused
};
std::string_view to_string(ActivationScaling s);
ActivationScaling parse_activation_scaling(std::string_view s);  ///< throws UnknownNameError

/// Where activation quantisation runs (issue 5: "fused into a neighbour or not").
enum class QuantizeFusion : std::uint8_t {
  separate,             ///< its own kernel(s), reading the 16-bit tensor its producer wrote
  fused_into_producer,  ///< the producing RMSNorm or SiLU·mul kernel writes the quantised tensor itself: no
                        ///< extra launch or read pass (vLLM's RMSNorm+quant and SiLU·mul+quant fusion passes);
                        ///< o_proj's input (written by attention) stays separate. Not for dynamic_per_tensor,
                        ///< whose global amax must be known before any element is cast.
};
std::string_view to_string(QuantizeFusion f);
QuantizeFusion parse_quantize_fusion(std::string_view s);  ///< throws UnknownNameError

struct OpPrecision {
  Precision weight = Precision::bf16;
  Precision activation = Precision::bf16;
  bool operator==(const OpPrecision&) const = default;
};

/// Per-operator precision for the whole model, with optional layer bands (layer-wise strategies).
struct PrecisionAssignment {
  std::string name = "bf16";
  std::array<OpPrecision, operator_type_count> by_op{};  ///< default for every layer
  struct LayerBand {
    std::int64_t first_layer = 0;  ///< inclusive
    std::int64_t last_layer = 0;   ///< inclusive
    std::array<OpPrecision, operator_type_count> by_op{};
    bool operator==(const LayerBand&) const = default;
  };
  std::vector<LayerBand> bands;  ///< later bands override earlier ones and the default
  Precision kv_cache = Precision::bf16;
  ActivationScaling activation_scaling = ActivationScaling::static_per_tensor;
  QuantizeFusion quantize_fusion = QuantizeFusion::separate;
  bool operator==(const PrecisionAssignment&) const = default;

  /// Every weight in `weights`, activations of GEMMs in `activations`, KV cache in `kv`.
  static PrecisionAssignment uniform(Precision weights, Precision activations, Precision kv, std::string name = "");
  OpPrecision at(OperatorType t, std::int64_t layer) const;
};

/// What one forward step runs.
struct StepConfig {
  Phase phase = Phase::decode;
  std::int64_t batch = 1;
  std::int64_t seq_len = 1;  ///< decode: tokens already cached (context); prefill: prompt tokens per sequence
  PrecisionAssignment precision;
  AttentionKernel attention = AttentionKernel::fa2;
  std::int64_t tensor_parallel = 1;
  std::optional<std::int64_t> num_layers;  ///< run only this many layers (measured truncated models)
  double attention_skip_fraction = 0;      ///< pruned decode kernels (q2fp8, fp8fp8): fraction of KV blocks skipped
  bool operator==(const StepConfig&) const = default;
};

/// One operator of a step: per-instance cost, repeated `instances` times (identical layers are merged).
struct Op {
  OperatorType type = OperatorType::Q_PROJ;
  std::int32_t first_layer = -1;  ///< -1: not a per-layer operator
  std::int32_t instances = 1;     ///< identical instances (layers) this row stands for
  KernelClass kernel = KernelClass::gemm;
  std::int32_t kernels_per_instance = 1;
  /// Of kernels_per_instance: small kernels after the main one (FlashAttention-2's split-KV combine; the
  /// GEMM's split-K reduction is costed inside predict() at the GEMM's own fixed cost). Each costs an
  /// elementwise kernel's fixed cost (the calibrated residual add), not the main kernel's; their bytes are
  /// in the memory term.
  std::int32_t follow_up_kernels = 0;
  MathPath math = MathPath::tc_16bit;
  Support support = Support::native;
  Precision weight_precision = Precision::bf16;
  Precision activation_precision = Precision::bf16;
  double flops = 0;           ///< useful FLOPs per instance
  double executed_flops = 0;  ///< FLOPs the kernel executes (tile padding, masked tiles); 0: same as flops
  double critical_path_flops = 0;  ///< FLOPs of the largest thread block (load imbalance); 0: none
  /// FLOPs of the largest thread block run alone on an SM at its serial pace (a softmax that overlaps only
  /// another block's matrix products); a bound after the overlap; 0: none.
  double lone_block_flops = 0;
  /// Work on another pipeline that the kernel overlaps with its tensor-core work (the softmax exponentials
  /// of warp-specialised attention), as seconds at that pipeline's peak; 0: none, or already in executed_flops.
  double overlapped_s = 0;
  /// FLOPs of one key row across every query tile of the kernel (attention prefill): the kernel's fixed work
  /// per query tile (loading Q, rescaling and writing O) is the fitted tile_overhead_k_elements keys of it.
  double flops_per_overhead_key = 0;
  TensorBytes bytes;  ///< per instance
  GemmShape gemm;            ///< for kernel == gemm
  AttentionShape attention;  ///< for attention kernels
  AttentionKernel attention_kernel = AttentionKernel::fa2;
  std::int64_t parallel_ctas = 0;   ///< thread blocks the kernel launches (0: enough to fill the GPU)
  /// Bytes the kernel keeps in flight from HBM (resident blocks × outstanding tile bytes); when set it
  /// replaces parallel_ctas in the occupancy of the memory term (0: not modelled).
  double inflight_bytes = 0;
  /// Dependent steps on the kernel's critical path beyond what its fixed cost holds (0: none): the ids an
  /// embedding gather walks one after another, the splits a split-KV combine walks. Each costs the key's
  /// fitted serial_step_s.
  double serial_steps = 0;
  /// In a step, its activation inputs were just written by the kernel before it and sit in L2 (RMSNorm,
  /// RoPE, KV write, residual add, activation, quantise); KernelParams::l2_warm_ratio applies.
  bool inputs_in_l2 = false;
  std::string note;                 ///< why this op runs as it does (emulation, refusal)
  bool operator==(const Op&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Op& op);
/// "q_proj", or "q_proj[0-9]" for a layer band.
std::string op_label(const Op& op);

/// Memory needed on one GPU for a step.
struct MemoryFootprint {
  double weights_bytes = 0;
  double kv_cache_bytes = 0;
  double activations_bytes = 0;  ///< peak transient activations (largest per-layer working set)
  double total_bytes() const { return weights_bytes + kv_cache_bytes + activations_bytes; }
  bool operator==(const MemoryFootprint&) const = default;
};

/// The operators of one forward step; validates the configuration (throws InvalidArgumentError for
/// a batch or length < 1, a tensor-parallel degree that does not divide the heads, ...).
std::vector<Op> build_step(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw);
/// Weights (every expert), KV cache (batch × cached tokens × layers × 2 × kv width) and activations.
MemoryFootprint memory_footprint(const ModelConfig& model, const StepConfig& config);

/// The cost of one GEMM y[m,n] = x[m,k]·W[n,k]ᵀ with weights in `w` and activations in `a`, 16-bit
/// output: FLOPs 2mnk, bytes W + x + y (+ block scales).
Op gemm_op(const GemmShape& shape, Precision w, Precision a, const HardwareSpec& hw, OperatorType type = OperatorType::Q_PROJ);
/// The embedding gather of `rows` token ids from a [vocab, cols] table of `element_bytes` elements, as
/// PyTorch runs it (F.embedding is index_select; aten/src/ATen/native/cuda/Indexing.cu,
/// index_select_out_cuda_impl): up to 16 indices, every thread walks the indices one after another (the
/// "small index" kernel), one dependent round trip per further index; above 16, one parallel gather.
Op embedding_op(std::int64_t rows, std::int64_t cols, double element_bytes);
/// RMSNorm over `rows` rows of `cols` elements of `element_bytes`, as our Triton kernel runs it
/// (validate/torch/kernels.py, _rmsnorm_kernel; the model steps run it too): one program per row reads its
/// row and the weight vector and writes the row; 4 FLOPs per element. Where one program fills an SM (16
/// warps from 16,384 columns), each SM walks its rows one after another and every further row exposes the
/// load -> reduce -> store latency once (Op::serial_steps = rmsnorm_serial_steps); with two or more resident
/// programs one row's reduction overlaps another's loads.
Op rmsnorm_op(std::int64_t rows, std::int64_t cols, double element_bytes, int sm_count);
/// Programs of the Triton RMSNorm kernel resident on one SM for rows of `cols` elements (registers bound).
int rmsnorm_programs_per_sm(std::int64_t cols);
/// ceil(rows / SMs) - 1 where one program fills an SM and rows > SMs, else 0.
double rmsnorm_serial_steps(std::int64_t rows, std::int64_t cols, int sm_count);
/// The embedding gather's Op::serial_steps for `rows` token ids: rows - 1 up to 16, else 0.
double embedding_serial_steps(std::int64_t rows);


}  // namespace roofline

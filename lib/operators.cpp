#include "roofline/operators.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>
#include <sstream>

#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"

namespace roofline {

namespace {
constexpr std::string_view operator_names[operator_type_count] = {
    "q_proj",  "k_proj",     "v_proj",   "o_proj",       "qk_matmul", "sv_matmul", "softmax",
    "ffn_gate", "ffn_up",    "ffn_down", "kv_cache",     "rmsnorm",   "embeddings", "rope",
    "residual", "activation", "lm_head", "quantize",     "attention", "moe_router", "allreduce",
};
constexpr std::string_view kernel_class_names[kernel_class_count] = {
    "gemm", "attention_prefill", "attention_decode", "elementwise", "norm", "embedding", "allreduce"};
constexpr std::string_view attention_kernel_names[attention_kernel_count] = {
    "unfused", "fa1", "fa2", "fa3", "fa4", "cudnn", "splitkv_bf16", "q2fp8", "fp8fp8", "sage_int8_fp16", "sage_int8_fp8",
    "mem_efficient"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

template <std::size_t N>
std::vector<std::string> to_vector(const std::string_view (&names)[N]) {
  return std::vector<std::string>(std::begin(names), std::end(names));
}

bool is_16bit_or_wider(Precision p) { return p == Precision::bf16 || p == Precision::fp16 || p == Precision::fp32; }
}  // namespace

std::string_view to_string(OperatorType t) { return operator_names[static_cast<std::size_t>(t)]; }
std::ostream& operator<<(std::ostream& os, OperatorType t) { return os << to_string(t); }

OperatorType parse_operator_type(std::string_view name) {
  const std::string l = lower(name);
  for (std::size_t i = 0; i < operator_type_count; ++i)
    if (operator_names[i] == l) return OperatorType(i);
  throw UnknownNameError("operator", std::string(name), to_vector(operator_names));
}

std::string_view to_string(Phase p) { return p == Phase::prefill ? "prefill" : "decode"; }
Phase parse_phase(std::string_view s) {
  if (s == "prefill") return Phase::prefill;
  if (s == "decode") return Phase::decode;
  throw UnknownNameError("phase", std::string(s), {"decode", "prefill"});
}

std::string_view to_string(KernelClass k) { return kernel_class_names[static_cast<std::size_t>(k)]; }
KernelClass parse_kernel_class(std::string_view s) {
  for (std::size_t i = 0; i < kernel_class_count; ++i)
    if (kernel_class_names[i] == s) return KernelClass(i);
  throw UnknownNameError("kernel class", std::string(s), to_vector(kernel_class_names));
}

std::string_view to_string(AttentionKernel k) { return attention_kernel_names[static_cast<std::size_t>(k)]; }
AttentionKernel parse_attention_kernel(std::string_view s) {
  for (std::size_t i = 0; i < attention_kernel_count; ++i)  // the canonical spelling, without case folding
    if (attention_kernel_names[i] == s) return AttentionKernel(i);
  const std::string l = lower(s);
  for (std::size_t i = 0; i < attention_kernel_count; ++i)
    if (attention_kernel_names[i] == l) return AttentionKernel(i);
  throw UnknownNameError("attention kernel", std::string(s), to_vector(attention_kernel_names));
}

std::string_view to_string(ActivationScaling s) {
  switch (s) {
    case ActivationScaling::static_per_tensor: return "static_per_tensor";
    case ActivationScaling::dynamic_per_tensor: return "dynamic_per_tensor";
    case ActivationScaling::dynamic_per_token: return "dynamic_per_token";
  }
  return "?";
}

ActivationScaling parse_activation_scaling(std::string_view s) {
  for (ActivationScaling a : {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_tensor,
                              ActivationScaling::dynamic_per_token})
    if (to_string(a) == s) return a;
  throw UnknownNameError("activation scaling", std::string(s),
                         {"dynamic_per_tensor", "dynamic_per_token", "static_per_tensor"});
}

std::string_view to_string(QuantizeFusion f) {
  return f == QuantizeFusion::separate ? "separate" : "fused_into_producer";
}
QuantizeFusion parse_quantize_fusion(std::string_view s) {
  if (s == "separate") return QuantizeFusion::separate;
  if (s == "fused_into_producer") return QuantizeFusion::fused_into_producer;
  throw UnknownNameError("quantize fusion", std::string(s), {"fused_into_producer", "separate"});
}

PrecisionAssignment PrecisionAssignment::uniform(Precision weights, Precision activations, Precision kv, std::string name) {
  PrecisionAssignment a;
  a.name = name.empty() ? std::string(to_string(weights)) : std::move(name);
  for (std::size_t i = 0; i < operator_type_count; ++i) {
    const auto t = OperatorType(i);
    const bool has_weights = t == OperatorType::Q_PROJ || t == OperatorType::K_PROJ || t == OperatorType::V_PROJ ||
                             t == OperatorType::O_PROJ || t == OperatorType::FFN_GATE || t == OperatorType::FFN_UP ||
                             t == OperatorType::FFN_DOWN || t == OperatorType::LM_HEAD;
    a.by_op[i] = has_weights ? OpPrecision{weights, activations} : OpPrecision{Precision::bf16, Precision::bf16};
  }
  a.kv_cache = kv;
  return a;
}

OpPrecision PrecisionAssignment::at(OperatorType t, std::int64_t layer) const {
  const std::size_t i = static_cast<std::size_t>(t);
  for (auto it = bands.rbegin(); it != bands.rend(); ++it)
    if (layer >= it->first_layer && layer <= it->last_layer) return it->by_op[i];
  return by_op[i];
}

std::ostream& operator<<(std::ostream& os, const Op& op) {
  os << "Op{" << op_label(op) << " x" << op.instances << ", " << to_string(op.kernel) << ", " << to_string(op.math) << " "
     << to_string(op.support) << ", w=" << to_string(op.weight_precision) << " a=" << to_string(op.activation_precision)
     << ", " << op.flops << " FLOP, " << op.bytes.total() << " B";
  if (op.kernel == KernelClass::gemm) os << ", m=" << op.gemm.m << " n=" << op.gemm.n << " k=" << op.gemm.k;
  return os << "}";
}

std::string op_label(const Op& op) {
  std::string s(to_string(op.type));
  if (op.first_layer >= 0 && op.instances > 0) {
    s += "[" + std::to_string(op.first_layer);
    if (op.instances > 1) s += "-" + std::to_string(op.first_layer + op.instances - 1);
    s += "]";
  }
  return s;
}

Op gemm_op(const GemmShape& g, Precision w, Precision a, const HardwareSpec& hw, OperatorType type) {
  Op op;
  op.type = type;
  op.kernel = KernelClass::gemm;
  const MatmulPath path = matmul_path(hw, w, a);
  op.math = path.math;
  op.support = path.support;
  if (path.support != Support::native) op.note = path.reason;
  op.weight_precision = w;
  op.activation_precision = a;
  op.gemm = g;
  const double groups = double(g.groups);
  op.flops = 2.0 * double(g.m) * double(g.n) * double(g.k) * groups;
  op.bytes.weights_bytes = double(g.n) * double(g.k) * bytes_per_element(w) * groups;
  // Activations enter the GEMM in their precision (quantised beforehand by a QUANTIZE op); output 16-bit.
  op.bytes.activations_read_bytes = double(g.m) * double(g.k) * bytes_per_element(a) * groups;
  op.bytes.activations_written_bytes = double(g.m) * double(g.n) * 2.0 * groups;
  return op;
}

namespace {

struct Dims {
  std::int64_t layers, tokens, lm_rows, q_heads, kv_heads, head_dim, hidden, ffn, vocab, q_width, kv_width;
  std::int64_t cached_tokens, attention_kv_len;
};

Dims derive_dims(const ModelConfig& m, const StepConfig& c) {
  const std::int64_t tp = c.tensor_parallel;
  Dims d{};
  d.layers = c.num_layers.value_or(m.num_layers);
  d.tokens = c.phase == Phase::decode ? c.batch : c.batch * c.seq_len;
  d.lm_rows = c.batch;  // logits for the last token of each sequence
  d.q_heads = m.num_attention_heads / tp;
  d.kv_heads = m.num_kv_heads >= tp ? m.num_kv_heads / tp : 1;  // replicated when tp > kv heads
  d.head_dim = m.head_dim;
  d.hidden = m.hidden_size;
  d.ffn = m.ffn_size / tp;
  d.vocab = (m.vocab_size + tp - 1) / tp;
  d.q_width = d.q_heads * d.head_dim;
  d.kv_width = d.kv_heads * d.head_dim;
  const std::int64_t total = c.phase == Phase::decode ? c.seq_len + 1 : c.seq_len;
  d.attention_kv_len = total;
  d.cached_tokens = m.sliding_window_tokens ? std::min(total, *m.sliding_window_tokens) : total;
  return d;
}

void validate_config(const ModelConfig& m, const StepConfig& c) {
  validate_model(m);
  if (c.batch < 1) throw InvalidArgumentError("batch: must be >= 1, got " + std::to_string(c.batch));
  if (c.seq_len < 1) throw InvalidArgumentError("seq_len: must be >= 1, got " + std::to_string(c.seq_len));
  const std::int64_t tp = c.tensor_parallel;
  if (tp < 1) throw InvalidArgumentError("tensor_parallel: must be >= 1, got " + std::to_string(tp));
  if (m.num_attention_heads % tp != 0)
    throw InvalidArgumentError("tensor_parallel " + std::to_string(tp) + " does not divide the " +
                               std::to_string(m.num_attention_heads) + " attention heads of " + m.name);
  if (m.num_kv_heads % tp != 0 && tp % m.num_kv_heads != 0)
    throw InvalidArgumentError("tensor_parallel " + std::to_string(tp) + " and the " + std::to_string(m.num_kv_heads) +
                               " KV heads of " + m.name + " neither divide each other");
  if (m.ffn_size % tp != 0)
    throw InvalidArgumentError("tensor_parallel " + std::to_string(tp) + " does not divide ffn_size " + std::to_string(m.ffn_size));
  if (c.num_layers && (*c.num_layers < 1 || *c.num_layers > m.num_layers))
    throw InvalidArgumentError("num_layers: must be in [1, " + std::to_string(m.num_layers) + "], got " +
                               std::to_string(*c.num_layers));
  if (!(c.attention_skip_fraction >= 0 && c.attention_skip_fraction < 1))
    throw InvalidArgumentError("attention_skip_fraction: must be in [0, 1)");
  if (c.precision.quantize_fusion == QuantizeFusion::fused_into_producer &&
      c.precision.activation_scaling == ActivationScaling::dynamic_per_tensor)
    throw InvalidArgumentError("activation quantisation: dynamic_per_tensor needs the whole tensor's amax before any "
                               "element is cast, so it cannot be fused into its producer (use static_per_tensor or "
                               "dynamic_per_token, or keep it separate)");
  for (const auto& b : c.precision.bands) {
    if (b.first_layer < 0 || b.last_layer < b.first_layer)
      throw InvalidArgumentError("precision band [" + std::to_string(b.first_layer) + ", " + std::to_string(b.last_layer) +
                                 "] is empty or negative");
  }
}

// Layer segments over which every operator keeps one precision: split at every band boundary.
std::vector<std::pair<std::int64_t, std::int64_t>> layer_segments(const PrecisionAssignment& p, std::int64_t layers) {
  std::set<std::int64_t> cuts = {0, layers};
  for (const auto& b : p.bands) {
    if (b.first_layer < layers) cuts.insert(b.first_layer);
    if (b.last_layer + 1 < layers) cuts.insert(b.last_layer + 1);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) out.emplace_back(*it, *std::next(it) - *it);
  return out;
}

Op memory_op(OperatorType type, KernelClass kernel, double read_bytes, double written_bytes, int kernels = 1) {
  Op op;
  op.type = type;
  op.kernel = kernel;
  op.kernels_per_instance = kernels;
  op.math = MathPath::simt_fp32;
  op.activation_precision = Precision::bf16;
  op.bytes.activations_read_bytes = read_bytes;
  op.bytes.activations_written_bytes = written_bytes;
  return op;
}

// Activation quantisation of a [rows, cols] 16-bit input into precision `a` (issue 5: dynamic
// quantisation costs). Static: one cast pass. Dynamic per tensor: an amax pass, then the cast.
// Dynamic per token: one fused pass (row amax, scale, cast), plus the fp32 scale per row.
// The cast FLOPs of quantising rows × cols elements: one multiply per element (static), plus the amax
// comparison (dynamic).
double quantize_flops(std::int64_t rows, std::int64_t cols, ActivationScaling scaling) {
  return double(rows) * double(cols) * (scaling == ActivationScaling::static_per_tensor ? 1.0 : 2.0);
}

Op quantize_op(std::int64_t rows, std::int64_t cols, Precision a, ActivationScaling scaling) {
  const double in = double(rows) * double(cols) * 2.0;
  const double out = double(rows) * double(cols) * bytes_per_element(a);
  Op op;
  switch (scaling) {
    case ActivationScaling::static_per_tensor: op = memory_op(OperatorType::QUANTIZE, KernelClass::elementwise, in, out, 1); break;
    case ActivationScaling::dynamic_per_tensor:
      op = memory_op(OperatorType::QUANTIZE, KernelClass::elementwise, 2 * in, out, 2);
      break;
    case ActivationScaling::dynamic_per_token:
      op = memory_op(OperatorType::QUANTIZE, KernelClass::elementwise, in, out, 1);
      op.bytes.scales_bytes = double(rows) * 4.0;
      break;
  }
  op.activation_precision = a;
  op.flops = quantize_flops(rows, cols, scaling);
  op.note = std::string("activation quantisation to ") + std::string(to_string(a)) + ", " + std::string(to_string(scaling));
  return op;
}

}  // namespace

Op embedding_op(std::int64_t rows, std::int64_t cols, double element_bytes) {
  const double n = double(rows) * double(cols);
  Op op = memory_op(OperatorType::EMBEDDINGS, KernelClass::embedding, n * element_bytes + double(rows) * 8.0,
                    n * element_bytes);
  op.serial_steps = embedding_serial_steps(rows);
  return op;
}

int rmsnorm_programs_per_sm(std::int64_t cols) {
  // validate/torch/kernels.py, rmsnorm_triton: BLOCK = next power of two >= cols, num_warps =
  // min(16, max(4, BLOCK / 1024)). Registers: 72-80 per thread at every hidden size we measured, no spills
  // (validate/data/<gpu>/logs/triton_rmsnorm_regs.txt; the row lives in registers, BLOCK / threads = 32
  // fp32 values per thread), taken as 80. A Hopper, Ampere or Blackwell SM holds 65,536 registers and 2,048
  // threads (CUDA C++ Programming Guide, compute capability tables).
  std::int64_t block = 1;
  while (block < cols) block <<= 1;
  const std::int64_t warps = std::min<std::int64_t>(16, std::max<std::int64_t>(4, block / 1024));
  const std::int64_t threads = 32 * warps;
  constexpr std::int64_t registers_per_thread = 80, registers_per_sm = 65536, threads_per_sm = 2048;
  return int(std::max<std::int64_t>(1, std::min(registers_per_sm / (registers_per_thread * threads), threads_per_sm / threads)));
}

double rmsnorm_serial_steps(std::int64_t rows, std::int64_t cols, int sm_count) {
  if (rmsnorm_programs_per_sm(cols) > 1 || sm_count < 1 || rows <= sm_count) return 0.0;
  return double((rows + sm_count - 1) / sm_count - 1);
}

Op rmsnorm_op(std::int64_t rows, std::int64_t cols, double element_bytes, int sm_count) {
  const double n = double(rows) * double(cols);
  Op op = memory_op(OperatorType::RMSNORM, KernelClass::norm, n * element_bytes + double(cols) * element_bytes,
                    n * element_bytes);
  op.flops = 4.0 * n;
  op.parallel_ctas = rows;  // one program per row
  op.serial_steps = rmsnorm_serial_steps(rows, cols, sm_count);
  return op;
}

double embedding_serial_steps(std::int64_t rows) {
  constexpr std::int64_t small_index_limit = 16;  // index_select_out_cuda_impl: numIndices <= 16
  return rows > 1 && rows <= small_index_limit ? double(rows - 1) : 0.0;
}

std::vector<Op> build_step(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw) {
  validate_config(model, config);
  const Dims d = derive_dims(model, config);
  const PrecisionAssignment& prec = config.precision;
  const double act = 2.0;  // 16-bit activations between kernels
  const double T = double(d.tokens);
  std::vector<Op> ops;
  ops.reserve(32);

  auto place = [](Op op, std::int64_t first, std::int64_t count) {
    op.first_layer = std::int32_t(first);
    op.instances = std::int32_t(count);
    return op;
  };

  if (d.vocab > 0) {
    ops.push_back(embedding_op(d.tokens, d.hidden, act));
  }

  // Quantise one input for every consumer GEMM in a low precision (q/k/v share one, gate/up share one).
  // Separate: a QUANTIZE op per distinct precision. Fused into the producer (the op at `producer`, an
  // RMSNorm or SiLU·mul): no QUANTIZE op; the producer writes each quantised copy (+ per-token scales)
  // instead of its 16-bit output, which it still writes when a 16-bit consumer needs it.
  auto maybe_quantize = [&](std::initializer_list<OperatorType> consumers, std::int64_t layer, std::int64_t rows,
                            std::int64_t cols, std::optional<std::size_t> producer, bool producer_also_16bit,
                            std::int64_t first, std::int64_t count) {
    std::vector<Precision> wanted;
    bool wants_16bit = producer_also_16bit;
    for (OperatorType t : consumers) {
      const Precision a = prec.at(t, layer).activation;
      if (is_16bit_or_wider(a)) wants_16bit = true;
      else if (std::find(wanted.begin(), wanted.end(), a) == wanted.end()) wanted.push_back(a);
    }
    if (wanted.empty()) return;
    if (producer && prec.quantize_fusion == QuantizeFusion::fused_into_producer) {
      Op& p = ops[*producer];
      const double elements = double(rows) * double(cols);
      std::string formats;
      for (Precision a : wanted) {
        p.bytes.activations_written_bytes += elements * bytes_per_element(a);
        if (prec.activation_scaling == ActivationScaling::dynamic_per_token) p.bytes.scales_bytes += double(rows) * 4.0;
        p.flops += quantize_flops(rows, cols, prec.activation_scaling);
        formats += (formats.empty() ? "" : ", ") + std::string(to_string(a));
      }
      if (!wants_16bit) p.bytes.activations_written_bytes -= elements * 2.0;
      p.note = "writes its output quantised to " + formats + " (" + std::string(to_string(prec.activation_scaling)) +
               ", fused)" + (wants_16bit ? " and in 16-bit" : "");
      return;
    }
    for (Precision a : wanted) {
      Op q = quantize_op(rows, cols, a, prec.activation_scaling);
      if (first >= 0) {
        q.first_layer = std::int32_t(first);
        q.instances = std::int32_t(count);
      }
      ops.push_back(q);
    }
  };

  for (const auto& [first, count] : layer_segments(prec, d.layers)) {
    auto quantize_inputs = [&](std::initializer_list<OperatorType> consumers, std::int64_t cols,
                               std::optional<std::size_t> producer = std::nullopt, bool producer_also_16bit = false) {
      maybe_quantize(consumers, first, d.tokens, cols, producer, producer_also_16bit, first, count);
    };
    auto linear = [&](OperatorType t, std::int64_t n, std::int64_t k) {
      const OpPrecision p = prec.at(t, first);
      ops.push_back(place(gemm_op(GemmShape{d.tokens, n, k, 1}, p.weight, p.activation, hw, t), first, count));
    };

    const Op norm = rmsnorm_op(d.tokens, d.hidden, act, hw.sms());
    ops.push_back(place(norm, first, count));
    quantize_inputs({OperatorType::Q_PROJ, OperatorType::K_PROJ, OperatorType::V_PROJ}, d.hidden, ops.size() - 1);
    linear(OperatorType::Q_PROJ, d.q_width, d.hidden);
    linear(OperatorType::K_PROJ, d.kv_width, d.hidden);
    linear(OperatorType::V_PROJ, d.kv_width, d.hidden);

    Op rope = memory_op(OperatorType::ROPE, KernelClass::elementwise,
                        T * double(d.q_width + d.kv_width) * act + T * double(d.head_dim) * 4.0,
                        T * double(d.q_width + d.kv_width) * act);
    rope.flops = 3.0 * T * double(d.q_width + d.kv_width);
    ops.push_back(place(rope, first, count));

    const double kv_el = bytes_per_element(prec.kv_cache);
    Op kv = memory_op(OperatorType::KV_CACHE, KernelClass::elementwise, T * 2.0 * double(d.kv_width) * act, 0, 2);
    kv.bytes.kv_written_bytes = T * 2.0 * double(d.kv_width) * kv_el;
    kv.activation_precision = prec.kv_cache;
    ops.push_back(place(kv, first, count));

    // Attention.
    AttentionShape shape;
    shape.batch = config.batch;
    shape.q_heads = d.q_heads;
    shape.kv_heads = d.kv_heads;
    shape.q_len = config.phase == Phase::decode ? 1 : config.seq_len;
    shape.kv_len = d.attention_kv_len;
    shape.head_dim = d.head_dim;
    shape.causal = config.phase == Phase::prefill;
    shape.window_tokens = model.sliding_window_tokens.value_or(0);
    const Precision qkv = prec.at(OperatorType::ATTENTION, first).activation;
    AttentionOptions attention_options;
    attention_options.skip_fraction = config.attention_skip_fraction;
    const Op at = attention_op(shape, config.attention, qkv, prec.kv_cache, hw, attention_options);
    ops.push_back(place(at, first, count));

    quantize_inputs({OperatorType::O_PROJ}, d.q_width);  // attention writes 16-bit: a separate quantise
    linear(OperatorType::O_PROJ, d.hidden, d.q_width);
    if (config.tensor_parallel > 1) {
      Op ar = memory_op(OperatorType::ALLREDUCE, KernelClass::allreduce, 0, 0);
      const double tp = double(config.tensor_parallel);
      ar.bytes.activations_written_bytes = 2.0 * (tp - 1) / tp * T * double(d.hidden) * act;  // ring all-reduce
      ops.push_back(place(ar, first, count));
    }
    Op add = memory_op(OperatorType::RESIDUAL, KernelClass::elementwise, 2 * T * double(d.hidden) * act,
                       T * double(d.hidden) * act);
    add.flops = T * double(d.hidden);
    ops.push_back(place(add, first, count));
    ops.push_back(place(norm, first, count));
    const std::size_t ffn_norm = ops.size() - 1;

    if (model.moe.enabled()) {
      // Router GEMM, then the top-k experts: E_active = E·(1 − (1 − k/E)^T) distinct experts are touched,
      // each processing T·k / E_active tokens on average, as one grouped GEMM per projection.
      ops.push_back(place(gemm_op(GemmShape{d.tokens, model.moe.num_experts, d.hidden, 1}, Precision::bf16,
                                  Precision::bf16, hw, OperatorType::MOE_ROUTER),
                          first, count));
      const double e = double(model.moe.num_experts), k = double(model.moe.experts_per_token);
      const double active = e * (1.0 - std::pow(1.0 - k / e, T));
      const std::int64_t groups = std::max<std::int64_t>(1, std::int64_t(std::ceil(active - 1e-9)));
      const std::int64_t rows = std::max<std::int64_t>(1, std::int64_t(std::ceil(T * k / double(groups))));
      quantize_inputs({OperatorType::FFN_GATE, OperatorType::FFN_UP}, d.hidden, ffn_norm, true);  // router reads 16-bit
      for (OperatorType t : {OperatorType::FFN_GATE, OperatorType::FFN_UP}) {
        const OpPrecision p = prec.at(t, first);
        Op g = gemm_op(GemmShape{rows, d.ffn, d.hidden, groups}, p.weight, p.activation, hw, t);
        g.flops = 2.0 * T * k * double(d.ffn) * double(d.hidden);
        ops.push_back(place(g, first, count));
      }
      Op actv = memory_op(OperatorType::ACTIVATION, KernelClass::elementwise, 2 * T * k * double(d.ffn) * act,
                          T * k * double(d.ffn) * act);
      ops.push_back(place(actv, first, count));
      quantize_inputs({OperatorType::FFN_DOWN}, d.ffn, ops.size() - 1);
      const OpPrecision p = prec.at(OperatorType::FFN_DOWN, first);
      Op g = gemm_op(GemmShape{rows, d.hidden, d.ffn, groups}, p.weight, p.activation, hw, OperatorType::FFN_DOWN);
      g.flops = 2.0 * T * k * double(d.ffn) * double(d.hidden);
      ops.push_back(place(g, first, count));
    } else {
      quantize_inputs({OperatorType::FFN_GATE, OperatorType::FFN_UP}, d.hidden, ffn_norm);
      linear(OperatorType::FFN_GATE, d.ffn, d.hidden);
      linear(OperatorType::FFN_UP, d.ffn, d.hidden);
      Op actv = memory_op(OperatorType::ACTIVATION, KernelClass::elementwise, 2 * T * double(d.ffn) * act,
                          T * double(d.ffn) * act);
      actv.flops = 5.0 * T * double(d.ffn);
      ops.push_back(place(actv, first, count));
      quantize_inputs({OperatorType::FFN_DOWN}, d.ffn, ops.size() - 1);
      linear(OperatorType::FFN_DOWN, d.hidden, d.ffn);
    }
    if (config.tensor_parallel > 1) {
      Op ar = memory_op(OperatorType::ALLREDUCE, KernelClass::allreduce, 0, 0);
      const double tp = double(config.tensor_parallel);
      ar.bytes.activations_written_bytes = 2.0 * (tp - 1) / tp * T * double(d.hidden) * act;
      ops.push_back(place(ar, first, count));
    }
    ops.push_back(place(add, first, count));
  }

  // Final norm over every token, then the LM head on the last token of each sequence.
  ops.push_back(rmsnorm_op(d.tokens, d.hidden, act, hw.sms()));
  if (d.vocab > 0) {
    const OpPrecision p = prec.by_op[static_cast<std::size_t>(OperatorType::LM_HEAD)];
    // The final norm runs over every token but the LM head reads only d.lm_rows of them: fused, the norm
    // writes those rows quantised and keeps its 16-bit output (the rows the head does not read).
    maybe_quantize({OperatorType::LM_HEAD}, -1, d.lm_rows, d.hidden, ops.size() - 1, d.lm_rows != d.tokens, -1, 1);
    ops.push_back(gemm_op(GemmShape{d.lm_rows, d.vocab, d.hidden, 1}, p.weight, p.activation, hw, OperatorType::LM_HEAD));
  }
  // The small kernels between the GEMMs and attention read activations the kernel before them wrote (the
  // embedding's table rows are not: they are cold).
  for (Op& op : ops)
    op.inputs_in_l2 = op.type == OperatorType::RMSNORM || op.type == OperatorType::ROPE ||
                      op.type == OperatorType::KV_CACHE || op.type == OperatorType::RESIDUAL ||
                      op.type == OperatorType::ACTIVATION || op.type == OperatorType::QUANTIZE;
  return ops;
}

MemoryFootprint memory_footprint(const ModelConfig& model, const StepConfig& config) {
  validate_config(model, config);
  const Dims d = derive_dims(model, config);
  const PrecisionAssignment& prec = config.precision;
  MemoryFootprint f;
  const std::int64_t experts = model.moe.enabled() ? model.moe.num_experts : 1;
  // Per layer, in this order: the seven projections' weights, the two RMSNorm weights, the router. The
  // terms are the same over a segment of equal precisions (computed once), and are added layer by layer.
  for (const auto& [first, count] : layer_segments(prec, d.layers)) {
    auto w = [&](OperatorType t, double elements) { return elements * bytes_per_element(prec.at(t, first).weight); };
    const double terms[] = {w(OperatorType::Q_PROJ, double(d.q_width) * double(d.hidden)),
                            w(OperatorType::K_PROJ, double(d.kv_width) * double(d.hidden)),
                            w(OperatorType::V_PROJ, double(d.kv_width) * double(d.hidden)),
                            w(OperatorType::O_PROJ, double(d.hidden) * double(d.q_width)),
                            w(OperatorType::FFN_GATE, double(experts) * double(d.ffn) * double(d.hidden)),
                            w(OperatorType::FFN_UP, double(experts) * double(d.ffn) * double(d.hidden)),
                            w(OperatorType::FFN_DOWN, double(experts) * double(d.ffn) * double(d.hidden)),
                            2.0 * double(d.hidden) * 2.0};  // two RMSNorm weights
    const double router = double(model.moe.num_experts) * double(d.hidden) * 2.0;
    for (std::int64_t layer = 0; layer < count; ++layer) {
      for (double t : terms) f.weights_bytes += t;
      if (model.moe.enabled()) f.weights_bytes += router;
    }
  }
  if (d.vocab > 0) {
    f.weights_bytes += double(d.vocab) * double(d.hidden) * 2.0;  // embedding table stays 16-bit
    if (!model.tied_embeddings)
      f.weights_bytes += double(d.vocab) * double(d.hidden) *
                         bytes_per_element(prec.by_op[static_cast<std::size_t>(OperatorType::LM_HEAD)].weight);
  }
  f.kv_cache_bytes = double(config.batch) * double(d.cached_tokens) * double(d.layers) * 2.0 * double(d.kv_width) *
                     bytes_per_element(prec.kv_cache);
  // Peak transient activations of one layer (16-bit): the residual stream, q/k/v, gate/up/activation
  // outputs of all tokens, plus fp32 logits of the LM head rows. An estimate, not an allocator trace.
  const double T = double(d.tokens);
  f.activations_bytes = T * double(2 * d.hidden + d.q_width + 2 * d.kv_width + 3 * d.ffn) * 2.0 +
                        double(d.lm_rows) * double(d.vocab) * 4.0;
  return f;
}

}  // namespace roofline

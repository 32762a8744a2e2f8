#include "roofline/workload.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "detail/json_reader.hpp"
#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"

namespace roofline {

std::string_view to_string(WorkloadKind k) {
  switch (k) {
    case WorkloadKind::gemm: return "gemm";
    case WorkloadKind::attention: return "attention";
    case WorkloadKind::model_step: return "model_step";
    case WorkloadKind::stream: return "stream";
    case WorkloadKind::elementwise: return "elementwise";
    case WorkloadKind::launch: return "launch";
  }
  return "?";
}

namespace {
constexpr std::string_view elementwise_names[] = {"rmsnorm", "rope", "silu_mul", "add", "kv_write", "quantize_fp8", "embedding"};
constexpr std::string_view stream_names[] = {"read", "write", "copy"};

template <class Object>
Precision dtype_of(const Object& o, const char* key, std::initializer_list<std::string_view> allowed) {
  return parse_precision(o.choice(key, allowed));
}

// The workload in one JSON object: `o` is a detail::JsonObject (errors with file, line and key path) or a
// detail::FlatJsonObject (the fast path; it throws NotFlat wherever the other reports an error).
template <class Object>
Workload read_workload(const Object& o) {
  Workload w;
  const std::string_view op = o.choice("op", {"gemm", "attention", "model_step", "stream", "elementwise", "launch"});
  if (op == "gemm") {
    o.allow_only({"op", "m", "n", "k", "dtype"});
    w.kind = WorkloadKind::gemm;
    w.gemm = GemmShape{o.positive_integer("m"), o.positive_integer("n"), o.positive_integer("k"), 1};
    w.dtype = dtype_of(o, "dtype", {"bf16", "fp16", "fp8_e4m3", "int8"});
  } else if (op == "attention") {
    o.allow_only({"op", "phase", "batch", "q_heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype", "kernel",
                  "skip_fraction", "window"});
    w.kind = WorkloadKind::attention;
    w.phase = parse_phase(o.choice("phase", {"prefill", "decode"}));
    AttentionShape& a = w.attention;
    a.batch = o.positive_integer("batch");
    a.q_heads = o.positive_integer("q_heads");
    a.kv_heads = o.positive_integer("kv_heads");
    a.q_len = o.positive_integer("q_len");
    a.kv_len = o.positive_integer("kv_len");
    a.head_dim = o.positive_integer("head_dim");
    a.causal = o.boolean("causal");
    a.window_tokens = o.optional_positive_integer("window").value_or(0);
    if (a.q_heads % a.kv_heads != 0) o.fail("kv_heads", "must divide q_heads (" + std::to_string(a.q_heads) + ")");
    if (a.q_len > a.kv_len) o.fail("q_len", "must be <= kv_len (" + std::to_string(a.kv_len) + ")");
    if (w.phase == Phase::decode && a.q_len != 1) o.fail("q_len", "must be 1 for phase decode");
    w.dtype = dtype_of(o, "dtype", {"bf16", "fp16", "fp8_e4m3"});
    try {
      w.attention_kernel = parse_attention_kernel(o.string("kernel"));
    } catch (const UnknownNameError& e) {
      o.fail("kernel", e.what());
    }
    w.skip_fraction = o.optional_number("skip_fraction").value_or(0.0);
    if (!(w.skip_fraction >= 0 && w.skip_fraction < 1)) o.fail("skip_fraction", "must be in [0, 1)");
  } else if (op == "model_step") {
    o.allow_only({"op", "model", "phase", "batch", "context", "weights", "kv_cache", "num_layers"});
    w.kind = WorkloadKind::model_step;
    w.model = o.string("model");
    w.phase = parse_phase(o.choice("phase", {"prefill", "decode"}));
    w.batch = o.positive_integer("batch");
    w.context = o.positive_integer("context");
    w.weights = dtype_of(o, "weights", {"bf16", "fp8_e4m3"});
    w.kv_cache = dtype_of(o, "kv_cache", {"bf16", "fp8_e4m3"});
    w.num_layers = o.optional_positive_integer("num_layers");
  } else if (op == "stream") {
    o.allow_only({"op", "kind", "bytes"});
    w.kind = WorkloadKind::stream;
    const std::string_view k = o.choice("kind", {"read", "write", "copy"});
    for (std::size_t i = 0; i < 3; ++i)
      if (stream_names[i] == k) w.stream = StreamKind(i);
    w.bytes = o.positive_integer("bytes");
  } else if (op == "elementwise") {
    o.allow_only({"op", "kind", "rows", "cols", "dtype"});
    w.kind = WorkloadKind::elementwise;
    const std::string_view k =
        o.choice("kind", {"rmsnorm", "rope", "silu_mul", "add", "kv_write", "quantize_fp8", "embedding"});
    for (std::size_t i = 0; i < std::size(elementwise_names); ++i)
      if (elementwise_names[i] == k) w.elementwise = ElementwiseKind(i);
    w.rows = o.positive_integer("rows");
    w.cols = o.positive_integer("cols");
    w.dtype = dtype_of(o, "dtype", {"bf16", "fp16", "fp32"});
  } else {
    o.allow_only({"op", "graph"});
    w.kind = WorkloadKind::launch;
    w.graph = o.boolean("graph");
  }
  return w;
}
}  // namespace

std::string_view to_string(ElementwiseKind k) { return elementwise_names[static_cast<std::size_t>(k)]; }

Workload parse_workload(std::string_view text, const std::string& file, int line) {
  // Batch prediction reads millions of flat lines: the fast path reads them without a JSON document, and
  // anything it does not handle (escapes, nesting, any error) is read again by nlohmann, whose path
  // reports errors with their position.
  detail::FlatJsonObject flat;
  if (flat.parse(text)) {
    try {
      return read_workload(flat);
    } catch (const detail::FlatJsonObject::NotFlat&) {
      // an error or a value the fast path leaves to nlohmann: read again below
    }
  }
  const nlohmann::json j = detail::parse_json(std::string(text), file, line > 0 ? line - 1 : 0);
  return read_workload(detail::JsonObject(j, file, line, ""));
}

std::string workload_json(const Workload& w) {
  nlohmann::json j;
  j["op"] = std::string(to_string(w.kind));
  switch (w.kind) {
    case WorkloadKind::gemm:
      j["m"] = w.gemm.m;
      j["n"] = w.gemm.n;
      j["k"] = w.gemm.k;
      j["dtype"] = std::string(to_string(w.dtype));
      break;
    case WorkloadKind::attention:
      j["phase"] = std::string(to_string(w.phase));
      j["batch"] = w.attention.batch;
      j["q_heads"] = w.attention.q_heads;
      j["kv_heads"] = w.attention.kv_heads;
      j["q_len"] = w.attention.q_len;
      j["kv_len"] = w.attention.kv_len;
      j["head_dim"] = w.attention.head_dim;
      j["causal"] = w.attention.causal;
      j["dtype"] = std::string(to_string(w.dtype));
      j["kernel"] = std::string(to_string(w.attention_kernel));
      if (w.skip_fraction > 0) j["skip_fraction"] = w.skip_fraction;
      if (w.attention.window_tokens > 0) j["window"] = w.attention.window_tokens;
      break;
    case WorkloadKind::model_step:
      j["model"] = w.model;
      j["phase"] = std::string(to_string(w.phase));
      j["batch"] = w.batch;
      j["context"] = w.context;
      j["weights"] = std::string(to_string(w.weights));
      j["kv_cache"] = std::string(to_string(w.kv_cache));
      if (w.num_layers) j["num_layers"] = *w.num_layers;
      break;
    case WorkloadKind::stream:
      j["kind"] = std::string(stream_names[static_cast<std::size_t>(w.stream)]);
      j["bytes"] = w.bytes;
      break;
    case WorkloadKind::elementwise:
      j["kind"] = std::string(to_string(w.elementwise));
      j["rows"] = w.rows;
      j["cols"] = w.cols;
      j["dtype"] = std::string(to_string(w.dtype));
      break;
    case WorkloadKind::launch: j["graph"] = w.graph; break;
  }
  return j.dump();
}

namespace {
Op elementwise_workload_op(const Workload& w, const HardwareSpec& hw) {
  const double n = double(w.rows) * double(w.cols);
  const double el = bytes_per_element(w.dtype);
  Op op;
  op.kernel = KernelClass::elementwise;
  op.math = MathPath::simt_fp32;
  op.activation_precision = w.dtype;
  TensorBytes& b = op.bytes;
  switch (w.elementwise) {
    case ElementwiseKind::rmsnorm:
      op = rmsnorm_op(w.rows, w.cols, el, hw.sms());
      op.activation_precision = w.dtype;
      break;
    case ElementwiseKind::rope:
      op.type = OperatorType::ROPE;
      b.activations_read_bytes = n * el;
      b.activations_written_bytes = n * el;
      op.flops = 3 * n;
      break;
    case ElementwiseKind::silu_mul:
      op.type = OperatorType::ACTIVATION;
      b.activations_read_bytes = 2 * n * el;
      b.activations_written_bytes = n * el;
      op.flops = 5 * n;
      break;
    case ElementwiseKind::add:
      op.type = OperatorType::RESIDUAL;
      b.activations_read_bytes = 2 * n * el;
      b.activations_written_bytes = n * el;
      op.flops = n;
      break;
    case ElementwiseKind::kv_write:
      op.type = OperatorType::KV_CACHE;
      b.activations_read_bytes = n * el;
      b.kv_written_bytes = n * el;
      break;
    case ElementwiseKind::quantize_fp8:
      op.type = OperatorType::QUANTIZE;
      b.activations_read_bytes = n * el;
      b.activations_written_bytes = n;
      op.flops = n;
      op.activation_precision = Precision::fp8_e4m3;
      break;
    case ElementwiseKind::embedding:
      op = embedding_op(w.rows, w.cols, el);
      op.activation_precision = w.dtype;
      break;
  }
  return op;
}

StepConfig step_config_of(const Workload& w) {
  StepConfig c;
  c.phase = w.phase;
  c.batch = w.batch;
  c.seq_len = w.context;
  // fp8_e4m3 weights mean W8A8 with static activation scales (the definition of the workload).
  const Precision act = w.weights == Precision::fp8_e4m3 ? Precision::fp8_e4m3 : Precision::bf16;
  c.precision = PrecisionAssignment::uniform(w.weights, act, w.kv_cache);
  c.precision.activation_scaling = ActivationScaling::static_per_tensor;
  // The LM head (and the embedding) stay 16-bit in fp8 checkpoints, as published FP8 checkpoints ship them.
  c.precision.by_op[static_cast<std::size_t>(OperatorType::LM_HEAD)] = OpPrecision{Precision::bf16, Precision::bf16};
  c.attention = AttentionKernel::fa2;
  c.num_layers = w.num_layers;
  return c;
}
}  // namespace

namespace {
// The operator of a one-kernel workload (every kind but model_step); `describe` fills the attention
// kernel's notes (text only: a prediction does not read them).
Op single_op(const Workload& w, const HardwareSpec& hw, bool describe) {
  switch (w.kind) {
    case WorkloadKind::gemm: {
      Op op = gemm_op(w.gemm, w.dtype, w.dtype, hw);
      if (w.dtype == Precision::int8) op.bytes.activations_written_bytes *= 2.0;  // int32 output
      return op;
    }
    case WorkloadKind::attention: {
      AttentionOptions options;
      options.skip_fraction = w.skip_fraction;
      options.describe = describe;
      Op op = attention_op(w.attention, w.attention_kernel, w.dtype, w.dtype, hw, options);
      if (op.support == Support::unsupported) throw InvalidArgumentError(op.note);
      return op;
    }
    case WorkloadKind::stream: {
      Op op;
      op.type = OperatorType::RESIDUAL;
      op.kernel = KernelClass::elementwise;
      op.math = MathPath::simt_fp32;
      const double b = double(w.bytes);
      if (w.stream != StreamKind::write) op.bytes.activations_read_bytes = b;
      if (w.stream != StreamKind::read) op.bytes.activations_written_bytes = b;
      return op;
    }
    case WorkloadKind::elementwise: return elementwise_workload_op(w, hw);
    case WorkloadKind::model_step:  // not a single operator: step_ops
    case WorkloadKind::launch: break;
  }
  Op op;  // launch: an empty kernel
  op.type = OperatorType::RESIDUAL;
  op.kernel = KernelClass::elementwise;
  op.math = MathPath::simt_fp32;
  return op;
}

std::vector<Op> step_ops(const Workload& w, const HardwareSpec& hw, const ModelRegistry& models) {
  const ModelConfig& m = models.get(w.model);
  std::vector<Op> ops = build_step(m, step_config_of(w), hw);
  for (const Op& op : ops)
    if (op.support == Support::unsupported) throw InvalidArgumentError(std::string(to_string(op.type)) + ": " + op.note);
  return ops;
}
}  // namespace

std::vector<Op> workload_ops(const Workload& w, const HardwareSpec& hw, const ModelRegistry& models) {
  if (w.kind == WorkloadKind::model_step) return step_ops(w, hw, models);
  return {single_op(w, hw, true)};
}

WorkloadPrediction predict_workload(const Workload& w, const HardwareSpec& hw, const Calibration& calibration,
                                    const ModelRegistry& models, std::optional<Load> load_override) {
  WorkloadPrediction r;
  double longest = -1;
  // A whole model step is a long stream of kernels: its tensor-core work runs under the power limit.
  const Load load = load_override ? *load_override : w.kind == WorkloadKind::model_step ? Load::sustained : Load::burst;
  auto add = [&](const Op& op) -> Prediction {
    const Prediction p = predict(op, hw, calibration, load);
    const double n = double(op.instances);
    r.time_s += p.time_s * n;
    r.flops += op.flops * n;
    r.bytes += op.bytes.total() * n;
    if (p.exception_factor != 1.0) r.measured_choice_share_fraction += p.time_s * n;
    if (p.time_s * n > longest) {
      longest = p.time_s * n;
      r.bound = p.bound;
    }
    return p;
  };
  if (w.kind == WorkloadKind::model_step) {
    std::vector<OpPrediction> parts;
    for (const Op& op : step_ops(w, hw, models)) parts.push_back({op, add(op)});
    // As predict_step: kernels and shapes in quadrature, with the session band.
    const IntervalSum spread = step_interval(parts, calibration.session_band_fraction());
    r.interval_low_s = spread.low_s(r.time_s);
    r.interval_high_s = spread.high_s(r.time_s);
  } else {
    const Prediction p = add(single_op(w, hw, false));  // one operator: no vector, no notes
    IntervalSum spread;
    spread.session_fraction = calibration.session_band_fraction();
    spread.add(p, 1.0);
    r.interval_low_s = spread.low_s(r.time_s);
    r.interval_high_s = spread.high_s(r.time_s);
  }
  if (r.measured_choice_share_fraction > 0) r.measured_choice_share_fraction /= r.time_s;
  return r;
}

namespace {
void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
}
}  // namespace

bool predict_line(std::string_view line, const std::string& file, int line_number, const HardwareSpec& hw,
                  const Calibration& calibration, const ModelRegistry& models, std::string& out) {
  out.clear();
  try {
    const Workload w = parse_workload(line, file, line_number);
    const WorkloadPrediction p = predict_workload(w, hw, calibration, models);
    // std::to_chars with chars_format::general and precision 6 is printf's %.6g, several times faster.
    char buf[32];
    auto number = [&](double v) {
      const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
      out.append(buf, r.ptr);
    };
    out += "{\"predicted_s\":";
    number(p.time_s);
    out += ",\"bound\":\"";
    out += to_string(p.bound);
    out += "\",\"interval_s\":[";
    number(p.interval_low_s);
    out += ',';
    number(p.interval_high_s);
    out += "],\"flops\":";
    number(p.flops);
    out += ",\"bytes\":";
    number(p.bytes);
    if (p.measured_choice_share_fraction > 0) {  // priced (partly) by a measured library kernel choice
      out += ",\"measured_kernel_choice_share\":";
      number(p.measured_choice_share_fraction);
    }
    out += '}';
    return true;
  } catch (const Error& e) {
    out = "{\"error\":\"";
    append_escaped(out, e.what());
    out += "\"}";
    return false;
  }
}

}  // namespace roofline

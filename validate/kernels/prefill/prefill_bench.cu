// prefill_bench: correctness checks, sanitizer runs and timings of the prefill kernels on one GPU.
//   --mode check     every kernel on random and realistic data (GQA, D 64/128, causal and not, Sq != Skv)
//                    against its CPU reference on the same quantised inputs (tight gate) and against
//                    fp32 full-precision attention; GPU quantisers against the CPU quantisers bit for bit.
//                    Writes <out>/prefill_accuracy.jsonl; exit status 1 when a gate fails.
//   --mode sanitize  every kernel once on small shapes (run under compute-sanitizer memcheck/racecheck).
//   --mode time      S in {1K..16K} with B·S = 16K tokens, HQ 32, HKV 8, D 128 (and D 64 at 4K), causal and
//                    not; median of CUDA-graph replays with inputs rotated over >= 3x L2. Writes measurement
//                    records (docs/measurement-records.md) to <out>/prefill_timing.jsonl.
// Gates (../shared/reference/kernels.md): tight = max|o − r| <= 2e-3 beyond the fp16 output's own rounding
// (|r|·2^-11), cosine >= 0.99999, every element written, no NaN; vs fp32: INT8/Sage cos >= 0.99 and
// relative L1 < 0.05, fp16 kernels cos >= 0.9999.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/attention_data.hpp"
#include "prefill_cost.hpp"
#include "prefill_harness.hpp"
#include "prefill_kernels.hpp"
#include "prefill_quant.hpp"
#include "prefill_reference.hpp"
#include "roofline/precision.hpp"

using nlohmann::json;
namespace rv = roofline::validate;
using namespace roofline::validate::prefill;

namespace {

// ---- device buffers -----------------------------------------------------------------------------------
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes > 0) ROOFLINE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

DeviceBuffer upload_half(const std::vector<float>& x) {
  std::vector<__half> h(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) h[i] = __float2half_rn(x[i]);
  DeviceBuffer d(h.size() * sizeof(__half));
  ROOFLINE_CUDA_CHECK(cudaMemcpy(d.as<void>(), h.data(), d.bytes(), cudaMemcpyHostToDevice));
  return d;
}
template <class T>
DeviceBuffer upload(const std::vector<T>& x) {
  DeviceBuffer d(x.size() * sizeof(T));
  ROOFLINE_CUDA_CHECK(cudaMemcpy(d.as<void>(), x.data(), d.bytes(), cudaMemcpyHostToDevice));
  return d;
}
template <class T>
std::vector<T> download(const void* p, std::size_t n) {
  std::vector<T> x(n);
  ROOFLINE_CUDA_CHECK(cudaMemcpy(x.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
  return x;
}

constexpr std::uint16_t kPoison = 0xFFFF;  // a NaN no kernel writes: counts unwritten elements

struct HostOutput {
  std::vector<float> values;
  std::int64_t unwritten = 0;
};
HostOutput download_output(const __half* p, std::size_t n) {
  const std::vector<std::uint16_t> bits = download<std::uint16_t>(p, n);
  HostOutput out;
  out.values.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (bits[i] == kPoison) ++out.unwritten;
    __half h;
    std::memcpy(&h, &bits[i], 2);
    out.values[i] = __half2float(h);
  }
  return out;
}

// ---- GPU comparison (timing mode: outputs against the fa2_mma output at full size) ---------------------------
struct CompareSums {
  double dot, oo, rr, abs_diff, abs_ref, max_abs;
  unsigned long long unwritten, non_finite;
};
__global__ void compare_kernel(const __half* out, const __half* ref, std::int64_t n, CompareSums* sums) {
  double dot = 0, oo = 0, rr = 0, ad = 0, ar = 0, mx = 0;
  unsigned long long unw = 0, nf = 0;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    if (__half_as_ushort(out[i]) == kPoison) {
      ++unw;
      continue;
    }
    const float o = __half2float(out[i]), r = __half2float(ref[i]);
    if (!isfinite(o)) {
      ++nf;
      continue;
    }
    dot += double(o) * r;
    oo += double(o) * o;
    rr += double(r) * r;
    ad += fabs(double(o) - r);
    ar += fabs(double(r));
    mx = fmax(mx, fabs(double(o) - r));
  }
  for (int o = 16; o > 0; o >>= 1) {
    dot += __shfl_xor_sync(0xffffffffu, dot, o);
    oo += __shfl_xor_sync(0xffffffffu, oo, o);
    rr += __shfl_xor_sync(0xffffffffu, rr, o);
    ad += __shfl_xor_sync(0xffffffffu, ad, o);
    ar += __shfl_xor_sync(0xffffffffu, ar, o);
    mx = fmax(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    unw += __shfl_xor_sync(0xffffffffu, unw, o);
    nf += __shfl_xor_sync(0xffffffffu, nf, o);
  }
  if ((threadIdx.x & 31) == 0) {
    atomicAdd(&sums->dot, dot);
    atomicAdd(&sums->oo, oo);
    atomicAdd(&sums->rr, rr);
    atomicAdd(&sums->abs_diff, ad);
    atomicAdd(&sums->abs_ref, ar);
    atomicMax(reinterpret_cast<unsigned long long*>(&sums->max_abs), __double_as_longlong(mx));  // mx >= 0
    atomicAdd(&sums->unwritten, unw);
    atomicAdd(&sums->non_finite, nf);
  }
}

json gpu_compare(const __half* out, const __half* ref, std::int64_t n) {
  DeviceBuffer d(sizeof(CompareSums));
  ROOFLINE_CUDA_CHECK(cudaMemset(d.as<void>(), 0, sizeof(CompareSums)));
  compare_kernel<<<1056, 256>>>(out, ref, n, d.as<CompareSums>());
  ROOFLINE_CUDA_CHECK_LAST();
  CompareSums s{};
  ROOFLINE_CUDA_CHECK(cudaMemcpy(&s, d.as<void>(), sizeof s, cudaMemcpyDeviceToHost));
  const double cos = (s.oo > 0 && s.rr > 0) ? s.dot / std::sqrt(s.oo * s.rr) : 0.0;
  return {{"cosine", cos}, {"relative_l1", s.abs_ref > 0 ? s.abs_diff / s.abs_ref : 0.0}, {"max_abs", s.max_abs},
          {"unwritten", s.unwritten}, {"non_finite", s.non_finite}};
}

// Gaussian fp16 on the device (counter-based hash + Box-Muller): timing inputs, fresh per seed.
__device__ __forceinline__ std::uint32_t hash32(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return std::uint32_t(x);
}
__global__ void gaussian_kernel(__half* x, std::int64_t n, std::uint64_t seed) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const float u1 = (hash32(seed * 0x9E3779B97F4A7C15ULL + 2 * i) + 1.0f) * 2.3283064e-10f;
    const float u2 = hash32(seed * 0x9E3779B97F4A7C15ULL + 2 * i + 1) * 2.3283064e-10f;
    x[i] = __float2half_rn(sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
  }
}

// ---- one set of inputs and every kernel's buffers ---------------------------------------------------------
struct KernelBuffers {
  PrefillShape shape;
  DeviceBuffer q, k, v, out;
  DeviceBuffer rope_cos, rope_sin;
  DeviceBuffer workspace;  // unfused
  // fa2_int8
  DeviceBuffer i8_q, i8_k, i8_vt, i8_qsum, i8_ksum, i8_state;
  // sage
  DeviceBuffer sg_q, sg_qs, sg_k, sg_ks, sg_mean, sg_vt, sg_vs;

  std::size_t q_elems() const { return std::size_t(shape.batch) * shape.q_len * shape.q_heads * shape.head_dim; }
  std::size_t kv_elems() const { return std::size_t(shape.batch) * shape.kv_len * shape.kv_heads * shape.head_dim; }
  Fp16Qkv fp16() const { return {q.as<__half>(), k.as<__half>(), v.as<__half>()}; }
  Int8PerTensorBuffers int8() const {
    return {i8_q.as<std::int8_t>(), i8_k.as<std::int8_t>(), i8_vt.as<std::uint8_t>(), i8_qsum.as<std::int32_t>(),
            i8_ksum.as<std::int32_t>(), i8_state.as<PerTensorState>()};
  }
  SageBuffers sage() const {
    return {sg_q.as<std::int8_t>(), sg_qs.as<float>(), sg_k.as<std::int8_t>(), sg_ks.as<float>(), sg_mean.as<float>(),
            sg_vt.as<std::uint8_t>(), sg_vs.as<float>(), v.as<__half>()};
  }
};

void allocate(KernelBuffers& kb, const PrefillShape& s, bool with_unfused) {
  kb.shape = s;
  const std::size_t qe = kb.q_elems(), kve = kb.kv_elems();
  const std::size_t padded = std::size_t(padded_kv_len(s.kv_len));
  const std::size_t vt = std::size_t(s.batch) * s.kv_heads * s.head_dim * padded;
  kb.out = DeviceBuffer(qe * 2);
  kb.i8_q = DeviceBuffer(qe);
  kb.i8_k = DeviceBuffer(kve);
  kb.i8_vt = DeviceBuffer(vt);
  kb.i8_qsum = DeviceBuffer(std::size_t(s.batch) * s.q_len * s.q_heads * 4);
  kb.i8_ksum = DeviceBuffer(std::size_t(s.batch) * s.kv_heads * padded * 4);
  ROOFLINE_CUDA_CHECK(cudaMemset(kb.i8_ksum.as<void>(), 0, kb.i8_ksum.bytes()));  // padding stays zero
  kb.i8_state = DeviceBuffer(sizeof(PerTensorState));
  const std::size_t qb = std::size_t(s.batch) * s.q_heads * ((s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens);
  const std::size_t kbk = std::size_t(s.batch) * s.kv_heads * ((s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens);
  kb.sg_q = DeviceBuffer(qe);
  kb.sg_qs = DeviceBuffer(qb * 4);
  kb.sg_k = DeviceBuffer(kve);
  kb.sg_ks = DeviceBuffer(kbk * 4);
  kb.sg_mean = DeviceBuffer(std::size_t(s.batch) * s.kv_heads * s.head_dim * 4);
  kb.sg_vt = DeviceBuffer(vt);
  kb.sg_vs = DeviceBuffer(std::size_t(s.batch) * s.kv_heads * s.head_dim * 4);
  const RopeTable table = make_rope_table(s.kv_len, s.head_dim);
  kb.rope_cos = upload(table.cos);
  kb.rope_sin = upload(table.sin);
  if (with_unfused) kb.workspace = DeviceBuffer(unfused_workspace_bytes(s));
}

float softmax_scale_of(const PrefillShape& s) { return 1.0f / std::sqrt(float(s.head_dim)); }
float softmax_scale_log2_of(const PrefillShape& s) { return softmax_scale_of(s) * log2_e; }  // what the Sage kernels get

// Runs kernel k (attention only; the quantised inputs must be prepared) on stream.
void run_attention(PrefillKernel k, const KernelBuffers& kb, cudaStream_t st) {
  const PrefillShape& s = kb.shape;
  __half* out = kb.out.as<__half>();
  const float scale = softmax_scale_of(s);
  switch (k) {
    case PrefillKernel::unfused: launch_unfused(s, kb.fp16(), scale, kb.workspace.as<void>(), out, st); break;
    case PrefillKernel::fa2_simt_rope:
      launch_fa2_simt_rope(s, kb.fp16(), kb.rope_cos.as<float>(), kb.rope_sin.as<float>(), scale, out, st);
      break;
    case PrefillKernel::fa2_simt_warp_row: launch_fa2_simt_warp_row(s, kb.fp16(), scale, out, st); break;
    case PrefillKernel::fa2_wmma: launch_fa2_wmma(s, kb.fp16(), scale, out, st); break;
    case PrefillKernel::fa2_mma: launch_fa2_mma(s, kb.fp16(), scale, out, st); break;
    case PrefillKernel::fa2_int8: launch_fa2_int8(s, kb.int8(), scale, out, st); break;
    case PrefillKernel::sage_int8_fp16: launch_sage_int8_fp16(s, kb.sage(), softmax_scale_log2_of(s), out, st); break;
    case PrefillKernel::sage_int8_fp8: launch_sage_int8_fp8(s, kb.sage(), softmax_scale_log2_of(s), out, st); break;
  }
}
// The quantisation prologue a kernel needs (none for the fp16 kernels).
void run_prologue(PrefillKernel k, const KernelBuffers& kb, cudaStream_t st) {
  if (k == PrefillKernel::fa2_int8) launch_quantize_per_tensor(kb.shape, kb.fp16(), kb.int8(), st);
  if (k == PrefillKernel::sage_int8_fp16) launch_sage_quantize(kb.shape, kb.fp16(), kb.sage(), false, st);
  if (k == PrefillKernel::sage_int8_fp8) launch_sage_quantize(kb.shape, kb.fp16(), kb.sage(), true, st);
}

// The attention call's tensors are fp16 for every kernel (workload.dtype); how a kernel stores them
// internally after its quantisation prologue goes into extra.storage.
std::string dtype_of(PrefillKernel) { return "fp16"; }
std::string storage_of(PrefillKernel k) {
  switch (k) {
    case PrefillKernel::fa2_int8: return "int8 Q, K, V per tensor (scale, zero point); V transposed";
    case PrefillKernel::sage_int8_fp16: return "int8 Q (32-token blocks), int8 K - mean (64-token blocks), fp16 V";
    case PrefillKernel::sage_int8_fp8: return "int8 Q (32-token blocks), int8 K - mean (64-token blocks), e4m3 V per channel, transposed";
    default: return "fp16";
  }
}

json workload_of(const PrefillShape& s, const std::string& kernel, const std::string& dtype) {
  return {{"op", "attention"}, {"phase", "prefill"},     {"batch", s.batch},       {"q_heads", s.q_heads},
          {"kv_heads", s.kv_heads}, {"q_len", s.q_len},   {"kv_len", s.kv_len},     {"head_dim", s.head_dim},
          {"causal", s.causal},   {"dtype", dtype},       {"kernel", kernel}};
}

json shape_json(const PrefillShape& s) {
  return {{"batch", s.batch},   {"q_heads", s.q_heads},   {"kv_heads", s.kv_heads}, {"q_len", s.q_len},
          {"kv_len", s.kv_len}, {"head_dim", s.head_dim}, {"causal", s.causal}};
}

json error_json(const rv::ErrorStats& e) {
  return {{"cosine", e.cosine}, {"relative_l1", e.relative_l1}, {"rmse", e.rmse}, {"max_abs", e.max_abs},
          {"non_finite", e.non_finite}, {"min_row_cosine", e.min_row_cosine}};
}

// max over elements of |o − r| − 2^-11·|r|: the error beyond the fp16 output's own rounding.
double excess_over_fp16_rounding(const std::vector<float>& out, const std::vector<float>& ref) {
  double worst = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    worst = std::max(worst, std::fabs(double(out[i]) - ref[i]) - std::ldexp(std::fabs(double(ref[i])), -11));
  }
  return worst;
}

bool is_quantised(PrefillKernel k) {
  return k == PrefillKernel::fa2_int8 || k == PrefillKernel::sage_int8_fp16 || k == PrefillKernel::sage_int8_fp8;
}

// ---- check mode ---------------------------------------------------------------------------------------------
struct CheckCase {
  rv::AttentionShape shape;
  bool causal;
  bool realistic;
};

template <class T>
std::int64_t count_mismatches(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return std::int64_t(std::max(a.size(), b.size()));
  std::int64_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(T)) != 0;
  return n;
}


// Accuracy results have their own schema (roofline.prefill_accuracy.v1), not the measurement schema that
// rv::RecordWriter enforces: one JSON object per line, appended and flushed as each case finishes.
struct AccuracyWriter {
  std::ofstream out;
  explicit AccuracyWriter(const std::filesystem::path& p) : out(p, std::ios::app) {
    if (!out) throw std::runtime_error("cannot open " + p.string());
  }
  void append(const nlohmann::json& j) { out << j.dump() << '\n' << std::flush; }
};

int run_checks(const std::filesystem::path& out_dir, std::uint64_t seed0, bool quick) {
  std::filesystem::create_directories(out_dir);
  AccuracyWriter writer(out_dir / "prefill_accuracy.jsonl");
  std::vector<CheckCase> cases;
  auto add = [&](int b, int hq, int hkv, int sq, int skv, int d, bool causal, bool realistic) {
    cases.push_back({rv::AttentionShape{b, hq, hkv, sq, skv, d}, causal, realistic});
  };
  for (bool realistic : {false, true}) {
    add(2, 8, 2, 200, 200, 64, false, realistic);     // GQA 4, tails of 64/128
    add(2, 8, 2, 200, 200, 64, true, realistic);
    add(1, 8, 2, 150, 333, 128, true, realistic);     // chunked prefill: bottom-right causal, Sq < Skv
    add(2, 4, 4, 129, 129, 128, false, realistic);    // MHA
    add(1, 16, 2, 256, 256, 64, true, realistic);     // GQA 8
    add(1, 8, 2, 300, 100, 128, false, realistic);    // Sq > Skv (non-causal only)
    add(3, 8, 1, 1, 77, 64, true, realistic);         // one query row (decode-like)
  }
  if (!quick) {
    add(1, 32, 8, 1024, 1024, 128, true, true);       // the timed configuration, realistic data
    add(1, 32, 8, 1024, 1024, 128, false, true);
    add(1, 32, 8, 1024, 1024, 128, false, false);
  }
  rv::DeviceInfo dev = rv::query_device_info(0, "");
  int failures = 0;
  std::uint64_t seed = seed0;
  for (const CheckCase& cc : cases) {
    const PrefillShape s{cc.shape.batch, cc.shape.q_heads, cc.shape.kv_heads, cc.shape.q_len, cc.shape.kv_len,
                         cc.shape.head_dim, cc.causal};
    rv::AttentionDataOptions opt;
    opt.realistic = cc.realistic;
    opt.seed = ++seed;
    const rv::AttentionData data = rv::make_attention_data(cc.shape, opt);
    const std::vector<float> q16 = round_all_to_fp16(data.q), k16 = round_all_to_fp16(data.k), v16 = round_all_to_fp16(data.v);
    const float scale = softmax_scale_of(s);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> ref_fp16 = parallel_reference_attention(cc.shape, q16, k16, v16, cc.causal, scale);
    const std::vector<float> ref_fp32 = parallel_reference_attention(cc.shape, data.q, data.k, data.v, cc.causal, scale);
    // RoPE positions of query row i are kv_len - q_len + i: negative when Sq > Skv, so the fused-RoPE kernel
    // does not apply there (it is refused below instead of reading before its cos/sin table).
    const bool rope_applies = s.q_len <= s.kv_len;
    std::vector<float> ref_rope16, ref_rope32;
    if (rope_applies) {
      const RopeTable table = make_rope_table(s.kv_len, s.head_dim);
      ref_rope16 = reference_rope_attention(cc.shape, q16, k16, v16, cc.causal, scale, table);
      ref_rope32 = reference_rope_attention(cc.shape, data.q, data.k, data.v, cc.causal, scale, table);
    }

    KernelBuffers kb;
    allocate(kb, s, true);
    kb.q = upload_half(q16);
    kb.k = upload_half(k16);
    kb.v = upload_half(v16);
    for (PrefillKernel k : all_prefill_kernels) {
      json rec = {{"schema", "roofline.prefill_accuracy.v1"}, {"kernel", std::string(to_string(k))},
                  {"shape", shape_json(s)}, {"data", cc.realistic ? "realistic" : "random"}, {"seed", opt.seed},
                  {"device", dev.name}};
      if (k == PrefillKernel::fa2_simt_rope && !rope_applies) {
        rec.update({{"status", "refused"}, {"error", "RoPE positions would be negative (Sq > Skv)"}, {"pass", true}});
        writer.append(rec);
        continue;
      }
      try {
        ROOFLINE_CUDA_CHECK(cudaMemset(kb.out.as<void>(), 0xFF, kb.out.bytes()));
        run_prologue(k, kb, nullptr);
        run_attention(k, kb, nullptr);
        ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
        const HostOutput out = download_output(kb.out.as<__half>(), kb.q_elems());
        std::vector<float> tight_ref;
        const std::vector<float>* fp32_ref = &ref_fp32;
        json quant;
        if (k == PrefillKernel::fa2_simt_rope) {
          tight_ref = ref_rope16;
          fp32_ref = &ref_rope32;
        } else if (k == PrefillKernel::fa2_int8) {
          PerTensorState st{};
          ROOFLINE_CUDA_CHECK(cudaMemcpy(&st, kb.i8_state.as<void>(), sizeof st, cudaMemcpyDeviceToHost));
          const PerTensorInt8 cq = quantize_per_tensor_int8(q16, s.head_dim), ck = quantize_per_tensor_int8(k16, s.head_dim),
                              cv = quantize_per_tensor_int8(v16, s.head_dim);
          PerTensorInt8 gq, gk, gv;
          gq.codes = download<std::int8_t>(kb.i8_q.as<void>(), kb.q_elems());
          gk.codes = download<std::int8_t>(kb.i8_k.as<void>(), kb.kv_elems());
          const std::vector<std::uint8_t> vt = download<std::uint8_t>(kb.i8_vt.as<void>(), kb.i8_vt.bytes());
          const std::vector<std::uint8_t> vcodes = unpack_vt(cc.shape, vt);
          gv.codes.resize(vcodes.size());
          std::memcpy(gv.codes.data(), vcodes.data(), vcodes.size());
          gq.row_sums = download<std::int32_t>(kb.i8_qsum.as<void>(), kb.q_elems() / s.head_dim);
          const std::vector<std::int32_t> ksum_padded = download<std::int32_t>(kb.i8_ksum.as<void>(), kb.i8_ksum.bytes() / 4);
          // k sums [B][HKV][padded] → [B, Skv, HKV] to compare with the CPU row sums.
          std::vector<std::int32_t> ksum(kb.kv_elems() / s.head_dim);
          const std::size_t padded = std::size_t(padded_kv_len(s.kv_len));
          for (int b = 0; b < s.batch; ++b)
            for (int t = 0; t < s.kv_len; ++t)
              for (int h = 0; h < s.kv_heads; ++h)
                ksum[(std::size_t(b) * s.kv_len + t) * s.kv_heads + h] = ksum_padded[(std::size_t(b) * s.kv_heads + h) * padded + t];
          auto param_of = [&](int t) {
            // The same choose_asym_int8 the kernels run, on the GPU's min/max (decoded on the host).
            auto dec = [](unsigned key) {
              const unsigned u = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
              float f;
              std::memcpy(&f, &u, 4);
              return f;
            };
            return choose_asym_int8(dec(st.minmax[2 * t]), dec(st.minmax[2 * t + 1]));
          };
          gq.params = param_of(0);
          gk.params = param_of(1);
          gv.params = param_of(2);
          quant = {{"q_code_mismatches", count_mismatches(gq.codes, cq.codes)},
                   {"k_code_mismatches", count_mismatches(gk.codes, ck.codes)},
                   {"v_code_mismatches", count_mismatches(gv.codes, cv.codes)},
                   {"q_sum_mismatches", count_mismatches(gq.row_sums, cq.row_sums)},
                   {"k_sum_mismatches", count_mismatches(ksum, ck.row_sums)},
                   {"vt_padding_nonzero", [&] {
                      std::int64_t n = 0;
                      for (std::size_t i = 0; i < vt.size(); ++i)
                        if (vt_key_at_position(int(i % padded)) >= s.kv_len && vt[i] != 0) ++n;
                      return n;
                    }()},
                   {"params_match", gq.params.scale == cq.params.scale && gq.params.zero == cq.params.zero &&
                                        gk.params.scale == ck.params.scale && gk.params.zero == ck.params.zero &&
                                        gv.params.scale == cv.params.scale && gv.params.zero == cv.params.zero},
                   {"scale_zero", {{"q", {gq.params.scale, gq.params.zero}}, {"k", {gk.params.scale, gk.params.zero}},
                                   {"v", {gv.params.scale, gv.params.zero}}}}};
          tight_ref = reference_int8_per_tensor(cc.shape, gq, gk, gv, cc.causal, scale);
        } else if (k == PrefillKernel::sage_int8_fp16 || k == PrefillKernel::sage_int8_fp8) {
          const bool fp8 = k == PrefillKernel::sage_int8_fp8;
          SageQ gq{download<std::int8_t>(kb.sg_q.as<void>(), kb.q_elems()), download<float>(kb.sg_qs.as<void>(), kb.sg_qs.bytes() / 4)};
          SageK gk{download<float>(kb.sg_mean.as<void>(), kb.sg_mean.bytes() / 4),
                   download<std::int8_t>(kb.sg_k.as<void>(), kb.kv_elems()), download<float>(kb.sg_ks.as<void>(), kb.sg_ks.bytes() / 4)};
          const SageQ cq = sage_quantize_q(cc.shape, q16);
          const SageK ck = sage_quantize_k(cc.shape, k16);
          quant = {{"q_code_mismatches", count_mismatches(gq.codes, cq.codes)},
                   {"q_scale_mismatches", count_mismatches(gq.scales, cq.scales)},
                   {"k_mean_mismatches", count_mismatches(gk.mean, ck.mean)},
                   {"k_code_mismatches", count_mismatches(gk.codes, ck.codes)},
                   {"k_scale_mismatches", count_mismatches(gk.scales, ck.scales)}};
          if (fp8) {
            Fp8V gv{download<std::uint8_t>(kb.sg_vt.as<void>(), kb.sg_vt.bytes()), download<float>(kb.sg_vs.as<void>(), kb.sg_vs.bytes() / 4)};
            const Fp8V cv = sage_quantize_v_fp8(cc.shape, v16);
            quant["v_code_mismatches"] = count_mismatches(gv.vt, cv.vt);
            quant["v_scale_mismatches"] = count_mismatches(gv.scales, cv.scales);
            tight_ref = reference_sage_fp8(cc.shape, gq, gk, gv, cc.causal, softmax_scale_log2_of(s));
          } else {
            tight_ref = reference_sage_fp16(cc.shape, gq, gk, v16, cc.causal, softmax_scale_log2_of(s));
          }
        } else {
          tight_ref = ref_fp16;
        }
        const rv::ErrorStats tight = rv::compare(out.values, tight_ref, std::size_t(s.head_dim));
        const rv::ErrorStats full = rv::compare(out.values, *fp32_ref, std::size_t(s.head_dim));
        const double excess = excess_over_fp16_rounding(out.values, tight_ref);
        const bool tight_ok = out.unwritten == 0 && tight.non_finite == 0 && excess <= 2e-3 && tight.cosine >= 0.99999;
        const bool fp32_ok = full.non_finite == 0 &&
                             (is_quantised(k) ? (full.cosine >= 0.99 && full.relative_l1 < 0.05) : full.cosine >= 0.9999);
        bool quant_ok = true;
        for (auto& [key, val] : quant.items())
          if ((val.is_number_integer() && val.get<std::int64_t>() != 0) || (val.is_boolean() && !val.get<bool>())) quant_ok = false;
        const bool pass = tight_ok && fp32_ok && quant_ok;
        rec.update({{"status", "ok"},
                    {"unwritten", out.unwritten},
                    {"vs_quantised_reference", error_json(tight)},
                    {"excess_over_fp16_rounding", excess},
                    {"vs_fp32", error_json(full)},
                    {"quantisation_vs_cpu", quant},
                    {"gates", {{"tight", tight_ok}, {"fp32", fp32_ok}, {"quantisers_bit_exact", quant_ok}}},
                    {"pass", pass}});
        if (!pass) ++failures;
        std::printf("%-18s %-44s %-9s tight: cos %.7f excess %.2e max %.2e | fp32: cos %.6f relL1 %.4f %s\n",
                    std::string(to_string(k)).c_str(), [&] { std::ostringstream os; os << s; return os.str(); }().c_str(),
                    cc.realistic ? "realistic" : "random", tight.cosine, excess, tight.max_abs, full.cosine, full.relative_l1,
                    pass ? "PASS" : "FAIL");
      } catch (const std::exception& e) {
        ++failures;
        rec.update({{"status", "error"}, {"error", e.what()}, {"pass", false}});
        std::printf("%-18s ERROR %s\n", std::string(to_string(k)).c_str(), e.what());
        if (cudaDeviceSynchronize() != cudaSuccess) {  // a sticky error: the context is gone
          writer.append(rec);
          std::printf("sticky CUDA error; stopping the checks\n");
          return 2;
        }
      }
      writer.append(rec);
    }
    std::printf("  (CPU references %.1f s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("check: %d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

// ---- sanitize mode: every kernel once on small shapes ----------------------------------------------------------
int run_sanitize(std::uint64_t seed) {
  int failures = 0;
  for (int d : {64, 128})
    for (bool causal : {false, true}) {
      const PrefillShape s{1, 4, 2, 70, causal ? 130 : 90, d, causal};
      rv::AttentionDataOptions opt;
      opt.seed = seed + d + causal;
      const rv::AttentionData data = rv::make_attention_data({s.batch, s.q_heads, s.kv_heads, s.q_len, s.kv_len, s.head_dim}, opt);
      KernelBuffers kb;
      allocate(kb, s, true);
      kb.q = upload_half(data.q);
      kb.k = upload_half(data.k);
      kb.v = upload_half(data.v);
      for (PrefillKernel k : all_prefill_kernels) {
        try {
          ROOFLINE_CUDA_CHECK(cudaMemset(kb.out.as<void>(), 0xFF, kb.out.bytes()));
          run_prologue(k, kb, nullptr);
          run_attention(k, kb, nullptr);
          ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
          const HostOutput out = download_output(kb.out.as<__half>(), kb.q_elems());
          std::int64_t bad = out.unwritten;
          for (float x : out.values) bad += !std::isfinite(x);
          std::printf("sanitize %-18s D=%d causal=%d: %s\n", std::string(to_string(k)).c_str(), d, int(causal),
                      bad ? "UNWRITTEN/NaN" : "ok");
          failures += bad != 0;
        } catch (const std::exception& e) {
          std::printf("sanitize %-18s ERROR %s\n", std::string(to_string(k)).c_str(), e.what());
          ++failures;
          if (cudaDeviceSynchronize() != cudaSuccess) return 2;
        }
      }
    }
  return failures == 0 ? 0 : 1;
}

// ---- time mode -----------------------------------------------------------------------------------------------
int run_timing(const std::filesystem::path& out_dir, const std::string& hw, std::uint64_t seed, bool quick) {
  rv::RecordWriter writer(out_dir / "prefill_timing.jsonl");
  rv::RecordWriter prologue_writer(out_dir / "prefill_prologue.jsonl");  // quantisation prologues
  const rv::DeviceInfo dev = rv::query_device_info(0, hw);
  struct Point {
    int seq, batch, head_dim;
  };
  std::vector<Point> points;
  for (int seq : {1024, 2048, 4096, 8192, 16384}) points.push_back({seq, 16384 / seq, 128});
  points.push_back({4096, 4, 64});
  if (quick) points = {{1024, 4, 128}, {4096, 1, 128}};
  std::printf("%-18s %6s %3s %3s %6s %10s %10s %9s\n", "kernel", "S", "B", "D", "causal", "median_ms", "TFLOP/s", "cos_ref");
  for (const Point& pt : points)
    for (bool causal : {false, true}) {
      const PrefillShape s{pt.batch, 32, 8, pt.seq, pt.seq, pt.head_dim, causal};
      const std::int64_t set_bytes = std::int64_t(2) * (std::int64_t(s.batch) * s.q_len * s.q_heads * s.head_dim +
                                                          2 * std::int64_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
      const int rotations = rv::rotations_for(set_bytes, dev.l2_bytes);
      const bool with_unfused = s.q_len <= 8192;
      std::vector<KernelBuffers> sets(rotations);
      try {
        for (int r = 0; r < rotations; ++r) {
          allocate(sets[r], s, with_unfused && r == 0);
          sets[r].q = DeviceBuffer(sets[r].q_elems() * 2);
          sets[r].k = DeviceBuffer(sets[r].kv_elems() * 2);
          sets[r].v = DeviceBuffer(sets[r].kv_elems() * 2);
          gaussian_kernel<<<1056, 256>>>(sets[r].q.as<__half>(), std::int64_t(sets[r].q_elems()), seed + 3 * r);
          gaussian_kernel<<<1056, 256>>>(sets[r].k.as<__half>(), std::int64_t(sets[r].kv_elems()), seed + 3 * r + 1);
          gaussian_kernel<<<1056, 256>>>(sets[r].v.as<__half>(), std::int64_t(sets[r].kv_elems()), seed + 3 * r + 2);
          ROOFLINE_CUDA_CHECK_LAST();
        }
        ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
      } catch (const std::exception& e) {
        for (PrefillKernel k : all_prefill_kernels)
          writer.append(rv::make_error_record("kernels", std::string(to_string(k)), workload_of(s, std::string(to_string(k)), dtype_of(k)),
                                              std::string("allocation: ") + e.what(), dev));
        continue;
      }
      // Reference outputs at this size: fa2_mma for every kernel, fa2_wmma for fa2_mma itself (both are
      // checked against the CPU in --mode check).
      DeviceBuffer ref_mma(sets[0].q_elems() * 2), ref_wmma(sets[0].q_elems() * 2);
      bool have_mma = false, have_wmma = false;
      for (auto [k, buf, ok] : {std::tuple{PrefillKernel::fa2_mma, &ref_mma, &have_mma},
                                std::tuple{PrefillKernel::fa2_wmma, &ref_wmma, &have_wmma}}) {
        try {
          run_attention(k, sets[0], nullptr);
          ROOFLINE_CUDA_CHECK(cudaMemcpy(buf->template as<void>(), sets[0].out.as<void>(), buf->bytes(), cudaMemcpyDeviceToDevice));
          ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
          *ok = true;
        } catch (const std::exception& e) {
          std::printf("reference %s failed: %s\n", std::string(to_string(k)).c_str(), e.what());
          if (cudaDeviceSynchronize() != cudaSuccess) return 2;
        }
      }

      // Quantisation prologues, timed on their own.
      const std::pair<const char*, PrefillKernel> prologues[] = {{"fa2_int8_quantize", PrefillKernel::fa2_int8},
                                                                 {"sage_quantize_fp16v", PrefillKernel::sage_int8_fp16},
                                                                 {"sage_quantize_fp8v", PrefillKernel::sage_int8_fp8}};
      for (const auto& [label, k] : prologues) {
        const PrefillCost cost = prefill_cost(k, s, default_tiling(k, s.head_dim));
        try {
          rv::TimingOptions o;
          o.warmup = 2;
          o.repetitions = 10;
          o.rotations = rotations;
          const rv::TimeStats t = rv::time_gpu([&](cudaStream_t st, int r) { run_prologue(k, sets[r], st); }, o);
          const double bytes = cost.prologue.read_bytes + cost.prologue.write_bytes;
          prologue_writer.append(rv::make_record("kernels", label, workload_of(s, label, dtype_of(k)), t, "cuda_graph_events",
                                        rv::l2_state_for(set_bytes, rotations, dev.l2_bytes), cost.prologue.kernels, dev,
                                        json::object(),
                                        {{"role", "quantisation prologue"}, {"for_kernel", std::string(to_string(k))},
                                         {"modelled_bytes", bytes}, {"achieved_bytes_per_s", bytes / t.median_s}}));
          std::printf("%-18s %6d %3d %3d %6d %10.3f %10s\n", label, s.q_len, s.batch, s.head_dim, int(causal), t.median_s * 1e3, "-");
        } catch (const std::exception& e) {
          prologue_writer.append(rv::make_error_record("kernels", label, workload_of(s, label, dtype_of(k)), e.what(), dev));
        }
      }
      for (int r = 0; r < rotations; ++r)
        for (PrefillKernel k : {PrefillKernel::fa2_int8, PrefillKernel::sage_int8_fp8}) {
          try {
            run_prologue(k, sets[r], nullptr);  // sage_int8_fp8's prologue also fills the fp16 path's Q/K
          } catch (const std::exception&) {
          }
        }
      ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());

      for (PrefillKernel k : all_prefill_kernels) {
        const std::string name(to_string(k));
        if (k == PrefillKernel::unfused && !with_unfused) continue;
        const PrefillTiling tiling = default_tiling(k, s.head_dim);
        const PrefillCost cost = prefill_cost(k, s, tiling);
        try {
          ROOFLINE_CUDA_CHECK(cudaMemset(sets[0].out.as<void>(), 0xFF, sets[0].out.bytes()));
          const auto w0 = std::chrono::steady_clock::now();
          run_attention(k, sets[0], nullptr);
          ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
          const double single_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
          const bool self = k == PrefillKernel::fa2_mma;
          const bool have_reference = self ? have_wmma : have_mma;
          const json consistency =
              have_reference ? gpu_compare(sets[0].out.as<__half>(), (self ? ref_wmma : ref_mma).as<__half>(), std::int64_t(sets[0].q_elems()))
                             : json(nullptr);
          rv::TimingOptions o;
          o.warmup = 2;
          o.repetitions = std::clamp(int(0.4 / std::max(single_s, 1e-6)), 5, 30);
          o.rotations = k == PrefillKernel::unfused ? 1 : rotations;  // one workspace
          const rv::TimeStats t = rv::time_gpu([&](cudaStream_t st, int r) { run_attention(k, sets[r], st); }, o);
          json extra = {{"achieved_flop_per_s", cost.nominal_flops / t.median_s},
                        {"nominal_flops", cost.nominal_flops},
                        {"executed_flops", cost.executed_flops},
                        {"min_hbm_bytes", cost.min_hbm_bytes},
                        {"tile_load_bytes", cost.tile_load_bytes},
                        {"achieved_bytes_per_s", cost.min_hbm_bytes / t.median_s},
                        {"tiling", {{"block_m", tiling.block_m}, {"block_n", tiling.block_n}}},
                        {"rotations", o.rotations},
                        {"inputs", "gaussian N(0,1), fresh seed " + std::to_string(seed)},
                        {"consistency_reference", self ? "fa2_wmma" : "fa2_mma"},
                        {"consistency", consistency}};
          extra["storage"] = storage_of(k);
          if (is_quantised(k)) {
            extra["prologue_kernels"] = cost.prologue.kernels;
            extra["prologue_bytes"] = cost.prologue.read_bytes + cost.prologue.write_bytes;
          }
          writer.append(rv::make_record("kernels", name, workload_of(s, name, dtype_of(k)), t, "cuda_graph_events",
                                        rv::l2_state_for(set_bytes, o.rotations, dev.l2_bytes),
                                        cost.kernels, dev, json::object(), extra));
          std::printf("%-18s %6d %3d %3d %6d %10.3f %10.1f %9.6f\n", name.c_str(), s.q_len, s.batch, s.head_dim, int(causal),
                      t.median_s * 1e3, cost.nominal_flops / t.median_s * 1e-12,
                      have_reference ? consistency["cosine"].get<double>() : -1.0);
        } catch (const std::exception& e) {
          writer.append(rv::make_error_record("kernels", name, workload_of(s, name, dtype_of(k)), e.what(), dev));
          std::printf("%-18s ERROR %s\n", name.c_str(), e.what());
          if (cudaDeviceSynchronize() != cudaSuccess) return 2;
        }
      }
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "check", hw = "h100_sxm";
  std::filesystem::path out_dir = ".";
  bool quick = false;
  std::uint64_t seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    try {
      if (a == "--mode") mode = value();
      else if (a == "--out") out_dir = value();
      else if (a == "--hw") hw = value();
      else if (a == "--seed") seed = std::stoull(value());
      else if (a == "--quick") quick = true;
      else {
        std::fprintf(stderr, "usage: %s --mode check|sanitize|time [--out DIR] [--hw PROFILE] [--seed N] [--quick]\n", argv[0]);
        return 64;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 64;
    }
  }
  std::string why;
  if (!rv::gpu_available(&why)) {
    std::fprintf(stderr, "prefill_bench: no GPU (%s); nothing to do\n", why.c_str());
    return 77;  // CTest's skip code
  }
  std::printf("prefill_bench: mode %s, seed %llu\n", mode.c_str(), static_cast<unsigned long long>(seed));
  try {
    if (mode == "check") return run_checks(out_dir, seed, quick);
    if (mode == "sanitize") return run_sanitize(seed);
    if (mode == "time") return run_timing(out_dir, hw, seed, quick);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prefill_bench: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 64;
}

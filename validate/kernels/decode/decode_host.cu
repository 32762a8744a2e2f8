// Host side of the decode kernels: workspace, dispatch over the instantiated configurations, skip ratio.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "decode_kernels.cuh"

namespace roofline::validate::decode {

#define DECODE_PRUNED_EXTERN(F, D, G, S) \
  extern template LaunchInfo launch_pruned<F, D, G, S>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
#define DECODE_PRUNED_ALL_S(F, D, G) DECODE_PRUNED_EXTERN(F, D, G, 32) DECODE_PRUNED_EXTERN(F, D, G, 64) DECODE_PRUNED_EXTERN(F, D, G, 128)
DECODE_PRUNED_ALL_S(0, 64, 4) DECODE_PRUNED_ALL_S(0, 64, 8) DECODE_PRUNED_ALL_S(0, 128, 4) DECODE_PRUNED_ALL_S(0, 128, 8)
DECODE_PRUNED_ALL_S(1, 64, 4) DECODE_PRUNED_ALL_S(1, 64, 8) DECODE_PRUNED_ALL_S(1, 128, 4) DECODE_PRUNED_ALL_S(1, 128, 8)
#define DECODE_DENSE_EXTERN(D, G, B) \
  extern template LaunchInfo launch_dense<D, G, B>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
DECODE_DENSE_EXTERN(64, 4, true) DECODE_DENSE_EXTERN(64, 4, false) DECODE_DENSE_EXTERN(64, 8, true) DECODE_DENSE_EXTERN(64, 8, false)
DECODE_DENSE_EXTERN(128, 4, true) DECODE_DENSE_EXTERN(128, 4, false) DECODE_DENSE_EXTERN(128, 8, true) DECODE_DENSE_EXTERN(128, 8, false)

int sm_count_cached() {
  static const int n = [] {
    int dev = 0, sms = 0;
    DECODE_CUDA_CHECK(cudaGetDevice(&dev));
    DECODE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    return sms;
  }();
  return n;
}

DecodeWorkspace::DecodeWorkspace(int b, int hq, int hkv, int d, int nsub, int max_sp)
    : batch(b), q_heads(hq), kv_heads(hkv), head_dim(d), sub_blocks(nsub), max_splits(max_sp) {
  if (b <= 0 || hq <= 0 || hkv <= 0 || d <= 0 || nsub < 0 || max_sp <= 0 || max_sp > dev::kMaxSplits)
    throw InvalidArgumentError("DecodeWorkspace: sizes must be > 0 and max_splits <= 256");
  DECODE_CUDA_CHECK(cudaMalloc(&o_part, sizeof(float) * std::size_t(b) * hq * max_sp * d));
  DECODE_CUDA_CHECK(cudaMalloc(&ml_part, sizeof(float) * std::size_t(b) * hq * max_sp * 2));
  DECODE_CUDA_CHECK(cudaMalloc(&keep, std::max<std::size_t>(1, std::size_t(b) * hkv * nsub)));
  DECODE_CUDA_CHECK(cudaMalloc(&counters, sizeof(unsigned) * std::size_t(b) * hkv));
  DECODE_CUDA_CHECK(cudaMemset(counters, 0, sizeof(unsigned) * std::size_t(b) * hkv));
  DECODE_CUDA_CHECK(cudaMemset(keep, 0xFF, std::max<std::size_t>(1, std::size_t(b) * hkv * nsub)));  // poison
}

DecodeWorkspace::DecodeWorkspace(DecodeWorkspace&& o) noexcept { *this = std::move(o); }
DecodeWorkspace& DecodeWorkspace::operator=(DecodeWorkspace&& o) noexcept {
  if (this != &o) {
    this->~DecodeWorkspace();
    o_part = o.o_part; ml_part = o.ml_part; keep = o.keep; counters = o.counters;
    batch = o.batch; q_heads = o.q_heads; kv_heads = o.kv_heads; head_dim = o.head_dim;
    sub_blocks = o.sub_blocks; max_splits = o.max_splits;
    o.o_part = o.ml_part = nullptr; o.keep = nullptr; o.counters = nullptr;
  }
  return *this;
}
DecodeWorkspace::~DecodeWorkspace() {
  if (o_part) cudaFree(o_part);
  if (ml_part) cudaFree(ml_part);
  if (keep) cudaFree(keep);
  if (counters) cudaFree(counters);
  o_part = ml_part = nullptr;
  keep = nullptr;
  counters = nullptr;
}

namespace detail {
void check_workspace(const DecodeWorkspace& ws, int batch, int q_heads, int kv_heads, int head_dim, int sub_blocks,
                     int splits) {
  if (ws.o_part == nullptr || ws.batch != batch || ws.q_heads != q_heads || ws.kv_heads != kv_heads ||
      ws.head_dim != head_dim || (sub_blocks > 0 && ws.sub_blocks != sub_blocks))
    throw InvalidArgumentError("decode: workspace was made for another shape");
  if (splits > ws.max_splits)
    throw InvalidArgumentError("decode: the plan needs " + std::to_string(splits) + " splits, workspace holds " +
                               std::to_string(ws.max_splits));
}
}  // namespace detail

namespace {
[[noreturn]] void not_built(const char* fn, int D, int G, int S) {
  throw InvalidArgumentError(std::string(fn) + ": no kernel built for head_dim " + std::to_string(D) + ", group " +
                             std::to_string(G) + ", SBS " + std::to_string(S) +
                             " (built: head_dim 64/128, group 4/8, SBS 32/64/128)");
}

template <int F>
LaunchInfo dispatch_pruned(const PrunedLaunch& l, const PrunedPointers& p, DecodeWorkspace& ws, cudaStream_t s) {
  const int D = l.head_dim, G = l.group, S = l.config.sbs;
#define DECODE_CASE(DD, GG, SS) \
  if (D == DD && G == GG && S == SS) return launch_pruned<F, DD, GG, SS>(l, p, ws, s);
  DECODE_CASE(64, 4, 32) DECODE_CASE(64, 4, 64) DECODE_CASE(64, 4, 128)
  DECODE_CASE(64, 8, 32) DECODE_CASE(64, 8, 64) DECODE_CASE(64, 8, 128)
  DECODE_CASE(128, 4, 32) DECODE_CASE(128, 4, 64) DECODE_CASE(128, 4, 128)
  DECODE_CASE(128, 8, 32) DECODE_CASE(128, 8, 64) DECODE_CASE(128, 8, 128)
#undef DECODE_CASE
  not_built(F == 0 ? "q2fp8_decode" : "fp8fp8_decode", D, G, S);
}
}  // namespace

LaunchInfo q2fp8_decode(const TensorView& q, const TensorView& k_q, const TensorView& k_scale, const TensorView& k_zero,
                        const TensorView& k_residual, const TensorView& v, const TensorView& threshold,
                        const TensorView& out, const PrunedConfig& config, DecodeWorkspace& ws, cudaStream_t stream,
                        int scale_block) {
  const PrunedLaunch l = check_q2fp8_args(q, k_q, k_scale, k_zero, k_residual, v, threshold, out, config, scale_block);
  if (scale_block > 0 && scale_block % config.sbs != 0)
    throw InvalidArgumentError("q2fp8_decode: scale_block (" + std::to_string(scale_block) +
                               ") must be a multiple of SBS (" + std::to_string(config.sbs) + ")");
  const PrunedPointers p{q.data, k_q.data, static_cast<const float*>(k_scale.data), static_cast<const float*>(k_zero.data),
                         config.use_fp8_residual ? k_residual.data : nullptr, v.data,
                         static_cast<const float*>(threshold.data), const_cast<void*>(out.data)};
  return dispatch_pruned<0>(l, p, ws, stream);
}

LaunchInfo fp8fp8_decode(const TensorView& q, const TensorView& k_base, const TensorView& k_residual, const TensorView& v,
                         const TensorView& threshold, const TensorView& out, const PrunedConfig& config,
                         DecodeWorkspace& ws, cudaStream_t stream) {
  const PrunedLaunch l = check_fp8fp8_args(q, k_base, k_residual, v, threshold, out, config);
  const PrunedPointers p{q.data, k_base.data, nullptr, nullptr, config.use_fp8_residual ? k_residual.data : nullptr,
                         v.data, static_cast<const float*>(threshold.data), const_cast<void*>(out.data)};
  return dispatch_pruned<1>(l, p, ws, stream);
}

LaunchInfo dense_decode(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                        float softmax_scale, int num_splits, DecodeWorkspace& ws, cudaStream_t stream) {
  const DenseLaunch l = check_dense_args(q, k, v, out, softmax_scale, num_splits);
  const bool bf = l.dtype == DType::bf16;
  void* o = const_cast<void*>(out.data);
#define DECODE_CASE(DD, GG)                                                                        \
  if (l.head_dim == DD && l.group == GG)                                                           \
    return bf ? launch_dense<DD, GG, true>(l, q.data, k.data, v.data, o, ws, stream)               \
              : launch_dense<DD, GG, false>(l, q.data, k.data, v.data, o, ws, stream);
  DECODE_CASE(64, 4) DECODE_CASE(64, 8) DECODE_CASE(128, 4) DECODE_CASE(128, 8)
#undef DECODE_CASE
  throw InvalidArgumentError("dense_decode: no kernel built for head_dim " + std::to_string(l.head_dim) + ", group " +
                             std::to_string(l.group) + " (built: head_dim 64/128, group 4/8)");
}

double skip_ratio(const DecodeWorkspace& ws, cudaStream_t stream) {
  const std::size_t n = std::size_t(ws.batch) * ws.kv_heads * ws.sub_blocks;
  if (n == 0) return 0.0;
  std::vector<unsigned char> h(n);
  DECODE_CUDA_CHECK(cudaMemcpyAsync(h.data(), ws.keep, n, cudaMemcpyDeviceToHost, stream));
  DECODE_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::size_t kept = 0;
  for (unsigned char k : h) kept += k;
  return 1.0 - double(kept) / double(n);
}

}  // namespace roofline::validate::decode

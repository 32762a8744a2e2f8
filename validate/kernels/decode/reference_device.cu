// fp32 reference attention on the GPU (see reference_device.hpp).
#include <cuda_runtime.h>

#include "cuda_util.hpp"
#include "reference_device.hpp"

namespace roofline::validate::decode {
namespace {
__global__ void ref_attention_kernel(const float* q, const float* k, const float* v, int HQ, int HKV, int T, int D,
                                     float scale, float* s, float* out) {
  const int h = blockIdx.x, kvh = h / (HQ / HKV), tid = threadIdx.x;
  __shared__ float qs[256];
  __shared__ float red[256];
  for (int d = tid; d < D; d += blockDim.x) qs[d] = q[h * D + d];
  __syncthreads();
  float* srow = s + std::size_t(h) * T;
  float m = -INFINITY;
  for (int t = tid; t < T; t += blockDim.x) {
    const float* kr = k + (std::size_t(t) * HKV + kvh) * D;
    float dot = 0.0f;
    for (int d = 0; d < D; ++d) dot = fmaf(qs[d], kr[d], dot);
    srow[t] = dot * scale;
    m = fmaxf(m, dot * scale);
  }
  red[tid] = m;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (tid < w) red[tid] = fmaxf(red[tid], red[tid + w]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  float l = 0.0f;
  for (int t = tid; t < T; t += blockDim.x) {
    const float p = expf(srow[t] - m);
    srow[t] = p;
    l += p;
  }
  red[tid] = l;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (tid < w) red[tid] += red[tid + w];
    __syncthreads();
  }
  l = red[0];
  for (int d = tid; d < D; d += blockDim.x) {
    float o = 0.0f;
    for (int t = 0; t < T; ++t) o = fmaf(srow[t], v[(std::size_t(t) * HKV + kvh) * D + d], o);
    out[h * D + d] = o / l;
  }
}
}  // namespace

void reference_attention_device(const float* q, const float* k, const float* v, int q_heads, int kv_heads, int kv_len,
                                int head_dim, float softmax_scale, float* scratch, float* out, cudaStream_t stream) {
  if (head_dim > 256) throw InvalidArgumentError("reference_attention_device: head_dim <= 256");
  ref_attention_kernel<<<q_heads, 256, 0, stream>>>(q, k, v, q_heads, kv_heads, kv_len, head_dim, softmax_scale, scratch, out);
  DECODE_CUDA_CHECK_LAST();
}
}  // namespace roofline::validate::decode

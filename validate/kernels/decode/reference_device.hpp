// A plain fp32 attention on the GPU for the timing sweep's accuracy column (decode, one batch element):
// out[h][:] = softmax(q_h·Kᵀ·scale)·V with K, V [T, HKV, D] fp32 (the unquantised inputs). Slow and simple.
#pragma once

#include <cuda_runtime_api.h>

namespace roofline::validate::decode {
/// q [HQ, D] fp32, k, v [T, HKV, D] fp32, scratch [HQ, T] fp32, out [HQ, D] fp32.
void reference_attention_device(const float* q, const float* k, const float* v, int q_heads, int kv_heads, int kv_len,
                                int head_dim, float softmax_scale, float* scratch, float* out, cudaStream_t stream);
}  // namespace roofline::validate::decode

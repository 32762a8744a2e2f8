// unfused (seed 003's unfused.cu): three launches through device memory. S = Q·Kᵀ·scale·log2 e in fp32
// [B·HKV][Sq·G][Skv] (packed GQA rows; masked entries −inf), a row softmax writing P = 2^(S − max)/Σ in
// fp16 (same layout), and O = P·V. SIMT fp32 arithmetic, 64×64 tiles, 4×4 outputs per thread.
#include "prefill_device.cuh"
#include "prefill_kernels.hpp"
#include "prefill_launch.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill {

namespace device {
namespace {

struct UnfusedParams {
  const __half* q;
  const __half* k;
  const __half* v;
  float* s;     // [B·HKV][M][Skv]
  __half* p;    // same
  __half* out;
  PackedRows rows;
  int kv_heads, kv_len, m_rows, m_tiles;
  float scale_log2;
};

template <int D>
constexpr int qk_smem_bytes() {
  return 2 * 64 * (D + 4) * 4;
}

// S tile (64 rows × 64 keys): thread (tx, ty) computes rows 4ty + i, keys tx + 16j (i, j < 4).
template <int D, bool CAUSAL>
__global__ void __launch_bounds__(256) qk_kernel(const UnfusedParams p) {
  extern __shared__ __align__(16) float fsmem[];
  constexpr int ld = D + 4;
  float* const q_s = fsmem;
  float* const k_s = fsmem + 64 * ld;
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int key0 = blockIdx.x * 64, m0 = blockIdx.y * 64;
  const int b = int(blockIdx.z) / p.kv_heads, kvh = int(blockIdx.z) % p.kv_heads;
  const int off = p.kv_len - p.rows.q_len;
  float* const s_out = p.s + std::int64_t(blockIdx.z) * p.m_rows * p.kv_len;
  const int last_token = (min(p.m_rows, m0 + 64) - 1) / p.rows.group;
  const bool all_masked = CAUSAL && key0 > last_token + off;
  if (!all_masked) {
    for (int i = tid; i < 64 * D / 4; i += 256) {
      const int r = i / (D / 4), c4 = 4 * (i % (D / 4));
      float4 qv = make_float4(0.f, 0.f, 0.f, 0.f), kv = qv;
      if (m0 + r < p.m_rows) {
        const __half2* src = reinterpret_cast<const __half2*>(p.q + p.rows.offset(b, kvh, m0 + r, D) + c4);
        const float2 a = __half22float2(src[0]), c = __half22float2(src[1]);
        qv = make_float4(a.x, a.y, c.x, c.y);
      }
      if (key0 + r < p.kv_len) {
        const __half2* src = reinterpret_cast<const __half2*>(p.k + ((std::int64_t(b) * p.kv_len + key0 + r) * p.kv_heads + kvh) * D + c4);
        const float2 a = __half22float2(src[0]), c = __half22float2(src[1]);
        kv = make_float4(a.x, a.y, c.x, c.y);
      }
      *reinterpret_cast<float4*>(q_s + r * ld + c4) = qv;
      *reinterpret_cast<float4*>(k_s + r * ld + c4) = kv;
    }
    __syncthreads();
  }
  float acc[4][4] = {};
  if (!all_masked) {
#pragma unroll 4
    for (int d = 0; d < D; d += 4) {
      float4 qv[4], kv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) qv[i] = *reinterpret_cast<const float4*>(q_s + (4 * ty + i) * ld + d);
#pragma unroll
      for (int j = 0; j < 4; ++j) kv[j] = *reinterpret_cast<const float4*>(k_s + (tx + 16 * j) * ld + d);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += qv[i].x * kv[j].x + qv[i].y * kv[j].y + qv[i].z * kv[j].z + qv[i].w * kv[j].w;
    }
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = m0 + 4 * ty + i;
    if (r >= p.m_rows) continue;
    const int token = r / p.rows.group;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int key = key0 + tx + 16 * j;
      if (key >= p.kv_len) continue;
      const bool masked = CAUSAL && key > token + off;
      s_out[std::int64_t(r) * p.kv_len + key] = masked ? -INFINITY : acc[i][j] * p.scale_log2;
    }
  }
}

// One warp per row: online max/sum over the row, then P = 2^(s − m) / l in fp16.
__global__ void __launch_bounds__(256) softmax_kernel(const UnfusedParams p, std::int64_t rows) {
  const std::int64_t row = std::int64_t(blockIdx.x) * 8 + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* s = p.s + row * p.kv_len;
  float m = -INFINITY, l = 0.0f;
  for (int j = lane; j < p.kv_len; j += 32) {
    const float x = s[j];
    const float m_new = fmaxf(m, x);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    l = l * fast_exp2(m - m_use) + fast_exp2(x - m_use);
    m = m_new;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), l2 = __shfl_xor_sync(0xffffffffu, l, o);
    const float m_new = fmaxf(m, m2);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    l = l * fast_exp2(m - m_use) + l2 * fast_exp2(m2 - m_use);
    m = m_new;
  }
  const float m_use = m == -INFINITY ? 0.0f : m;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  __half* out = p.p + row * p.kv_len;
  for (int j = lane; j < p.kv_len; j += 32) out[j] = __float2half_rn(fast_exp2(s[j] - m_use) * inv);
}

// O tile (64 rows × 64 channels): thread (tx, ty) computes rows 4ty + i, channels 4tx .. 4tx + 3; key
// tiles of 32 up to the causal limit of the tile's last row (P is 0 beyond it).
template <int D, bool CAUSAL>
__global__ void __launch_bounds__(256) pv_kernel(const UnfusedParams p) {
  __shared__ __align__(16) float p_s[64][32 + 1];
  __shared__ __align__(16) float v_s[32][64];
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int c0 = blockIdx.x * 64, m0 = blockIdx.y * 64;
  const int b = int(blockIdx.z) / p.kv_heads, kvh = int(blockIdx.z) % p.kv_heads;
  const int off = p.kv_len - p.rows.q_len;
  const __half* p_in = p.p + std::int64_t(blockIdx.z) * p.m_rows * p.kv_len;
  int n_keys = p.kv_len;
  if constexpr (CAUSAL) n_keys = min(n_keys, (min(p.m_rows, m0 + 64) - 1) / p.rows.group + off + 1);
  float acc[4][4] = {};
  for (int k0 = 0; k0 < n_keys; k0 += 32) {
    __syncthreads();
    for (int i = tid; i < 64 * 32; i += 256) {
      const int r = i / 32, j = i % 32;
      p_s[r][j] = (m0 + r < p.m_rows && k0 + j < p.kv_len) ? __half2float(p_in[std::int64_t(m0 + r) * p.kv_len + k0 + j]) : 0.0f;
    }
    for (int i = tid; i < 32 * 16; i += 256) {
      const int j = i / 16, c4 = 4 * (i % 16);
      float4 vv = make_float4(0.f, 0.f, 0.f, 0.f);
      if (k0 + j < p.kv_len) {
        const __half2* src = reinterpret_cast<const __half2*>(p.v + ((std::int64_t(b) * p.kv_len + k0 + j) * p.kv_heads + kvh) * D + c0 + c4);
        const float2 a = __half22float2(src[0]), c = __half22float2(src[1]);
        vv = make_float4(a.x, a.y, c.x, c.y);
      }
      *reinterpret_cast<float4*>(&v_s[j][c4]) = vv;
    }
    __syncthreads();
#pragma unroll 8
    for (int j = 0; j < 32; ++j) {
      const float4 vv = *reinterpret_cast<const float4*>(&v_s[j][4 * tx]);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float pp = p_s[4 * ty + i][j];
        acc[i][0] += pp * vv.x;
        acc[i][1] += pp * vv.y;
        acc[i][2] += pp * vv.z;
        acc[i][3] += pp * vv.w;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = m0 + 4 * ty + i;
    if (r >= p.m_rows) continue;
    __half* dst = p.out + p.rows.offset(b, kvh, r, D) + c0 + 4 * tx;
    *reinterpret_cast<__half2*>(dst) = __floats2half2_rn(acc[i][0], acc[i][1]);
    *reinterpret_cast<__half2*>(dst + 2) = __floats2half2_rn(acc[i][2], acc[i][3]);
  }
}

template <int D, bool CAUSAL>
void run(const UnfusedParams& p, int batch, cudaStream_t stream) {
  static bool configured = false;
  if (!configured) {
    ROOFLINE_CUDA_CHECK(cudaFuncSetAttribute(qk_kernel<D, CAUSAL>, cudaFuncAttributeMaxDynamicSharedMemorySize, qk_smem_bytes<D>()));
    configured = true;
  }
  const unsigned bh = unsigned(batch * p.kv_heads);
  qk_kernel<D, CAUSAL><<<dim3(unsigned((p.kv_len + 63) / 64), unsigned(p.m_tiles), bh), 256, qk_smem_bytes<D>(), stream>>>(p);
  ROOFLINE_CUDA_CHECK_LAST();
  const std::int64_t rows = std::int64_t(bh) * p.m_rows;
  softmax_kernel<<<unsigned((rows + 7) / 8), 256, 0, stream>>>(p, rows);
  ROOFLINE_CUDA_CHECK_LAST();
  pv_kernel<D, CAUSAL><<<dim3(unsigned(D / 64), unsigned(p.m_tiles), bh), 256, 0, stream>>>(p);
  ROOFLINE_CUDA_CHECK_LAST();
}

}  // namespace
}  // namespace device

std::size_t unfused_workspace_bytes(const PrefillShape& s) {
  const std::size_t elems = std::size_t(s.batch) * s.q_heads * s.q_len * std::size_t(s.kv_len);  // B·HKV·(Sq·G)·Skv
  return elems * 4 + elems * 2 + 256;
}

void launch_unfused(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, void* workspace, __half* out,
                    cudaStream_t stream) {
  detail::require_shape(PrefillKernel::unfused, s);
  detail::require_aligned(in.q, "unfused q");
  detail::require_aligned(in.k, "unfused k");
  detail::require_aligned(in.v, "unfused v");
  detail::require_aligned(workspace, "unfused workspace");
  detail::require_aligned(out, "unfused out");
  const int group = s.q_heads / s.kv_heads;
  const int m_rows = s.q_len * group;
  const std::size_t elems = std::size_t(s.batch) * s.q_heads * s.q_len * std::size_t(s.kv_len);
  float* s_buf = static_cast<float*>(workspace);
  __half* p_buf = reinterpret_cast<__half*>(static_cast<unsigned char*>(workspace) + (elems * 4 + 255) / 256 * 256);
  const device::UnfusedParams p{in.q,  in.k, in.v, s_buf, p_buf, out, device::PackedRows{group, s.q_heads, s.q_len},
                                s.kv_heads, s.kv_len, m_rows, (m_rows + 63) / 64, softmax_scale * log2_e};
  if (s.head_dim == 64) {
    if (s.causal) device::run<64, true>(p, s.batch, stream);
    else device::run<64, false>(p, s.batch, stream);
  } else {
    if (s.causal) device::run<128, true>(p, s.batch, stream);
    else device::run<128, false>(p, s.batch, stream);
  }
}

}  // namespace roofline::validate::prefill

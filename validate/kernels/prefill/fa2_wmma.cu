// fa2_wmma: FlashAttention-2 on tensor cores through the WMMA API (seed 003's fa_tc): fp16 16×16×16
// fragments with fp32 accumulators; each of the 4 warps owns 16 packed query rows; K/V tiles of 64 keys
// are double-buffered with cp.async. WMMA fragments are opaque, so S goes through shared memory for the
// softmax (one lane pair per row), P comes back as a matrix_a fragment, and the per-row rescale of the
// O accumulators uses the row of each accumulator element, learned once per thread by loading a
// fragment from a matrix whose every element holds its own row index (documented API only).
#include <mma.h>

#include "prefill_device.cuh"
#include "prefill_kernels.hpp"
#include "prefill_launch.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill {

namespace device {
namespace {

using namespace nvcuda;

template <int D>
struct WmmaConfig {
  static constexpr int kWarps = 4, kThreads = 128, kBM = 64, kBN = 64;
  static constexpr int kLd = D + 8;        // fp16 row stride of Q/K/V tiles (16-byte padding: no conflicts)
  static constexpr int kSLd = kBN + 4;     // fp32 row stride of the per-warp S tile
  static constexpr int kPLd = kBN + 8;     // fp16 row stride of the per-warp P tile
  static constexpr int kOLd = D + 4;       // fp32 row stride of the output staging
  static constexpr int kQBytes = kBM * kLd * 2;
  static constexpr int kKvBytes = kBN * kLd * 2;                 // one K or V tile
  static constexpr int kSBytes = kWarps * 16 * kSLd * 4;
  static constexpr int kPBytes = kWarps * 16 * kPLd * 2;
  static constexpr int kRowBytes = kWarps * 16 * 4 * 2;          // alpha and l per row
  static constexpr int kKOff = kQBytes, kVOff = kKOff + 2 * kKvBytes, kSOff = kVOff + 2 * kKvBytes;
  static constexpr int kPOff = kSOff + kSBytes, kRowOff = kPOff + kPBytes;
  static constexpr int kSmemBytes = kRowOff + kRowBytes;
  static_assert(kWarps * 16 * kOLd * 4 <= 2 * kKvBytes, "output staging fits in the K buffers");
};

struct WmmaParams {
  const __half* q;
  const __half* k;
  const __half* v;
  __half* out;
  PackedRows rows;
  int kv_heads, kv_len, m_tiles;
  float scale_log2;
};

template <int D, bool CAUSAL>
__global__ void __launch_bounds__(128, 2) fa2_wmma_kernel(const WmmaParams p) {
  using C = WmmaConfig<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* const q_s = reinterpret_cast<__half*>(smem);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int mt = CAUSAL ? (p.m_tiles - 1 - int(blockIdx.x)) : int(blockIdx.x);
  const int b = int(blockIdx.y) / p.kv_heads, kvh = int(blockIdx.y) % p.kv_heads;
  const int m0 = mt * C::kBM, total_rows = p.rows.q_len * p.rows.group, off = p.kv_len - p.rows.q_len;
  int n_tiles = (p.kv_len + C::kBN - 1) / C::kBN;
  if constexpr (CAUSAL) n_tiles = min(n_tiles, ((min(total_rows, m0 + C::kBM) - 1) / p.rows.group + off) / C::kBN + 1);

  auto k_tile = [&](int st) { return reinterpret_cast<__half*>(smem + C::kKOff + st * C::kKvBytes); };
  auto v_tile = [&](int st) { return reinterpret_cast<__half*>(smem + C::kVOff + st * C::kKvBytes); };
  float* const s_w = reinterpret_cast<float*>(smem + C::kSOff) + warp * 16 * C::kSLd;
  __half* const p_w = reinterpret_cast<__half*>(smem + C::kPOff) + warp * 16 * C::kPLd;
  float* const alpha_w = reinterpret_cast<float*>(smem + C::kRowOff) + warp * 32;  // [0,16): alpha, [16,32): l

  constexpr int chunks = D / 8;
  for (int i = tid; i < C::kBM * chunks; i += C::kThreads) {
    const int r = i / chunks, ch = i % chunks, R = m0 + r;
    const bool valid = R < total_rows;
    cp_async_16(q_s + r * C::kLd + ch * 8, valid ? p.q + p.rows.offset(b, kvh, R, D) + ch * 8 : p.q, valid);
  }
  auto load_tile = [&](int tile, int st) {
    for (int i = tid; i < C::kBN * chunks; i += C::kThreads) {
      const int r = i / chunks, ch = i % chunks, key = tile * C::kBN + r;
      const bool valid = key < p.kv_len;
      const std::int64_t row = ((std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh) * D + ch * 8;
      cp_async_16(k_tile(st) + r * C::kLd + ch * 8, valid ? p.k + row : p.k, valid);
      cp_async_16(v_tile(st) + r * C::kLd + ch * 8, valid ? p.v + row : p.v, valid);
    }
  };
  load_tile(0, 0);
  cp_async_commit();

  // Row of each accumulator element: load a fragment from a 16×16 matrix whose element (r, c) is r.
  for (int i = lane; i < 16 * 16; i += 32) s_w[(i / 16) * C::kSLd + i % 16] = float(i / 16);
  __syncwarp();
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> row_frag;
  wmma::load_matrix_sync(row_frag, s_w, C::kSLd, wmma::mem_row_major);
  int row_of[decltype(row_frag)::num_elements];
#pragma unroll
  for (int i = 0; i < row_frag.num_elements; ++i) row_of[i] = int(row_frag.x[i]);
  __syncwarp();

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> o[D / 16];
#pragma unroll
  for (int f = 0; f < D / 16; ++f) wmma::fill_fragment(o[f], 0.0f);
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qf[D / 16];

  // Softmax state: lane pair (2r, 2r + 1) owns row r of the warp's 16; each keeps its half's partial l.
  const int my_row = lane >> 1, my_half = lane & 1;
  const int my_token = (m0 + warp * 16 + my_row) / p.rows.group;
  float m_run = -INFINITY, l_part = 0.0f;

  for (int tile = 0; tile < n_tiles; ++tile) {
    cp_async_wait<0>();
    __syncthreads();
    if (tile + 1 < n_tiles) {
      load_tile(tile + 1, (tile + 1) & 1);
      cp_async_commit();
    }
    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) wmma::load_matrix_sync(qf[kk], q_s + warp * 16 * C::kLd + kk * 16, C::kLd);
    }
    const __half* const ks = k_tile(tile & 1);
    const __half* const vs = v_tile(tile & 1);

    // S = Q·Kᵀ: K rows read as a column-major B (element (k, n) = K[n][k]).
#pragma unroll
    for (int n = 0; n < C::kBN / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> sacc;
      wmma::fill_fragment(sacc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kb;
        wmma::load_matrix_sync(kb, ks + n * 16 * C::kLd + kk * 16, C::kLd);
        wmma::mma_sync(sacc, qf[kk], kb, sacc);
      }
      wmma::store_matrix_sync(s_w + n * 16, sacc, C::kSLd, wmma::mem_row_major);
    }
    __syncwarp();

    // Softmax of row my_row, columns my_half·32 .. +31 (two passes over shared memory, few registers).
    const int key0 = tile * C::kBN + my_half * 32;
    const float* const s_row = s_w + my_row * C::kSLd + my_half * 32;
    auto score = [&](int j) {
      bool masked = key0 + j >= p.kv_len;
      if constexpr (CAUSAL) masked = masked || key0 + j > my_token + off;
      return masked ? -INFINITY : s_row[j] * p.scale_log2;
    };
    float mx = -INFINITY;
#pragma unroll 8
    for (int j = 0; j < 32; ++j) mx = fmaxf(mx, score(j));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_new = fmaxf(m_run, mx);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = fast_exp2(m_run - m_use);
    m_run = m_new;
    float sum = 0.0f;
#pragma unroll 4
    for (int j = 0; j < 32; j += 2) {
      const float p0 = fast_exp2(score(j) - m_use), p1 = fast_exp2(score(j + 1) - m_use);
      sum += p0 + p1;
      *reinterpret_cast<__half2*>(p_w + my_row * C::kPLd + my_half * 32 + j) = __floats2half2_rn(p0, p1);
    }
    l_part = l_part * alpha + sum;
    if (my_half == 0) alpha_w[my_row] = alpha;
    __syncwarp();

    // O = O·alpha + P·V.
#pragma unroll
    for (int f = 0; f < D / 16; ++f)
#pragma unroll
      for (int i = 0; i < o[f].num_elements; ++i) o[f].x[i] *= alpha_w[row_of[i]];
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pf[C::kBN / 16];
#pragma unroll
    for (int kk = 0; kk < C::kBN / 16; ++kk) wmma::load_matrix_sync(pf[kk], p_w + kk * 16, C::kPLd);
#pragma unroll
    for (int f = 0; f < D / 16; ++f)
#pragma unroll
      for (int kk = 0; kk < C::kBN / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vb;
        wmma::load_matrix_sync(vb, vs + kk * 16 * C::kLd + f * 16, C::kLd);
        wmma::mma_sync(o[f], pf[kk], vb, o[f]);
      }
    __syncwarp();  // the next tile overwrites s_w, p_w, alpha_w
  }

  // Normalise and store: O fragments → fp32 staging (in the K buffers) → fp16 rows of 16 bytes.
  const float l_row = l_part + __shfl_xor_sync(0xffffffffu, l_part, 1);
  __syncthreads();  // all warps are done with the K/V buffers
  if (my_half == 0) alpha_w[16 + my_row] = l_row > 0.0f ? 1.0f / l_row : 0.0f;
  float* const o_w = reinterpret_cast<float*>(smem + C::kKOff) + warp * 16 * C::kOLd;
#pragma unroll
  for (int f = 0; f < D / 16; ++f) wmma::store_matrix_sync(o_w + f * 16, o[f], C::kOLd, wmma::mem_row_major);
  __syncwarp();
  for (int i = lane; i < 16 * chunks; i += 32) {
    const int r = i / chunks, ch = i % chunks, R = m0 + warp * 16 + r;
    if (R >= total_rows) continue;
    const float inv = alpha_w[16 + r];
    alignas(16) __half2 h[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) h[j] = __floats2half2_rn(o_w[r * C::kOLd + ch * 8 + 2 * j] * inv, o_w[r * C::kOLd + ch * 8 + 2 * j + 1] * inv);
    *reinterpret_cast<uint4*>(p.out + p.rows.offset(b, kvh, R, D) + ch * 8) = *reinterpret_cast<const uint4*>(h);
  }
}

template <int D, bool CAUSAL>
void launch(const WmmaParams& p, int batch, cudaStream_t stream) {
  using C = WmmaConfig<D>;
  static bool configured = false;
  if (!configured) {
    ROOFLINE_CUDA_CHECK(cudaFuncSetAttribute(fa2_wmma_kernel<D, CAUSAL>, cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
    configured = true;
  }
  fa2_wmma_kernel<D, CAUSAL><<<dim3(unsigned(p.m_tiles), unsigned(batch * p.kv_heads)), C::kThreads, C::kSmemBytes, stream>>>(p);
  ROOFLINE_CUDA_CHECK_LAST();
}

}  // namespace
}  // namespace device

void launch_fa2_wmma(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out, cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_wmma, s);
  detail::require_aligned(in.q, "fa2_wmma q");
  detail::require_aligned(in.k, "fa2_wmma k");
  detail::require_aligned(in.v, "fa2_wmma v");
  detail::require_aligned(out, "fa2_wmma out");
  const int group = s.q_heads / s.kv_heads;
  device::WmmaParams p{in.q, in.k, in.v, out, device::PackedRows{group, s.q_heads, s.q_len}, s.kv_heads, s.kv_len,
                       (s.q_len * group + 63) / 64, softmax_scale * log2_e};
  if (s.head_dim == 64) {
    if (s.causal) device::launch<64, true>(p, s.batch, stream);
    else device::launch<64, false>(p, s.batch, stream);
  } else {
    if (s.causal) device::launch<128, true>(p, s.batch, stream);
    else device::launch<128, false>(p, s.batch, stream);
  }
}

}  // namespace roofline::validate::prefill

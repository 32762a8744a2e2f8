#include "microbench/elementwise.hpp"

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "microbench/fill.hpp"
#include "microbench/host_numeric.hpp"
#include "roofline/errors.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"

namespace roofline::validate::microbench {
namespace {

constexpr int kThreads = 256;

struct Float8 {
  float v[8];
};

__device__ inline Float8 load8(const uint4& raw) {
  Float8 f;
  const auto* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 p = __bfloat1622float2(h[i]);
    f.v[2 * i] = p.x;
    f.v[2 * i + 1] = p.y;
  }
  return f;
}

__device__ inline uint4 store8(const Float8& f) {
  uint4 raw;
  auto* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) h[i] = __floats2bfloat162_rn(f.v[2 * i], f.v[2 * i + 1]);
  return raw;
}

__device__ inline std::size_t global_thread() { return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline std::size_t grid_threads() { return static_cast<std::size_t>(gridDim.x) * blockDim.x; }

__global__ void rmsnorm_kernel(const uint4* __restrict__ x, const uint4* __restrict__ w, uint4* __restrict__ y,
                               std::int64_t cols_vec, float inv_cols, float eps) {
  const uint4* xr = x + blockIdx.x * cols_vec;
  uint4* yr = y + blockIdx.x * cols_vec;
  float ss = 0.f;
  for (std::int64_t v = threadIdx.x; v < cols_vec; v += blockDim.x) {
    const Float8 f = load8(xr[v]);
#pragma unroll
    for (int i = 0; i < 8; ++i) ss += f.v[i] * f.v[i];
  }
  __shared__ float partial[32];
  for (int offset = 16; offset > 0; offset /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, offset);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float t = threadIdx.x < (blockDim.x + 31) / 32 ? partial[threadIdx.x] : 0.f;
    for (int offset = 16; offset > 0; offset /= 2) t += __shfl_xor_sync(0xffffffffu, t, offset);
    if (threadIdx.x == 0) partial[0] = t;
  }
  __syncthreads();
  const float rs = rsqrtf(partial[0] * inv_cols + eps);
  for (std::int64_t v = threadIdx.x; v < cols_vec; v += blockDim.x) {
    Float8 f = load8(xr[v]);
    const Float8 g = load8(w[v]);
#pragma unroll
    for (int i = 0; i < 8; ++i) f.v[i] = f.v[i] * rs * g.v[i];
    yr[v] = store8(f);
  }
}

// One thread rotates 8 pairs (i, i + D/2) of one head of one row; position = row index.
__global__ void rope_kernel(uint4* __restrict__ x, std::int64_t rows, std::int64_t cols, int head_dim,
                            float log2_theta) {
  const int groups_per_head = head_dim / 16;  // 8 pairs per thread, D/2 pairs per head
  const std::int64_t heads = cols / head_dim;
  const std::size_t total = static_cast<std::size_t>(rows) * heads * groups_per_head;
  for (std::size_t t = global_thread(); t < total; t += grid_threads()) {
    const std::int64_t g = static_cast<std::int64_t>(t % groups_per_head);
    const std::int64_t h = static_cast<std::int64_t>((t / groups_per_head) % heads);
    const std::int64_t r = static_cast<std::int64_t>(t / (static_cast<std::size_t>(groups_per_head) * heads));
    const std::int64_t base = (r * cols + h * head_dim) / 8;  // in uint4 units
    uint4* lo_ptr = x + base + g;
    uint4* hi_ptr = x + base + head_dim / 16 + g;
    Float8 lo = load8(*lo_ptr);
    Float8 hi = load8(*hi_ptr);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int i = static_cast<int>(g) * 8 + j;
      const float inv_freq = exp2f(-(2.0f * i / head_dim) * log2_theta);
      float s, c;
      sincosf(static_cast<float>(r) * inv_freq, &s, &c);
      const float a = lo.v[j], b = hi.v[j];
      lo.v[j] = a * c - b * s;
      hi.v[j] = b * c + a * s;
    }
    *lo_ptr = store8(lo);
    *hi_ptr = store8(hi);
  }
}

__global__ void silu_mul_kernel(const uint4* __restrict__ gate, const uint4* __restrict__ up, uint4* __restrict__ out,
                                std::size_t n_vec) {
  for (std::size_t v = global_thread(); v < n_vec; v += grid_threads()) {
    const Float8 g = load8(gate[v]);
    const Float8 u = load8(up[v]);
    Float8 o;
#pragma unroll
    for (int i = 0; i < 8; ++i) o.v[i] = g.v[i] / (1.0f + __expf(-g.v[i])) * u.v[i];
    out[v] = store8(o);
  }
}

__global__ void add_kernel(const uint4* __restrict__ a, const uint4* __restrict__ b, uint4* __restrict__ out,
                           std::size_t n_vec) {
  for (std::size_t v = global_thread(); v < n_vec; v += grid_threads()) {
    const Float8 x = load8(a[v]);
    const Float8 y = load8(b[v]);
    Float8 o;
#pragma unroll
    for (int i = 0; i < 8; ++i) o.v[i] = x.v[i] + y.v[i];
    out[v] = store8(o);
  }
}

__global__ void kv_write_kernel(const uint4* __restrict__ src, const std::int64_t* __restrict__ slots,
                                uint4* __restrict__ cache, std::int64_t rows, std::int64_t cols_vec) {
  const std::size_t total = static_cast<std::size_t>(rows) * cols_vec;
  for (std::size_t v = global_thread(); v < total; v += grid_threads()) {
    const std::int64_t r = static_cast<std::int64_t>(v / cols_vec);
    const std::int64_t c = static_cast<std::int64_t>(v % cols_vec);
    cache[slots[r] * cols_vec + c] = src[v];
  }
}

__global__ void quantize_fp8_kernel(const uint4* __restrict__ x, const float* __restrict__ scale, uint2* __restrict__ q,
                                    std::size_t n_vec) {
  const float inv = 1.0f / scale[0];
  for (std::size_t v = global_thread(); v < n_vec; v += grid_threads()) {
    const Float8 f = load8(x[v]);
    unsigned short pairs[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      pairs[i] = __nv_cvt_float2_to_fp8x2(make_float2(f.v[2 * i] * inv, f.v[2 * i + 1] * inv), __NV_SATFINITE, __NV_E4M3);
    }
    q[v] = make_uint2(pairs[0] | (static_cast<unsigned>(pairs[1]) << 16), pairs[2] | (static_cast<unsigned>(pairs[3]) << 16));
  }
}

__global__ void embedding_kernel(const uint4* __restrict__ table, const std::int32_t* __restrict__ ids,
                                 uint4* __restrict__ out, std::int64_t rows, std::int64_t cols_vec) {
  const std::size_t total = static_cast<std::size_t>(rows) * cols_vec;
  for (std::size_t v = global_thread(); v < total; v += grid_threads()) {
    const std::int64_t r = static_cast<std::int64_t>(v / cols_vec);
    const std::int64_t c = static_cast<std::int64_t>(v % cols_vec);
    out[v] = table[static_cast<std::int64_t>(ids[r]) * cols_vec + c];
  }
}

unsigned grid_for(std::size_t work_items) {
  int device = 0;
  ROOFLINE_CUDA_CHECK(cudaGetDevice(&device));
  int sms = 0;
  ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const std::size_t wanted = (work_items + kThreads - 1) / kThreads;
  const std::size_t cap = static_cast<std::size_t>(sms) * 16;  // 2 waves of 8 blocks per SM, then grid-stride
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min(wanted, cap)));
}

void require(bool ok, const std::string& what) {
  if (!ok) throw InvalidArgumentError("launch_elementwise: " + what);
}

}  // namespace

const char* elementwise_kind_name(ElementwiseKind k) {
  switch (k) {
    case ElementwiseKind::rmsnorm: return "rmsnorm";
    case ElementwiseKind::rope: return "rope";
    case ElementwiseKind::silu_mul: return "silu_mul";
    case ElementwiseKind::add: return "add";
    case ElementwiseKind::kv_write: return "kv_write";
    case ElementwiseKind::quantize_fp8: return "quantize_fp8";
    case ElementwiseKind::embedding: return "embedding";
  }
  return "?";
}

std::vector<ElementwiseKind> all_elementwise_kinds() {
  return {ElementwiseKind::rmsnorm, ElementwiseKind::rope,         ElementwiseKind::silu_mul, ElementwiseKind::add,
          ElementwiseKind::kv_write, ElementwiseKind::quantize_fp8, ElementwiseKind::embedding};
}

void launch_elementwise(ElementwiseKind kind, const ElementwiseArgs& a, cudaStream_t stream) {
  require(a.rows > 0 && a.cols > 0, "rows and cols must be > 0");
  require(a.cols % 8 == 0, "cols must be a multiple of 8 (16-byte vectors), got " + std::to_string(a.cols));
  const std::int64_t cols_vec = a.cols / 8;
  const std::size_t n_vec = static_cast<std::size_t>(a.rows) * cols_vec;
  switch (kind) {
    case ElementwiseKind::rmsnorm:
      rmsnorm_kernel<<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(
          static_cast<const uint4*>(a.x), static_cast<const uint4*>(a.y_in), static_cast<uint4*>(a.out), cols_vec,
          1.0f / static_cast<float>(a.cols), a.eps);
      break;
    case ElementwiseKind::rope: {
      require(a.head_dim % 16 == 0 && a.cols % a.head_dim == 0,
              "rope needs head_dim % 16 == 0 and cols % head_dim == 0");
      const std::size_t threads_needed = static_cast<std::size_t>(a.rows) * (a.cols / a.head_dim) * (a.head_dim / 16);
      rope_kernel<<<grid_for(threads_needed), kThreads, 0, stream>>>(static_cast<uint4*>(a.out), a.rows, a.cols,
                                                                     a.head_dim, std::log2(a.rope_theta));
      break;
    }
    case ElementwiseKind::silu_mul:
      silu_mul_kernel<<<grid_for(n_vec), kThreads, 0, stream>>>(static_cast<const uint4*>(a.x),
                                                                static_cast<const uint4*>(a.y_in),
                                                                static_cast<uint4*>(a.out), n_vec);
      break;
    case ElementwiseKind::add:
      add_kernel<<<grid_for(n_vec), kThreads, 0, stream>>>(static_cast<const uint4*>(a.x),
                                                           static_cast<const uint4*>(a.y_in),
                                                           static_cast<uint4*>(a.out), n_vec);
      break;
    case ElementwiseKind::kv_write:
      kv_write_kernel<<<grid_for(n_vec), kThreads, 0, stream>>>(static_cast<const uint4*>(a.x), a.slots,
                                                                static_cast<uint4*>(a.out), a.rows, cols_vec);
      break;
    case ElementwiseKind::quantize_fp8:
      quantize_fp8_kernel<<<grid_for(n_vec), kThreads, 0, stream>>>(static_cast<const uint4*>(a.x), a.scale,
                                                                    static_cast<uint2*>(a.out), n_vec);
      break;
    case ElementwiseKind::embedding:
      embedding_kernel<<<grid_for(n_vec), kThreads, 0, stream>>>(static_cast<const uint4*>(a.table), a.ids,
                                                                 static_cast<uint4*>(a.out), a.rows, cols_vec);
      break;
  }
  ROOFLINE_CUDA_CHECK_LAST();
}

double elementwise_bytes(ElementwiseKind kind, std::int64_t rows, std::int64_t cols) {
  const double e = static_cast<double>(rows) * static_cast<double>(cols);
  switch (kind) {
    case ElementwiseKind::rmsnorm: return 2 * e + 2.0 * cols + 2 * e;
    case ElementwiseKind::rope: return 2 * e + 2 * e;
    case ElementwiseKind::silu_mul: return 4 * e + 2 * e;
    case ElementwiseKind::add: return 4 * e + 2 * e;
    case ElementwiseKind::kv_write: return 2 * e + 8.0 * rows + 2 * e;
    case ElementwiseKind::quantize_fp8: return 2 * e + 4.0 + 1 * e;
    case ElementwiseKind::embedding: return 2 * e + 4.0 * rows + 2 * e;
  }
  return 0;
}

double check_elementwise(ElementwiseKind kind, std::int64_t rows, std::int64_t cols, cudaStream_t stream) {
  const std::size_t n = static_cast<std::size_t>(rows * cols);
  const std::int64_t cache_rows = 2 * rows + 3;
  const std::int64_t vocab = 4 * rows + 5;
  const std::uint64_t seed = 0xE1E3E47ull + static_cast<std::uint64_t>(kind);
  DeviceBuffer x(n * 2), y_in(std::max<std::size_t>(n, cols) * 2);
  DeviceBuffer out(std::max<std::size_t>(n, static_cast<std::size_t>(cache_rows * cols)) * 2);
  DeviceBuffer table(static_cast<std::size_t>(vocab * cols) * 2);
  DeviceBuffer slots(rows * sizeof(std::int64_t)), ids(rows * sizeof(std::int32_t)), scale(sizeof(float));
  fill_random(x.get(), n, DType::bf16, seed, -4.0, 4.0, stream);
  fill_random(y_in.get(), std::max<std::size_t>(n, cols), DType::bf16, seed + 1, -2.0, 2.0, stream);
  fill_random(table.get(), static_cast<std::size_t>(vocab * cols), DType::bf16, seed + 2, -1.0, 1.0, stream);
  poison(out.get(), out.bytes(), 0xFF, stream);  // bf16 0xFFFF and e4m3 0xFF are NaN

  // Distinct cache slots (odd rows 1, 3, 5, ... of the cache; the even rows must stay poisoned) and table ids.
  std::vector<std::int64_t> host_slots(rows);
  std::vector<std::int32_t> host_ids(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    host_slots[r] = (r * 2 + 1) % cache_rows;  // odd slots 1, 3, 5, ...: distinct, and even slots stay poisoned
    host_ids[r] = static_cast<std::int32_t>((r * 5 + 2) % vocab);
  }
  const float host_scale = 4.0f / 448.0f;
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(slots.get(), host_slots.data(), rows * sizeof(std::int64_t),
                                      cudaMemcpyHostToDevice, stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(ids.get(), host_ids.data(), rows * sizeof(std::int32_t), cudaMemcpyHostToDevice,
                                      stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(scale.get(), &host_scale, sizeof(float), cudaMemcpyHostToDevice, stream));

  ElementwiseArgs a;
  a.rows = rows;
  a.cols = cols;
  a.x = x.get();
  a.y_in = y_in.get();
  a.out = out.get();
  a.slots = slots.as<std::int64_t>();
  a.ids = ids.as<std::int32_t>();
  a.table = table.get();
  a.scale = scale.as<float>();
  std::vector<std::uint16_t> hx(n), hy(std::max<std::size_t>(n, cols)), htable(static_cast<std::size_t>(vocab * cols));
  if (kind == ElementwiseKind::rope) {  // in place: the input is the output buffer
    ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(out.get(), x.get(), n * 2, cudaMemcpyDeviceToDevice, stream));
  }
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hx.data(), x.get(), n * 2, cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hy.data(), y_in.get(), hy.size() * 2, cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(htable.data(), table.get(), htable.size() * 2, cudaMemcpyDeviceToHost, stream));
  launch_elementwise(kind, a, stream);
  const std::size_t out_elems = kind == ElementwiseKind::kv_write ? static_cast<std::size_t>(cache_rows * cols) : n;
  const std::size_t out_bytes = kind == ElementwiseKind::quantize_fp8 ? out_elems : out_elems * 2;
  std::vector<std::uint8_t> hout(out_bytes);
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hout.data(), out.get(), out_bytes, cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream));

  auto bf = [](std::uint16_t b) { return static_cast<double>(bf16_bits_to_float(b)); };
  auto out_bf = [&](std::size_t i) {
    std::uint16_t b;
    std::memcpy(&b, hout.data() + 2 * i, 2);
    return static_cast<double>(bf16_bits_to_float(b));
  };
  double worst = 0;
  auto account = [&](double got, double want) {
    if (!std::isfinite(got)) {
      worst = std::numeric_limits<double>::infinity();
      return;
    }
    worst = std::max(worst, std::abs(got - want) / std::max(1.0, std::abs(want)));
  };
  const float log2_theta = std::log2(a.rope_theta);
  for (std::int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    if (kind == ElementwiseKind::rmsnorm) {
      for (std::int64_t c = 0; c < cols; ++c) ss += bf(hx[r * cols + c]) * bf(hx[r * cols + c]);
    }
    const double rs = 1.0 / std::sqrt(ss / cols + a.eps);
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      switch (kind) {
        case ElementwiseKind::rmsnorm: account(out_bf(i), bf(hx[i]) * rs * bf(hy[c])); break;
        case ElementwiseKind::rope: {
          const std::int64_t d = c % a.head_dim;
          const std::int64_t half = a.head_dim / 2;
          const std::int64_t pair = d < half ? d : d - half;
          const double inv_freq = std::exp2(-(2.0 * pair / a.head_dim) * log2_theta);
          const double ang = static_cast<double>(r) * inv_freq;
          const double lo = bf(hx[i - (d < half ? 0 : half)]);
          const double hi = bf(hx[i + (d < half ? half : 0)]);
          account(out_bf(i), d < half ? lo * std::cos(ang) - hi * std::sin(ang) : hi * std::cos(ang) + lo * std::sin(ang));
          break;
        }
        case ElementwiseKind::silu_mul: {
          const double g = bf(hx[i]);
          account(out_bf(i), g / (1.0 + std::exp(-g)) * bf(hy[i]));
          break;
        }
        case ElementwiseKind::add: account(out_bf(i), bf(hx[i]) + bf(hy[i])); break;
        case ElementwiseKind::kv_write: account(out_bf(static_cast<std::size_t>(host_slots[r] * cols + c)), bf(hx[i])); break;
        case ElementwiseKind::quantize_fp8: {
          const double want = std::clamp(bf(hx[i]) / host_scale, -448.0, 448.0);
          account(fp8_e4m3_bits_to_float(hout[i]), want);
          break;
        }
        case ElementwiseKind::embedding:
          account(out_bf(i), bf(htable[static_cast<std::size_t>(host_ids[r]) * cols + c]));
          break;
      }
    }
  }
  if (kind == ElementwiseKind::kv_write) {  // rows not written stay poisoned: slots were distinct
    for (std::int64_t s = 0; s < cache_rows; s += 2) {
      if (std::isfinite(out_bf(static_cast<std::size_t>(s * cols)))) worst = std::numeric_limits<double>::infinity();
    }
  }
  return worst;
}

}  // namespace roofline::validate::microbench

#include "microbench/stream.hpp"

#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"

namespace roofline::validate::microbench {
namespace {

__device__ inline unsigned fold(uint4 v) { return v.x + v.y + v.z + v.w; }

// `zero` is always 0 at run time; indices that depend on it (and on the pass or the running sum) keep the
// compiler from proving that passes repeat the same loads or stores, so none can be hoisted or dropped.
__global__ void stream_read_kernel(const uint4* __restrict__ in, std::size_t n, int passes, unsigned* sink,
                                   unsigned never, unsigned* checksum, unsigned zero) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  unsigned acc = 0;
  for (int p = 0; p < passes; ++p) {
    std::size_t i = first + (acc & zero);
    // Four independent loads in flight per iteration.
    for (; i + 3 * stride < n; i += 4 * stride) {
      const uint4 a = in[i];
      const uint4 b = in[i + stride];
      const uint4 c = in[i + 2 * stride];
      const uint4 d = in[i + 3 * stride];
      acc += fold(a) + fold(b) + fold(c) + fold(d);
    }
    for (; i < n; i += stride) acc += fold(in[i]);
  }
  if (checksum != nullptr) atomicXor(checksum, acc);
  if (acc == never) sink[blockIdx.x] = acc;
}

__global__ void stream_write_kernel(uint4* __restrict__ out, std::size_t n, int passes, unsigned value, unsigned zero) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int p = 0; p < passes; ++p) {
    const uint4 v = make_uint4(value + p, value ^ 0x5bd1e995u, value * 3u, ~value);
    for (std::size_t i = first + (static_cast<unsigned>(p) & zero); i < n; i += stride) out[i] = v;
  }
}

__global__ void stream_copy_kernel(const uint4* __restrict__ in, uint4* __restrict__ out, std::size_t n, int passes,
                                   unsigned zero) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int p = 0; p < passes; ++p) {
    std::size_t i = first + (static_cast<unsigned>(p) & zero);
    for (; i + stride < n; i += 2 * stride) {
      const uint4 a = in[i];
      const uint4 b = in[i + stride];
      out[i] = a;
      out[i + stride] = b;
    }
    for (; i < n; i += stride) out[i] = in[i];
  }
}

// The sum of uniformly hashed data equals this with probability 2^-32 per block; a hit only writes one word.
constexpr unsigned kNever = 0xDEADBEEFu;

}  // namespace

const char* stream_kind_name(StreamKind k) {
  switch (k) {
    case StreamKind::read: return "read";
    case StreamKind::write: return "write";
    case StreamKind::copy: return "copy";
  }
  return "?";
}

int default_stream_blocks() {
  int device = 0;
  ROOFLINE_CUDA_CHECK(cudaGetDevice(&device));
  int sms = 0;
  ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return 8 * sms;
}

void launch_stream(StreamKind kind, const void* in, void* out, std::size_t bytes, unsigned* sink, const StreamLaunch& how,
                   cudaStream_t stream) {
  const std::size_t n = bytes / 16;
  const int blocks = how.blocks > 0 ? how.blocks : default_stream_blocks();
  switch (kind) {
    case StreamKind::read:
      stream_read_kernel<<<blocks, how.threads, 0, stream>>>(static_cast<const uint4*>(in), n, how.passes, sink, kNever,
                                                             nullptr, 0u);
      break;
    case StreamKind::write:
      stream_write_kernel<<<blocks, how.threads, 0, stream>>>(static_cast<uint4*>(out), n, how.passes, 0x1234567u, 0u);
      break;
    case StreamKind::copy:
      stream_copy_kernel<<<blocks, how.threads, 0, stream>>>(static_cast<const uint4*>(in), static_cast<uint4*>(out), n,
                                                             how.passes, 0u);
      break;
  }
  ROOFLINE_CUDA_CHECK_LAST();
}

std::uint32_t stream_read_checksum(const void* in, std::size_t bytes, int blocks, int threads, cudaStream_t stream) {
  DeviceBuffer sink(static_cast<std::size_t>(blocks) * sizeof(unsigned));
  DeviceBuffer checksum(sizeof(unsigned));
  ROOFLINE_CUDA_CHECK(cudaMemsetAsync(checksum.get(), 0, sizeof(unsigned), stream));
  stream_read_kernel<<<blocks, threads, 0, stream>>>(static_cast<const uint4*>(in), bytes / 16, 1, sink.as<unsigned>(),
                                                     kNever, checksum.as<unsigned>(), 0u);
  ROOFLINE_CUDA_CHECK_LAST();
  unsigned host = 0;
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(&host, checksum.get(), sizeof host, cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace roofline::validate::microbench

// Small memory-bound bf16 kernels of a transformer step, in the semantics of docs/measurement-records.md
// (workload op "elementwise"), each with a CPU reference for the correctness check. Vectorised: 8 bf16
// (16 bytes) per access; cols must be a multiple of 8 (rope: of head_dim).
//   rmsnorm      y[r,:] = x[r,:] / sqrt(mean(x[r,:]²) + eps) · w            one block per row
//   rope         x[r, h·D + i], x[r, h·D + i + D/2] rotated by angle r·θ^(−2i/D), in place (rotate-half)
//   silu_mul     out = silu(gate) · up
//   add          out = a + b
//   kv_write     cache[slot[r], :] = src[r, :]
//   quantize_fp8 q = e4m3(x / scale), saturating; scale read from device memory
//   embedding    out[r, :] = table[ids[r], :]
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace roofline::validate::microbench {

enum class ElementwiseKind { rmsnorm, rope, silu_mul, add, kv_write, quantize_fp8, embedding };
const char* elementwise_kind_name(ElementwiseKind k);
std::vector<ElementwiseKind> all_elementwise_kinds();

/// Device pointers of one elementwise call (unused ones null). bf16 data is passed as void*.
struct ElementwiseArgs {
  const void* x = nullptr;          ///< rmsnorm x, silu_mul gate, add a, kv_write src, quantize x
  const void* y_in = nullptr;       ///< silu_mul up, add b, rmsnorm weight [cols]
  void* out = nullptr;              ///< rmsnorm/silu/add out, kv cache, fp8 output, embedding out; rope: in/out
  const std::int64_t* slots = nullptr;  ///< kv_write: cache row of each source row
  const std::int32_t* ids = nullptr;    ///< embedding: table row of each output row
  const void* table = nullptr;      ///< embedding table [vocab, cols]
  const float* scale = nullptr;     ///< quantize_fp8 scale (device)
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  int head_dim = 128;               ///< rope
  float eps = 1e-5f;                ///< rmsnorm
  float rope_theta = 10000.0f;      ///< rope
};

/// Launches one call and checks the launch. Throws InvalidArgumentError for unsupported shapes.
void launch_elementwise(ElementwiseKind kind, const ElementwiseArgs& args, cudaStream_t stream);

/// Bytes one call moves by the workload definition (reads + writes, weights included), e.g. rmsnorm over
/// [32, 4096] bf16: read 32·4096·2 + 4096·2, write 32·4096·2 = 532480 bytes.
double elementwise_bytes(ElementwiseKind kind, std::int64_t rows, std::int64_t cols);

/// Runs `kind` once on [rows, cols] random inputs (fresh device buffers), compares with the CPU reference
/// and returns the largest error relative to max(1, |reference|); outputs are poisoned (NaN) first, so an
/// unwritten element fails. Throws CudaError on a CUDA failure.
double check_elementwise(ElementwiseKind kind, std::int64_t rows, std::int64_t cols, cudaStream_t stream);

}  // namespace roofline::validate::microbench

// cuBLASLt GEMM y[M,N] = x[M,K]·W[N,K]ᵀ (row-major; "TN" in cuBLASLt's column-major terms: D[N,M] =
// op_T(W[K,N]) · x[K,M]). bf16/fp16: 16-bit operands and output, fp32 accumulation. fp8_e4m3: W8A8 with
// per-tensor fp32 scales (A_SCALE_POINTER for W, B_SCALE_POINTER for x), bf16 output. int8: int32
// output and accumulation. The algorithm is cuBLASLt's first heuristic result for a workspace limit.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace roofline::validate::microbench {

enum class GemmDType { bf16, fp16, fp8_e4m3, int8 };
const char* gemm_dtype_name(GemmDType t);  ///< "bf16", "fp16", "fp8_e4m3", "int8" (the workload's dtype)

struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0;
};

/// Operand bytes: x[M,K] and W[N,K] in the input type, y[M,N] in the output type (bf16 for fp8, int32 for
/// int8). bf16 4096³: 3 · 4096² · 2 = 100663296.
std::int64_t gemm_x_bytes(GemmDType t, const GemmShape& s);
std::int64_t gemm_w_bytes(GemmDType t, const GemmShape& s);
std::int64_t gemm_y_bytes(GemmDType t, const GemmShape& s);
/// 2·M·N·K.
double gemm_flops(const GemmShape& s);

/// RAII cuBLASLt handle.
class LtHandle {
 public:
  LtHandle();
  ~LtHandle();
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
  cublasLtHandle_t get() const { return handle_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

/// One configured matmul (descriptors + chosen algorithm). Move-only.
class LtGemm {
 public:
  /// fp8 needs the device scale pointers (scale of W, scale of x) here, before the heuristic runs. Throws
  /// CudaError (api "cublas"): CUBLAS_STATUS_NOT_SUPPORTED when cuBLASLt has no algorithm for the type and
  /// shape (e.g. fp8 dimensions that break its 16-byte alignment rules).
  /// `rank`: which of cuBLASLt's heuristic results to run (0: its choice), of `requested` asked for; a rank
  /// beyond what it returned throws CudaError (CUBLAS_STATUS_NOT_SUPPORTED).
  LtGemm(cublasLtHandle_t handle, GemmDType type, const GemmShape& shape, std::size_t workspace_limit_bytes,
         const float* w_scale = nullptr, const float* x_scale = nullptr, int rank = 0, int requested = 1);
  ~LtGemm();
  LtGemm(LtGemm&&) noexcept;
  LtGemm& operator=(LtGemm&&) noexcept;
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  /// y = x·Wᵀ on `stream`. fp8: scale pointers given here replace those of the constructor.
  void run(cudaStream_t stream, const void* x, const void* w, void* y, void* workspace, const float* w_scale = nullptr,
           const float* x_scale = nullptr) const;

  /// {"algo_id", "tile_id" (cublasLtMatmulTile_t), "stages_id", "splitk", "reduction_scheme", "swizzle",
  ///  "cluster_shape_id", "waves_count", "workspace_bytes"}.
  nlohmann::json algo_json() const;
  std::size_t workspace_bytes() const;
  /// How many heuristic results cuBLASLt returned for the `requested` asked for (≥ 1).
  int candidates_returned() const;
  GemmDType type() const;
  const GemmShape& shape() const;

 private:
  struct Impl;
  Impl* impl_ = nullptr;
};

/// Runs one GEMM of `shape` on random inputs and compares with a double-precision CPU reference computed
/// from the device's own (rounded) inputs; returns max |y − ref| / max(1, |ref|) (0 for exact int8); for fp8,
/// whose tensor cores accumulate in reduced precision, max (|y − ref| − 2⁻⁸|ref|) / Σ|x·w| (the error beyond
/// the bf16 output's rounding, relative to the terms summed); +inf for any non-finite or unwritten (poisoned)
/// output. Throws CudaError on failure.
double check_gemm(cublasLtHandle_t handle, GemmDType type, const GemmShape& shape, cudaStream_t stream);

}  // namespace roofline::validate::microbench

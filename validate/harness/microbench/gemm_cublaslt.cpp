#include "microbench/gemm_cublaslt.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "microbench/fill.hpp"
#include "microbench/host_numeric.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"

namespace roofline::validate::microbench {
namespace {

cudaDataType_t input_type(GemmDType t) {
  switch (t) {
    case GemmDType::bf16: return CUDA_R_16BF;
    case GemmDType::fp16: return CUDA_R_16F;
    case GemmDType::fp8_e4m3: return CUDA_R_8F_E4M3;
    case GemmDType::int8: return CUDA_R_8I;
  }
  return CUDA_R_16BF;
}

cudaDataType_t output_type(GemmDType t) {
  switch (t) {
    case GemmDType::bf16: return CUDA_R_16BF;
    case GemmDType::fp16: return CUDA_R_16F;
    case GemmDType::fp8_e4m3: return CUDA_R_16BF;
    case GemmDType::int8: return CUDA_R_32I;
  }
  return CUDA_R_16BF;
}

std::int64_t in_bytes(GemmDType t) { return (t == GemmDType::fp8_e4m3 || t == GemmDType::int8) ? 1 : 2; }
std::int64_t out_bytes(GemmDType t) { return t == GemmDType::int8 ? 4 : 2; }

}  // namespace

const char* gemm_dtype_name(GemmDType t) {
  switch (t) {
    case GemmDType::bf16: return "bf16";
    case GemmDType::fp16: return "fp16";
    case GemmDType::fp8_e4m3: return "fp8_e4m3";
    case GemmDType::int8: return "int8";
  }
  return "?";
}

std::int64_t gemm_x_bytes(GemmDType t, const GemmShape& s) { return s.m * s.k * in_bytes(t); }
std::int64_t gemm_w_bytes(GemmDType t, const GemmShape& s) { return s.n * s.k * in_bytes(t); }
std::int64_t gemm_y_bytes(GemmDType t, const GemmShape& s) { return s.m * s.n * out_bytes(t); }
double gemm_flops(const GemmShape& s) { return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k); }

LtHandle::LtHandle() { ROOFLINE_CUBLAS_CHECK(cublasLtCreate(&handle_)); }
LtHandle::~LtHandle() {
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

struct LtGemm::Impl {
  GemmDType type{};
  GemmShape shape;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic{};
  int returned = 0;
  cublasLtHandle_t handle = nullptr;

  ~Impl() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

LtGemm::LtGemm(cublasLtHandle_t handle, GemmDType type, const GemmShape& s, std::size_t workspace_limit_bytes,
               const float* w_scale, const float* x_scale, int rank, int requested)
    : impl_(new Impl) {
  try {
    Impl& g = *impl_;
    g.type = type;
    g.shape = s;
    g.handle = handle;
    const bool integer = type == GemmDType::int8;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulDescCreate(&g.desc, integer ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F,
                                                   integer ? CUDA_R_32I : CUDA_R_32F));
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa));
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb));
    if (type == GemmDType::fp8_e4m3) {
      if (w_scale == nullptr || x_scale == nullptr) {
        throw CudaError("LtGemm: fp8 needs device scale pointers for W and x", "cublas",
                        static_cast<int>(CUBLAS_STATUS_INVALID_VALUE));
      }
      ROOFLINE_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scale, sizeof w_scale));
      ROOFLINE_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scale, sizeof x_scale));
    }
    // Column-major views: A = W as [K, N] (ld K, transposed), B = x as [K, M] (ld K), C = D = y as [N, M] (ld N).
    ROOFLINE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g.a, input_type(type), s.k, s.n, s.k));
    ROOFLINE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g.b, input_type(type), s.k, s.m, s.k));
    ROOFLINE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g.c, output_type(type), s.n, s.m, s.n));
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&g.pref));
    const std::uint64_t limit = workspace_limit_bytes;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(g.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &limit,
                                                               sizeof limit));
    requested = std::max({requested, rank + 1, 1});
    std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(requested));
    int returned = 0;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, g.desc, g.a, g.b, g.c, g.c, g.pref, requested,
                                                         results.data(), &returned));
    if (rank < 0 || returned <= rank || results[static_cast<std::size_t>(rank)].state != CUBLAS_STATUS_SUCCESS) {
      throw CudaError(std::string("cublasLtMatmulAlgoGetHeuristic: no algorithm of rank ") + std::to_string(rank) +
                          " (" + std::to_string(returned) + " returned) for " + gemm_dtype_name(type) +
                          " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                          ": CUBLAS_STATUS_NOT_SUPPORTED",
                      "cublas", static_cast<int>(CUBLAS_STATUS_NOT_SUPPORTED));
    }
    g.heuristic = results[static_cast<std::size_t>(rank)];
    g.returned = returned;
  } catch (...) {
    delete impl_;
    impl_ = nullptr;
    throw;
  }
}

LtGemm::~LtGemm() { delete impl_; }
LtGemm::LtGemm(LtGemm&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}
LtGemm& LtGemm::operator=(LtGemm&& o) noexcept {
  if (this != &o) {
    delete impl_;
    impl_ = std::exchange(o.impl_, nullptr);
  }
  return *this;
}

void LtGemm::run(cudaStream_t stream, const void* x, const void* w, void* y, void* workspace, const float* w_scale,
                 const float* x_scale) const {
  const Impl& g = *impl_;
  if (g.type == GemmDType::fp8_e4m3 && (w_scale != nullptr || x_scale != nullptr)) {
    ROOFLINE_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scale, sizeof w_scale));
    ROOFLINE_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scale, sizeof x_scale));
  }
  if (g.type == GemmDType::int8) {
    const std::int32_t alpha = 1, beta = 0;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmul(g.handle, g.desc, &alpha, w, g.a, x, g.b, &beta, y, g.c, y, g.c,
                                         &g.heuristic.algo, workspace, g.heuristic.workspaceSize, stream));
  } else {
    const float alpha = 1.0f, beta = 0.0f;
    ROOFLINE_CUBLAS_CHECK(cublasLtMatmul(g.handle, g.desc, &alpha, w, g.a, x, g.b, &beta, y, g.c, y, g.c,
                                         &g.heuristic.algo, workspace, g.heuristic.workspaceSize, stream));
  }
}

nlohmann::json LtGemm::algo_json() const {
  const Impl& g = *impl_;
  nlohmann::json j;
  auto get = [&](cublasLtMatmulAlgoConfigAttributes_t attr, const char* key) {
    std::uint32_t value = 0;  // every attribute read here is a 32-bit (u)int
    std::size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&g.heuristic.algo, attr, &value, sizeof value, &written) ==
            CUBLAS_STATUS_SUCCESS &&
        written <= sizeof value) {
      j[key] = value;
    }
  };
  std::int32_t id = 0;
  std::size_t written = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&g.heuristic.algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written) ==
      CUBLAS_STATUS_SUCCESS) {
    j["algo_id"] = id;
  }
  get(CUBLASLT_ALGO_CONFIG_TILE_ID, "tile_id");
  get(CUBLASLT_ALGO_CONFIG_STAGES_ID, "stages_id");
  get(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, "splitk");
  get(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, "reduction_scheme");
  get(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, "swizzle");
  get(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, "cluster_shape_id");
  j["waves_count"] = g.heuristic.wavesCount;
  j["workspace_bytes"] = g.heuristic.workspaceSize;
  return j;
}

std::size_t LtGemm::workspace_bytes() const { return impl_->heuristic.workspaceSize; }
int LtGemm::candidates_returned() const { return impl_->returned; }
GemmDType LtGemm::type() const { return impl_->type; }
const GemmShape& LtGemm::shape() const { return impl_->shape; }

double check_gemm(cublasLtHandle_t handle, GemmDType type, const GemmShape& s, cudaStream_t stream) {
  const std::size_t workspace_limit = 32u << 20;
  // W scale at float 0, x scale at float 4: cuBLASLt wants 16-byte aligned pointers for fp8 (a scale at
  // float 1 made every fp8 matmul CUBLAS_STATUS_NOT_SUPPORTED on an H100, 2026-11-22).
  DeviceBuffer scales(8 * sizeof(float));
  const float host_scales[8] = {0.5f, 0, 0, 0, 0.25f, 0, 0, 0};  // the output must carry their product
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(scales.get(), host_scales, sizeof host_scales, cudaMemcpyHostToDevice, stream));
  LtGemm gemm(handle, type, s, workspace_limit, scales.as<float>(), scales.as<float>() + 4);
  DeviceBuffer x(gemm_x_bytes(type, s)), w(gemm_w_bytes(type, s)), y(gemm_y_bytes(type, s));
  DeviceBuffer workspace(std::max<std::size_t>(gemm.workspace_bytes(), 1));
  const DType in = type == GemmDType::bf16 ? DType::bf16
                   : type == GemmDType::fp16 ? DType::fp16
                   : type == GemmDType::fp8_e4m3 ? DType::fp8_e4m3
                                                 : DType::int8;
  const double range = type == GemmDType::int8 ? 100.0 : type == GemmDType::fp8_e4m3 ? 8.0 : 1.0;
  fill_random(x.get(), static_cast<std::size_t>(s.m * s.k), in, 11, -range, range, stream);
  fill_random(w.get(), static_cast<std::size_t>(s.n * s.k), in, 12, -range, range, stream);
  poison(y.get(), y.bytes(), 0xFF, stream);  // bf16/fp16 NaN; int32 −1
  gemm.run(stream, x.get(), w.get(), y.get(), workspace.get(), scales.as<float>(), scales.as<float>() + 4);
  std::vector<std::uint8_t> hx(x.bytes()), hw(w.bytes()), hy(y.bytes());
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hx.data(), x.get(), x.bytes(), cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hw.data(), w.get(), w.bytes(), cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(hy.data(), y.get(), y.bytes(), cudaMemcpyDeviceToHost, stream));
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream));

  auto value = [&](const std::vector<std::uint8_t>& buf, std::int64_t i) -> double {
    switch (type) {
      case GemmDType::bf16: {
        std::uint16_t b;
        std::memcpy(&b, buf.data() + 2 * i, 2);
        return bf16_bits_to_float(b);
      }
      case GemmDType::fp16: {
        std::uint16_t b;
        std::memcpy(&b, buf.data() + 2 * i, 2);
        return fp16_bits_to_float(b);
      }
      case GemmDType::fp8_e4m3: return fp8_e4m3_bits_to_float(buf[static_cast<std::size_t>(i)]);
      case GemmDType::int8: return static_cast<std::int8_t>(buf[static_cast<std::size_t>(i)]);
    }
    return 0;
  };
  auto output = [&](std::int64_t i) -> double {
    if (type == GemmDType::int8) {
      std::int32_t v;
      std::memcpy(&v, hy.data() + 4 * i, 4);
      return v;
    }
    std::uint16_t b;
    std::memcpy(&b, hy.data() + 2 * i, 2);
    return type == GemmDType::fp16 ? fp16_bits_to_float(b) : bf16_bits_to_float(b);
  };
  const double scale = type == GemmDType::fp8_e4m3 ? double(host_scales[0]) * host_scales[4] : 1.0;
  double worst = 0;
  for (std::int64_t i = 0; i < s.m; ++i) {
    for (std::int64_t j = 0; j < s.n; ++j) {
      double ref = 0, magnitude = 0;
      for (std::int64_t p = 0; p < s.k; ++p) {
        const double prod = value(hx, i * s.k + p) * value(hw, j * s.k + p);
        ref += prod;
        magnitude += std::abs(prod);
      }
      ref *= scale;
      magnitude *= scale;
      const double got = output(i * s.n + j);
      if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
      // fp8 tensor cores on Hopper accumulate in reduced precision, so the error of an element is bounded by
      // the size of the terms it sums (Σ|x·w|), not by its value, which cancellation can make tiny:
      // fp8 reports |got − ref| / Σ|x·w| (plus the bf16 output rounding), the others |got − ref| / max(1, |ref|).
      const double err = type == GemmDType::fp8_e4m3
                             ? std::max(0.0, std::abs(got - ref) - std::ldexp(std::abs(ref), -8)) / std::max(magnitude, 1e-30)
                             : std::abs(got - ref) / std::max(1.0, std::abs(ref));
      worst = std::max(worst, err);
    }
  }
  return worst;
}

}  // namespace roofline::validate::microbench

// sage_int8_fp8 (mma_attention.cuh, variant sage_f8); its own translation unit so that it compiles in
// parallel with the other variants.
#include "mma_attention.cuh"
#include "prefill_launch.hpp"

namespace roofline::validate::prefill {

namespace detail {
device::MmaParams sage_params(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out);
}

void launch_sage_int8_fp8(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out,
                          cudaStream_t stream) {
  detail::require_shape(PrefillKernel::sage_int8_fp8, s);
  detail::require_compute_capability(8, 9, "sage_int8_fp8 (mma.sync e4m3)");
  detail::require_aligned(in.vt, "sage_int8_fp8 vt");
  if (in.v_scale == nullptr) throw InvalidArgumentError("sage_int8_fp8: v_scale is required");
  device::MmaParams p = detail::sage_params(s, in, softmax_scale_log2, out);
  p.v = in.vt;
  p.v_scale = in.v_scale;
  device::dispatch_mma_attention<device::MmaVariant::sage_f8>(s, p, stream);
}

}  // namespace roofline::validate::prefill

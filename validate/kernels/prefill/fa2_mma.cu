// fa2_mma: fp16 FlashAttention-2 with mma.sync m16n8k16 (mma_attention.cuh, variant f16).
#include "mma_attention.cuh"
#include "prefill_launch.hpp"

namespace roofline::validate::prefill {

void launch_fa2_mma(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out, cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_mma, s);
  detail::require_aligned(in.q, "fa2_mma q");
  detail::require_aligned(in.k, "fa2_mma k");
  detail::require_aligned(in.v, "fa2_mma v");
  detail::require_aligned(out, "fa2_mma out");
  device::MmaParams p;
  p.q = in.q;
  p.k = in.k;
  p.v = in.v;
  p.out = out;
  p.scale_log2 = softmax_scale * log2_e;
  device::dispatch_mma_attention<device::MmaVariant::f16>(s, p, stream);
}

}  // namespace roofline::validate::prefill

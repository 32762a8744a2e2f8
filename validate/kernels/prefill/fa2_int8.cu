// fa2_int8: per-tensor asymmetric INT8 Q, K, V (mma_attention.cuh, variant int8_pt).
#include "mma_attention.cuh"
#include "prefill_launch.hpp"

namespace roofline::validate::prefill {

void launch_fa2_int8(const PrefillShape& s, const Int8PerTensorBuffers& in, float softmax_scale, __half* out,
                     cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_int8, s);
  detail::require_aligned(in.q, "fa2_int8 q");
  detail::require_aligned(in.k, "fa2_int8 k");
  detail::require_aligned(in.vt, "fa2_int8 vt");
  detail::require_aligned(in.k_sums, "fa2_int8 k_sums");
  detail::require_aligned(out, "fa2_int8 out");
  if (in.q_sums == nullptr || in.state == nullptr) throw InvalidArgumentError("fa2_int8: q_sums and state are required");
  device::MmaParams p;
  p.q = in.q;
  p.k = in.k;
  p.v = in.vt;
  p.out = out;
  p.scale_log2 = softmax_scale * log2_e;
  p.q_sums = in.q_sums;
  p.k_sums = in.k_sums;
  p.state = in.state;
  device::dispatch_mma_attention<device::MmaVariant::int8_pt>(s, p, stream);
}

}  // namespace roofline::validate::prefill

// sage_int8_fp16 (mma_attention.cuh, variant sage_f16); sage_int8_fp8 is in sage_fp8.cu (compiled in parallel).
#include "mma_attention.cuh"
#include "prefill_launch.hpp"

namespace roofline::validate::prefill {

namespace detail {

device::MmaParams sage_params(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out) {
  detail::require_aligned(in.q, "sage q");
  detail::require_aligned(in.k, "sage k");
  detail::require_aligned(out, "sage out");
  if (in.q_scale == nullptr || in.k_scale == nullptr) throw InvalidArgumentError("sage: q_scale and k_scale are required");
  device::MmaParams p;
  p.q = in.q;
  p.k = in.k;
  p.out = out;
  p.scale_log2 = softmax_scale_log2;
  p.q_scale = in.q_scale;
  p.k_scale = in.k_scale;
  p.q_blocks = (s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens;
  p.k_blocks = (s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens;
  return p;
}

}  // namespace detail

void launch_sage_int8_fp16(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out,
                           cudaStream_t stream) {
  detail::require_shape(PrefillKernel::sage_int8_fp16, s);
  detail::require_aligned(in.v, "sage_int8_fp16 v");
  device::MmaParams p = detail::sage_params(s, in, softmax_scale_log2, out);
  p.v = in.v;
  device::dispatch_mma_attention<device::MmaVariant::sage_f16>(s, p, stream);
}


}  // namespace roofline::validate::prefill

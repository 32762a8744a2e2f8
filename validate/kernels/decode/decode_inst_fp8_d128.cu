// Instantiations of the pruned decode launcher: format fp8, head_dim 128 (split into files for parallel builds).
#include "decode_kernels.cuh"
namespace roofline::validate::decode {
template LaunchInfo launch_pruned<1, 128, 4, 32>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_pruned<1, 128, 4, 64>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_pruned<1, 128, 4, 128>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_pruned<1, 128, 8, 32>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_pruned<1, 128, 8, 64>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_pruned<1, 128, 8, 128>(const PrunedLaunch&, const PrunedPointers&, DecodeWorkspace&, cudaStream_t);
}  // namespace roofline::validate::decode

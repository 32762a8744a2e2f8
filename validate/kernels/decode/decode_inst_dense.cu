// Instantiations of the dense split-KV decode launcher.
#include "decode_kernels.cuh"
namespace roofline::validate::decode {
template LaunchInfo launch_dense<64, 4, true>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<64, 4, false>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<64, 8, true>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<64, 8, false>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<128, 4, true>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<128, 4, false>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<128, 8, true>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
template LaunchInfo launch_dense<128, 8, false>(const DenseLaunch&, const void*, const void*, const void*, void*, DecodeWorkspace&, cudaStream_t);
}  // namespace roofline::validate::decode

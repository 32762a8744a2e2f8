// The empty kernel of the launch-overhead benchmarks: one block of 32 threads, one pointer argument, no work.
#pragma once

#include <cuda_runtime_api.h>

namespace roofline::validate::microbench {

/// Launches the empty kernel on `stream` and checks the launch.
void launch_empty_kernel(cudaStream_t stream, void* arg = nullptr);

/// Launches it without the error check (for measuring the host cost of the launch call alone).
void launch_empty_kernel_unchecked(cudaStream_t stream, void* arg = nullptr);

}  // namespace roofline::validate::microbench

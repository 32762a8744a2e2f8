// Bandwidth kernels over one buffer: read (a reduction the compiler cannot drop), write, copy. 16-byte
// vector accesses, grid-stride over a fixed grid of (blocks_per_sm × SMs) blocks of 256 threads, and
// `passes` repetitions inside one kernel so that small working sets stay resident in L1 / L2 (each block
// runs on one SM for the whole kernel and re-reads the same addresses every pass).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace roofline::validate::microbench {

enum class StreamKind { read, write, copy };
const char* stream_kind_name(StreamKind k);

struct StreamLaunch {
  int blocks = 0;          ///< grid size (0: 8 blocks per SM of the current device)
  int threads = 256;
  int passes = 1;          ///< repetitions over the buffer inside one kernel
};

/// read: sums every 16-byte word of `in` (bytes a multiple of 16) and writes the sum to sink[block] only
/// when it equals `never` (a value the data never sums to), so the loads cannot be removed.
/// write: stores `value` pattern words to `out`. copy: out = in. All check the launch.
void launch_stream(StreamKind kind, const void* in, void* out, std::size_t bytes, unsigned* sink, const StreamLaunch& how,
                   cudaStream_t stream);

/// The default grid of the current device: 8 blocks of 256 threads per SM (full occupancy on sm_80/90).
int default_stream_blocks();

/// Sums the buffer's 32-bit words exactly as the read kernel does (one uint32 wrap-around sum per thread
/// folded with XOR); the GPU test compares it with a CPU reference.
std::uint32_t stream_read_checksum(const void* in, std::size_t bytes, int blocks, int threads, cudaStream_t stream);

}  // namespace roofline::validate::microbench

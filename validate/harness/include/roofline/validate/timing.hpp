// GPU time of one call of a workload: CUDA events around CUDA-graph replays (default), CUDA events around
// single calls, or CUPTI activity records (the kernels' own GPU timestamps). Inputs are kept cold in L2 by
// rotating over several input sets (launch receives the set's index). A short spin kernel ahead of each
// batch of timed samples lets the host queue the batch before the GPU reaches it, so launch latency is
// not timed. Median, min and max are over samples; one sample averages `calls_per_sample` calls.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace roofline::validate {

struct TimeStats {
  double median_s = 0;
  double min_s = 0;
  double max_s = 0;
  int count = 0;                 ///< timed samples
  // Added members:
  std::string method;            ///< "cuda_graph_events", "cuda_events" or "cupti_activity"
  int calls_per_sample = 1;      ///< calls averaged into one sample (a graph replay holds several calls)
  int kernels_per_call = 0;      ///< kernels one call launched (CUPTI path; 0 when not observed)
  double span_median_s = 0;      ///< CUPTI path: median over samples of (last end − first start) / calls
  double total_timed_s = 0;      ///< sum of all timed samples × calls (how long the timed phase ran on the GPU)
  std::vector<std::string> kernel_names;  ///< CUPTI path: the kernels of the first timed sample, in order
  std::string grouping;          ///< CUPTI path: how kernels were tied to samples ("external_correlation",
                                 ///< or "start_order" when CUPTI delivered no external correlation)
};

struct TimingOptions {
  int warmup = 5;                ///< untimed samples first (graph replays, or calls)
  int repetitions = 50;          ///< timed samples
  bool use_cuda_graph = true;    ///< capture calls into a CUDA graph and time replays
  int rotations = 1;             ///< input sets that launch() cycles over (see rotations_for)
  // Added members:
  bool use_cupti_activity = false;  ///< time with CUPTI activity records instead of CUDA events
  int calls_per_replay = 0;      ///< calls captured in one graph; 0: max(1, rotations)
  double max_time_s = 0;         ///< if > 0: shrink repetitions so the timed phase takes about this long
  int min_repetitions = 5;       ///< never fewer timed samples than this when shrinking
};

/// Per-call GPU time of launch(stream, rotation_index). The rotation index cycles 0, 1, ..,
/// options.rotations − 1 over consecutive calls. With use_cuda_graph, calls_per_replay calls are captured
/// into one graph (launch must be capturable: no synchronisation, no allocation) and each sample is one
/// replay's time divided by its calls; without, each sample is one call. With use_cupti_activity the
/// sample is the sum of the call's kernel durations (CUPTI CONCURRENT_KERNEL records), and span_median_s
/// gives last end − first start. Throws CudaError / CuptiError on failure (an unfinished capture is ended).
TimeStats time_gpu(const std::function<void(cudaStream_t, int)>& launch, const TimingOptions& options);

/// Input sets needed so that the rotated sets cover ≥ 3× the L2 cache: max(1, ceil(3·l2 / bytes)).
/// 8 MiB of weights on a 50 MiB L2: ceil(150 / 8) = 19 sets. Throws InvalidArgumentError unless both > 0.
int rotations_for(std::int64_t bytes_per_input_set, std::int64_t l2_bytes);

/// "cold_rotating" when rotations · bytes_per_input_set ≥ 3 · l2_bytes, else "warm" (the record's timing.l2).
std::string l2_state_for(std::int64_t bytes_per_input_set, int rotations, std::int64_t l2_bytes);

/// Median of a non-empty sample (mean of the two middle values for an even count).
double median_of(std::vector<double> values);

}  // namespace roofline::validate

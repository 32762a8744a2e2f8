#include "roofline/validate/timing.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "roofline/errors.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "roofline/validate/cupti_session.hpp"

namespace roofline::validate {
namespace {

constexpr int kBatch = 32;                    // timed samples enqueued behind one spin kernel
constexpr std::uint64_t kSpinPerSampleNs = 20000;  // host enqueue time budgeted per sample (event + launch + event)

__device__ __forceinline__ std::uint64_t global_timer_ns() {
  std::uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Holds the stream for `ns` nanoseconds so that the host can enqueue the following batch first.
__global__ void roofline_timing_spin(std::uint64_t ns) {
  if (threadIdx.x == 0) {
    const std::uint64_t start = global_timer_ns();
    while (global_timer_ns() - start < ns) {
    }
  }
}

void spin(cudaStream_t stream, std::uint64_t ns) {
  roofline_timing_spin<<<1, 32, 0, stream>>>(ns);
  ROOFLINE_CUDA_CHECK_LAST();
}

void check_options(const TimingOptions& o) {
  require_positive("TimingOptions.repetitions", o.repetitions);
  require_positive("TimingOptions.rotations", o.rotations);
  require_positive("TimingOptions.min_repetitions", o.min_repetitions);
  if (o.warmup < 0) throw InvalidArgumentError("TimingOptions.warmup: must be >= 0, got " + std::to_string(o.warmup));
  if (o.calls_per_replay < 0) {
    throw InvalidArgumentError("TimingOptions.calls_per_replay: must be >= 0, got " + std::to_string(o.calls_per_replay));
  }
}

}  // namespace

double median_of(std::vector<double> values) {
  if (values.empty()) throw InvalidArgumentError("median_of: empty sample");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int rotations_for(std::int64_t bytes_per_input_set, std::int64_t l2_bytes) {
  require_positive("rotations_for: bytes_per_input_set", static_cast<double>(bytes_per_input_set));
  require_positive("rotations_for: l2_bytes", static_cast<double>(l2_bytes));
  const std::int64_t target = 3 * l2_bytes;
  const std::int64_t sets = (target + bytes_per_input_set - 1) / bytes_per_input_set;
  return static_cast<int>(std::max<std::int64_t>(1, sets));
}

std::string l2_state_for(std::int64_t bytes_per_input_set, int rotations, std::int64_t l2_bytes) {
  const double covered = static_cast<double>(bytes_per_input_set) * std::max(1, rotations);
  return covered >= 3.0 * static_cast<double>(l2_bytes) ? "cold_rotating" : "warm";
}

TimeStats time_gpu(const std::function<void(cudaStream_t, int)>& launch, const TimingOptions& options) {
  check_options(options);
  Stream stream;
  const cudaStream_t s = stream.get();
  const int calls = options.use_cuda_graph ? (options.calls_per_replay > 0 ? options.calls_per_replay
                                                                           : std::max(1, options.rotations))
                                           : 1;
  GraphExec graph;
  if (options.use_cuda_graph) {
    graph = capture_graph(s, [&](cudaStream_t cs) {
      for (int i = 0; i < calls; ++i) launch(cs, i % options.rotations);
    });
    ROOFLINE_CUDA_CHECK(cudaGraphUpload(graph.get(), s));
  }
  int next_rotation = 0;
  auto one_sample = [&] {
    if (options.use_cuda_graph) {
      ROOFLINE_CUDA_CHECK(cudaGraphLaunch(graph.get(), s));
    } else {
      launch(s, next_rotation);
      next_rotation = (next_rotation + 1) % options.rotations;
    }
  };

  // Warm-up, timed as a whole to size the timed phase.
  int repetitions = options.repetitions;
  {
    Event begin, end;
    const int warmup = std::max(1, options.warmup);
    ROOFLINE_CUDA_CHECK(cudaEventRecord(begin.get(), s));
    for (int i = 0; i < warmup; ++i) one_sample();
    ROOFLINE_CUDA_CHECK(cudaEventRecord(end.get(), s));
    ROOFLINE_CUDA_CHECK(cudaEventSynchronize(end.get()));
    float ms = 0;
    ROOFLINE_CUDA_CHECK(cudaEventElapsedTime(&ms, begin.get(), end.get()));
    const double per_sample_s = ms * 1e-3 / warmup;
    if (options.max_time_s > 0 && per_sample_s > 0) {
      const int fit = static_cast<int>(options.max_time_s / per_sample_s);
      repetitions = std::clamp(fit, std::min(options.min_repetitions, options.repetitions), options.repetitions);
    }
  }

  TimeStats stats;
  stats.calls_per_sample = calls;
  std::vector<double> samples(repetitions, 0.0);

  if (!options.use_cupti_activity) {
    stats.method = options.use_cuda_graph ? "cuda_graph_events" : "cuda_events";
    std::vector<Event> starts(repetitions);
    std::vector<Event> stops(repetitions);
    for (int b = 0; b < repetitions; b += kBatch) {
      const int n = std::min(kBatch, repetitions - b);
      spin(s, kSpinPerSampleNs * static_cast<std::uint64_t>(n));
      for (int i = b; i < b + n; ++i) {
        ROOFLINE_CUDA_CHECK(cudaEventRecord(starts[i].get(), s));
        one_sample();
        ROOFLINE_CUDA_CHECK(cudaEventRecord(stops[i].get(), s));
      }
      ROOFLINE_CUDA_CHECK(cudaEventSynchronize(stops[b + n - 1].get()));
    }
    for (int i = 0; i < repetitions; ++i) {
      float ms = 0;
      ROOFLINE_CUDA_CHECK(cudaEventElapsedTime(&ms, starts[i].get(), stops[i].get()));
      samples[i] = ms * 1e-3 / calls;
    }
  } else {
    stats.method = "cupti_activity";
    ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s));
    CuptiActivitySession session;
    std::unordered_map<std::uint64_t, int> sample_of_id;
    for (int b = 0; b < repetitions; b += kBatch) {
      const int n = std::min(kBatch, repetitions - b);
      spin(s, kSpinPerSampleNs * static_cast<std::uint64_t>(n));
      for (int i = b; i < b + n; ++i) {
        const std::uint64_t id = session.push_label("sample " + std::to_string(i));
        sample_of_id[id] = i;
        try {
          one_sample();
        } catch (...) {
          session.pop_label();
          throw;
        }
        session.pop_label();
      }
    }
    const std::vector<KernelActivity> kernels = session.flush();  // sorted by start time
    std::vector<std::vector<const KernelActivity*>> per_sample(repetitions);
    std::vector<const KernelActivity*> timed;  // every kernel but the spin kernels, in start order
    for (const KernelActivity& k : kernels) {
      if (k.name.find("roofline_timing_spin") != std::string::npos) continue;
      timed.push_back(&k);
      const auto it = sample_of_id.find(k.external_id);
      if (it != sample_of_id.end()) per_sample[it->second].push_back(&k);
    }
    stats.grouping = "external_correlation";
    const bool complete = std::all_of(per_sample.begin(), per_sample.end(), [](const auto& v) { return !v.empty(); });
    if (!complete && !timed.empty() && timed.size() % static_cast<std::size_t>(repetitions) == 0) {
      // CUPTI gave no usable external correlation: the samples ran one after another on one stream, so
      // the kernels split evenly in start order.
      const std::size_t each = timed.size() / static_cast<std::size_t>(repetitions);
      for (int i = 0; i < repetitions; ++i) {
        per_sample[i].assign(timed.begin() + i * each, timed.begin() + (i + 1) * each);
      }
      stats.grouping = "start_order";
    }
    std::vector<std::uint64_t> first(repetitions, UINT64_MAX), last(repetitions, 0);
    std::vector<double> sum(repetitions, 0.0);
    std::vector<int> count(repetitions, 0);
    for (int i = 0; i < repetitions; ++i) {
      for (const KernelActivity* k : per_sample[i]) {
        sum[i] += k->duration_s();
        count[i] += 1;
        first[i] = std::min(first[i], k->start_ns);
        last[i] = std::max(last[i], k->end_ns);
      }
    }
    std::vector<double> spans;
    for (int i = 0; i < repetitions; ++i) {
      if (count[i] == 0) {
        throw CuptiError("time_gpu: CUPTI delivered no kernel record for timed sample " + std::to_string(i) + " of " +
                             std::to_string(repetitions) + " (dropped records: " +
                             std::to_string(session.dropped_records()) + "; " + std::to_string(timed.size()) +
                             " kernels seen in all)",
                         CUPTI_ERROR_UNKNOWN);
      }
      samples[i] = sum[i] / calls;
      spans.push_back(static_cast<double>(last[i] - first[i]) * 1e-9 / calls);
    }
    for (const KernelActivity* k : per_sample[0]) stats.kernel_names.push_back(k->name);
    const int first_count = count[0];
    const bool uniform = std::all_of(count.begin(), count.end(), [&](int c) { return c == first_count; });
    stats.kernels_per_call = (uniform && first_count % calls == 0) ? first_count / calls : 0;
    stats.span_median_s = median_of(spans);
  }

  stats.count = repetitions;
  stats.median_s = median_of(samples);
  stats.min_s = *std::min_element(samples.begin(), samples.end());
  stats.max_s = *std::max_element(samples.begin(), samples.end());
  stats.total_timed_s = std::accumulate(samples.begin(), samples.end(), 0.0) * calls;
  return stats;
}

}  // namespace roofline::validate

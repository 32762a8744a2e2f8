// Suite "launch": the fixed cost of a kernel launch, with and without CUDA graphs.
//   empty_kernel (graph false)       one launch per sample, host queued ahead: the GPU-side cost
//   empty_kernel_back_to_back (false) 1000 launches issued as fast as the host can: what an eager
//                                      framework pays per kernel (host-bound when kernels are tiny)
//   empty_kernel (graph true)        a one-node graph per sample: the cost of a graph replay
//   empty_kernel_graph_chain (true)  1000 kernels in one graph: the per-kernel cost inside a graph
#include <algorithm>
#include <chrono>

#include "microbench/launch.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "runner/runner.hpp"

namespace roofline::validate::runner {

using nlohmann::json;

namespace {

// Events around `n` back-to-back launches without any queue-ahead: per-launch time as an eager loop sees it.
json back_to_back(Runner& r, int n, int repetitions) {
  Stream stream;
  const cudaStream_t s = stream.get();
  for (int i = 0; i < 100; ++i) microbench::launch_empty_kernel(s);  // warm-up
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<double> gpu, host;
  for (int rep = 0; rep < repetitions; ++rep) {
    Event begin, end;
    ROOFLINE_CUDA_CHECK(cudaEventRecord(begin.get(), s));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) microbench::launch_empty_kernel_unchecked(s);
    const auto t1 = std::chrono::steady_clock::now();
    ROOFLINE_CUDA_CHECK_LAST();
    ROOFLINE_CUDA_CHECK(cudaEventRecord(end.get(), s));
    ROOFLINE_CUDA_CHECK(cudaEventSynchronize(end.get()));
    float ms = 0;
    ROOFLINE_CUDA_CHECK(cudaEventElapsedTime(&ms, begin.get(), end.get()));
    gpu.push_back(ms * 1e-3 / n);
    host.push_back(std::chrono::duration<double>(t1 - t0).count() / n);
  }
  TimeStats t;
  t.median_s = median_of(gpu);
  t.min_s = *std::min_element(gpu.begin(), gpu.end());
  t.max_s = *std::max_element(gpu.begin(), gpu.end());
  t.count = repetitions;
  t.calls_per_sample = n;
  refresh_clocks(r.device());
  const json workload = {{"op", "launch"}, {"graph", false}};
  return make_record(r.suite(), "empty_kernel_back_to_back", workload, t, "cuda_events", "warm", 1, r.device(),
                     json::object(),
                     {{"host_launch_median_s", median_of(host)},
                      {"launches_per_sample", n},
                      {"note", "CUDA events around n back-to-back launches with nothing queued ahead: the larger of "
                               "the host launch rate and the GPU's per-kernel cost"}});
}

// Host time of one cudaGraphLaunch of a one-node graph.
double host_graph_launch_s(int n) {
  Stream stream;
  GraphExec graph = capture_graph(stream.get(), [](cudaStream_t s) { microbench::launch_empty_kernel(s); });
  for (int i = 0; i < 50; ++i) ROOFLINE_CUDA_CHECK(cudaGraphLaunch(graph.get(), stream.get()));
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) ROOFLINE_CUDA_CHECK(cudaGraphLaunch(graph.get(), stream.get()));
  const auto t1 = std::chrono::steady_clock::now();
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  return std::chrono::duration<double>(t1 - t0).count() / n;
}

}  // namespace

void run_launch_suite(Runner& r) {
  const bool smoke = r.options().scale == Scale::smoke;
  const int chain = smoke ? 50 : 1000;
  r.begin_suite("launch", 4);

  Case single;
  single.label = "empty_kernel";
  single.workload = {{"op", "launch"}, {"graph", false}};
  single.launch = [](cudaStream_t s, int) { microbench::launch_empty_kernel(s); };
  single.timing.use_cuda_graph = false;
  single.timing.warmup = 20;
  single.timing.repetitions = smoke ? 10 : 200;
  single.kernels_per_call = 1;
  single.extra = {{"note", "CUDA events around one launch, the host having queued the batch ahead (a spin kernel "
                           "holds the stream): the GPU-side cost of a launch, host latency excluded"}};
  r.measure(single);

  const json eager_workload = {{"op", "launch"}, {"graph", false}};
  json eager;
  if (r.guard("empty_kernel_back_to_back", eager_workload, [&] { eager = back_to_back(r, chain, smoke ? 3 : 20); })) {
    r.guard("empty_kernel_back_to_back", eager_workload, [&] { r.write(eager); });
  }

  Case replay;
  replay.label = "empty_kernel";
  replay.workload = {{"op", "launch"}, {"graph", true}};
  replay.launch = [](cudaStream_t s, int) { microbench::launch_empty_kernel(s); };
  replay.timing.use_cuda_graph = true;
  replay.timing.calls_per_replay = 1;
  replay.timing.warmup = 20;
  replay.timing.repetitions = smoke ? 10 : 200;
  replay.kernels_per_call = 1;
  replay.extra = {{"note", "CUDA events around replays of a one-kernel graph: the GPU-side cost of one replay"}};
  r.guard("empty_kernel", replay.workload,
          [&] { replay.extra["host_graph_launch_median_s"] = host_graph_launch_s(smoke ? 50 : 1000); });
  r.measure(replay);

  Case graph_chain;
  graph_chain.label = "empty_kernel_graph_chain";
  graph_chain.workload = {{"op", "launch"}, {"graph", true}};
  graph_chain.launch = [](cudaStream_t s, int) { microbench::launch_empty_kernel(s); };
  graph_chain.timing.use_cuda_graph = true;
  graph_chain.timing.calls_per_replay = chain;
  graph_chain.timing.warmup = 3;
  graph_chain.timing.repetitions = smoke ? 3 : 30;
  graph_chain.kernels_per_call = 1;
  graph_chain.cupti_probe = false;
  graph_chain.extra = {{"kernels_in_graph", chain},
                       {"note", "one graph of kernels_in_graph back-to-back empty kernels; time_s is per kernel"}};
  if (r.options().cupti && !smoke) {
    // The kernels' own duration (CUPTI) versus their spacing inside the graph.
    r.guard("empty_kernel_graph_chain", graph_chain.workload, [&] {
      TimingOptions o = graph_chain.timing;
      o.use_cupti_activity = true;
      o.repetitions = 3;
      const TimeStats p = time_gpu(graph_chain.launch, o);
      graph_chain.extra["cupti_kernel_duration_s"] = p.median_s;
      graph_chain.extra["cupti_span_per_kernel_s"] = p.span_median_s;
    });
  }
  r.measure(graph_chain);
  r.end_suite();
}

}  // namespace roofline::validate::runner

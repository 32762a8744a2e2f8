#include "runner/runner.hpp"

#include <cuda_runtime_api.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "roofline/units.hpp"
#include "roofline/workload.hpp"
#include "roofline/validate/counters.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"

namespace roofline::validate::runner {

using nlohmann::json;

std::vector<std::string> suite_names() {
  return {"stream", "launch", "elementwise", "gemm", "gemm_holdout", "gemm_random", "gemm_fresh", "gemm_candidates", "ceilings", "counters"};
}

std::string describe_workload(const json& w) {
  std::string out;
  for (auto it = w.begin(); it != w.end(); ++it) {
    if (it.key() == "op") continue;
    if (!out.empty()) out += ' ';
    if (it.key() == "dtype" || it.key() == "kind") {
      out += it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    } else {
      out += it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
  }
  return out;
}

// ---- ClockSampler ------------------------------------------------------------------------------------

struct ClockSampler::Impl {
  DeviceInfo device;
  double period_s;
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
  std::vector<std::pair<double, ClockSample>> samples;
  std::thread thread;
};

ClockSampler::ClockSampler(const DeviceInfo& device, double period_s) : impl_(new Impl{device, period_s}) {
  impl_->thread = std::thread([s = impl_] {
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(s->mutex);
    while (!s->stop) {
      lock.unlock();
      const ClockSample c = sample_clocks(s->device);
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      lock.lock();
      if (c.from_nvml) s->samples.emplace_back(t, c);
      s->cv.wait_for(lock, std::chrono::duration<double>(s->period_s), [s] { return s->stop; });
    }
  });
}

std::vector<std::pair<double, ClockSample>> ClockSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->samples;
}

ClockSampler::~ClockSampler() {
  stop();
  delete impl_;
}

// ---- Runner ------------------------------------------------------------------------------------------

Runner::Runner(RunOptions options, DeviceInfo device)
    : options_(std::move(options)), device_(std::move(device)), tty_(::isatty(STDERR_FILENO) != 0) {}

void Runner::begin_suite(const std::string& suite, int planned) {
  suite_ = suite;
  planned_ = planned;
  done_ = 0;
  const auto file = options_.out_dir / (suite + ".jsonl");
  if (options_.replace) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
  }
  writer_.emplace(file);
  if (!options_.quiet) std::fprintf(stderr, "roofline-validate: suite %s: %d cases -> %s\n", suite.c_str(), planned, file.c_str());
}

void Runner::end_suite() {
  if (tty_ && !options_.quiet) std::fprintf(stderr, "\n");
  writer_.reset();
}

void Runner::set_predictor(HardwareSpec hw, Calibration calibration, ModelRegistry models) {
  predictor_.emplace(Predictor{std::move(hw), std::move(calibration), std::move(models)});
}

void Runner::attach_prediction(json& record) const {
  // THE single place where predicted_s is set: the library's prediction for the record's workload on this
  // hw profile with the calibration the library would use (calibration_for: calibrated, transferred or
  // priors; named in extra.prediction_calibration). Null for error records, without a predictor, or when
  // the library cannot predict the workload (the reason goes to extra.prediction_error).
  record["predicted_s"] = nullptr;
  if (!predictor_ || record.value("status", "") != "ok") return;
  json& extra = record["extra"];
  if (!extra.is_object()) extra = json::object();
  try {
    const Workload w = parse_workload(record["workload"].dump(), "record", 0);
    const WorkloadPrediction p = predict_workload(w, predictor_->hw, predictor_->calibration, predictor_->models);
    if (std::isfinite(p.time_s) && p.time_s > 0) {
      record["predicted_s"] = p.time_s;
      extra["prediction_calibration"] = predictor_->calibration.status();
      extra["prediction_interval_s"] = {p.interval_low_s, p.interval_high_s};
    } else {
      extra["prediction_error"] = "the library predicted a non-positive time";
    }
  } catch (const std::exception& e) {
    extra["prediction_error"] = e.what();
  }
}

void Runner::write_record(json& record) {
  attach_prediction(record);
  writer_->append(record);
  ++written_;
  if (record.value("status", "") == "error") ++errors_;
}

void Runner::write(json record) {
  write_record(record);
  progress(record, nullptr);
}

void Runner::write_error(const std::string& label, const json& workload, const std::string& error) {
  json r = make_error_record(suite_, label, workload, error, device_);
  write_record(r);
  progress(r, nullptr);
}

void Runner::skip(const std::string& why) {
  ++done_;
  if (!options_.quiet && !tty_) std::fprintf(stderr, "  [%s %d/%d] skipped: %s\n", suite_.c_str(), done_, planned_, why.c_str());
}

std::string Runner::handle_failure(const std::exception& e) {
  std::string message = e.what();
  if (const auto* cuda = dynamic_cast<const CudaError*>(&e); cuda != nullptr && cuda->sticky()) {
    // The context is unusable: every later call would fail. Reset the device so that the run goes on;
    // everything the failed case allocated was released when its scope unwound.
    const cudaError_t reset = cudaDeviceReset();
    ++epoch_;
    message += reset == cudaSuccess ? " (sticky error: device reset, run continues)"
                                    : std::string(" (sticky error; cudaDeviceReset failed: ") + cudaGetErrorString(reset) + ")";
  }
  cudaGetLastError();  // clear a non-sticky error so that the next case starts clean
  return message;
}

bool Runner::guard(const std::string& label, const json& workload, const std::function<void()>& body) {
  try {
    body();
    return true;
  } catch (const std::exception& e) {
    write_error(label, workload, handle_failure(e));
    return false;
  }
}

void Runner::progress(const json& record, const Case* c) {
  ++done_;
  if (options_.quiet) return;
  std::string line = record.value("label", "?") + " " + describe_workload(record.value("workload", json::object()));
  if (record.value("status", "") == "ok") {
    const double t = record["time_s"]["median"].get<double>();
    const json& extra = record.contains("extra") ? record["extra"] : json::object();
    const double bytes = c != nullptr ? c->bytes : extra.value("bytes", 0.0);
    const double flops = c != nullptr ? c->flops : extra.value("flops", 0.0);
    line += "  " + format_time_s(t);
    if (bytes > 0) line += "  " + format_bytes_per_s(bytes / t);
    if (flops > 0) line += "  " + format_flop_per_s(flops / t);
  } else {
    line += "  ERROR: " + record.value("error", std::string("?")).substr(0, 160);
  }
  if (tty_) {
    const int width = 24;
    const int filled = planned_ > 0 ? std::min(width, done_ * width / planned_) : width;
    std::fprintf(stderr, "\r\033[K[%s] %s %d/%d %s", (std::string(filled, '#') + std::string(width - filled, '.')).c_str(),
                 suite_.c_str(), done_, planned_, line.substr(0, 100).c_str());
  } else {
    std::fprintf(stderr, "  [%s %d/%d] %s\n", suite_.c_str(), done_, planned_, line.c_str());
  }
  std::fflush(stderr);
}

json Runner::measure(const Case& c) {
  json record;
  try {
    ClockSampler sampler(device_, 0.02);
    const TimeStats raw = time_gpu(c.launch, c.timing);
    const auto samples = sampler.stop();
    TimeStats t = raw;
    t.median_s /= c.time_divisor;
    t.min_s /= c.time_divisor;
    t.max_s /= c.time_divisor;
    t.span_median_s /= c.time_divisor;

    refresh_clocks(device_);
    json extra = c.extra;
    if (!samples.empty()) {
      std::vector<double> sm, mem, power;
      for (const auto& [when, s] : samples) {
        sm.push_back(s.sm_clock_hz);
        mem.push_back(s.mem_clock_hz);
        power.push_back(s.power_w);
      }
      device_.sm_clock_hz = median_of(sm);
      device_.mem_clock_hz = median_of(mem);
      device_.clock_note = "nvml, median of " + std::to_string(samples.size()) + " samples taken every 20 ms during the timed run";
      extra["sm_clock_min_hz"] = *std::min_element(sm.begin(), sm.end());
      extra["power_median_w"] = median_of(power);
      extra["clock_event_reasons"] = samples.back().second.clock_event_reasons;
    }
    if (c.time_divisor != 1) extra["call_time_median_s"] = raw.median_s;
    if (c.bytes > 0) {
      extra["bytes"] = c.bytes;
      extra["achieved_bytes_per_s"] = c.bytes / t.median_s;
      if (options_.theoretical_bytes_per_s > 0) {
        extra["fraction_of_datasheet_bandwidth"] = c.bytes / t.median_s / options_.theoretical_bytes_per_s;
      }
    }
    if (c.flops > 0) {
      extra["flops"] = c.flops;
      extra["achieved_flop_per_s"] = c.flops / t.median_s;
    }
    extra["timing_repetitions"] = t.count;
    int kernels = c.kernels_per_call;
    if (c.cupti_probe && options_.cupti) {
      try {
        TimingOptions probe = c.timing;
        probe.use_cupti_activity = true;
        probe.warmup = 1;
        probe.repetitions = 1;
        probe.min_repetitions = 1;
        probe.calls_per_replay = 1;
        probe.max_time_s = 0;
        const TimeStats p = time_gpu(c.launch, probe);
        if (p.kernels_per_call > 0) kernels = p.kernels_per_call;
        extra["cupti_kernel_sum_s"] = p.median_s / c.time_divisor;
        extra["cupti_span_s"] = p.span_median_s / c.time_divisor;
        extra["kernel_names"] = p.kernel_names;
        extra["cupti_grouping"] = p.grouping;
      } catch (const std::exception& e) {
        extra["cupti_probe_error"] = handle_failure(e);
      }
    }
    json counters = json::object();
    std::string counter_failure;
    if (options_.counters || c.counters) {
      try {
        Stream stream;
        CounterSession session(options_.device, default_metrics());
        const CounterResult cr = session.measure([&](cudaStream_t s) { c.launch(s, 0); }, stream.get());
        counters = cr.values_json();
        if (!cr.errors.empty()) extra["counter_errors"] = cr.errors_json();
        extra["counter_kernels"] = cr.kernels;
        extra["counter_passes"] = cr.passes;
        extra["counter_method"] = "cupti_range_profiler auto_range kernel_replay, direct launch of rotation 0";
        if (cr.values.empty()) counter_failure = "counters: no metric could be collected";
      } catch (const std::exception& e) {
        counter_failure = "counters: " + handle_failure(e);
        extra["counter_errors"] = json{{"*", counter_failure}};
      }
    }
    record = make_record(suite_, c.label, c.workload, t, raw.method, c.l2, kernels, device_, counters, extra);
    if (c.counters && !counter_failure.empty()) {  // the counters suite exists for its counters
      record["status"] = "error";
      record["error"] = counter_failure;
    }
  } catch (const std::exception& e) {
    record = make_error_record(suite_, c.label, c.workload, handle_failure(e), device_);
  }
  try {
    write_record(record);
  } catch (const std::exception& e) {
    // A record the schema rejects is a harness bug: keep the evidence as an error record.
    record = make_error_record(suite_, c.label, c.workload, std::string("harness produced an invalid record: ") + e.what(),
                               device_);
    write_record(record);
  }
  progress(record, &c);
  return record;
}

}  // namespace roofline::validate::runner

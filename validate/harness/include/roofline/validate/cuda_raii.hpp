// Move-only owners of CUDA resources (device memory, streams, events, graphs) whose destructors release
// them and report, never throw, on failure. Allocation failures throw CudaError.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "roofline/validate/cuda_check.hpp"

namespace roofline::validate {

/// cudaMalloc'd bytes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes > 0) ROOFLINE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) ROOFLINE_CUDA_REPORT(cudaFree(ptr_));
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_ != nullptr) ROOFLINE_CUDA_REPORT(cudaFree(ptr_));
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const noexcept { return ptr_; }
  template <typename T>
  T* as() const noexcept { return static_cast<T*>(ptr_); }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// A non-blocking stream.
class Stream {
 public:
  Stream() { ROOFLINE_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_ != nullptr) ROOFLINE_CUDA_REPORT(cudaStreamDestroy(s_));
  }
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (s_ != nullptr) ROOFLINE_CUDA_REPORT(cudaStreamDestroy(s_));
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const noexcept { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

/// A timing event.
class Event {
 public:
  Event() { ROOFLINE_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() {
    if (e_ != nullptr) ROOFLINE_CUDA_REPORT(cudaEventDestroy(e_));
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      if (e_ != nullptr) ROOFLINE_CUDA_REPORT(cudaEventDestroy(e_));
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const noexcept { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

/// An instantiated CUDA graph (the captured graph is destroyed once instantiated).
class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraph_t graph) {
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
    ROOFLINE_CUDA_REPORT(cudaGraphDestroy(graph));
    if (status != cudaSuccess) detail::throw_cuda(status, "cudaGraphInstantiate(&exec, graph, 0)", __FILE__, __LINE__);
  }
  ~GraphExec() {
    if (exec_ != nullptr) ROOFLINE_CUDA_REPORT(cudaGraphExecDestroy(exec_));
  }
  GraphExec(GraphExec&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& o) noexcept {
    if (this != &o) {
      if (exec_ != nullptr) ROOFLINE_CUDA_REPORT(cudaGraphExecDestroy(exec_));
      exec_ = std::exchange(o.exec_, nullptr);
    }
    return *this;
  }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  cudaGraphExec_t get() const noexcept { return exec_; }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

/// Captures what `body(stream)` enqueues on `stream` into an instantiated graph. If body throws, the
/// capture is ended and discarded before the exception propagates.
template <typename Body>
GraphExec capture_graph(cudaStream_t stream, Body&& body) {
  ROOFLINE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    body(stream);
  } catch (...) {
    cudaGraph_t partial = nullptr;
    if (cudaStreamEndCapture(stream, &partial) == cudaSuccess && partial != nullptr) cudaGraphDestroy(partial);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  ROOFLINE_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  return GraphExec(graph);
}

}  // namespace roofline::validate

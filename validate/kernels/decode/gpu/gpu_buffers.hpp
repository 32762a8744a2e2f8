// Small RAII device buffers and host<->device copies for the decode GPU programs (host code).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "attention_data.hpp"
#include "cuda_util.hpp"
#include "roofline/precision.hpp"

namespace roofline::validate::decode {

class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(std::size_t bytes) : bytes_(bytes) { DECODE_CUDA_CHECK(cudaMalloc(&p_, bytes ? bytes : 1)); }
  DevBuf(DevBuf&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; o.bytes_ = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    if (this != &o) { reset(); p_ = o.p_; bytes_ = o.bytes_; o.p_ = nullptr; o.bytes_ = 0; }
    return *this;
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() { reset(); }
  void reset() { if (p_) cudaFree(p_); p_ = nullptr; bytes_ = 0; }
  template <typename T = void>
  T* as() const { return static_cast<T*>(p_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

template <typename T>
DevBuf upload(const std::vector<T>& h) {
  DevBuf d(h.size() * sizeof(T));
  DECODE_CUDA_CHECK(cudaMemcpy(d.as(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
std::vector<T> download(const DevBuf& d, std::size_t n) {
  std::vector<T> h(n);
  DECODE_CUDA_CHECK(cudaMemcpy(h.data(), d.as(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
inline std::vector<std::uint16_t> to_fp16_bits(const std::vector<float>& x) {
  std::vector<std::uint16_t> r(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) r[i] = fp16_bits(x[i]);
  return r;
}
inline std::vector<std::uint16_t> to_bf16_bits(const std::vector<float>& x) {
  std::vector<std::uint16_t> r(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) r[i] = bf16_bits(x[i]);
  return r;
}
inline std::vector<float> round_fp16(std::vector<float> x) {
  for (auto& e : x) e = round_to_fp16(e);
  return x;
}
inline std::vector<float> round_bf16(std::vector<float> x) {
  for (auto& e : x) e = round_to_bf16(e);
  return x;
}

}  // namespace roofline::validate::decode

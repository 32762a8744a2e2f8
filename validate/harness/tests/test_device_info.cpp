// Device-name → hw profile mapping, and behaviour without a GPU (this CI machine has none; on the GPU
// machine ROOFLINE_VALIDATE_FORCE_NO_GPU exercises the same path).
#include <doctest/doctest.h>

#include <cstdlib>

#include "roofline/validate/cupti_session.hpp"
#include "roofline/validate/device_info.hpp"

using namespace roofline::validate;

TEST_CASE("CUDA device names map to the shipped hw profile names") {
  CHECK(hw_profile_for_device_name("NVIDIA H100 80GB HBM3") == "h100_sxm");
  CHECK(hw_profile_for_device_name("NVIDIA H100 PCIe") == "h100_pcie");
  CHECK(hw_profile_for_device_name("NVIDIA H200") == "h200_sxm");
  CHECK(hw_profile_for_device_name("NVIDIA A100-SXM4-80GB") == "a100_sxm_80gb");
  CHECK(hw_profile_for_device_name("NVIDIA B200") == "b200");
  CHECK(hw_profile_for_device_name("NVIDIA GB10") == "gb10");
  // Different products that contain a known name: unknown, so the runner asks for --hw.
  CHECK(hw_profile_for_device_name("NVIDIA GH200 480GB") == "");
  CHECK(hw_profile_for_device_name("NVIDIA GB200") == "");
  CHECK(hw_profile_for_device_name("NVIDIA H100 NVL") == "");
  CHECK(hw_profile_for_device_name("NVIDIA H200 NVL") == "");
  CHECK(hw_profile_for_device_name("NVIDIA A100-PCIE-40GB") == "");
  CHECK(hw_profile_for_device_name("NVIDIA GeForce RTX 4090") == "");
  CHECK(hw_profile_for_device_name("") == "");
}

TEST_CASE("without a GPU, gpu_available is false with a reason and nothing crashes") {
  setenv("ROOFLINE_VALIDATE_FORCE_NO_GPU", "1", 1);
  std::string why;
  CHECK_FALSE(gpu_available(&why));
  CHECK(why.find("no usable CUDA device") != std::string::npos);
  CHECK_FALSE(gpu_available());  // a null reason pointer is fine
  std::string cupti_why;
  CHECK_FALSE(CuptiActivitySession::available(&cupti_why));
  CHECK_FALSE(cupti_why.empty());
  unsetenv("ROOFLINE_VALIDATE_FORCE_NO_GPU");
}

TEST_CASE("gpu_available answers without throwing on this machine, with a reason when false") {
  std::string why;
  bool available = false;
  CHECK_NOTHROW(available = gpu_available(&why));
  if (!available) {
    MESSAGE("no GPU here: " << why);
    CHECK(why.rfind("no usable CUDA device: cudaGetDeviceCount: ", 0) == 0);
  }
}

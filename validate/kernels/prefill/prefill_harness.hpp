// The prefill suite's only dependency on the validate harness (CUDA checks, device info, timing, JSONL
// measurement records): one place to change if the harness moves.
#pragma once

#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/device_info.hpp"
#include "roofline/validate/record.hpp"
#include "roofline/validate/timing.hpp"

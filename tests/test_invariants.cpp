#include <doctest/doctest.h>

#include "invariants.hpp"
#include "roofline/operators.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;

namespace {
// Formats as a whole-model assignment: weights, GEMM activations, KV cache.
struct Format {
  Precision weights, activations, kv;
};
const Format formats[] = {
    {Precision::bf16, Precision::bf16, Precision::bf16},         {Precision::fp16, Precision::fp16, Precision::fp16},
    {Precision::fp8_e4m3, Precision::fp8_e4m3, Precision::bf16}, {Precision::fp8_e4m3, Precision::bf16, Precision::fp8_e4m3},
    {Precision::int8, Precision::int8, Precision::bf16},         {Precision::int4, Precision::bf16, Precision::bf16},
    {Precision::nvfp4, Precision::nvfp4, Precision::nvfp4},      {Precision::mxfp4, Precision::bf16, Precision::fp8_e4m3},
    {Precision::fp32, Precision::fp32, Precision::bf16},
};
}  // namespace

TEST_CASE("invariants 1-3 over every profile x format x model x shape") {
  int checked = 0;
  for (const auto& [hw_name, hw] : hardware().all()) {
    const Calibration cal = Calibration::priors(hw);
    for (const Format& f : formats) {
      for (const auto& [model_name, model] : models().all()) {
        for (Phase phase : {Phase::decode, Phase::prefill}) {
          for (std::int64_t batch : {1, 8, 64}) {
            StepPrediction previous;
            bool first = true;
            const std::vector<std::int64_t> lengths = phase == Phase::decode
                                                          ? std::vector<std::int64_t>{1, 100, 1000, 4096, 32768}
                                                          : std::vector<std::int64_t>{1, 128, 1000, 4096};
            for (std::int64_t len : lengths) {
              CAPTURE(hw_name);
              CAPTURE(model_name);
              CAPTURE(to_string(f.weights));
              CAPTURE(to_string(phase));
              CAPTURE(batch);
              CAPTURE(len);
              StepConfig c;
              c.phase = phase;
              c.batch = batch;
              c.seq_len = len;
              c.precision = PrecisionAssignment::uniform(f.weights, f.activations, f.kv);
              const StepPrediction p = predict_step(model, c, hw, cal);
              roofline::test::check_finite_and_above_floor(p, hw);
              if (!first) roofline::test::check_more_tokens_not_faster(previous, p);
              // Larger batch at the same length: never faster either.
              if (batch > 1) {
                StepConfig smaller = c;
                smaller.batch = batch / 8;
                roofline::test::check_more_tokens_not_faster(predict_step(model, smaller, hw, cal), p);
              }
              previous = p;
              first = false;
              ++checked;
            }
          }
        }
      }
    }
  }
  CHECK(checked == 6 * 9 * 6 * 3 * 9);
}

TEST_CASE("invariant 4: fewer bits never more bytes, per tensor class") {
  // Weights and the KV cache are stored in the format: fewer stored bits never move more weight or KV
  // bytes. (Activation quantisation trades a cast pass for smaller GEMM inputs: a whole step with W8A8
  // can move more activation bytes than bf16 at very large token counts, which is real, so the
  // invariant is stated per tensor class.)
  const Precision by_bits[] = {Precision::fp32, Precision::bf16, Precision::fp8_e4m3, Precision::nvfp4,
                               Precision::mxfp4, Precision::int4};
  for (const auto& [hw_name, hw] : hardware().all()) {
    for (const auto& [model_name, model] : models().all()) {
      for (Phase phase : {Phase::decode, Phase::prefill}) {
        double prev_w = 1e300, prev_kv = 1e300;
        Precision prev = Precision::fp32;
        for (Precision p : by_bits) {
          CAPTURE(hw_name);
          CAPTURE(model_name);
          CAPTURE(to_string(p));
          StepConfig c;
          c.phase = phase;
          c.batch = 4;
          c.seq_len = 2048;
          c.precision = PrecisionAssignment::uniform(p, Precision::bf16, p);
          double w = 0, kv = 0;
          for (const Op& op : build_step(model, c, hw)) {
            w += op.bytes.weights_bytes * op.instances;
            kv += (op.bytes.kv_read_bytes + op.bytes.kv_written_bytes) * op.instances;
          }
          if (bits_per_element(p) <= bits_per_element(prev)) {
            CHECK(w <= prev_w);
            CHECK(kv <= prev_kv);
          }
          const MemoryFootprint m = memory_footprint(model, c);
          CHECK(m.weights_bytes > 0);
          prev_w = w;
          prev_kv = kv;
          prev = p;
        }
      }
    }
  }
}

// The numbered invariants of ../shared/STYLE.md, checked by one helper over every shipped profile ×
// format × shape: (1) finite, (2) never faster than the datasheet roofline floor, (3) more tokens never
// faster, (4) fewer bits never more bytes, (5) a recommendation never slower than its baseline (checked in
// test_engine.cpp through the same helper once the engine exists).
#pragma once

#include <doctest/doctest.h>

#include <cmath>

#include "roofline/engine.hpp"
#include "roofline/roofline.hpp"

namespace roofline::test {

/// (1) and (2) for every operator of a step prediction.
inline void check_finite_and_above_floor(const StepPrediction& p, const HardwareSpec& hw) {
  CHECK(std::isfinite(p.time_s));
  CHECK(p.time_s > 0);
  CHECK(std::isfinite(p.interval_low_s));
  CHECK(std::isfinite(p.interval_high_s));
  CHECK(p.interval_low_s <= p.time_s);
  CHECK(p.interval_high_s >= p.time_s);
  for (const OpPrediction& o : p.ops) {
    CAPTURE(o.op);
    CHECK(std::isfinite(o.prediction.time_s));
    CHECK(o.prediction.time_s >= datasheet_floor_s(o.op, hw) * (1 - 1e-12));
  }
}

/// (3): `later` has more tokens (longer context, longer prompt, larger batch) than `earlier`.
inline void check_more_tokens_not_faster(const StepPrediction& earlier, const StepPrediction& later) {
  CHECK(later.time_s >= earlier.time_s * (1 - 1e-12));
}

/// (5): a recommendation is never slower than its baseline and never exceeds the GPU's memory; its
/// selected candidate row carries the same time.
inline void check_recommendation_not_slower(const QuantizationRecommendation& r, const HardwareSpec& hw) {
  if (!r.feasible) return;
  CHECK(std::isfinite(r.predicted_time_us));
  CHECK(r.predicted_time_us > 0);
  CHECK(r.predicted_time_us <= r.baseline_time_us * (1 + 1e-9));
  CHECK(r.predicted_speedup >= 1 - 1e-9);
  CHECK(r.memory_bytes <= hw.capacity_bytes());
  CHECK(r.interval_low_us <= r.predicted_time_us);
  CHECK(r.interval_high_us >= r.predicted_time_us);
  int selected = 0;
  for (const CandidateEvaluation& c : r.candidates) {
    if (c.status != "selected") continue;
    ++selected;
    CHECK(c.time_s * 1e6 == doctest::Approx(r.predicted_time_us).epsilon(1e-9));
  }
  CHECK(selected == 1);
}

}  // namespace roofline::test

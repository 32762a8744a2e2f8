// The numbered invariants of ../shared/STYLE.md, checked by one helper over every shipped profile ×
// format × shape: (1) finite, (2) never faster than the datasheet roofline floor, (3) more tokens never
// faster, (4) fewer bits never more bytes, (5) a recommendation never slower than its baseline (checked in
// test_engine.cpp through the same helper once the engine exists).
#pragma once

#include <doctest/doctest.h>

#include <cmath>

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

}  // namespace roofline::test

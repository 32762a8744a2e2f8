// doctest::Approx compares |a − b| < ε · (scale + max(|a|, |b|)) with scale 1 by default, which makes a
// comparison of microsecond times (1e-6) pass for any value. Every test in this project compares relatively:
// ROOFLINE_APPROX(x) is doctest::Approx(x) with scale 0 (ε · max(|a|, |b|)), and .epsilon() chains as before.
#pragma once

#include <doctest/doctest.h>

#define ROOFLINE_APPROX(x) doctest::Approx(x).scale(0)

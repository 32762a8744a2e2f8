// Host-side timing helpers: rotation counts, L2 state labels, medians.
#include <doctest/doctest.h>

#include "roofline/errors.hpp"
#include "roofline/validate/timing.hpp"

using namespace roofline::validate;

TEST_CASE("rotations_for covers at least three times the L2 cache") {
  const std::int64_t mib = 1 << 20;
  // 8 MiB per set on a 50 MiB L2: 150 / 8 = 18.75 → 19 sets (152 MiB ≥ 150 MiB; 18 sets = 144 MiB < 150).
  CHECK(rotations_for(8 * mib, 50 * mib) == 19);
  // Exactly divisible: 50 MiB sets → 3.
  CHECK(rotations_for(50 * mib, 50 * mib) == 3);
  // A set already ≥ 3× L2 needs no rotation.
  CHECK(rotations_for(150 * mib, 50 * mib) == 1);
  CHECK(rotations_for(2000 * mib, 50 * mib) == 1);
  // H200's L2 as the device reports it (62914560 B = 60 MiB), 1 MiB sets: 180.
  CHECK(rotations_for(mib, 62914560) == 180);
  // Post-condition over a sweep: covered ≥ 3·L2 and one set fewer would not be.
  for (std::int64_t bytes = 1000; bytes < 400 * mib; bytes = bytes * 3 + 7) {
    const int r = rotations_for(bytes, 50 * mib);
    CHECK(static_cast<double>(r) * bytes >= 3.0 * 50 * mib);
    if (r > 1) CHECK(static_cast<double>(r - 1) * bytes < 3.0 * 50 * mib);
  }
  CHECK_THROWS_AS(rotations_for(0, 50 * mib), roofline::InvalidArgumentError);
  CHECK_THROWS_AS(rotations_for(8, 0), roofline::InvalidArgumentError);
}

TEST_CASE("l2_state_for labels a rotation as cold only when it covers 3x L2") {
  const std::int64_t mib = 1 << 20;
  CHECK(l2_state_for(8 * mib, 19, 50 * mib) == "cold_rotating");
  CHECK(l2_state_for(8 * mib, 18, 50 * mib) == "warm");
  CHECK(l2_state_for(200 * mib, 1, 50 * mib) == "cold_rotating");
  CHECK(l2_state_for(16 * 1024, 512, 50 * mib) == "warm");  // 8 MiB in total: L2-resident
}

TEST_CASE("median_of takes the middle value, or the mean of the two middle values") {
  CHECK(median_of({3.0, 1.0, 2.0}) == 2.0);
  CHECK(median_of({4.0, 1.0, 3.0, 2.0}) == 2.5);
  CHECK(median_of({7.0}) == 7.0);
  CHECK_THROWS_AS(median_of({}), roofline::InvalidArgumentError);
}

TEST_CASE("time_gpu rejects options that cannot describe a measurement before touching the GPU") {
  TimingOptions o;
  o.repetitions = 0;
  CHECK_THROWS_AS(time_gpu([](cudaStream_t, int) {}, o), roofline::InvalidArgumentError);
  o = TimingOptions{};
  o.rotations = 0;
  CHECK_THROWS_AS(time_gpu([](cudaStream_t, int) {}, o), roofline::InvalidArgumentError);
  o = TimingOptions{};
  o.warmup = -1;
  CHECK_THROWS_AS(time_gpu([](cudaStream_t, int) {}, o), roofline::InvalidArgumentError);
}

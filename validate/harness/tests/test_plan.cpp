// The shapes the suites sweep: distinct linear layers of the shipped models and the held-out GEMM shapes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "roofline/errors.hpp"
#include "runner/model_shapes.hpp"

using namespace roofline::validate::runner;

TEST_CASE("llama3-8b contributes its five distinct linear shapes (q=o, k=v, gate=up, down, lm_head)") {
  const ModelShapes s = load_model_shapes({"llama3-8b"});
  REQUIRE(s.models == std::vector<std::string>{"llama3-8b"});
  // config.json: hidden 4096, 32 heads × 128, 8 KV heads × 128 = 1024, FFN 14336, vocabulary 128256.
  std::vector<std::pair<std::int64_t, std::int64_t>> nk;
  for (const LinearShape& l : s.linear) nk.emplace_back(l.n, l.k);
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected = {
      {1024, 4096}, {4096, 4096}, {4096, 14336}, {14336, 4096}, {128256, 4096}};
  CHECK(nk == expected);
  CHECK(s.hidden == std::set<std::int64_t>{4096});
  CHECK(s.ffn == std::set<std::int64_t>{14336});
  CHECK(s.kv_width == std::set<std::int64_t>{1024});
  CHECK(s.vocab_for_hidden.at(4096) == 128256);
  // q_proj and o_proj share (4096, 4096): both uses are listed.
  const auto qo = std::find_if(s.linear.begin(), s.linear.end(), [](const LinearShape& l) { return l.n == 4096 && l.k == 4096; });
  CHECK(qo->uses.size() == 2);
}

TEST_CASE("all shipped models give distinct, sorted shapes and a vocabulary per hidden size") {
  const ModelShapes s = load_model_shapes();
  CHECK(s.models.size() >= 6);
  CHECK(std::is_sorted(s.linear.begin(), s.linear.end()));
  CHECK(std::adjacent_find(s.linear.begin(), s.linear.end(), [](const LinearShape& a, const LinearShape& b) {
          return a.n == b.n && a.k == b.k;
        }) == s.linear.end());
  for (const std::int64_t h : s.hidden) CHECK(s.vocab_for_hidden.count(h) == 1);
  CHECK_THROWS_AS(load_model_shapes({"no-such-model"}), roofline::UnknownNameError);
}

TEST_CASE("held-out GEMM shapes are reproducible and inside their ranges") {
  const auto a = holdout_gemm_shapes(150, 0x484F4C444F5554ull);
  const auto b = holdout_gemm_shapes(150, 0x484F4C444F5554ull);
  REQUIRE(a.size() == 150);
  CHECK(a == b);
  CHECK_FALSE(a == holdout_gemm_shapes(150, 1));
  int small_m = 0, large_m = 0;
  for (const GemmDims& d : a) {
    CHECK(d.m >= 1);
    CHECK(d.m <= 16384);
    CHECK(d.n % 64 == 0);
    CHECK(d.k % 64 == 0);
    CHECK(d.n >= 256);
    CHECK(d.n <= 32768);
    CHECK(d.k >= 256);
    CHECK(d.k <= 32768);
    small_m += d.m <= 128;
    large_m += d.m >= 1024;
  }
  // Log-uniform M over 2^0 … 2^14: P(M ≤ 128) ≈ 7.5/14 ≈ 0.54, P(M ≥ 1024) ≈ 4.5/14 ≈ 0.32; loose bounds.
  CHECK(small_m > 50);
  CHECK(large_m > 25);
}

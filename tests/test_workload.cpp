#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include "roofline/errors.hpp"
#include "roofline/workload.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;

TEST_CASE("workloads round-trip through their JSON form") {
  const char* lines[] = {
      R"({"op":"gemm","m":16,"n":14336,"k":4096,"dtype":"fp8_e4m3"})",
      R"({"op":"attention","phase":"prefill","batch":2,"q_heads":32,"kv_heads":8,"q_len":2048,"kv_len":2048,"head_dim":128,"causal":true,"dtype":"bf16","kernel":"cudnn"})",
      R"({"op":"model_step","model":"llama3-8b","phase":"decode","batch":8,"context":2048,"weights":"bf16","kv_cache":"bf16","num_layers":4})",
      R"({"op":"stream","kind":"copy","bytes":1073741824})",
      R"({"op":"elementwise","kind":"rmsnorm","rows":32,"cols":4096,"dtype":"bf16"})",
      R"({"op":"launch","graph":true})",
  };
  for (const char* l : lines) {
    CAPTURE(l);
    const Workload w = parse_workload(l);
    CHECK(parse_workload(workload_json(w)) == w);
  }
}

TEST_CASE("workload errors name the line and key") {
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":0,"n":1,"k":1,"dtype":"bf16"})", "w.jsonl", 3),
                       "w.jsonl:3: m: must be >= 1, got 0", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":1,"n":1,"k":1,"dtype":"fp6"})", "w.jsonl", 1),
                       "w.jsonl:1: dtype: must be one of bf16, fp16, fp8_e4m3, int8, got 'fp6'", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":1,"n":1,"k":1,"dtype":"bf16","alpha":2})", "w.jsonl", 1),
                       "w.jsonl:1: alpha: unknown key (allowed: dtype, k, m, n, op)", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"conv"})", "w.jsonl", 2),
                       "w.jsonl:2: op: must be one of gemm, attention, model_step, stream, elementwise, launch, got 'conv'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_workload(
          R"({"op":"attention","phase":"decode","batch":1,"q_heads":32,"kv_heads":8,"q_len":4,"kv_len":64,"head_dim":128,"causal":false,"dtype":"bf16","kernel":"fa2"})",
          "w.jsonl", 5),
      "w.jsonl:5: q_len: must be 1 for phase decode", ConfigError);
}

TEST_CASE("a model step workload predicts the same as predict_step") {
  const HardwareSpec& h = hardware().get("h100_sxm");
  const Calibration cal = Calibration::priors(h);
  const Workload w = parse_workload(
      R"({"op":"model_step","model":"llama3-8b","phase":"decode","batch":8,"context":2048,"weights":"bf16","kv_cache":"bf16"})");
  StepConfig c;
  c.batch = 8;
  c.seq_len = 2048;
  const StepPrediction s = predict_step(models().get("llama3-8b"), c, h, cal);
  const WorkloadPrediction p = predict_workload(w, h, cal, models());
  CHECK(p.time_s == ROOFLINE_APPROX(s.time_s));
  CHECK(p.interval_low_s == ROOFLINE_APPROX(s.interval_low_s));
  CHECK_THROWS_AS(predict_workload(parse_workload(R"({"op":"model_step","model":"gpt5","phase":"decode","batch":1,"context":1,"weights":"bf16","kv_cache":"bf16"})"),
                                   h, cal, models()),
                  UnknownNameError);
}

TEST_CASE("an attention kernel the GPU cannot run is refused with the reason") {
  const Workload w = parse_workload(
      R"({"op":"attention","phase":"prefill","batch":1,"q_heads":32,"kv_heads":8,"q_len":1024,"kv_len":1024,"head_dim":128,"causal":true,"dtype":"bf16","kernel":"fa3"})");
  const HardwareSpec& a100 = hardware().get("a100_sxm_80gb");
  CHECK_THROWS_WITH_AS(predict_workload(w, a100, Calibration::priors(a100), models()),
                       "FlashAttention-3 needs Hopper wgmma and TMA (sm_90a); a100_sxm_80gb is sm_80 (its sm_8x build is "
                       "an FA2-class kernel: use fa2)", InvalidArgumentError);
}

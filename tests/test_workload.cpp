#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "detail/json_reader.hpp"
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
  // A number no double holds is a clear error for that line, and batch prediction goes on with the next.
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":1e400,"n":1,"k":1,"dtype":"bf16"})", "w.jsonl", 4),
                       "w.jsonl:4: JSON number overflow parsing '1e400'", ConfigError);
}

TEST_CASE("workload lines the fast reader leaves to nlohmann keep their exact errors and values") {
  // Duplicate keys (the last one counts), escapes, nesting, trailing text, a fraction where an integer is due,
  // UTF-8: read by the JSON document path, as before the fast path existed.
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":64,"n":1,"k":1,"dtype":"bf16","m":0})", "w.jsonl", 1),
                       "w.jsonl:1: m: must be >= 1, got 0", ConfigError);
  CHECK(parse_workload(R"({"op":"gemm","m":64,"n":1,"k":1,"dtype":"bf16","m":2})").gemm.m == 2);
  CHECK(parse_workload(R"({"op":"gemm","m":64,"n":1,"k":1,"d\u0074ype":"bf16"})").gemm.m == 64);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":64,"n":1,"k":1,"dtype":"bf16"} x)", "w.jsonl", 3),
                       "w.jsonl:3:49: JSON syntax error while parsing value - invalid literal; last read: '\"bf16\"} x'; "
                       "expected end of input",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":64,"n":{"a":1},"k":1,"dtype":"bf16"})", "w.jsonl", 4),
                       "w.jsonl:4: n: must be an integer, got an object", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"gemm","m":64,"n":1,"k":1.0,"dtype":"bf16"})", "w.jsonl", 5),
                       "w.jsonl:5: k: must be an integer, got a number", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload("{\"op\":\"gemm\",\"m\":64,\"n\":1,\"k\":1,\"dtype\":\"bf16\xc3\xa9\"}", "w.jsonl", 6),
                       "w.jsonl:6: dtype: must be one of bf16, fp16, fp8_e4m3, int8, got 'bf16\xc3\xa9'", ConfigError);
  CHECK_THROWS_WITH_AS(parse_workload(R"({"op":"launch","graph":true,"graph":1})", "w.jsonl", 8),
                       "w.jsonl:8: graph: must be true or false, got an integer", ConfigError);
}

namespace {
// What one accessor gives for one key: its value as text, the error it reports ("error: ..."), or, for
// the flat reader, "defer" (the caller then reads the line with nlohmann).
std::string outcome(const std::function<std::string()>& read) {
  try {
    return read();
  } catch (const detail::FlatJsonObject::NotFlat&) {
    return "defer";
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
}
std::string text_of(std::optional<double> v) {
  if (!v) return "none";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}
std::string text_of(std::optional<std::int64_t> v) { return v ? std::to_string(*v) : "none"; }
}  // namespace

TEST_CASE("the flat JSON reader returns what the JSON document reader returns, or defers to it") {
  // Every line below is read both ways, and every accessor batch prediction uses is asked for every key:
  // the flat reader must give the same value, or defer; never a value where nlohmann's path reports an
  // error, and never accept text that nlohmann rejects.
  const std::vector<std::string> keys = {"op", "m", "k", "phase", "causal", "skip_fraction", "window", "kernel", "x"};
  const std::vector<std::string> values = {
      "1",   "0",     "-1",   "-0",   "7.5",  "1e3",   "2E-1", "0.25", "00",  "1.",   "18446744073709551615",
      "123456789012345678", "1234567890123456789", "1e400", "true", "false", "null", "\"\"", "\"gemm\"",
      "\"decode\"", "\"fa2\"", "\"FA2\"", "\"a\\\"b\"", "\"\\u0061\"", "[]", "{}", "tru", "\"x", "+1", ".5"};
  std::vector<std::string> lines = {
      R"({"op":"gemm","m":16,"n":14336,"k":4096,"dtype":"fp8_e4m3"})",
      R"( { "op" : "attention" , "phase":"decode","batch":8,"q_heads":32,"kv_heads":8,"q_len":1,"kv_len":8192,"head_dim":128,"causal":false,"dtype":"bf16","kernel":"fa2","skip_fraction":0.5,"window":null }  )",
      "{}", "", "[1]", R"({"op":"gemm",})", R"({"op":"gemm"} {})", "{\"op\":\"gemm\"}\r\n", "\t{\"op\":\"launch\",\"graph\":true}",
      R"({"op":"gemm","op":"gemm"})", R"({"a":{"b":1}})", "{\"op\":\"ge\x01mm\"}", "{\"op\":\"g\xc3\xa9\"}"};
  for (const std::string& key : keys)
    for (const std::string& value : values)
      lines.push_back(R"({"op":"gemm",")" + key + "\":" + value + R"(,"n":64})");
  int fast = 0;
  for (const std::string& line : lines) {
    CAPTURE(line);
    detail::FlatJsonObject flat;
    const bool flat_ok = flat.parse(line);
    nlohmann::json j;
    try {
      j = detail::parse_json(line, "f", 0);
    } catch (const ConfigError&) {
      CHECK_FALSE(flat_ok);  // nlohmann rejects it: so must the flat reader
      continue;
    } catch (const nlohmann::json::exception&) {  // 1e400: nlohmann's out_of_range, not a parse error
      CHECK_FALSE(flat_ok);
      continue;
    }
    if (!flat_ok || !j.is_object()) {
      CHECK_FALSE(flat_ok);
      continue;
    }
    ++fast;
    const detail::JsonObject o(j, "f", 1, "");
    for (const std::string& key : keys) {
      CAPTURE(key);
      const std::vector<std::pair<std::function<std::string()>, std::function<std::string()>>> reads = {
          {[&] { return flat.string(key); }, [&] { return o.string(key); }},
          {[&] { return std::string(flat.choice(key, {"gemm", "decode", "fa2"})); },
           [&] { return std::string(o.choice(key, {"gemm", "decode", "fa2"})); }},
          {[&] { return std::to_string(flat.positive_integer(key)); }, [&] { return std::to_string(o.positive_integer(key)); }},
          {[&] { return text_of(flat.optional_positive_integer(key)); }, [&] { return text_of(o.optional_positive_integer(key)); }},
          {[&] { return std::string(flat.boolean(key) ? "true" : "false"); }, [&] { return std::string(o.boolean(key) ? "true" : "false"); }},
          {[&] { return text_of(flat.optional_number(key)); }, [&] { return text_of(o.optional_number(key)); }},
          {[&] { return std::string(flat.has(key) ? "has" : "absent"); }, [&] { return std::string(o.has(key) ? "has" : "absent"); }},
      };
      for (const auto& [read_flat, read_json] : reads) {
        const std::string f = outcome(read_flat), d = outcome(read_json);
        CAPTURE(d);
        CHECK((f == "defer" || f == d));
        if (d.rfind("error: ", 0) == 0) CHECK(f == "defer");
      }
    }
    const std::string allowed_flat = outcome([&] {
      flat.allow_only({"op", "m", "n"});
      return std::string("ok");
    });
    const std::string allowed_json = outcome([&] {
      o.allow_only({"op", "m", "n"});
      return std::string("ok");
    });
    CHECK((allowed_flat == "defer" || allowed_flat == allowed_json));
  }
  CHECK(fast > 100);
  // The fast path reads ordinary lines itself, compact or spaced.
  for (const char* line : {R"({"op":"gemm","m":16,"n":14336,"k":4096,"dtype":"fp8_e4m3"})",
                           R"({"op": "model_step", "model": "llama3-8b", "phase": "decode", "batch": 8, "context": 2048, "weights": "bf16", "kv_cache": "bf16"})"}) {
    detail::FlatJsonObject flat;
    CHECK(flat.parse(line));
    CHECK(flat.choice("op", {"gemm", "model_step"}) != "");
  }
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

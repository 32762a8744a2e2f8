// Record writer/reader round trip and the schema checks of docs/measurement-records.md.
#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "roofline/errors.hpp"
#include "roofline/validate/record.hpp"

using nlohmann::json;
using namespace roofline::validate;

namespace {

DeviceInfo h100() {
  DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.hw_profile = "h100_sxm";
  d.compute_capability = "9.0";
  d.sm_count = 132;
  d.l2_bytes = 52428800;
  d.memory_bytes = 85520809984;
  d.sm_clock_hz = 1.98e9;
  d.mem_clock_hz = 2.619e9;
  d.clock_note = "nvml current clocks";
  d.driver = "580.95.05";
  d.cuda_runtime = "13.0";
  return d;
}

TimeStats stats() {
  TimeStats t;
  t.median_s = 1.53e-5;
  t.min_s = 1.49e-5;
  t.max_s = 1.71e-5;
  t.count = 50;
  t.calls_per_sample = 19;
  return t;
}

json gemm_workload() { return json{{"op", "gemm"}, {"m", 1}, {"n", 4096}, {"k", 4096}, {"dtype", "bf16"}}; }

std::filesystem::path temp_dir() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("roofline_record_test_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()));
  std::filesystem::remove_all(dir);
  return dir;
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const std::string& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("make_record writes every field the schema requires, with the given values") {
  const json r = make_record("gemm", "cublaslt_bf16", gemm_workload(), stats(), "cuda_graph_events", "cold_rotating", 1,
                             h100(), json{{"dram__bytes_read.sum", 3.36e7}}, json{{"achieved_flop_per_s", 2.2e12}});
  CHECK(record_problems(r).empty());
  CHECK(r["schema"] == "roofline.measurement.v1");
  CHECK(r["suite"] == "gemm");
  CHECK(r["label"] == "cublaslt_bf16");
  CHECK(r["workload"] == gemm_workload());
  CHECK(r["status"] == "ok");
  CHECK(r["time_s"]["median"].get<double>() == ROOFLINE_APPROX(1.53e-5));
  CHECK(r["time_s"]["min"].get<double>() == ROOFLINE_APPROX(1.49e-5));
  CHECK(r["time_s"]["max"].get<double>() == ROOFLINE_APPROX(1.71e-5));
  CHECK(r["time_s"]["count"] == 50);
  CHECK(r["timing"] == json{{"method", "cuda_graph_events"}, {"l2", "cold_rotating"}, {"kernels_per_call", 1}});
  CHECK(r["counters"]["dram__bytes_read.sum"].get<double>() == ROOFLINE_APPROX(3.36e7));
  CHECK(r["predicted_s"].is_null());
  CHECK(r["device"]["sm_count"] == 132);
  CHECK(r["device"]["l2_bytes"] == 52428800);
  CHECK(r["device"]["hw_profile"] == "h100_sxm");
  CHECK(r["device"]["torch"].is_null());
  CHECK(std::regex_match(r["timestamp"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK(r["extra"]["achieved_flop_per_s"].get<double>() == ROOFLINE_APPROX(2.2e12));
  CHECK(r["extra"]["calls_per_sample"] == 19);  // from TimeStats
  CHECK_FALSE(r.contains("error"));
}

TEST_CASE("an error record carries the message, no time, and passes the schema") {
  const json r = make_error_record("gemm", "cublaslt_fp8", gemm_workload(), "CUBLAS_STATUS_NOT_SUPPORTED", h100());
  CHECK(record_problems(r).empty());
  CHECK(r["status"] == "error");
  CHECK(r["error"] == "CUBLAS_STATUS_NOT_SUPPORTED");
  CHECK_FALSE(r.contains("time_s"));
  CHECK(r["timing"]["kernels_per_call"] == 0);
}

TEST_CASE("the example record of docs/measurement-records.md passes the schema check") {
  std::ifstream doc(std::string(ROOFLINE_SOURCE_DIR) + "/docs/measurement-records.md");
  REQUIRE(doc);
  std::stringstream ss;
  ss << doc.rdbuf();
  const std::string text = ss.str();
  const auto begin = text.find("```json\n");
  REQUIRE(begin != std::string::npos);
  const auto end = text.find("```", begin + 8);
  REQUIRE(end != std::string::npos);
  const json example = json::parse(text.substr(begin + 8, end - begin - 8));
  const std::vector<std::string> problems = record_problems(example);
  for (const std::string& p : problems) MESSAGE(p);
  CHECK(problems.empty());
}

TEST_CASE("removing any required key is reported with that key's name") {
  const json good = make_record("stream", "stream_read", json{{"op", "stream"}, {"kind", "read"}, {"bytes", 1 << 30}},
                                stats(), "cuda_graph_events", "cold_rotating", 1, h100());
  REQUIRE(record_problems(good).empty());
  for (const char* key : {"schema", "suite", "label", "workload", "status", "time_s", "timing", "counters",
                          "predicted_s", "device", "timestamp"}) {
    json bad = good;
    bad.erase(key);
    const auto problems = record_problems(bad);
    INFO("removed " << key);
    CHECK(mentions(problems, std::string("missing required key '") + key + "'"));
  }
  for (const char* key : {"name", "hw_profile", "compute_capability", "sm_count", "l2_bytes", "memory_bytes",
                          "sm_clock_hz", "mem_clock_hz", "clock_note", "driver", "cuda_runtime"}) {
    json bad = good;
    bad["device"].erase(key);
    INFO("removed device." << key);
    CHECK(mentions(record_problems(bad), std::string("device: missing required key '") + key + "'"));
  }
  for (const char* key : {"median", "min", "max", "count"}) {
    json bad = good;
    bad["time_s"].erase(key);
    INFO("removed time_s." << key);
    CHECK(mentions(record_problems(bad), std::string("time_s: missing required key '") + key + "'"));
  }
  for (const char* key : {"method", "l2", "kernels_per_call"}) {
    json bad = good;
    bad["timing"].erase(key);
    INFO("removed timing." << key);
    CHECK(mentions(record_problems(bad), std::string("timing: missing required key '") + key + "'"));
  }
}

TEST_CASE("wrong types, unknown keys and inconsistent values are reported with their key path") {
  const json good = make_record("gemm", "cublaslt_bf16", gemm_workload(), stats(), "cupti_activity", "warm", 1, h100());
  json r = good;
  r["surprise"] = 1;
  CHECK(mentions(record_problems(r), "surprise: unknown key"));
  r = good;
  r["workload"]["m"] = 0;
  CHECK(mentions(record_problems(r), "workload.m: must be >= 1, got 0"));
  r = good;
  r["workload"]["m"] = 1.5;
  CHECK(mentions(record_problems(r), "workload.m: must be an integer"));
  r = good;
  r["workload"]["dtype"] = "fp4";
  CHECK(mentions(record_problems(r), "workload.dtype: unknown value 'fp4'"));
  r = good;
  r["workload"]["op"] = "conv";
  CHECK(mentions(record_problems(r), "workload.op: unknown value 'conv'"));
  r = good;
  r["timing"]["method"] = "stopwatch";
  CHECK(mentions(record_problems(r), "timing.method: unknown value 'stopwatch'"));
  r = good;
  r["timing"]["l2"] = "lukewarm";
  CHECK(mentions(record_problems(r), "timing.l2: unknown value 'lukewarm'"));
  r = good;
  r["time_s"]["min"] = 2e-5;  // above the median 1.53e-5
  CHECK(mentions(record_problems(r), "time_s: must satisfy min <= median <= max"));
  r = good;
  r["time_s"]["median"] = -1.0;
  CHECK(mentions(record_problems(r), "time_s.median: must be > 0"));
  r = good;
  r["counters"]["dram__bytes_read.sum"] = "many";
  CHECK(mentions(record_problems(r), "counters.dram__bytes_read.sum: must be a finite number"));
  r = good;
  r["predicted_s"] = "soon";
  CHECK(mentions(record_problems(r), "predicted_s: must be a number"));
  r = good;
  r["predicted_s"] = 1.4e-5;
  CHECK(record_problems(r).empty());
  r = good;
  r["timestamp"] = "yesterday";
  CHECK(mentions(record_problems(r), "timestamp: must be an ISO 8601 UTC string"));
  r = good;
  r["status"] = "error";
  CHECK(mentions(record_problems(r), "missing required key 'error'"));
  r = good;
  r["error"] = "boom";
  CHECK(mentions(record_problems(r), "error: present although status is \"ok\""));
  r = good;
  r.erase("time_s");
  CHECK(mentions(record_problems(r), "missing required key 'time_s'"));
}

TEST_CASE("every documented workload form is accepted and its keys are checked") {
  const std::vector<json> good = {
      json{{"op", "gemm"}, {"m", 16384}, {"n", 128256}, {"k", 4096}, {"dtype", "fp8_e4m3"}},
      json{{"op", "attention"}, {"phase", "decode"}, {"batch", 8}, {"q_heads", 32}, {"kv_heads", 8}, {"q_len", 1},
           {"kv_len", 32768}, {"head_dim", 128}, {"causal", false}, {"dtype", "bf16"}, {"kernel", "q2fp8"},
           {"skip_fraction", 0.9}},
      json{{"op", "model_step"}, {"model", "llama3-8b"}, {"phase", "decode"}, {"batch", 1}, {"context", 4096},
           {"weights", "bf16"}, {"kv_cache", "bf16"}},
      json{{"op", "stream"}, {"kind", "copy"}, {"bytes", 4294967296LL}},
      json{{"op", "elementwise"}, {"kind", "rmsnorm"}, {"rows", 32}, {"cols", 4096}, {"dtype", "bf16"}},
      json{{"op", "launch"}, {"graph", true}},
  };
  for (const json& w : good) {
    INFO(w.dump());
    CHECK(workload_problems(w).empty());
  }
  CHECK(mentions(workload_problems(json{{"op", "launch"}}), "workload: missing required key 'graph'"));
  CHECK(mentions(workload_problems(json{{"op", "stream"}, {"kind", "read"}, {"bytes", 8}, {"extra", 1}}),
                 "workload.extra: unknown key"));
  CHECK(mentions(workload_problems(json{{"op", "elementwise"}, {"kind", "softmax"}, {"rows", 1}, {"cols", 1},
                                        {"dtype", "bf16"}}),
                 "workload.kind: unknown value 'softmax'"));
  json a = good[1];
  a["skip_fraction"] = 1.5;
  CHECK(mentions(workload_problems(a), "workload.skip_fraction: must be <= 1"));
}

TEST_CASE("RecordWriter appends one flushed line per record and read_records returns them unchanged") {
  const auto dir = temp_dir();
  const auto file = dir / "nested" / "gemm.jsonl";
  const json r1 = make_record("gemm", "cublaslt_bf16", gemm_workload(), stats(), "cuda_graph_events", "cold_rotating",
                              1, h100());
  const json r2 = make_error_record("gemm", "cublaslt_int8", gemm_workload(), "not supported", h100());
  {
    RecordWriter w(file);
    w.append(r1);
    // Flushed as soon as written: another reader sees the line before the writer closes.
    CHECK(read_records(file).size() == 1);
    w.append(r2);
    CHECK(w.records_written() == 2);
  }
  {
    RecordWriter again(file);  // appends, never truncates
    again.append(r1);
  }
  const std::vector<json> back = read_records(file);
  REQUIRE(back.size() == 3);
  CHECK(back[0] == r1);
  CHECK(back[1] == r2);
  CHECK(back[2] == r1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("RecordWriter refuses an invalid record and writes nothing") {
  const auto dir = temp_dir();
  const auto file = dir / "bad.jsonl";
  RecordWriter w(file);
  json bad = make_record("gemm", "x", gemm_workload(), stats(), "cuda_events", "warm", 1, h100());
  bad.erase("device");
  CHECK_THROWS_AS(w.append(bad), roofline::InvalidArgumentError);
  CHECK(w.records_written() == 0);
  CHECK(std::filesystem::file_size(file) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("read_records names file, line and key path of the first problem") {
  const auto dir = temp_dir();
  std::filesystem::create_directories(dir);
  const auto file = dir / "broken.jsonl";
  json r = make_record("gemm", "x", gemm_workload(), stats(), "cuda_events", "warm", 1, h100());
  {
    std::ofstream out(file);
    out << r.dump() << "\n\n";
    r["workload"]["n"] = -4;
    out << r.dump() << "\n";
  }
  try {
    read_records(file);
    FAIL("expected a ConfigError");
  } catch (const roofline::ConfigError& e) {
    CHECK(e.where().line == 3);
    CHECK(e.key_path() == "workload.n");
    CHECK(std::string(e.what()) == file.string() + ":3: workload.n: must be >= 1, got -4");
  }
  {
    std::ofstream out(file);
    out << "{\"schema\": \n";
  }
  try {
    read_records(file);
    FAIL("expected a ConfigError");
  } catch (const roofline::ConfigError& e) {
    CHECK(e.where().line == 1);
    CHECK(std::string(e.what()).find("malformed JSON") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

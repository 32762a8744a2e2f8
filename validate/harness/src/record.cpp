#include "roofline/validate/record.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <regex>
#include <set>
#include <sstream>

#include "roofline/errors.hpp"

namespace roofline::validate {
namespace {

using nlohmann::json;

struct Problem {
  std::string path;
  std::string message;
};

using Problems = std::vector<Problem>;

std::string join_path(const std::string& parent, const std::string& key) { return parent.empty() ? key : parent + "." + key; }

const std::set<std::string> kTopKeys = {"schema",  "suite",       "label",  "workload",  "status", "error", "time_s",
                                        "timing",  "counters",    "predicted_s", "device", "timestamp", "extra"};
const std::set<std::string> kDeviceKeys = {"name",         "hw_profile",   "compute_capability", "sm_count",
                                           "l2_bytes",     "memory_bytes", "sm_clock_hz",        "mem_clock_hz",
                                           "clock_note",   "driver",       "cuda_runtime",       "torch"};
const std::set<std::string> kTimingMethods = {"cupti_activity", "cuda_graph_events", "cuda_events"};
const std::set<std::string> kL2States = {"cold_rotating", "cold_flushed", "warm"};

std::string list(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Small typed checks; each appends a problem and returns false when the value is absent or wrong.
bool need(const json& obj, const std::string& key, const std::string& path, Problems& p) {
  if (!obj.contains(key)) {
    p.push_back({path, "missing required key '" + key + "'"});
    return false;
  }
  return true;
}

void check_string(const json& obj, const std::string& key, const std::string& path, Problems& p, bool non_empty = true) {
  if (!need(obj, key, path, p)) return;
  const json& v = obj.at(key);
  if (!v.is_string()) {
    p.push_back({join_path(path, key), std::string("must be a string, got ") + v.type_name()});
  } else if (non_empty && v.get<std::string>().empty()) {
    p.push_back({join_path(path, key), "must not be empty"});
  }
}

void check_enum(const json& obj, const std::string& key, const std::string& path, const std::set<std::string>& allowed,
                Problems& p) {
  if (!need(obj, key, path, p)) return;
  const json& v = obj.at(key);
  if (!v.is_string()) {
    p.push_back({join_path(path, key), std::string("must be a string, got ") + v.type_name()});
  } else if (allowed.count(v.get<std::string>()) == 0) {
    p.push_back({join_path(path, key), "unknown value '" + v.get<std::string>() + "'; known: " + list(allowed)});
  }
}

void check_int(const json& obj, const std::string& key, const std::string& path, Problems& p, long long min_value) {
  if (!need(obj, key, path, p)) return;
  const json& v = obj.at(key);
  if (!v.is_number_integer()) {
    p.push_back({join_path(path, key), std::string("must be an integer, got ") + v.type_name()});
    return;
  }
  const bool fits = v.is_number_unsigned() ? v.get<unsigned long long>() >= static_cast<unsigned long long>(std::max(0LL, min_value))
                                           : v.get<long long>() >= min_value;
  if (!fits) p.push_back({join_path(path, key), "must be >= " + std::to_string(min_value) + ", got " + v.dump()});
}

void check_number(const json& obj, const std::string& key, const std::string& path, Problems& p, bool positive) {
  if (!need(obj, key, path, p)) return;
  const json& v = obj.at(key);
  if (!v.is_number()) {
    p.push_back({join_path(path, key), std::string("must be a number, got ") + v.type_name()});
    return;
  }
  const double d = v.get<double>();
  if (!std::isfinite(d)) {
    p.push_back({join_path(path, key), "must be finite"});
  } else if (positive ? !(d > 0) : d < 0) {
    p.push_back({join_path(path, key), std::string("must be ") + (positive ? "> 0" : ">= 0") + ", got " + v.dump()});
  }
}

void check_bool(const json& obj, const std::string& key, const std::string& path, Problems& p) {
  if (!need(obj, key, path, p)) return;
  if (!obj.at(key).is_boolean()) {
    p.push_back({join_path(path, key), std::string("must be a boolean, got ") + obj.at(key).type_name()});
  }
}

void check_only_keys(const json& obj, const std::string& path, const std::set<std::string>& allowed, Problems& p) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (allowed.count(it.key()) == 0) p.push_back({join_path(path, it.key()), "unknown key; known: " + list(allowed)});
  }
}

void check_workload(const json& w, const std::string& path, Problems& p) {
  if (!w.is_object()) {
    p.push_back({path, std::string("must be an object, got ") + w.type_name()});
    return;
  }
  static const std::set<std::string> ops = {"gemm", "attention", "model_step", "stream", "elementwise", "launch"};
  check_enum(w, "op", path, ops, p);
  if (!w.contains("op") || !w.at("op").is_string() || ops.count(w.at("op").get<std::string>()) == 0) return;
  const std::string op = w.at("op").get<std::string>();
  if (op == "gemm") {
    check_only_keys(w, path, {"op", "m", "n", "k", "dtype"}, p);
    for (const char* k : {"m", "n", "k"}) check_int(w, k, path, p, 1);
    check_enum(w, "dtype", path, {"bf16", "fp16", "fp8_e4m3", "int8"}, p);
  } else if (op == "attention") {
    check_only_keys(w, path,
                    {"op", "phase", "batch", "q_heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype",
                     "kernel", "skip_fraction"},
                    p);
    check_enum(w, "phase", path, {"prefill", "decode"}, p);
    for (const char* k : {"batch", "q_heads", "kv_heads", "q_len", "kv_len", "head_dim"}) check_int(w, k, path, p, 1);
    check_bool(w, "causal", path, p);
    check_string(w, "dtype", path, p);
    check_string(w, "kernel", path, p);
    if (w.contains("skip_fraction")) {
      check_number(w, "skip_fraction", path, p, false);
      if (w.at("skip_fraction").is_number() && w.at("skip_fraction").get<double>() > 1.0) {
        p.push_back({join_path(path, "skip_fraction"), "must be <= 1, got " + w.at("skip_fraction").dump()});
      }
    }
  } else if (op == "model_step") {
    check_only_keys(w, path, {"op", "model", "phase", "batch", "context", "weights", "kv_cache"}, p);
    check_string(w, "model", path, p);
    check_enum(w, "phase", path, {"prefill", "decode"}, p);
    check_int(w, "batch", path, p, 1);
    check_int(w, "context", path, p, 1);
    check_enum(w, "weights", path, {"bf16", "fp8_e4m3"}, p);
    check_enum(w, "kv_cache", path, {"bf16"}, p);
  } else if (op == "stream") {
    check_only_keys(w, path, {"op", "kind", "bytes"}, p);
    check_enum(w, "kind", path, {"read", "write", "copy"}, p);
    check_int(w, "bytes", path, p, 1);
  } else if (op == "elementwise") {
    check_only_keys(w, path, {"op", "kind", "rows", "cols", "dtype"}, p);
    check_enum(w, "kind", path, {"rmsnorm", "rope", "silu_mul", "add", "kv_write", "quantize_fp8", "embedding"}, p);
    check_int(w, "rows", path, p, 1);
    check_int(w, "cols", path, p, 1);
    check_enum(w, "dtype", path, {"bf16", "fp16", "fp32"}, p);
  } else if (op == "launch") {
    check_only_keys(w, path, {"op", "graph"}, p);
    check_bool(w, "graph", path, p);
  }
}

Problems all_problems(const json& r) {
  Problems p;
  if (!r.is_object()) {
    p.push_back({"", std::string("a record must be a JSON object, got ") + r.type_name()});
    return p;
  }
  check_only_keys(r, "", kTopKeys, p);
  if (need(r, "schema", "", p) && r.at("schema") != kRecordSchema) {
    p.push_back({"schema", std::string("must be \"") + kRecordSchema + "\", got " + r.at("schema").dump()});
  }
  check_string(r, "suite", "", p);
  check_string(r, "label", "", p);
  if (need(r, "workload", "", p)) check_workload(r.at("workload"), "workload", p);
  check_enum(r, "status", "", {"ok", "error"}, p);
  const bool ok = r.contains("status") && r.at("status") == "ok";
  const bool error = r.contains("status") && r.at("status") == "error";
  if (error) check_string(r, "error", "", p);
  if (ok && r.contains("error")) p.push_back({"error", "present although status is \"ok\""});
  if (ok) need(r, "time_s", "", p);
  if (r.contains("time_s")) {
    const json& t = r.at("time_s");
    if (!t.is_object()) {
      p.push_back({"time_s", std::string("must be an object, got ") + t.type_name()});
    } else {
      check_only_keys(t, "time_s", {"median", "min", "max", "count"}, p);
      for (const char* k : {"median", "min", "max"}) check_number(t, k, "time_s", p, true);
      check_int(t, "count", "time_s", p, 1);
      if (t.contains("median") && t.contains("min") && t.contains("max") && t.at("median").is_number() &&
          t.at("min").is_number() && t.at("max").is_number()) {
        const double lo = t.at("min").get<double>(), mid = t.at("median").get<double>(), hi = t.at("max").get<double>();
        if (!(lo <= mid && mid <= hi)) p.push_back({"time_s", "must satisfy min <= median <= max"});
      }
    }
  }
  if (need(r, "timing", "", p)) {
    const json& t = r.at("timing");
    if (!t.is_object()) {
      p.push_back({"timing", std::string("must be an object, got ") + t.type_name()});
    } else {
      check_only_keys(t, "timing", {"method", "l2", "kernels_per_call"}, p);
      check_enum(t, "method", "timing", kTimingMethods, p);
      check_enum(t, "l2", "timing", kL2States, p);
      check_int(t, "kernels_per_call", "timing", p, 0);
    }
  }
  if (need(r, "counters", "", p)) {
    const json& c = r.at("counters");
    if (!c.is_object()) {
      p.push_back({"counters", std::string("must be an object, got ") + c.type_name()});
    } else {
      for (auto it = c.begin(); it != c.end(); ++it) {
        if (!it.value().is_number() || !std::isfinite(it.value().get<double>())) {
          p.push_back({"counters." + it.key(), "must be a finite number, got " + it.value().dump()});
        }
      }
    }
  }
  if (need(r, "predicted_s", "", p) && !r.at("predicted_s").is_null()) check_number(r, "predicted_s", "", p, true);
  if (need(r, "device", "", p)) {
    const json& d = r.at("device");
    if (!d.is_object()) {
      p.push_back({"device", std::string("must be an object, got ") + d.type_name()});
    } else {
      check_only_keys(d, "device", kDeviceKeys, p);
      for (const char* k : {"name", "hw_profile", "compute_capability", "clock_note", "driver", "cuda_runtime"}) {
        check_string(d, k, "device", p);
      }
      check_int(d, "sm_count", "device", p, 1);
      check_int(d, "l2_bytes", "device", p, 1);
      check_int(d, "memory_bytes", "device", p, 1);
      check_number(d, "sm_clock_hz", "device", p, true);
      check_number(d, "mem_clock_hz", "device", p, true);
      if (d.contains("torch") && !d.at("torch").is_null() && !d.at("torch").is_string()) {
        p.push_back({"device.torch", std::string("must be a string or null, got ") + d.at("torch").type_name()});
      }
    }
  }
  if (need(r, "timestamp", "", p)) {
    static const std::regex iso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
    const json& ts = r.at("timestamp");
    if (!ts.is_string() || !std::regex_match(ts.get<std::string>(), iso)) {
      p.push_back({"timestamp", "must be an ISO 8601 UTC string like 2026-11-22T10:00:00Z, got " + ts.dump()});
    }
  }
  if (r.contains("extra") && !r.at("extra").is_object()) {
    p.push_back({"extra", std::string("must be an object, got ") + r.at("extra").type_name()});
  }
  return p;
}

std::vector<std::string> format(const Problems& problems) {
  std::vector<std::string> out;
  for (const Problem& p : problems) out.push_back(p.path.empty() ? p.message : p.path + ": " + p.message);
  return out;
}

json base_record(const std::string& suite, const std::string& label, const json& workload) {
  json r = json::object();
  r["schema"] = kRecordSchema;
  r["suite"] = suite;
  r["label"] = label;
  r["workload"] = workload;
  return r;
}

}  // namespace

RecordWriter::RecordWriter(const std::filesystem::path& jsonl_file) : path_(jsonl_file) {
  std::error_code ec;
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
  if (ec) throw Error("cannot create directory " + path_.parent_path().string() + ": " + ec.message());
  out_.open(path_, std::ios::out | std::ios::app);
  if (!out_) throw Error("cannot open " + path_.string() + " for appending");
}

void RecordWriter::append(const json& record) {
  const Problems problems = all_problems(record);
  if (!problems.empty()) {
    std::string message = "refusing to write an invalid measurement record to " + path_.string() + ":";
    for (const std::string& s : format(problems)) message += "\n  " + s;
    throw InvalidArgumentError(message);
  }
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw Error("write to " + path_.string() + " failed");
  ++written_;
}

json device_json(const DeviceInfo& d) {
  return json{{"name", d.name},
              {"hw_profile", d.hw_profile},
              {"compute_capability", d.compute_capability},
              {"sm_count", d.sm_count},
              {"l2_bytes", d.l2_bytes},
              {"memory_bytes", d.memory_bytes},
              {"sm_clock_hz", d.sm_clock_hz},
              {"mem_clock_hz", d.mem_clock_hz},
              {"clock_note", d.clock_note},
              {"driver", d.driver},
              {"cuda_runtime", d.cuda_runtime},
              {"torch", nullptr}};
}

json make_record(const std::string& suite, const std::string& label, const json& workload, const TimeStats& time,
                 const std::string& timing_method, const std::string& l2, int kernels_per_call,
                 const DeviceInfo& device, const json& counters, const json& extra) {
  json r = base_record(suite, label, workload);
  r["status"] = "ok";
  r["time_s"] = {{"median", time.median_s}, {"min", time.min_s}, {"max", time.max_s}, {"count", time.count}};
  const int kernels = kernels_per_call > 0 ? kernels_per_call : time.kernels_per_call;
  r["timing"] = {{"method", timing_method}, {"l2", l2}, {"kernels_per_call", kernels}};
  r["counters"] = counters.is_object() ? counters : json::object();
  r["predicted_s"] = nullptr;
  r["device"] = device_json(device);
  r["timestamp"] = utc_timestamp_now();
  json e = extra.is_object() ? extra : json::object();
  if (!e.contains("calls_per_sample")) e["calls_per_sample"] = time.calls_per_sample;
  if (time.span_median_s > 0 && !e.contains("span_median_s")) e["span_median_s"] = time.span_median_s;
  if (time.total_timed_s > 0 && !e.contains("total_timed_s")) e["total_timed_s"] = time.total_timed_s;
  if (device.max_sm_clock_hz > 0 && !e.contains("max_sm_clock_hz")) e["max_sm_clock_hz"] = device.max_sm_clock_hz;
  r["extra"] = e;
  return r;
}

json make_error_record(const std::string& suite, const std::string& label, const json& workload,
                       const std::string& error, const DeviceInfo& device) {
  json r = base_record(suite, label, workload);
  r["status"] = "error";
  r["error"] = error.empty() ? std::string("unknown error") : error;
  r["timing"] = {{"method", "cuda_events"}, {"l2", "warm"}, {"kernels_per_call", 0}};
  r["counters"] = json::object();
  r["predicted_s"] = nullptr;
  r["device"] = device_json(device);
  r["timestamp"] = utc_timestamp_now();
  return r;
}

std::vector<std::string> record_problems(const json& record) { return format(all_problems(record)); }

std::vector<std::string> workload_problems(const json& workload, const std::string& key_path) {
  Problems p;
  check_workload(workload, key_path, p);
  return format(p);
}

json parse_record_line(const std::string& line, const std::string& file, int line_number) {
  json r;
  try {
    r = json::parse(line);
  } catch (const json::parse_error& e) {
    throw ConfigError(FileLocation{file, line_number, static_cast<int>(e.byte)}, "",
                      std::string("malformed JSON: ") + e.what());
  }
  const Problems problems = all_problems(r);
  if (!problems.empty()) throw ConfigError(FileLocation{file, line_number, 0}, problems[0].path, problems[0].message);
  return r;
}

std::vector<json> read_records(const std::filesystem::path& jsonl_file) {
  std::ifstream in(jsonl_file);
  if (!in) throw ConfigError(FileLocation{jsonl_file.string(), 0, 0}, "", "cannot open file");
  std::vector<json> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(parse_record_line(line, jsonl_file.string(), n));
  }
  return out;
}

std::string utc_timestamp_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace roofline::validate

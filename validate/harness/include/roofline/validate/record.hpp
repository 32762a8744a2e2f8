// Measurement records (schema roofline.measurement.v1, docs/measurement-records.md): one JSON object per
// line of a JSONL file, appended and flushed as soon as it is measured, so an interrupted run keeps what
// it measured. The checker below enforces every rule of the document (required keys and types, known
// workload ops and their keys, status / error / time_s consistency); the writer refuses a bad record.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "roofline/validate/device_info.hpp"
#include "roofline/validate/timing.hpp"

namespace roofline::validate {

inline constexpr const char* kRecordSchema = "roofline.measurement.v1";

/// Appends records to a JSONL file: creates the parent directories, opens for append, writes one line per
/// record and flushes it. Move-only.
class RecordWriter {
 public:
  /// Throws roofline::Error when the directory or file cannot be created.
  explicit RecordWriter(const std::filesystem::path& jsonl_file);
  RecordWriter(RecordWriter&&) noexcept = default;
  RecordWriter& operator=(RecordWriter&&) noexcept = default;
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  /// Writes `record` as one line and flushes. Throws roofline::InvalidArgumentError listing the problems
  /// when the record breaks the schema (a harness bug: nothing invalid is ever written).
  void append(const nlohmann::json& record);

  const std::filesystem::path& path() const noexcept { return path_; }
  int records_written() const noexcept { return written_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
  int written_ = 0;
};

/// A status "ok" record. `timing_method` is "cuda_graph_events", "cuda_events" or "cupti_activity";
/// `l2` is "cold_rotating", "cold_flushed" or "warm". predicted_s is null (the runner sets it in one
/// place). TimeStats' calls_per_sample, span and total go into extra unless extra already has them.
nlohmann::json make_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                           const TimeStats& time, const std::string& timing_method, const std::string& l2,
                           int kernels_per_call, const DeviceInfo& device,
                           const nlohmann::json& counters = nlohmann::json::object(),
                           const nlohmann::json& extra = nlohmann::json::object());

/// A status "error" record without time_s (timing: method "cuda_events", l2 "warm", kernels_per_call 0,
/// i.e. nothing was timed).
nlohmann::json make_error_record(const std::string& suite, const std::string& label, const nlohmann::json& workload,
                                 const std::string& error, const DeviceInfo& device);

/// The record's "device" object.
nlohmann::json device_json(const DeviceInfo& device);

/// Every way `record` breaks the schema, as "key.path: problem" strings; empty when it is valid.
std::vector<std::string> record_problems(const nlohmann::json& record);

/// Every way a workload object breaks the documented workload forms (keys of its op, types, > 0).
std::vector<std::string> workload_problems(const nlohmann::json& workload, const std::string& key_path = "workload");

/// Parses one JSONL line. Throws roofline::ConfigError naming file:line and the key path of the first
/// problem (malformed JSON, missing key, wrong type, unknown key).
nlohmann::json parse_record_line(const std::string& line, const std::string& file, int line_number);

/// Reads a whole JSONL file strictly (blank lines are skipped). Throws roofline::ConfigError.
std::vector<nlohmann::json> read_records(const std::filesystem::path& jsonl_file);

/// "2026-11-22T10:00:00Z" for now.
std::string utc_timestamp_now();

}  // namespace roofline::validate

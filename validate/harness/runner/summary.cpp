#include "runner/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <string>

#include "roofline/units.hpp"
#include "roofline/validate/record.hpp"

namespace roofline::validate::runner {

using nlohmann::json;

namespace {

double num(const json& j, const char* key, double fallback = 0) {
  return j.contains(key) && j.at(key).is_number() ? j.at(key).get<double>() : fallback;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void stream_lines(const std::vector<json>& records, std::ostream& out) {
  // Best bandwidth per (label) in three working-set regimes.
  std::map<std::string, std::map<std::string, double>> best;
  for (const json& r : records) {
    if (r["status"] != "ok") continue;
    const double bytes = r["workload"]["bytes"].get<double>();
    const std::string regime = bytes <= (16 << 20) ? "<=16MiB" : bytes < (512 << 20) ? "16-512MiB" : ">=512MiB";
    double& b = best[r["label"].get<std::string>()][regime];
    b = std::max(b, num(r["extra"], "achieved_bytes_per_s"));
  }
  for (const auto& [label, regimes] : best) {
    out << "    " << label << ":";
    for (const char* regime : {"<=16MiB", "16-512MiB", ">=512MiB"}) {
      if (regimes.count(regime)) out << "  " << regime << " " << format_bytes_per_s(regimes.at(regime));
    }
    out << "\n";
  }
}

void launch_lines(const std::vector<json>& records, std::ostream& out) {
  for (const json& r : records) {
    if (r["status"] != "ok") continue;
    out << "    " << r["label"].get<std::string>() << " (graph " << (r["workload"]["graph"].get<bool>() ? "yes" : "no")
        << "): " << format_time_s(r["time_s"]["median"].get<double>());
    if (r["extra"].contains("host_launch_median_s")) out << ", host " << format_time_s(num(r["extra"], "host_launch_median_s"));
    if (r["extra"].contains("cupti_kernel_duration_s")) {
      out << ", kernel itself " << format_time_s(num(r["extra"], "cupti_kernel_duration_s"));
    }
    out << "\n";
  }
}

void elementwise_lines(const std::vector<json>& records, std::ostream& out) {
  std::map<std::string, std::pair<double, double>> per_kind;  // kind → (min time, best bandwidth)
  for (const json& r : records) {
    if (r["status"] != "ok") continue;
    auto& [t, bw] = per_kind.try_emplace(r["workload"]["kind"].get<std::string>(), 1e30, 0.0).first->second;
    t = std::min(t, r["time_s"]["median"].get<double>());
    bw = std::max(bw, num(r["extra"], "achieved_bytes_per_s"));
  }
  for (const auto& [kind, v] : per_kind) {
    out << "    " << kind << ": fastest call " << format_time_s(v.first) << ", best " << format_bytes_per_s(v.second) << "\n";
  }
}

void gemm_lines(const std::vector<json>& records, std::ostream& out) {
  std::map<std::string, double> best;
  std::map<std::string, std::pair<int, int>> counts;
  for (const json& r : records) {
    const std::string key = r["label"].get<std::string>();
    auto& [ok, err] = counts[key];
    if (r["status"] != "ok") {
      ++err;
      continue;
    }
    ++ok;
    best[key] = std::max(best[key], num(r["extra"], "achieved_flop_per_s"));
  }
  for (const auto& [label, c] : counts) {
    out << "    " << label << ": " << c.first << " ok, " << c.second << " errors";
    if (c.first > 0) out << ", best " << format_flop_per_s(best[label]);
    out << "\n";
  }
}

void ceiling_lines(const std::vector<json>& records, std::ostream& out) {
  for (const json& r : records) {
    if (r["status"] != "ok") continue;
    const json& w = r["workload"];
    out << "    " << r["label"].get<std::string>() << " " << w["m"].get<long long>() << "^3: "
        << format_flop_per_s(num(r["extra"], "achieved_flop_per_s"));
    if (r["extra"].contains("steady_over_first_ratio")) {
      out << " steady over " << fixed(num(r["extra"], "duration_s"), 1) << " s (time ratio steady/first "
          << fixed(num(r["extra"], "steady_over_first_ratio"), 3) << ", SM clock " << fixed(num(r["device"], "sm_clock_hz") / 1e6, 0)
          << " MHz)";
    }
    out << "\n";
  }
}

void counter_lines(const std::vector<json>& records, std::ostream& out) {
  for (const json& r : records) {
    out << "    " << r["label"].get<std::string>();
    if (r["workload"].contains("bytes")) out << " " << r["workload"]["bytes"].get<long long>() << " B";
    if (r["status"] != "ok") {
      out << ": ERROR " << r.value("error", std::string()).substr(0, 120) << "\n";
      continue;
    }
    const json& c = r["counters"];
    const json& e = r["extra"];
    out << ": dram read " << format_bytes(num(c, "dram__bytes_read.sum")) << " (expected "
        << format_bytes(num(e, "expected_dram_bytes_read", num(e, "expected_dram_bytes", num(e, "expected_min_dram_bytes"))))
        << "), write " << format_bytes(num(c, "dram__bytes_write.sum")) << ", L2 " << format_bytes(num(c, "lts__t_bytes.sum"))
        << ", kernel " << format_time_s(num(c, "gpu__time_duration.sum") * 1e-9) << "\n";
  }
}

}  // namespace

int print_summary(const std::filesystem::path& dir, std::ostream& out) {
  int bad = 0;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  }
  if (ec) {
    out << "cannot read " << dir.string() << ": " << ec.message() << "\n";
    return 1;
  }
  std::sort(files.begin(), files.end());
  out << "suite            records   ok  errors\n";
  for (const auto& f : files) {
    std::vector<json> records;
    try {
      records = read_records(f);
    } catch (const std::exception& e) {
      out << f.filename().string() << ": INVALID: " << e.what() << "\n";
      ++bad;
      continue;
    }
    const auto errors = std::count_if(records.begin(), records.end(), [](const json& r) { return r["status"] == "error"; });
    char line[128];
    std::snprintf(line, sizeof line, "%-16s %7zu %5zu %6zu\n", f.stem().c_str(), records.size(),
                  records.size() - static_cast<std::size_t>(errors), static_cast<std::size_t>(errors));
    out << line;
    const std::string suite = f.stem().string();
    if (suite == "stream") stream_lines(records, out);
    if (suite == "launch") launch_lines(records, out);
    if (suite == "elementwise") elementwise_lines(records, out);
    if (suite == "gemm" || suite == "gemm_holdout" || suite == "gemm_random" || suite == "gemm_fresh" || suite == "gemm_candidates") gemm_lines(records, out);
    if (suite == "ceilings") ceiling_lines(records, out);
    if (suite == "counters") counter_lines(records, out);
    // The first few distinct error messages, so a failing suite explains itself.
    std::map<std::string, int> messages;
    for (const json& r : records) {
      if (r["status"] == "error") ++messages[r.value("error", std::string()).substr(0, 150)];
    }
    int shown = 0;
    for (const auto& [m, n] : messages) {
      if (shown++ == 3) break;
      out << "    error x" << n << ": " << m << "\n";
    }
  }
  return bad;
}

}  // namespace roofline::validate::runner

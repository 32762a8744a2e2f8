#include "roofline/units.hpp"

#include <cmath>
#include <cstdio>

namespace roofline {

namespace {
std::string with_prefix(double value, const char* const* units, const double* scales, int n, int digits) {
  const double a = std::fabs(value);
  int i = 0;
  while (i + 1 < n && a < scales[i]) ++i;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f %s", digits, value / scales[i], units[i]);
  return buf;
}
}  // namespace

std::string format_time_s(double time_s) {
  static const char* const units[] = {"s", "ms", "us", "ns"};
  static const double scales[] = {1.0, 1e-3, 1e-6, 1e-9};
  return with_prefix(time_s, units, scales, 4, std::fabs(time_s) >= 1e-9 && std::fabs(time_s) < 1e-6 ? 1 : 2);
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"TB", "GB", "MB", "kB", "B"};
  static const double scales[] = {1e12, 1e9, 1e6, 1e3, 1.0};
  return with_prefix(bytes, units, scales, 5, 2);
}

std::string format_flop_per_s(double flop_per_s) {
  static const char* const units[] = {"PFLOP/s", "TFLOP/s", "GFLOP/s", "MFLOP/s"};
  static const double scales[] = {1e15, 1e12, 1e9, 1e6};
  return with_prefix(flop_per_s, units, scales, 4, 1);
}

std::string format_bytes_per_s(double bytes_per_s) {
  static const char* const units[] = {"TB/s", "GB/s", "MB/s"};
  static const double scales[] = {1e12, 1e9, 1e6};
  return with_prefix(bytes_per_s, units, scales, 3, 2);
}

std::string format_flops(double flops) {
  static const char* const units[] = {"PFLOP", "TFLOP", "GFLOP", "MFLOP", "kFLOP", "FLOP"};
  static const double scales[] = {1e15, 1e12, 1e9, 1e6, 1e3, 1.0};
  return with_prefix(flops, units, scales, 6, 2);
}

}  // namespace roofline

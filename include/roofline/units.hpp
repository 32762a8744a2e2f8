// Units: the library computes in SI base units (seconds, bytes, FLOP, hertz) and converts only when
// printing. Quantities carry their unit in their name (_s, _bytes, _flops, _flop_per_s, _bytes_per_s).
#pragma once

#include <cstdint>
#include <string>

namespace roofline {

inline constexpr double kilo = 1e3;
inline constexpr double mega = 1e6;
inline constexpr double giga = 1e9;
inline constexpr double tera = 1e12;
inline constexpr double kibi = 1024.0;
inline constexpr double mebi = 1024.0 * 1024.0;
inline constexpr double gibi = 1024.0 * 1024.0 * 1024.0;

/// A time in seconds printed with an SI prefix, e.g. 4.83e-3 -> "4.83 ms".
std::string format_time_s(double time_s);
/// A byte count printed in decimal units, e.g. 16.06e9 -> "16.06 GB".
std::string format_bytes(double bytes);
/// A rate in FLOP/s printed in TFLOP/s or GFLOP/s, e.g. 9.89e14 -> "989.0 TFLOP/s".
std::string format_flop_per_s(double flop_per_s);
/// A bandwidth printed in TB/s or GB/s, e.g. 3.35e12 -> "3.35 TB/s".
std::string format_bytes_per_s(double bytes_per_s);
/// A count of FLOPs printed with an SI prefix, e.g. 2.1e12 -> "2.10 TFLOP".
std::string format_flops(double flops);

}  // namespace roofline

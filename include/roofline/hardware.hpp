// Hardware registry: GPU specifications as plain data loaded from hw_profiles/*.yaml. Every number
// carries its provenance (datasheet, measured, inferred, ...) and a source; tensor-core peaks are
// stored dense (a datasheet's 2:4-sparse figure is halved and flagged). Capabilities (compute
// capability, mma.sync/wgmma/tcgen05, native FP8/FP4) decide which precision paths run natively.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/precision.hpp"

namespace roofline {

/// Where a number comes from.
enum class Provenance : std::uint8_t {
  datasheet,    ///< vendor datasheet or product page
  whitepaper,   ///< vendor architecture whitepaper or programming guide
  paper,        ///< a published paper
  measured,     ///< our own measurement (validate/data/)
  community,    ///< published third-party measurement
  inferred,     ///< derived from other figures (the derivation is in the source text)
  transferred,  ///< calibrated on another GPU and transferred by spec ratios
  unpublished,  ///< not published; the value is a placeholder the model does not rely on
};
std::string_view to_string(Provenance p);

/// A number with its provenance and source text.
struct Sourced {
  double value = 0;
  Provenance provenance = Provenance::datasheet;
  std::string source;
  bool operator==(const Sourced&) const = default;
};

/// A dense peak rate of one math path; `supported` false when the GPU has no such unit.
struct PeakRate {
  bool supported = false;
  Sourced dense_flop_per_s;    ///< FLOP/s (or OP/s for integers), dense
  bool datasheet_sparse = false;  ///< the source quoted the 2:4-sparse figure; value is that / 2
  bool operator==(const PeakRate&) const = default;
};

enum class Architecture : std::uint8_t { ampere, ada, hopper, blackwell, blackwell_consumer };
std::string_view to_string(Architecture a);

enum class MemoryKind : std::uint8_t { hbm2e, hbm3, hbm3e, lpddr5x, gddr6, gddr7 };
std::string_view to_string(MemoryKind m);

/// What the chip can execute, beyond its peak rates.
struct Capabilities {
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  bool mma_sync = false;     ///< SM80-class warp-level mma.sync tensor instructions
  bool wgmma = false;        ///< Hopper warpgroup MMA (sm_90a only)
  bool tcgen05 = false;      ///< Blackwell datacenter tensor-core generation 5 (sm_100)
  bool tma = false;          ///< bulk tensor copy engine (sm_90+)
  bool native_fp8 = false;   ///< fp8 tensor cores (sm_89+)
  bool native_fp4 = false;   ///< nvfp4/mxfp4 tensor cores (sm_100+, sm_120+)
  bool int4_tensor = false;  ///< int4 tensor cores (sm_80/86)
  bool unified_memory = false;  ///< CPU and GPU share the memory (GB10)
  bool operator==(const Capabilities&) const = default;
};

struct HardwareSpec {
  std::string name;           ///< registry key, e.g. "h100_sxm"
  std::string display_name;   ///< e.g. "NVIDIA H100 SXM5 80GB"
  std::vector<std::string> device_names;  ///< names cudaGetDeviceProperties reports for this GPU
  Architecture architecture = Architecture::hopper;
  Capabilities capabilities;
  MemoryKind memory_kind = MemoryKind::hbm3;
  Sourced memory_capacity_bytes;
  Sourced memory_bandwidth_bytes_per_s;
  std::array<PeakRate, math_path_count> peaks{};  ///< indexed by MathPath
  Sourced sm_count;
  std::optional<Sourced> l2_bytes;          ///< absent when unpublished
  Sourced smem_per_sm_bytes;
  Sourced smem_per_block_bytes;
  std::optional<Sourced> boost_clock_hz;
  Sourced interconnect_bytes_per_s;         ///< GPU-to-GPU (NVLink) per direction, for tensor parallelism
  Sourced power_w;
  std::string file;                          ///< the YAML file it was loaded from
  bool operator==(const HardwareSpec&) const = default;

  const PeakRate& peak(MathPath m) const { return peaks[static_cast<std::size_t>(m)]; }
  /// Dense peak of a math path in FLOP/s; 0 when unsupported.
  double peak_flop_per_s(MathPath m) const { return peak(m).supported ? peak(m).dense_flop_per_s.value : 0.0; }
  double bandwidth_bytes_per_s() const { return memory_bandwidth_bytes_per_s.value; }
  double capacity_bytes() const { return memory_capacity_bytes.value; }
  int sms() const { return int(sm_count.value); }
};
std::ostream& operator<<(std::ostream& os, const HardwareSpec& hw);

/// How a format runs on a GPU.
enum class Support : std::uint8_t {
  native,       ///< a tensor-core path consumes the format directly
  emulated,     ///< stored in the format, dequantised to 16-bit in the kernel's main loop
  unsupported,  ///< cannot run at all
};
std::string_view to_string(Support s);

/// The math path and support level of a matrix product with weights in `weights` and activations in
/// `activations` on `hw`, with the reason in words. Weight-only formats (int4; fp8/nvfp4/mxfp4 with
/// 16-bit activations; any format without a native unit) run on tc_16bit with dequantisation.
struct MatmulPath {
  MathPath math = MathPath::tc_16bit;
  Support support = Support::native;
  std::string reason;
  bool operator==(const MatmulPath&) const = default;
};
MatmulPath matmul_path(const HardwareSpec& hw, Precision weights, Precision activations);

/// Whether `p` can be computed natively, emulated, or not at all on `hw` (as a storage format).
Support format_support(const HardwareSpec& hw, Precision p);

/// Critical arithmetic intensity (FLOP/byte) of a math path: peak / bandwidth
/// (H100 SXM tc_16bit: 989.4e12 / 3.35e12 = 295 FLOP/B).
double critical_intensity(const HardwareSpec& hw, MathPath m);

/// Loads and validates one profile; throws ConfigError naming file:line:column and key path.
HardwareSpec load_hardware_file(const std::filesystem::path& path);

/// The GPUs known to the library: the shipped hw_profiles/ plus user files.
class HardwareRegistry {
 public:
  /// Loads every *.yaml in `dir`; names must be unique.
  static HardwareRegistry load_directory(const std::filesystem::path& dir);
  /// The shipped profiles (data_directory() / "hw_profiles").
  static HardwareRegistry load_default();

  /// Adds a profile from a user file, replacing none: a duplicate name is an error.
  const HardwareSpec& add_file(const std::filesystem::path& path);
  void add(HardwareSpec spec);

  /// The profile named `name`; throws UnknownNameError listing the known names.
  const HardwareSpec& get(std::string_view name) const;
  const HardwareSpec* find(std::string_view name) const;
  /// The profile whose device_names include `device_name` (as the CUDA runtime reports it), or null.
  const HardwareSpec* match_device_name(std::string_view device_name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, HardwareSpec, std::less<>>& all() const { return specs_; }

 private:
  std::map<std::string, HardwareSpec, std::less<>> specs_;
};

/// The directory holding hw_profiles/, models/, strategies/ and calibration/: $ROOFLINE_DATA_DIR if
/// set, else the installed share/roofline if it exists, else the source tree the library was built from.
std::filesystem::path data_directory();

}  // namespace roofline

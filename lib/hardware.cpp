#include "roofline/hardware.hpp"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <set>

#include "detail/yaml_reader.hpp"
#include "roofline/errors.hpp"

namespace roofline {

std::string_view to_string(Provenance p) {
  switch (p) {
    case Provenance::datasheet: return "datasheet";
    case Provenance::whitepaper: return "whitepaper";
    case Provenance::paper: return "paper";
    case Provenance::measured: return "measured";
    case Provenance::community: return "community";
    case Provenance::inferred: return "inferred";
    case Provenance::transferred: return "transferred";
    case Provenance::unpublished: return "unpublished";
  }
  return "?";
}

std::string_view to_string(Architecture a) {
  switch (a) {
    case Architecture::ampere: return "ampere";
    case Architecture::ada: return "ada";
    case Architecture::hopper: return "hopper";
    case Architecture::blackwell: return "blackwell";
    case Architecture::blackwell_consumer: return "blackwell_consumer";
  }
  return "?";
}

std::string_view to_string(MemoryKind m) {
  switch (m) {
    case MemoryKind::hbm2e: return "hbm2e";
    case MemoryKind::hbm3: return "hbm3";
    case MemoryKind::hbm3e: return "hbm3e";
    case MemoryKind::lpddr5x: return "lpddr5x";
    case MemoryKind::gddr6: return "gddr6";
    case MemoryKind::gddr7: return "gddr7";
  }
  return "?";
}

std::string_view to_string(Support s) {
  switch (s) {
    case Support::native: return "native";
    case Support::emulated: return "emulated";
    case Support::unsupported: return "unsupported";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const HardwareSpec& hw) {
  return os << "HardwareSpec{" << hw.name << ", " << to_string(hw.architecture) << " sm_"
            << hw.capabilities.compute_capability_major << hw.capabilities.compute_capability_minor << ", "
            << hw.memory_bandwidth_bytes_per_s.value / 1e12 << " TB/s, tc_16bit "
            << hw.peak_flop_per_s(MathPath::tc_16bit) / 1e12 << " TFLOP/s}";
}

// ---- precision support ----------------------------------------------------------------------------

namespace {
bool is_16bit(Precision p) { return p == Precision::bf16 || p == Precision::fp16; }
bool is_fp8(Precision p) { return p == Precision::fp8_e4m3 || p == Precision::fp8_e5m2; }
bool is_fp4(Precision p) { return p == Precision::nvfp4 || p == Precision::mxfp4; }
std::string sm_name(const HardwareSpec& hw) {
  return "sm_" + std::to_string(hw.capabilities.compute_capability_major) +
         std::to_string(hw.capabilities.compute_capability_minor);
}
}  // namespace

Support format_support(const HardwareSpec& hw, Precision p) {
  const Capabilities& c = hw.capabilities;
  if (p == Precision::fp32 || is_16bit(p)) return Support::native;
  if (is_fp8(p)) return c.native_fp8 ? Support::native : Support::emulated;
  if (p == Precision::int8) return hw.peak(MathPath::tc_int8).supported ? Support::native : Support::emulated;
  if (p == Precision::int4) return Support::emulated;  // weight-only by design (group scales, 16-bit math)
  if (is_fp4(p)) return c.native_fp4 ? Support::native : Support::emulated;
  return Support::unsupported;
}

MatmulPath matmul_path(const HardwareSpec& hw, Precision w, Precision a) {
  auto sm = [&] { return sm_name(hw); };  // only the refusals and fallbacks name it
  if (w == Precision::fp32 && a == Precision::fp32) return {MathPath::simt_fp32, Support::native, "fp32 on CUDA cores"};
  if (is_16bit(a) || a == Precision::fp32) {
    if (is_16bit(w) || w == Precision::fp32) return {MathPath::tc_16bit, Support::native, "16-bit tensor cores"};
    return {MathPath::tc_16bit, Support::emulated,
            std::string(to_string(w)) + " weights with 16-bit activations: weight-only, dequantised to 16-bit in "
                                        "the main loop; the matrix math runs on 16-bit tensor cores"};
  }
  if (is_fp8(a)) {
    if (!hw.capabilities.native_fp8) {
      return {MathPath::tc_16bit, Support::emulated,
              "no fp8 tensor cores on " + sm() + ": fp8 operands are dequantised and multiplied in 16-bit"};
    }
    if (is_fp8(w)) return {MathPath::tc_fp8, Support::native, "fp8 tensor cores (W8A8)"};
    if (is_fp4(w) || w == Precision::int4) {
      return {MathPath::tc_fp8, Support::emulated,
              std::string(to_string(w)) + " weights are dequantised to fp8 in the main loop; fp8 tensor cores"};
    }
    return {MathPath::tc_16bit, Support::emulated, "mixed fp8 activations with 16-bit weights run in 16-bit"};
  }
  if (a == Precision::int8) {
    if (w == Precision::int8 && hw.peak(MathPath::tc_int8).supported)
      return {MathPath::tc_int8, Support::native, "int8 tensor cores (W8A8)"};
    return {MathPath::tc_16bit, Support::emulated, "int8 activations with non-int8 weights run in 16-bit"};
  }
  if (is_fp4(a)) {
    if (is_fp4(w) && hw.capabilities.native_fp4) {
      return {MathPath::tc_fp4, Support::native, "block-scaled fp4 tensor cores (W4A4)"};
    }
    if (hw.capabilities.native_fp8) {
      return {MathPath::tc_fp8, Support::emulated,
              "no fp4 tensor cores on " + sm() + ": fp4 operands are dequantised to fp8 (fp8 tensor cores)"};
    }
    return {MathPath::tc_16bit, Support::emulated,
            "no fp4 or fp8 tensor cores on " + sm() + ": fp4 operands are dequantised to 16-bit"};
  }
  if (a == Precision::int4) {
    if (w == Precision::int4 && hw.capabilities.int4_tensor)
      return {MathPath::tc_int4, Support::native, "int4 tensor cores (W4A4, sm_80/86 only)"};
    return {MathPath::tc_16bit, Support::emulated, "no int4 tensor cores on " + sm() + ": int4 runs as W4A16"};
  }
  return {MathPath::tc_16bit, Support::unsupported, "unsupported combination"};
}

double critical_intensity(const HardwareSpec& hw, MathPath m) {
  return hw.peak_flop_per_s(m) / hw.bandwidth_bytes_per_s();
}

// ---- loading --------------------------------------------------------------------------------------

namespace {
using detail::YamlMap;

constexpr int hardware_schema_version = 1;

Provenance parse_provenance(const YamlMap& m, const std::string& key) {
  static const std::vector<std::string> names = {"datasheet", "whitepaper", "paper",       "measured",
                                                 "community", "inferred",   "transferred", "unpublished"};
  const std::string s = m.choice(key, names);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<Provenance>(i);
  return Provenance::inferred;
}

struct SourceTable {
  std::map<std::string, std::string> texts;
  std::set<std::string> used;
};

std::string resolve_source(const YamlMap& m, SourceTable& sources) {
  const std::string key = m.string("source");
  auto it = sources.texts.find(key);
  if (it == sources.texts.end()) {
    std::string known;
    for (auto& [k, v] : sources.texts) known += (known.empty() ? "" : ", ") + k;
    m.fail("source", "'" + key + "' is not a key of the top-level 'sources' map (known: " + known + ")");
  }
  sources.used.insert(key);
  return it->second;
}

// {value: V, provenance: P, source: S}; with allow_unpublished, {provenance: unpublished, source: S}
// (no value) yields nullopt.
std::optional<Sourced> read_sourced(const YamlMap& parent, const std::string& key, SourceTable& sources,
                                    bool allow_unpublished, bool integer_valued) {
  const YamlMap m = parent.map(key);
  m.allow_only({"value", "provenance", "source"});
  const Provenance p = parse_provenance(m, "provenance");
  const std::string source = resolve_source(m, sources);
  if (p == Provenance::unpublished) {
    if (!allow_unpublished) m.fail("provenance", "this number is required: 'unpublished' is not allowed here");
    if (m.has("value")) m.fail("value", "an unpublished number has no value");
    return std::nullopt;
  }
  const double v = integer_valued ? double(m.positive_integer("value")) : m.positive("value");
  return Sourced{v, p, source};
}

Sourced required_sourced(const YamlMap& parent, const std::string& key, SourceTable& sources, bool integer_valued = false) {
  return *read_sourced(parent, key, sources, false, integer_valued);
}

PeakRate read_peak(const YamlMap& compute, const std::string& key, SourceTable& sources) {
  const YamlMap m = compute.map(key);
  if (m.has("supported")) {
    m.allow_only({"supported", "source"});
    if (m.boolean("supported")) m.fail("supported", "write the peak as {flop_per_s, sparsity, provenance, source} instead");
    resolve_source(m, sources);
    return PeakRate{};
  }
  m.allow_only({"flop_per_s", "sparsity", "provenance", "source"});
  const double v = m.positive("flop_per_s");
  const bool sparse = m.choice("sparsity", {"dense", "sparse"}) == "sparse";
  const Provenance p = parse_provenance(m, "provenance");
  if (p == Provenance::unpublished) m.fail("provenance", "a peak needs a value; write {supported: false} if there is none");
  PeakRate r;
  r.supported = true;
  r.datasheet_sparse = sparse;
  r.dense_flop_per_s = Sourced{sparse ? v / 2 : v, p, resolve_source(m, sources)};
  return r;
}

void parse_compute_capability(const YamlMap& caps, Capabilities& c) {
  const std::string s = caps.string("compute_capability");
  const auto dot = s.find('.');
  bool ok = dot != std::string::npos && dot > 0 && dot + 1 < s.size();
  if (ok) {
    for (std::size_t i = 0; i < s.size(); ++i)
      if (i != dot && !std::isdigit(static_cast<unsigned char>(s[i]))) ok = false;
  }
  if (!ok) caps.fail("compute_capability", "must look like \"9.0\", got '" + s + "'");
  c.compute_capability_major = std::stoi(s.substr(0, dot));
  c.compute_capability_minor = std::stoi(s.substr(dot + 1));
}

HardwareSpec parse_hardware(const YAML::Node& doc, const std::string& file) {
  const YamlMap root = detail::root_map(doc, file);
  root.allow_only({"schema_version", "name", "display_name", "device_names", "architecture", "sources", "capabilities",
                   "memory", "compute", "chip", "interconnect"});
  const std::int64_t version = root.integer("schema_version");
  if (version != hardware_schema_version)
    root.fail("schema_version", "unsupported schema version " + std::to_string(version) + " (this library reads 1)");

  HardwareSpec hw;
  hw.file = file;
  hw.name = root.string("name");
  hw.display_name = root.string("display_name");
  hw.device_names = root.string_list("device_names");
  const std::string arch =
      root.choice("architecture", {"ampere", "ada", "hopper", "blackwell", "blackwell_consumer"});
  for (Architecture a : {Architecture::ampere, Architecture::ada, Architecture::hopper, Architecture::blackwell,
                         Architecture::blackwell_consumer})
    if (to_string(a) == arch) hw.architecture = a;

  SourceTable sources;
  const YamlMap src = root.map("sources");
  for (auto it = src.node().begin(); it != src.node().end(); ++it) {
    const std::string key = it->first.as<std::string>();
    sources.texts[key] = src.string(key);
  }

  const YamlMap caps = root.map("capabilities");
  caps.allow_only({"compute_capability", "mma_sync", "wgmma", "tcgen05", "tma", "native_fp8", "native_fp4",
                   "int4_tensor", "unified_memory"});
  Capabilities& c = hw.capabilities;
  parse_compute_capability(caps, c);
  c.mma_sync = caps.boolean("mma_sync");
  c.wgmma = caps.boolean("wgmma");
  c.tcgen05 = caps.boolean("tcgen05");
  c.tma = caps.boolean("tma");
  c.native_fp8 = caps.boolean("native_fp8");
  c.native_fp4 = caps.boolean("native_fp4");
  c.int4_tensor = caps.boolean("int4_tensor");
  c.unified_memory = caps.boolean("unified_memory");
  // Cross-checks against the compute capability (PTX ISA: wgmma is sm_90a only; fp8 MMA needs sm_89+).
  const int cc = c.compute_capability_major * 10 + c.compute_capability_minor;
  if (c.wgmma && c.compute_capability_major != 9) caps.fail("wgmma", "wgmma exists only on compute capability 9.x");
  if (c.tcgen05 && c.compute_capability_major != 10 && c.compute_capability_major != 11)
    caps.fail("tcgen05", "tcgen05 exists only on compute capability 10.x/11.x");
  if (c.native_fp8 && cc < 89) caps.fail("native_fp8", "fp8 tensor cores need compute capability >= 8.9");
  if (c.native_fp4 && cc < 100) caps.fail("native_fp4", "fp4 tensor cores need compute capability >= 10.0");

  const YamlMap mem = root.map("memory");
  mem.allow_only({"kind", "capacity_bytes", "bandwidth_bytes_per_s"});
  const std::string kind = mem.choice("kind", {"hbm2e", "hbm3", "hbm3e", "lpddr5x", "gddr6", "gddr7"});
  for (MemoryKind k : {MemoryKind::hbm2e, MemoryKind::hbm3, MemoryKind::hbm3e, MemoryKind::lpddr5x, MemoryKind::gddr6,
                       MemoryKind::gddr7})
    if (to_string(k) == kind) hw.memory_kind = k;
  hw.memory_capacity_bytes = required_sourced(mem, "capacity_bytes", sources);
  hw.memory_bandwidth_bytes_per_s = required_sourced(mem, "bandwidth_bytes_per_s", sources);

  const YamlMap compute = root.map("compute");
  std::set<std::string> path_names;
  for (std::size_t i = 0; i < math_path_count; ++i) path_names.insert(std::string(to_string(MathPath(i))));
  compute.allow_only(path_names);
  for (std::size_t i = 0; i < math_path_count; ++i) {
    const std::string key(to_string(MathPath(i)));
    hw.peaks[i] = read_peak(compute, key, sources);
  }
  if (!hw.peak(MathPath::tc_16bit).supported) compute.fail("tc_16bit", "every supported GPU has 16-bit tensor cores");
  if (hw.peak(MathPath::tc_fp8).supported != c.native_fp8)
    compute.fail("tc_fp8", "must be given exactly when capabilities.native_fp8 is true");
  if (hw.peak(MathPath::tc_fp4).supported != c.native_fp4)
    compute.fail("tc_fp4", "must be given exactly when capabilities.native_fp4 is true");
  if (hw.peak(MathPath::tc_int4).supported != c.int4_tensor)
    compute.fail("tc_int4", "must be given exactly when capabilities.int4_tensor is true");

  const YamlMap chip = root.map("chip");
  chip.allow_only({"sm_count", "l2_bytes", "smem_per_sm_bytes", "smem_per_block_bytes", "boost_clock_hz", "power_w"});
  hw.sm_count = required_sourced(chip, "sm_count", sources, true);
  hw.l2_bytes = read_sourced(chip, "l2_bytes", sources, true, true);
  hw.smem_per_sm_bytes = required_sourced(chip, "smem_per_sm_bytes", sources, true);
  hw.smem_per_block_bytes = required_sourced(chip, "smem_per_block_bytes", sources, true);
  hw.boost_clock_hz = read_sourced(chip, "boost_clock_hz", sources, true, false);
  hw.power_w = required_sourced(chip, "power_w", sources);
  if (hw.smem_per_block_bytes.value > hw.smem_per_sm_bytes.value)
    chip.fail("smem_per_block_bytes", "exceeds smem_per_sm_bytes");

  const YamlMap ic = root.map("interconnect");
  ic.allow_only({"bytes_per_s"});
  hw.interconnect_bytes_per_s = required_sourced(ic, "bytes_per_s", sources);

  for (auto& [key, text] : sources.texts) {
    if (!sources.used.count(key)) src.fail(key, "source is never referenced");
  }
  return hw;
}
}  // namespace

HardwareSpec load_hardware_file(const std::filesystem::path& path) {
  return parse_hardware(detail::load_yaml_file(path), path.string());
}

std::filesystem::path data_directory() {
  if (const char* env = std::getenv("ROOFLINE_DATA_DIR"); env && *env) return env;
  const std::filesystem::path installed = ROOFLINE_INSTALL_DATA_DIR;
  std::error_code ec;
  if (std::filesystem::exists(installed / "hw_profiles", ec)) return installed;
  return ROOFLINE_SOURCE_DATA_DIR;
}

HardwareRegistry HardwareRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ConfigError({dir.string(), 0, 0}, "", "hardware profile directory not found");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  HardwareRegistry r;
  for (const auto& f : files) r.add_file(f);
  return r;
}

HardwareRegistry HardwareRegistry::load_default() { return load_directory(data_directory() / "hw_profiles"); }

const HardwareSpec& HardwareRegistry::add_file(const std::filesystem::path& path) {
  HardwareSpec spec = load_hardware_file(path);
  const std::string name = spec.name;
  if (specs_.count(name)) {
    throw ConfigError({path.string(), 0, 0}, "name",
                      "GPU name '" + name + "' is already defined by " + specs_.at(name).file);
  }
  return specs_.emplace(name, std::move(spec)).first->second;
}

void HardwareRegistry::add(HardwareSpec spec) {
  if (specs_.count(spec.name)) throw InvalidArgumentError("GPU name '" + spec.name + "' is already defined");
  std::string name = spec.name;
  specs_.emplace(std::move(name), std::move(spec));
}

const HardwareSpec* HardwareRegistry::find(std::string_view name) const {
  auto it = specs_.find(name);
  return it == specs_.end() ? nullptr : &it->second;
}

const HardwareSpec& HardwareRegistry::get(std::string_view name) const {
  if (const HardwareSpec* s = find(name)) return *s;
  throw UnknownNameError("GPU", std::string(name), names());
}

const HardwareSpec* HardwareRegistry::match_device_name(std::string_view device_name) const {
  for (const auto& [name, spec] : specs_)
    for (const std::string& d : spec.device_names)
      if (d == device_name) return &spec;
  return nullptr;
}

std::vector<std::string> HardwareRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, spec] : specs_) out.push_back(name);
  return out;
}

}  // namespace roofline

// Suite "elementwise": fixed costs and bandwidth of the small kernels of a transformer step (rmsnorm, rope,
// silu_mul, add, kv_write, quantize_fp8, embedding; bf16) over rows ∈ {1 … 32768} and the shipped models'
// hidden / FFN / KV widths. Each kind is first checked against its CPU reference.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>

#include "microbench/elementwise.hpp"
#include "microbench/fill.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "runner/model_shapes.hpp"
#include "runner/runner.hpp"

namespace roofline::validate::runner {

using nlohmann::json;
using namespace microbench;

namespace {

constexpr int kMaxRotations = 256;  // calls per captured graph; tiny inputs are then L2-warm (recorded)

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

struct Plan {
  ElementwiseKind kind;
  std::int64_t rows, cols, vocab;
};

std::vector<std::int64_t> cols_for(ElementwiseKind k, const ModelShapes& m) {
  std::set<std::int64_t> c;
  switch (k) {
    case ElementwiseKind::rmsnorm:
    case ElementwiseKind::rope:
    case ElementwiseKind::add:
    case ElementwiseKind::embedding: c = m.hidden; break;
    case ElementwiseKind::silu_mul: c = m.ffn; break;
    case ElementwiseKind::kv_write: c = m.kv_width; break;
    case ElementwiseKind::quantize_fp8:
      c = m.hidden;
      c.insert(m.ffn.begin(), m.ffn.end());
      break;
  }
  return {c.begin(), c.end()};
}

// One rotation's buffers inside an arena.
struct Layout {
  std::size_t x = 0, y = 0, out = 0, slots = 0, ids = 0, stride = 0;
  std::int64_t cache_rows = 0;
};

Layout layout_for(ElementwiseKind kind, std::int64_t rows, std::int64_t cols) {
  Layout l;
  const std::size_t e = static_cast<std::size_t>(rows * cols);
  l.cache_rows = 2 * rows;
  std::size_t off = 0;
  l.x = off;
  off += align256(e * 2);
  l.y = off;
  off += align256((kind == ElementwiseKind::rmsnorm ? static_cast<std::size_t>(cols) : e) * 2);
  l.out = off;
  off += align256(kind == ElementwiseKind::kv_write       ? static_cast<std::size_t>(l.cache_rows * cols) * 2
                  : kind == ElementwiseKind::quantize_fp8 ? e
                                                          : e * 2);
  l.slots = off;
  off += align256(static_cast<std::size_t>(rows) * 8);
  l.ids = off;
  off += align256(static_cast<std::size_t>(rows) * 4);
  l.stride = off;
  return l;
}

}  // namespace

void run_elementwise_suite(Runner& r) {
  const Scale scale = r.options().scale;
  ModelShapes shapes;
  std::vector<std::int64_t> row_list = {1, 8, 32, 128, 512, 2048, 8192, 32768};
  if (scale == Scale::quick) row_list = {1, 32, 2048};
  if (scale == Scale::smoke) row_list = {1, 8};
  std::vector<Plan> plan;
  try {
    shapes = load_model_shapes(scale == Scale::full ? std::vector<std::string>{} : std::vector<std::string>{"llama3-8b"});
  } catch (const std::exception& e) {
    r.begin_suite("elementwise", 1);
    r.write_error("model_shapes", json{{"op", "elementwise"}, {"kind", "add"}, {"rows", 1}, {"cols", 8}, {"dtype", "bf16"}},
                  std::string("cannot load the shipped models: ") + e.what());
    r.end_suite();
    return;
  }
  // ROOFLINE_VALIDATE_ELEMENTWISE_ONLY=KIND[:COLS] restricts the plan (to rerun one case, e.g. under
  // compute-sanitizer); unset: every kind and width.
  const char* only_env = std::getenv("ROOFLINE_VALIDATE_ELEMENTWISE_ONLY");
  const std::string only = only_env ? only_env : "";
  const std::string only_kind = only.substr(0, only.find(':'));
  const std::int64_t only_cols = only.find(':') == std::string::npos ? 0 : std::stoll(only.substr(only.find(':') + 1));
  for (const ElementwiseKind kind : all_elementwise_kinds()) {
    if (!only_kind.empty() && only_kind != elementwise_kind_name(kind)) continue;
    for (const std::int64_t cols : cols_for(kind, shapes)) {
      if (only_cols > 0 && cols != only_cols) continue;
      for (const std::int64_t rows : row_list) {
        const std::int64_t vocab = kind == ElementwiseKind::embedding ? shapes.vocab_for_hidden[cols] : 0;
        if (kind == ElementwiseKind::embedding && vocab == 0) continue;
        plan.push_back({kind, rows, cols, vocab});
      }
    }
  }
  r.begin_suite("elementwise", static_cast<int>(plan.size()));
  const std::int64_t l2 = r.device().l2_bytes;

  // Correctness first: one check per kind against its CPU reference (NaN-poisoned outputs).
  std::map<ElementwiseKind, std::string> broken;
  std::map<ElementwiseKind, double> check_error;
  for (const ElementwiseKind kind : all_elementwise_kinds()) {
    try {
      Stream s;
      const double err = check_elementwise(kind, 7, 512, s.get());
      const double tolerance = kind == ElementwiseKind::quantize_fp8 ? 0.07 : 0.02;
      check_error[kind] = err;
      if (!(err <= tolerance)) {
        broken[kind] = "CPU reference check failed: max error " + std::to_string(err) + " > " + std::to_string(tolerance);
      }
    } catch (const std::exception& e) {
      broken[kind] = std::string("CPU reference check could not run: ") + e.what();
      cudaGetLastError();
    }
  }

  std::mt19937_64 rng(20261122);
  for (const Plan& p : plan) {
    const char* name = elementwise_kind_name(p.kind);
    const json workload = {{"op", "elementwise"}, {"kind", name}, {"rows", p.rows}, {"cols", p.cols}, {"dtype", "bf16"}};
    const std::string label = std::string(name) + "_bf16";
    if (broken.count(p.kind) != 0) {
      r.write_error(label, workload, broken[p.kind]);
      continue;
    }
    const double set_bytes = elementwise_bytes(p.kind, p.rows, p.cols);
    const int rotations = std::min(rotations_for(static_cast<std::int64_t>(set_bytes), l2),
                                   scale == Scale::smoke ? 4 : kMaxRotations);
    const Layout lay = layout_for(p.kind, p.rows, p.cols);
    const double table_bytes = static_cast<double>(p.vocab) * p.cols * 2;
    if (static_cast<double>(lay.stride) * rotations + table_bytes > 0.4 * static_cast<double>(r.device().memory_bytes)) {
      r.skip(label + " " + describe_workload(workload) + ": needs more than 40% of device memory");
      continue;
    }
    DeviceBuffer arena, table, scale_buf;
    const bool ready = r.guard(label, workload, [&] {
      arena = DeviceBuffer(lay.stride * rotations);
      scale_buf = DeviceBuffer(sizeof(float));
      Stream s;
      fill_random(arena.get(), arena.bytes() / 2, DType::bf16, rng(), -2.0, 2.0, s.get());
      const float host_scale = 2.0f / 448.0f;
      ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(scale_buf.get(), &host_scale, sizeof host_scale, cudaMemcpyHostToDevice, s.get()));
      if (p.kind == ElementwiseKind::embedding) {
        table = DeviceBuffer(static_cast<std::size_t>(table_bytes));
        fill_random(table.get(), static_cast<std::size_t>(p.vocab * p.cols), DType::bf16, rng(), -1.0, 1.0, s.get());
      }
      ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s.get()));  // the fills must land before the slot/id copies
      // Cache slots: a random choice of distinct rows of a cache twice as long; token ids uniform over the vocabulary.
      std::vector<std::int64_t> all(static_cast<std::size_t>(lay.cache_rows));
      for (std::int64_t i = 0; i < lay.cache_rows; ++i) all[static_cast<std::size_t>(i)] = i;
      std::vector<std::int32_t> ids(static_cast<std::size_t>(p.rows));
      for (int rot = 0; rot < rotations; ++rot) {
        auto* base = static_cast<unsigned char*>(arena.get()) + lay.stride * rot;
        if (p.kind == ElementwiseKind::kv_write) {
          std::shuffle(all.begin(), all.end(), rng);
          ROOFLINE_CUDA_CHECK(cudaMemcpy(base + lay.slots, all.data(), static_cast<std::size_t>(p.rows) * 8, cudaMemcpyHostToDevice));
        }
        if (p.kind == ElementwiseKind::embedding) {
          for (auto& id : ids) id = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(p.vocab));
          ROOFLINE_CUDA_CHECK(cudaMemcpy(base + lay.ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
        }
      }
      // A pageable-memory cudaMemcpy may return before its DMA lands, and the timing streams are non-blocking
      // (no implicit order with the legacy stream): without this, a single-rotation case (embedding 32768 x 3584)
      // gathered with not-yet-written token ids and faulted on H100 and H200. Wait for every copy.
      ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());
    });
    if (!ready) continue;

    Case c;
    c.label = label;
    c.workload = workload;
    auto* arena_base = static_cast<unsigned char*>(arena.get());
    const void* table_ptr = table.get();
    const float* scale_ptr = scale_buf.as<float>();
    const ElementwiseKind kind = p.kind;
    const std::int64_t rows = p.rows, cols = p.cols;
    c.launch = [=](cudaStream_t s, int rot) {
      unsigned char* base = arena_base + lay.stride * static_cast<std::size_t>(rot);
      ElementwiseArgs a;
      a.rows = rows;
      a.cols = cols;
      a.x = base + lay.x;
      a.y_in = base + lay.y;
      a.out = kind == ElementwiseKind::rope ? static_cast<void*>(base + lay.x) : static_cast<void*>(base + lay.out);
      a.slots = reinterpret_cast<const std::int64_t*>(base + lay.slots);
      a.ids = reinterpret_cast<const std::int32_t*>(base + lay.ids);
      a.table = table_ptr;
      a.scale = scale_ptr;
      launch_elementwise(kind, a, s);
    };
    c.timing.rotations = rotations;
    c.timing.calls_per_replay = rotations;
    c.timing.warmup = 3;
    c.timing.repetitions = scale == Scale::smoke ? 3 : 30;
    c.timing.max_time_s = 0.1;
    c.l2 = l2_state_for(static_cast<std::int64_t>(set_bytes), rotations, l2);
    c.kernels_per_call = 1;
    c.bytes = set_bytes;
    c.extra = {{"rotations", rotations}, {"cpu_check_max_error", check_error[p.kind]}, {"cpu_check_shape", "7x512"}};
    if (p.kind == ElementwiseKind::embedding) c.extra["vocab"] = p.vocab;
    if (p.kind == ElementwiseKind::rope) {
      c.extra["head_dim"] = 128;
      c.extra["note"] = "in place, cos/sin computed in the kernel (no cache read), position = row";
    }
    if (p.kind == ElementwiseKind::kv_write) c.extra["cache_rows"] = lay.cache_rows;
    r.measure(c);
  }
  r.end_suite();
}

}  // namespace roofline::validate::runner

// Charts: SVG structure (well-formed XML, axes and tick labels, one marker and one label per operator,
// ceilings per math path at the right height), measured ceilings from records worked out by hand, label
// placement without overlaps, and each chart rendered to PNG by rsvg-convert (librsvg) and inspected.
#include <doctest/doctest.h>

#include "relative_approx.hpp"
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "detail/svg.hpp"
#include "roofline/calibration.hpp"
#include "roofline/charts.hpp"
#include "roofline/io.hpp"
#include "test_support.hpp"
#include "xml_lite.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;
using xml_lite::Element;

namespace {

const PrecisionAssignment kBf16 = PrecisionAssignment::uniform(Precision::bf16, Precision::bf16, Precision::bf16);

StepPrediction step(const std::string& gpu, Phase phase, std::int64_t batch, std::int64_t seq,
                    const std::string& model = "llama3-8b", PrecisionAssignment precision = kBf16) {
  const HardwareSpec& hw = hardware().get(gpu);
  const StepConfig c{.phase = phase, .batch = batch, .seq_len = seq, .precision = std::move(precision)};
  return predict_step(models().get(model), c, hw, Calibration::priors(hw));
}

xml_lite::Document parse_ok(const std::string& svg) {
  xml_lite::Document d = xml_lite::parse(svg);
  INFO(d.error);
  REQUIRE(d.ok);
  return d;
}

double num(const Element& e, const char* key) { return std::stod(e.attr_or(key, "nan")); }

std::vector<std::string> texts(const Element& root, std::string_view cls) {
  std::vector<std::string> out;
  for (const Element* e : xml_lite::with_class(root, cls)) out.push_back(e->all_text());
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Pixel height of a y tick label's decade: tick labels sit 4 px below their tick (baseline offset).
double tick_y(const Element& root, const std::string& label) {
  for (const Element* e : xml_lite::with_class(root, "tick-label"))
    if (e->has_class("y") && e->all_text() == label) return num(*e, "y") - 4;
  FAIL("no y tick labelled " << label);
  return 0;
}
double tick_x(const Element& root, const std::string& label) {
  for (const Element* e : xml_lite::with_class(root, "tick-label"))
    if (e->has_class("x") && e->all_text() == label) return num(*e, "x");
  FAIL("no x tick labelled " << label);
  return 0;
}

// The label box the chart reserved for a point label: text width + 2 by 14 px, baseline at 78% of it.
detail::Box label_box(const Element& t) {
  const double w = detail::text_width_px(t.all_text(), 11) + 2, h = 14;
  const std::string anchor = t.attr_or("text-anchor", "start");
  const double x = num(t, "x"), y = num(t, "y");
  detail::Box b{0, y - h * 0.78, w, h};
  b.x = anchor == "start" ? x - 1 : anchor == "end" ? x + 1 - w : x - w / 2;
  return b;
}

bool have(const char* program) {
  return std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) == 0;
}

std::string run(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

std::filesystem::path scratch(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(ROOFLINE_BINARY_DIR) / "test_charts";
  std::filesystem::create_directories(dir);
  return dir / name;
}

// Renders `svg` with rsvg-convert and returns png_stats.py's report (colours counted within a small
// distance), or null when rsvg-convert or python3 is missing.
nlohmann::json render(const std::string& svg, const std::string& name, const std::vector<std::string>& colours = {}) {
  if (!have("rsvg-convert") || !have("python3")) {
    MESSAGE("rsvg-convert or python3 not found: PNG rendering not checked (scripts/install-deps.sh installs them)");
    return nullptr;
  }
  const auto svg_file = scratch(name + ".svg"), png_file = scratch(name + ".png");
  write_file_atomically(svg_file, svg);
  std::filesystem::remove(png_file);
  const std::string cmd = "rsvg-convert -o '" + png_file.string() + "' '" + svg_file.string() + "' 2>&1";
  const std::string err = run(cmd);
  INFO(err);
  REQUIRE(std::filesystem::exists(png_file));
  std::string stats = "python3 '" + (test::source_dir() / "tests" / "png_stats.py").string() + "' '" + png_file.string() + "'";
  for (const std::string& c : colours) stats += " '" + c + "'";
  return nlohmann::json::parse(run(stats));
}

RooflineChart h100_chart() {
  const HardwareSpec& hw = hardware().get("h100_sxm");
  RooflineChart c = roofline_chart(hw, "Llama-3-8B on H100");
  add_step(c, step("h100_sxm", Phase::decode, 8, 4096), Phase::decode);
  add_step(c, step("h100_sxm", Phase::prefill, 1, 4096), Phase::prefill);
  return c;
}

}  // namespace

// ---- helpers --------------------------------------------------------------------------------------

TEST_CASE("svg helpers: escaping, numbers, decades, ticks, text widths") {
  CHECK(detail::xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(detail::px(12.0) == "12");
  CHECK(detail::px(12.54) == "12.5");
  CHECK(detail::px(-0.01) == "0");
  CHECK(detail::decade_label(0) == "1");
  CHECK(detail::decade_label(3) == "1000");
  CHECK(detail::decade_label(4) == "10000");
  CHECK(detail::decade_label(-2) == "0.01");
  CHECK(detail::decade_label(-3) == "0.001");
  CHECK(detail::decade_label(5) == "10⁵");
  CHECK(detail::decade_label(-4) == "10⁻⁴");
  CHECK(detail::short_number(989.5e12 / 1e12) == "990");  // 3 significant digits, round half to even
  CHECK(detail::short_number(3.35) == "3.35");
  CHECK(detail::short_number(0.0432) == "0.0432");
  CHECK(detail::short_number(1979) == "1979");
  CHECK(detail::nice_ticks(8.54) == std::vector<double>{0, 2, 4, 6, 8, 10});  // raw step 1.7 -> 2
  CHECK(detail::nice_ticks(85.52) == std::vector<double>{0, 20, 40, 60, 80, 100});
  CHECK(detail::decade_range(0.16, 1792) == std::pair<int, int>{-1, 4});
  CHECK(detail::decade_range(1e-3, 1e3) == std::pair<int, int>{-3, 3});  // exact powers stay on their decade
  // DejaVu Sans: every digit advances 1303/2048 em; at 100 px ten digits are 636.2 px.
  CHECK(detail::text_width_px("0123456789", 100) == ROOFLINE_APPROX(636.23).epsilon(1e-3));
  // "µs": one 2-byte UTF-8 code point (0.65 em) + 's' (1067/2048 em) at 20 px = 13 + 10.42.
  CHECK(detail::text_width_px("µs", 20) == ROOFLINE_APPROX(23.42).epsilon(1e-3));
}

TEST_CASE("the estimated text width matches what librsvg draws with DejaVu Sans") {
  if (!have("fc-match") || run("fc-match 'DejaVu Sans'").find("DejaVuSans") == std::string::npos) {
    MESSAGE("DejaVu Sans not installed: text-width estimate not checked against a rendering");
    return;
  }
  const std::string text = "ffn_gate, ffn_up, attention projections 0.01 TFLOP/s";
  const std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"3000\" height=\"150\" font-family=\"DejaVu Sans\">"
      "<rect width=\"3000\" height=\"150\" fill=\"#ffffff\"/><text x=\"0\" y=\"110\" font-size=\"50\">" +
      text + "</text></svg>";
  const nlohmann::json s = render(svg, "text_width");
  if (s.is_null()) return;
  const double drawn = s["ink_box"][2].get<double>() - s["ink_box"][0].get<double>();
  // Ink excludes the side bearings of the first and last glyph: a few pixels less than the advance sum.
  CHECK(drawn == ROOFLINE_APPROX(detail::text_width_px(text, 50)).epsilon(0.03));
}

TEST_CASE("the label placer keeps labels apart and off obstacles") {
  detail::LabelPlacer placer({0, 0, 400, 300});
  const detail::Box legend{0, 0, 120, 60};
  placer.add_obstacle(legend);
  std::vector<detail::Box> boxes;
  // Six points on top of each other in the middle: six labels that must all find free places.
  for (int i = 0; i < 6; ++i) {
    placer.add_obstacle({200 - 5.5 + i, 150 - 5.5, 11, 11});
    boxes.push_back(placer.place(200 + i, 150, 5, 70, 14).box);
  }
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    CHECK(detail::Box{0, 0, 400, 300}.contains(boxes[i]));
    CHECK(detail::overlap_area(boxes[i], legend) == 0);
    for (std::size_t j = i + 1; j < boxes.size(); ++j) CHECK(detail::overlap_area(boxes[i], boxes[j]) == 0);
  }
  // The first label takes the preferred spot: right of the marker, 3 px beyond its radius.
  CHECK(boxes[0].x == ROOFLINE_APPROX(208));
  CHECK(boxes[0].y == ROOFLINE_APPROX(143));
}

// ---- roofline chart -------------------------------------------------------------------------------

TEST_CASE("the roofline chart has one ceiling per math path the GPU has, at the datasheet height") {
  for (const auto& [name, hw] : hardware().all()) {
    CAPTURE(name);
    const RooflineChart c = roofline_chart(hw);
    std::set<MathPath> paths;
    for (const RooflineCeiling& r : c.ceilings) {
      paths.insert(r.math);
      CHECK_FALSE(r.measured);
      CHECK(r.flop_per_s == hw.peak_flop_per_s(r.math));
    }
    for (std::size_t i = 0; i < math_path_count; ++i) CHECK(paths.count(MathPath(i)) == (hw.peak_flop_per_s(MathPath(i)) > 0 ? 1u : 0u));
    REQUIRE(c.memory_roofs.size() == 1);
    CHECK(c.memory_roofs[0].bytes_per_s == hw.bandwidth_bytes_per_s());
  }
  // The shipped profiles differ as the datasheets do: no fp8 on the A100, int4 only there, fp4 on the B200.
  auto has = [](const char* gpu, MathPath m) {
    for (const RooflineCeiling& r : roofline_chart(hardware().get(gpu)).ceilings)
      if (r.math == m) return true;
    return false;
  };
  CHECK_FALSE(has("a100_sxm_80gb", MathPath::tc_fp8));
  CHECK(has("a100_sxm_80gb", MathPath::tc_int4));
  CHECK_FALSE(has("h100_sxm", MathPath::tc_int4));
  CHECK_FALSE(has("h100_sxm", MathPath::tc_fp4));
  CHECK(has("b200", MathPath::tc_fp4));
}

TEST_CASE("add_step places every operator with FLOPs at (FLOPs / bytes, FLOPs / time) and notes the others") {
  const StepPrediction d = step("h100_sxm", Phase::decode, 8, 4096);
  RooflineChart c = roofline_chart(hardware().get("h100_sxm"));
  add_step(c, d, Phase::decode);
  std::size_t expected = 0;
  std::set<std::string> without_flops;
  for (const OpPrediction& o : d.ops) {
    if (o.prediction.flops > 0) ++expected;
    else without_flops.insert(std::string(to_string(o.op.type)));
  }
  CHECK(without_flops == std::set<std::string>{"embeddings", "kv_cache"});
  REQUIRE(c.points.size() == expected);
  std::size_t i = 0;
  for (const OpPrediction& o : d.ops) {
    if (!(o.prediction.flops > 0)) continue;
    const RooflinePoint& p = c.points[i++];
    CHECK(p.label == std::string(to_string(o.op.type)));  // one row per type position: the short name
    CHECK(p.math == o.op.math);
    CHECK(p.intensity_flop_per_byte == ROOFLINE_APPROX(o.op.flops / o.op.bytes.total()));
    CHECK(p.flop_per_s == ROOFLINE_APPROX(o.op.flops / o.prediction.time_s));
    CHECK(p.flop_per_s <= hardware().get("h100_sxm").peak_flop_per_s(o.op.math));  // never above its ceiling
  }
  REQUIRE(c.notes.size() == 1);
  CHECK(c.notes[0] == "Not drawn (decode, no FLOPs to place on log axes): embeddings, kv_cache.");
  add_step(c, step("h100_sxm", Phase::prefill, 1, 4096), Phase::prefill);
  REQUIRE(c.notes.size() == 1);  // the same operators in both phases: one note
  CHECK(c.notes[0] == "Not drawn (decode and prefill, no FLOPs to place on log axes): embeddings, kv_cache.");
}

TEST_CASE("layer bands at different positions keep their layer ranges as labels") {
  PrecisionAssignment a = kBf16;
  a.name = "banded";
  PrecisionAssignment::LayerBand band;
  band.first_layer = 16;
  band.last_layer = 31;
  band.by_op = a.by_op;
  band.by_op[static_cast<std::size_t>(OperatorType::FFN_UP)] = {Precision::fp8_e4m3, Precision::fp8_e4m3};
  a.bands.push_back(band);
  RooflineChart c = roofline_chart(hardware().get("h100_sxm"));
  add_step(c, step("h100_sxm", Phase::decode, 8, 4096, "llama3-8b", a), Phase::decode);
  std::set<std::string> labels;
  for (const RooflinePoint& p : c.points) labels.insert(p.label);
  CHECK(labels.count("ffn_up[0-15]") == 1);
  CHECK(labels.count("ffn_up[16-31]") == 1);
  CHECK(labels.count("ffn_gate") == 1);  // unbanded: one position, short name
}

TEST_CASE("the roofline SVG: well-formed, axes with units, a marker and a label for every operator") {
  const RooflineChart chart = h100_chart();
  const std::string svg = render_svg(chart);
  const xml_lite::Document doc = parse_ok(svg);
  const Element& root = doc.root;
  CHECK(root.name == "svg");
  CHECK(root.attr_or("width") == "1000");
  CHECK(root.attr_or("height") == "640");

  // Axes: titles with units, decade ticks.
  CHECK(contains(texts(root, "axis-title"), "arithmetic intensity (FLOP/byte)"));
  CHECK(contains(texts(root, "axis-title"), "attained performance (TFLOP/s)"));
  const std::vector<std::string> ticks = texts(root, "tick-label");
  for (const char* t : {"0.1", "1", "10", "100", "1000", "10000", "0.01"}) CHECK(contains(ticks, t));

  // One marker per point, with its phase, its math path and its label.
  const auto markers = xml_lite::with_class(root, "point");
  REQUIRE(markers.size() == chart.points.size());
  std::map<std::string, int> by_phase;
  for (const Element* m : markers) {
    by_phase[m->has_class("decode") ? "decode" : "prefill"]++;
    CHECK(m->name == (m->has_class("decode") ? "circle" : "rect"));  // decode circles, prefill squares
  }
  int decode_points = 0;
  for (const RooflinePoint& p : chart.points) decode_points += p.phase == Phase::decode;
  CHECK(by_phase["decode"] == decode_points);
  CHECK(by_phase["prefill"] == int(chart.points.size()) - decode_points);

  // Every operator's name appears in a label of its phase (co-located operators share one label).
  std::map<std::string, std::set<std::string>> labelled;
  for (const Element* t : xml_lite::with_class(root, "point-label")) {
    std::string s = t->all_text();
    for (std::size_t i = 0; i <= s.size();) {
      std::size_t j = s.find(", ", i);
      if (j == std::string::npos) j = s.size();
      labelled[t->attr_or("data-phase")].insert(s.substr(i, j - i));
      i = j + 2;
    }
  }
  for (const RooflinePoint& p : chart.points) {
    CAPTURE(p.label);
    CHECK(labelled[std::string(to_string(p.phase))].count(p.label) == 1);
  }

  // The legend names both markers and every math path drawn.
  const std::vector<std::string> legend = texts(root, "legend-entry");
  for (const char* e : {"decode operator (predicted)", "prefill operator (predicted)", "bf16/fp16 tensor", "fp8 tensor",
                        "int8 tensor", "fp32 CUDA cores", "datasheet roof"})
    CHECK(contains(legend, e));
  CHECK(texts(root, "note") == std::vector<std::string>{"Not drawn (decode and prefill, no FLOPs to place on log axes): embeddings, kv_cache."});
}

TEST_CASE("the roofline SVG puts ceilings, the memory roof and points at their log-log positions") {
  const RooflineChart chart = h100_chart();
  const xml_lite::Document doc = parse_ok(render_svg(chart));
  const Element& root = doc.root;
  // Pixels per decade from the outermost ticks (each tick is rounded to 0.1 px).
  const double y1000 = tick_y(root, "1000"), x1 = tick_x(root, "1");
  const double dy = (tick_y(root, "0.001") - tick_y(root, "10000")) / 7, dx = (tick_x(root, "10000") - tick_x(root, "0.1")) / 5;
  auto intensity_at = [&](double x) { return std::pow(10.0, (x - x1) / dx); };
  auto tflops_at = [&](double y) { return std::pow(10.0, 3 + (y1000 - y) / dy); };

  // H100 SXM bf16 dense 1979 / 2 = 989.5 TFLOP/s: just below the 1000 grid line.
  bool found = false;
  for (const Element* l : xml_lite::with_class(root, "ceiling"))
    if (l->attr_or("data-math") == "tc_16bit") {
      found = true;
      CHECK(tflops_at(num(*l, "y1")) == ROOFLINE_APPROX(989.5).epsilon(0.002));
      // It starts at the ridge point: 989.5e12 / 3.35e12 = 295.4 FLOP/byte.
      CHECK(intensity_at(num(*l, "x1")) == ROOFLINE_APPROX(989.5e12 / 3.35e12).epsilon(0.003));
    }
  CHECK(found);
  // fp8 and int8 share 1979 TFLOP/s: two parallel lines 2.5 px apart, one label naming both.
  std::vector<double> ys;
  for (const Element* l : xml_lite::with_class(root, "ceiling"))
    if (l->attr_or("data-math") == "tc_fp8" || l->attr_or("data-math") == "tc_int8") ys.push_back(num(*l, "y1"));
  REQUIRE(ys.size() == 2);
  CHECK(std::fabs(ys[0] - ys[1]) == ROOFLINE_APPROX(2.5).epsilon(0.05));
  CHECK(contains(texts(root, "ceiling-label"), "1979 TFLOP/s fp8 tensor · int8 tensor"));

  // The memory roof: FLOP/s / intensity = 3.35e12 B/s at both of its ends.
  const auto roofs = xml_lite::with_class(root, "memory-roof");
  REQUIRE(roofs.size() == 1);
  for (const char* end : {"1", "2"}) {
    const double x = num(*roofs[0], (std::string("x") + end).c_str()), y = num(*roofs[0], (std::string("y") + end).c_str());
    CHECK(tflops_at(y) * 1e12 / intensity_at(x) == ROOFLINE_APPROX(3.35e12).epsilon(0.004));
  }

  // A point: decode lm_head of Llama-3-8B, batch 8: 2·8·4096·128256 FLOP over its bytes and predicted time.
  const StepPrediction d = step("h100_sxm", Phase::decode, 8, 4096);
  const OpPrediction* head = nullptr;
  for (const OpPrediction& o : d.ops)
    if (o.op.type == OperatorType::LM_HEAD) head = &o;
  REQUIRE(head);
  CHECK(head->op.flops == 2.0 * 8 * 4096 * 128256);
  for (const Element* m : xml_lite::with_class(root, "point"))
    if (m->attr_or("data-label") == "lm_head" && m->has_class("decode")) {
      CHECK(intensity_at(num(*m, "cx")) == ROOFLINE_APPROX(head->op.flops / head->op.bytes.total()).epsilon(0.004));
      CHECK(tflops_at(num(*m, "cy")) * 1e12 == ROOFLINE_APPROX(head->op.flops / head->prediction.time_s).epsilon(0.004));
    }
}

TEST_CASE("point labels do not overlap each other, the markers, the legend or the roof labels, and stay in the plot") {
  const auto records = load_records(test::data("charts/records_h100.jsonl"));
  for (const char* gpu : {"h100_sxm", "a100_sxm_80gb", "gb10", "b200", "h100_sxm+records"}) {
    CAPTURE(gpu);
    const std::string name = std::string(gpu).substr(0, std::string(gpu).find('+'));
    const HardwareSpec& hw = hardware().get(name);
    RooflineChart c = roofline_chart(hw);
    add_step(c, step(name, Phase::decode, 1, 1024), Phase::decode);
    add_step(c, step(name, Phase::prefill, 4, 2048), Phase::prefill);
    if (name != gpu) {  // two memory roofs, measured ceilings and measured kernels
      add_measured_ceilings(c, measured_ceilings(records, hw));
      add_measured_kernels(c, records, hw, Calibration::priors(hw), models());
    }
    const xml_lite::Document doc = parse_ok(render_svg(c));
    const Element* clip = xml_lite::named(doc.root, "clipPath").at(0);
    const Element& r = clip->children.at(0);
    const detail::Box plot{num(r, "x"), num(r, "y"), num(r, "width"), num(r, "height")};
    std::vector<detail::Box> labels;
    for (const Element* t : xml_lite::with_class(doc.root, "point-label")) labels.push_back(label_box(*t));
    CHECK(labels.size() >= 8);
    std::vector<detail::Box> markers;
    for (const Element* m : xml_lite::with_class(doc.root, "point")) {
      double x = 0, y = 0;
      if (m->name == "circle") {
        x = num(*m, "cx");
        y = num(*m, "cy");
      } else if (m->name == "rect") {
        x = num(*m, "x") + num(*m, "width") / 2;
        y = num(*m, "y") + num(*m, "height") / 2;
      } else {  // a diamond path: M top L right L bottom L left Z; centre = (top x, right y)
        double tx = 0, ty = 0, rx = 0;
        REQUIRE(std::sscanf(m->attr_or("d").c_str(), "M%lf %lfL%lf %lf", &tx, &ty, &rx, &y) == 4);
        x = tx;
      }
      markers.push_back({x - 5, y - 5, 10, 10});
    }
    const Element* legend_rect = &xml_lite::with_class(doc.root, "legend").at(0)->children.at(0);
    const detail::Box legend{num(*legend_rect, "x"), num(*legend_rect, "y"), num(*legend_rect, "width"),
                             num(*legend_rect, "height")};
    // Roof labels are rotated text along the roof: sample their baseline and cap line every 2 px.
    std::vector<std::pair<double, double>> roof_text;
    for (const Element* t : xml_lite::with_class(doc.root, "roof-label")) {
      double x0 = 0, y0 = 0, deg = 0;
      REQUIRE(std::sscanf(t->attr_or("transform").c_str(), "translate(%lf %lf) rotate(%lf)", &x0, &y0, &deg) == 3);
      const double rad = deg * 3.14159265358979 / 180, w = detail::text_width_px(t->all_text(), 11);
      for (double u = 0; u <= w; u += 2)
        for (double v : {num(*t, "y"), num(*t, "y") - 8})  // baseline and cap height of 11 px text
          roof_text.emplace_back(x0 + u * std::cos(rad) - v * std::sin(rad), y0 + u * std::sin(rad) + v * std::cos(rad));
    }
    CHECK(roof_text.size() > 20);
    for (const detail::Box& l : labels)
      for (const auto& [x, y] : roof_text) CHECK_FALSE((x > l.x && x < l.right() && y > l.y && y < l.bottom()));
    for (std::size_t i = 0; i < labels.size(); ++i) {
      CHECK(detail::Box{plot.x - 0.5, plot.y - 0.5, plot.w + 1, plot.h + 1}.contains(labels[i]));
      CHECK(detail::overlap_area(labels[i], legend) < 1);
      for (std::size_t j = i + 1; j < labels.size(); ++j) CHECK(detail::overlap_area(labels[i], labels[j]) < 1);
      for (const detail::Box& m : markers) CHECK(detail::overlap_area(labels[i], m) < 1);
    }
  }
}

TEST_CASE("text in titles and labels is escaped") {
  RooflineChart c = roofline_chart(hardware().get("h100_sxm"), "a <b> & \"c\"");
  c.points.push_back({.label = "x<y&z", .intensity_flop_per_byte = 10, .flop_per_s = 1e13});
  const std::string svg = render_svg(c);
  const xml_lite::Document doc = parse_ok(svg);
  CHECK(texts(doc.root, "chart-title") == std::vector<std::string>{"a <b> & \"c\""});
  CHECK(texts(doc.root, "point-label") == std::vector<std::string>{"x<y&z"});
  CHECK(svg.find("x<y&z") == std::string::npos);
}

TEST_CASE("measured ceilings: best stream beyond the L2 and best GEMM per math path, this GPU only") {
  const auto records = load_records(test::data("charts/records_h100.jsonl"));
  const MeasuredCeilings m = measured_ceilings(records, hardware().get("h100_sxm"));
  REQUIRE(m.memory);
  // read 2 GiB in 0.7 ms = 2147483648 / 7e-4 = 3.068e12 B/s beats copy (2 × 1 GiB / 0.8 ms = 2.684e12); the
  // 16 MiB read (inside the 50 MiB L2), the H200's record and the failed record do not count.
  CHECK(m.memory->bytes_per_s == ROOFLINE_APPROX(2147483648.0 / 7e-4));
  CHECK(m.memory->measured);
  CHECK(m.memory->source == "best of 2 stream records: read of 2.15 GB, fixture_read (records_h100.jsonl:1)");
  REQUIRE(m.compute.size() == 2);
  std::map<MathPath, double> rate;
  for (const RooflineCeiling& c : m.compute) rate[c.math] = c.flop_per_s;
  // bf16 8192³ in 1.4 ms: 2·8192³ / 1.4e-3 = 785.4 TFLOP/s (beats 4096³ at 687.2 and the m = 8 GEMV).
  CHECK(rate[MathPath::tc_16bit] == ROOFLINE_APPROX(2.0 * 8192.0 * 8192.0 * 8192.0 / 1.4e-3));
  // fp8 8192³ in 0.78 ms: 1409.6 TFLOP/s.
  CHECK(rate[MathPath::tc_fp8] == ROOFLINE_APPROX(2.0 * 8192.0 * 8192.0 * 8192.0 / 7.8e-4));
  CHECK(measured_ceilings(records, hardware().get("a100_sxm_80gb")).empty());

  RooflineChart c = h100_chart();
  add_measured_ceilings(c, m);
  const xml_lite::Document doc = parse_ok(render_svg(c));
  const auto dashed = xml_lite::with_class(doc.root, "measured");
  int ceilings = 0, roofs = 0;
  for (const Element* e : dashed) {
    if (e->name != "line") continue;
    CHECK(e->attr_or("stroke-dasharray") == "7 4");
    ceilings += e->has_class("ceiling");
    roofs += e->has_class("memory-roof");
  }
  CHECK(ceilings == 2);
  CHECK(roofs == 1);
  CHECK(contains(texts(doc.root, "ceiling-label"), "785 TFLOP/s bf16/fp16 tensor (measured)"));
  CHECK(contains(texts(doc.root, "legend-entry"), "measured roof"));
}

TEST_CASE("measured kernels are drawn beside their predictions") {
  const HardwareSpec& hw = hardware().get("h100_sxm");
  const auto records = load_records(test::data("charts/records_h100.jsonl"));
  RooflineChart c = roofline_chart(hw);
  // 4 GEMMs and 1 attention call of the H100 are kernels; streams are not, the H200's record is skipped.
  CHECK(add_measured_kernels(c, records, hw, Calibration::priors(hw), models()) == 5);
  REQUIRE(c.points.size() == 10);
  for (std::size_t i = 1; i < c.points.size(); i += 2) {
    CHECK(c.points[i - 1].kind == PointKind::kernel_prediction);
    CHECK(c.points[i].kind == PointKind::measured);
    CHECK(c.points[i].predicted_index == int(i) - 1);
    CHECK(c.points[i].intensity_flop_per_byte == c.points[i - 1].intensity_flop_per_byte);
  }
  CHECK(c.points[1].flop_per_s == ROOFLINE_APPROX(2.0 * 8192.0 * 8192.0 * 8192.0 / 1.4e-3));  // the bf16 8192³ record
  const xml_lite::Document doc = parse_ok(render_svg(c));
  CHECK(xml_lite::with_class(doc.root, "connector").size() == 5);
  int hollow = 0;
  for (const Element* m : xml_lite::with_class(doc.root, "measured"))
    hollow += m->has_class("point") && m->name == "path" && m->attr_or("fill") == "#ffffff";
  CHECK(hollow == 5);
  CHECK(xml_lite::with_class(doc.root, "kernel-prediction").size() == 5);
  CHECK(contains(texts(doc.root, "legend-entry"), "measured kernel"));
  CHECK(contains(texts(doc.root, "legend-entry"), "its prediction"));
  // Five measured kernels are few enough to be labelled; their predictions are not labelled again.
  const std::vector<std::string> labels = texts(doc.root, "point-label");
  CHECK(labels.size() == 5);
  CHECK(contains(labels, "fixture_sdpa"));
  // No step operator was added: the legend has no operator markers.
  CHECK_FALSE(contains(texts(doc.root, "legend-entry"), "decode operator (predicted)"));
}

// ---- bar and line charts ----------------------------------------------------------------------------

TEST_CASE("the breakdown sums each class and draws one segment per class present") {
  const StepPrediction d = step("h100_sxm", Phase::decode, 8, 4096);
  const StepBreakdown b = step_breakdown("decode", d);
  double sum = 0;
  for (double t : b.class_time_s) sum += t;
  CHECK(sum == ROOFLINE_APPROX(d.time_s).epsilon(1e-9));
  double ffn = 0;
  for (const OpPrediction& o : d.ops)
    if (o.op.type == OperatorType::FFN_GATE || o.op.type == OperatorType::FFN_UP || o.op.type == OperatorType::FFN_DOWN)
      ffn += o.total_s();
  CHECK(b.class_time_s[static_cast<std::size_t>(OperatorClass::ffn)] == ROOFLINE_APPROX(ffn));

  const StepBreakdown p = step_breakdown("prefill", step("h100_sxm", Phase::prefill, 1, 4096));
  const xml_lite::Document doc = parse_ok(render_breakdown_svg({b, p}, BarScale::share, "time"));
  const auto segments = xml_lite::with_class(doc.root, "segment");
  int present = 0;
  for (const StepBreakdown& s : {b, p})
    for (double t : s.class_time_s) present += t > 0;
  CHECK(int(segments.size()) == present);
  // Share scale: each bar's segments fill the axis from 0 to 100%.
  const double x0 = tick_x(doc.root, "0"), x100 = tick_x(doc.root, "100");
  std::map<std::string, double> width_by_row;
  for (const Element* s : segments) width_by_row[s->attr_or("y")] += num(*s, "width");
  REQUIRE(width_by_row.size() == 2);
  for (const auto& [row, w] : width_by_row) CHECK(w == ROOFLINE_APPROX(x100 - x0).epsilon(0.002));
  CHECK(texts(doc.root, "bar-label") == std::vector<std::string>{"decode", "prefill"});
  CHECK(contains(texts(doc.root, "axis-title"), "share of step time (%)"));
  CHECK(contains(texts(doc.root, "legend-entry"), "FFN"));
  // Absolute scale: the axis is in the unit of the longest step (ms here).
  const xml_lite::Document abs = parse_ok(render_breakdown_svg({b}, BarScale::absolute, "time"));
  CHECK(contains(texts(abs.root, "axis-title"), "time per step (ms)"));
}

TEST_CASE("the strategy chart: a bar and an interval per strategy, memory against capacity") {
  std::vector<StrategyResult> rows = {
      strategy_result("bf16", step("h100_sxm", Phase::decode, 8, 4096)),
      strategy_result("fp8", step("h100_sxm", Phase::decode, 8, 4096, "llama3-8b",
                                  PrecisionAssignment::uniform(Precision::fp8_e4m3, Precision::fp8_e4m3, Precision::bf16))),
      strategy_result("70b bf16", step("h100_sxm", Phase::decode, 1, 1024, "llama3-70b")),
  };
  rows[1].highlighted = true;
  CHECK_FALSE(rows[2].fits);  // 70e9 parameters × 2 bytes exceed 80 GB
  const xml_lite::Document doc = parse_ok(render_strategy_svg(rows, "strategies"));
  CHECK(xml_lite::with_class(doc.root, "time-bar").size() == 3);
  CHECK(xml_lite::with_class(doc.root, "interval").size() == 3);
  CHECK(xml_lite::with_class(doc.root, "capacity").size() == 1);
  const std::vector<std::string> values = texts(doc.root, "value-label");
  CHECK(std::count_if(values.begin(), values.end(), [](const std::string& s) { return s.find("does not fit") != std::string::npos; }) == 1);
  const auto notes = texts(doc.root, "note");
  REQUIRE(!notes.empty());
  CHECK(notes[0].rfind("70b bf16: does not fit (weights 1.41e+11 B", 0) == 0);
  for (const Element* l : xml_lite::with_class(doc.root, "bar-label"))
    CHECK((l->attr_or("font-weight") == "bold") == (l->all_text() == "fp8"));
  // Bars are proportional to time: bf16 / fp8 bar widths = their time ratio.
  const auto bars = xml_lite::with_class(doc.root, "time-bar");
  CHECK(num(*bars[0], "width") / num(*bars[1], "width") == ROOFLINE_APPROX(rows[0].time_s / rows[1].time_s).epsilon(0.01));
}

TEST_CASE("the attention chart draws the kernels a GPU runs and names the others with the reason") {
  const HardwareSpec& a100 = hardware().get("a100_sxm_80gb");
  const std::vector<KernelSeries> s =
      attention_sweep(models().get("llama3-8b"), a100, Calibration::priors(a100), Phase::prefill, 1, {1024, 4096, 16384},
                      {AttentionKernel::fa2, AttentionKernel::fa3, AttentionKernel::fa1});
  REQUIRE(s.size() == 3);
  CHECK(s[0].points.size() == 3);
  CHECK(s[1].points.empty());
  CHECK(s[1].unavailable_reason.find("Hopper") != std::string::npos);
  for (const SeriesPoint& p : s[0].points) {
    CHECK(p.low <= p.y);
    CHECK(p.y <= p.high);
  }
  CHECK(s[0].points[0].y < s[0].points[2].y);  // longer context, more time
  const xml_lite::Document doc = parse_ok(render_attention_svg(s, "attention", "sub"));
  CHECK(xml_lite::with_class(doc.root, "kernel-series").size() == 2);
  CHECK(xml_lite::with_class(doc.root, "point").size() == 6);
  // End labels from the top: FA1 is the slower kernel, its line ends higher.
  CHECK(texts(doc.root, "series-label") == std::vector<std::string>{"fa1", "fa2"});
  CHECK(texts(doc.root, "note") == std::vector<std::string>{"fa3 not shown: " + s[1].unavailable_reason});
  for (const char* t : {"1k", "4k", "16k"}) CHECK(contains(texts(doc.root, "tick-label"), t));
  CHECK(contains(texts(doc.root, "axis-title"), "context length (tokens)"));
  // Two kernels with equal predictions are reported as such.
  std::vector<KernelSeries> twins = {s[0], s[0]};
  twins[1].label = "copy";
  const xml_lite::Document d2 = parse_ok(render_attention_svg(twins, "t", ""));
  CHECK(texts(d2.root, "note") == std::vector<std::string>{"Identical predictions (lines drawn over each other): fa2 = copy."});
}

// ---- rendering --------------------------------------------------------------------------------------

TEST_CASE("every chart renders to a PNG of its size with its colours drawn") {
  RooflineChart chart = h100_chart();
  add_measured_ceilings(chart, measured_ceilings(load_records(test::data("charts/records_h100.jsonl")), hardware().get("h100_sxm")));
  const nlohmann::json r = render(render_svg(chart), "roofline", {"#0072B2", "#D55E00", "#56B4E9"});
  if (r.is_null()) return;
  CHECK(r["width"] == 1000);
  CHECK(r["height"] == 640);
  CHECK(r["ink_fraction"].get<double>() > 0.02);
  CHECK(r["colours"]["#0072B2"].get<int>() > 300);  // the bf16 ceiling (2 px × ~480 px) and its points
  CHECK(r["colours"]["#D55E00"].get<int>() > 300);  // the fp8 ceiling
  CHECK(r["colours"]["#56B4E9"].get<int>() > 100);  // fp32 ceiling and the elementwise points

  const StepPrediction d = step("h100_sxm", Phase::decode, 8, 4096);
  const std::string bars = render_breakdown_svg({step_breakdown("decode", d)}, BarScale::share, "t");
  const xml_lite::Document bd = parse_ok(bars);
  const nlohmann::json b = render(bars, "breakdown", {"#44AA99"});
  CHECK(b["width"] == 1000);
  CHECK(b["height"] == std::stoi(bd.root.attr_or("height")));
  CHECK(b["colours"]["#44AA99"].get<int>() > 1000);  // FFN: half of a 26 px tall, ~700 px wide bar

  const nlohmann::json s = render(render_strategy_svg({strategy_result("bf16", d)}, "s"), "strategies", {"#0072B2"});
  CHECK(s["colours"]["#0072B2"].get<int>() > 1000);

  const HardwareSpec& hw = hardware().get("h100_sxm");
  const nlohmann::json a = render(
      render_attention_svg(attention_sweep(models().get("llama3-8b"), hw, Calibration::priors(hw), Phase::prefill, 1,
                                           {1024, 8192, 65536}, {AttentionKernel::fa2, AttentionKernel::fa3}),
                           "a", ""),
      "attention", {"#0072B2", "#D55E00"});
  CHECK(a["height"] == 560);
  CHECK(a["colours"]["#0072B2"].get<int>() > 100);
  CHECK(a["colours"]["#D55E00"].get<int>() > 100);
}

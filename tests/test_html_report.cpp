// HTML report: one self-contained, well-formed document (nothing fetched, no scripts), with every chart
// inline, one operator table row per operator, the calibration status and its parameters, and the
// recommendation only when one is given.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "roofline/html_report.hpp"
#include "test_support.hpp"
#include "xml_lite.hpp"

using namespace roofline;
using roofline::test::hardware;
using roofline::test::models;
using xml_lite::Element;

namespace {

StepReport report_of(const char* gpu, Phase phase, std::int64_t batch, std::int64_t seq, const char* model = "llama3-8b") {
  const HardwareSpec& hw = hardware().get(gpu);
  const ModelConfig& m = models().get(model);
  StepConfig c{.phase = phase, .batch = batch, .seq_len = seq,
               .precision = PrecisionAssignment::uniform(Precision::bf16, Precision::bf16, Precision::bf16)};
  return {&m, &hw, c, predict_step(m, c, hw, Calibration::priors(hw))};
}

HtmlReport full_report() {
  const HardwareSpec& hw = hardware().get("h100_sxm");
  const StepReport d = report_of("h100_sxm", Phase::decode, 8, 4096);
  HtmlReport r = html_report({d, report_of("h100_sxm", Phase::prefill, 8, 4096)}, Calibration::priors(hw));
  r.strategies = compare_strategies(*d.model, d.config, hw, Calibration::priors(hw),
                                    StrategyRegistry::load_directory(test::source_dir() / "strategies"));
  r.attention = attention_sweep(*d.model, hw, Calibration::priors(hw), Phase::decode, 8, {1024, 4096},
                                {AttentionKernel::fa2, AttentionKernel::fa3});
  return r;
}

xml_lite::Document parse_ok(const std::string& html) {
  xml_lite::Document d = xml_lite::parse(html);
  INFO(d.error);
  REQUIRE(d.ok);
  return d;
}

}  // namespace

TEST_CASE("the HTML report is one well-formed, self-contained document") {
  const std::string html = render_html(full_report());
  CHECK(html.rfind("<!DOCTYPE html>\n", 0) == 0);
  const xml_lite::Document doc = parse_ok(html);  // every tag closed: XML rules hold
  CHECK(doc.root.name == "html");
  // Nothing to run, nothing to fetch.
  CHECK(xml_lite::named(doc.root, "script").empty());
  CHECK(xml_lite::named(doc.root, "link").empty());
  CHECK(xml_lite::named(doc.root, "img").empty());
  CHECK(xml_lite::named(doc.root, "iframe").empty());
  for (const Element* e : xml_lite::find_all(doc.root, [](const Element&) { return true; })) {
    CHECK(e->attr("src") == nullptr);
    for (const auto& [k, v] : e->attrs) CHECK(k.rfind("on", 0) != 0);  // no event handlers
    if (const std::string* href = e->attr("href")) CHECK(href->rfind("#", 0) == 0);
  }
  // The only URL is the SVG namespace name (an identifier, never fetched); url() only for in-page clip paths.
  for (std::size_t i = html.find("http"); i != std::string::npos; i = html.find("http", i + 1))
    CHECK(html.compare(i, 26, "http://www.w3.org/2000/svg") == 0);
  for (std::size_t i = html.find("url("); i != std::string::npos; i = html.find("url(", i + 1))
    CHECK(html.compare(i, 5, "url(#") == 0);
  CHECK(html.find("<?xml") == std::string::npos);  // the SVGs are inlined without their XML declaration
  // Every in-page link and clip-path reference has its target.
  std::set<std::string> ids;
  for (const Element* e : xml_lite::find_all(doc.root, [](const Element& x) { return x.attr("id") != nullptr; }))
    CHECK(ids.insert(*e->attr("id")).second);  // ids unique across the inlined charts
  for (const Element* e : xml_lite::find_all(doc.root, [](const Element& x) { return x.attr("href") != nullptr; }))
    CHECK(ids.count(e->attr("href")->substr(1)) == 1);
  for (const Element* e : xml_lite::find_all(doc.root, [](const Element& x) { return x.attr("clip-path") != nullptr; })) {
    const std::string ref = *e->attr("clip-path");  // url(#id)
    CHECK(ids.count(ref.substr(5, ref.size() - 6)) == 1);
  }
}

TEST_CASE("the HTML report holds the charts, a table row per operator and the calibration status") {
  const HtmlReport r = full_report();
  const xml_lite::Document doc = parse_ok(render_html(r));
  CHECK(xml_lite::named(doc.root, "svg").size() == 4);  // roofline, breakdown, strategies, attention
  const auto tables = xml_lite::with_class(doc.root, "operators");
  REQUIRE(tables.size() == 2);
  for (std::size_t t = 0; t < 2; ++t) {
    const Element& body = tables[t]->children.at(1);
    REQUIRE(body.name == "tbody");
    REQUIRE(body.children.size() == r.steps[t].prediction.ops.size());
    for (std::size_t i = 0; i < body.children.size(); ++i)
      CHECK(body.children[i].children.at(0).all_text() == op_label(r.steps[t].prediction.ops[i].op));
  }
  // The roofline chart carries both phases.
  std::set<std::string> phases;
  for (const Element* p : xml_lite::with_class(doc.root, "point")) {
    if (p->has_class("decode")) phases.insert("decode");
    if (p->has_class("prefill")) phases.insert("prefill");
  }
  CHECK(phases == std::set<std::string>{"decode", "prefill"});
  // Calibration: the status and one row per parameter key the steps use.
  const std::string text = doc.root.all_text();
  CHECK(text.find(r.steps[0].prediction.calibration_status) != std::string::npos);
  std::set<std::string> keys;
  for (const StepReport& s : r.steps)
    for (const OpPrediction& o : s.prediction.ops) keys.insert(to_string(param_key(o.op)));
  const auto cal = xml_lite::with_class(doc.root, "calibration");
  REQUIRE(cal.size() == 1);
  const Element& body = cal[0]->children.at(1);
  REQUIRE(body.children.size() == keys.size());
  for (const Element& row : body.children) {
    CHECK(keys.count(row.children.at(0).all_text()) == 1);
    CHECK(row.children.at(1).all_text() == "inferred");  // priors
    CHECK(row.children.at(3).all_text() == "unknown");   // no held-out error without measurements
  }
  // No recommendation was given: no section for one.
  CHECK(xml_lite::find_all(doc.root, [](const Element& e) { return e.attr_or("id") == "recommendation"; }).empty());
}

TEST_CASE("a recommendation is shown with its reasoning, escaped") {
  HtmlReport r = full_report();
  r.recommendation = ReportRecommendation{"fp8 <weights> & FA3", {"first reason", "second <reason>"}};
  r.title = "a <title>";
  const std::string html = render_html(r);
  const xml_lite::Document doc = parse_ok(html);
  CHECK(html.find("<weights>") == std::string::npos);
  const auto section = xml_lite::find_all(doc.root, [](const Element& e) { return e.attr_or("id") == "recommendation"; });
  REQUIRE(section.size() == 1);
  const auto reasons = xml_lite::with_class(doc.root, "reasoning");
  REQUIRE(reasons.size() == 1);
  REQUIRE(reasons[0]->children.size() == 2);
  CHECK(reasons[0]->children[1].all_text() == "second <reason>");
  CHECK(xml_lite::named(doc.root, "title").at(0)->all_text() == "a <title>");
  CHECK(doc.root.all_text().find("fp8 <weights> & FA3") != std::string::npos);
}

TEST_CASE("compare_strategies predicts every shipped strategy as it runs on the GPU") {
  const StrategyRegistry strategies = StrategyRegistry::load_directory(test::source_dir() / "strategies");
  const StepReport d = report_of("h100_sxm", Phase::decode, 8, 4096);
  StepConfig config = d.config;
  config.precision.name = "fp8_balanced";  // the requested strategy is highlighted
  const Calibration priors = Calibration::priors(*d.hw);
  const std::vector<StrategyResult> rows = compare_strategies(*d.model, config, *d.hw, priors, strategies);
  REQUIRE(rows.size() == strategies.all().size());
  std::map<std::string, const StrategyResult*> by_name;
  for (const StrategyResult& r : rows) by_name[r.label] = &r;
  // sm_90 has no fp4 tensor cores: the nvfp4 parts run as their fallbacks and say so.
  for (const char* emulated : {"nvfp4_blackwell (emulated)", "hybrid_long_context (emulated)", "layerwise_gradient (emulated)"}) {
    REQUIRE(by_name.count(emulated) == 1);
    CHECK(by_name[emulated]->note.find("sm_90") != std::string::npos);
  }
  for (const char* native : {"fp16_baseline", "fp8_balanced", "w4a16_aggressive"}) REQUIRE(by_name.count(native) == 1);
  for (const StrategyResult& r : rows) CHECK(r.highlighted == (r.label == "fp8_balanced"));
  // Each row is predict_step of the strategy's assignment on this GPU.
  StepConfig c = config;
  c.precision = to_assignment(strategies.get("w4a16_aggressive"), *d.model, *d.hw);
  CHECK(by_name["w4a16_aggressive"]->time_s == predict_step(*d.model, c, *d.hw, priors).time_s);
  // Decode at batch 8 is memory-bound: fewer weight bytes, less time and memory than the 16-bit baseline.
  CHECK(by_name["fp8_balanced"]->time_s < by_name["fp16_baseline"]->time_s);
  CHECK(by_name["w4a16_aggressive"]->memory.weights_bytes < by_name["fp8_balanced"]->memory.weights_bytes);
  // On a B200 nvfp4 is native.
  const StepReport b = report_of("b200", Phase::decode, 8, 4096);
  for (const StrategyResult& r : compare_strategies(*b.model, b.config, *b.hw, Calibration::priors(*b.hw), strategies))
    CHECK(r.label.find("(emulated)") == std::string::npos);
  // Policy refuse leaves out what the GPU cannot run natively and says why.
  std::vector<std::string> refused;
  const auto strict = compare_strategies(*d.model, config, *d.hw, priors, strategies, FeasibilityPolicy::refuse, &refused);
  CHECK(strict.size() + refused.size() == strategies.all().size());
  REQUIRE(refused.size() == 3);
  CHECK(refused[0].rfind("hybrid_long_context: ", 0) == 0);
}

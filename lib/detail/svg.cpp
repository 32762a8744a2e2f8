#include "detail/svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace roofline::detail {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string px(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

namespace {
// DejaVu Sans advance widths of ASCII 32..126 in font units (2048 per em).
constexpr std::array<int, 95> dejavu_sans_advance = {
    651,  821,  942,  1716, 1303, 1946, 1597, 563,  799,  799,  1024, 1716, 651,  739,  651,  690,   // ' '../
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303,                                      // 0..9
    690,  690,  1716, 1716, 1716, 1087, 2048,                                                        // :..@
    1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604,  604,  1343, 1141, 1767, 1532, 1612, 1235,  // A..P
    1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403,                                      // Q..Z
    799,  690,  799,  1716, 1024, 1024,                                                              // [..`
    1255, 1300, 1126, 1300, 1260, 721,  1300, 1298, 569,  569,  1186, 569,  1995, 1298, 1253, 1300,  // a..p
    1300, 842,  1067, 803,  1298, 1212, 1675, 1212, 1212, 1075,                                      // q..z
    1303, 690,  1303, 1716};                                                                         // {..~
}  // namespace

double text_width_px(std::string_view text, double font_px) {
  double em = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      em += (c >= 32 && c <= 126) ? dejavu_sans_advance[c - 32] / 2048.0 : 0.0;
      ++i;
    } else {  // one UTF-8 code point: skip its continuation bytes
      em += 0.65;
      ++i;
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    }
  }
  return em * font_px;
}

double overlap_area(const Box& a, const Box& b) {
  const double w = std::min(a.right(), b.right()) - std::max(a.x, b.x);
  const double h = std::min(a.bottom(), b.bottom()) - std::max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0.0;
}

// ---- writer -------------------------------------------------------------------------------------

SvgWriter::SvgWriter(double width_px, double height_px, std::string_view title, std::string_view description) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  open("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
               {"width", px(width_px)},
               {"height", px(height_px)},
               {"viewBox", "0 0 " + px(width_px) + " " + px(height_px)},
               {"font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"},
               {"role", "img"}});
  indent();
  out_ += "<title>" + xml_escape(title) + "</title>\n";
  indent();
  out_ += "<desc>" + xml_escape(description) + "</desc>\n";
}

void SvgWriter::indent() { out_.append(2 * open_.size(), ' '); }

namespace {
std::string attributes(const Attributes& attrs) {
  std::string s;
  for (const auto& [k, v] : attrs) s += " " + k + "=\"" + xml_escape(v) + "\"";
  return s;
}
}  // namespace

void SvgWriter::leaf(std::string_view name, const Attributes& attrs) {
  indent();
  out_ += "<" + std::string(name) + attributes(attrs) + "/>\n";
}

void SvgWriter::leaf_with_title(std::string_view name, const Attributes& attrs, std::string_view tooltip) {
  indent();
  out_ += "<" + std::string(name) + attributes(attrs) + "><title>" + xml_escape(tooltip) + "</title></" +
          std::string(name) + ">\n";
}

void SvgWriter::text(const Attributes& attrs, std::string_view content) {
  indent();
  out_ += "<text" + attributes(attrs) + ">" + xml_escape(content) + "</text>\n";
}

void SvgWriter::open(std::string_view name, const Attributes& attrs) {
  indent();
  out_ += "<" + std::string(name) + attributes(attrs) + ">\n";
  open_.emplace_back(name);
}

void SvgWriter::close() {
  if (open_.empty()) return;
  const std::string name = open_.back();
  open_.pop_back();
  indent();
  out_ += "</" + name + ">\n";
}

void SvgWriter::raw(std::string_view markup) {
  indent();
  out_ += markup;
  out_ += "\n";
}

std::string SvgWriter::finish() {
  while (!open_.empty()) close();
  return std::move(out_);
}

// ---- axes ---------------------------------------------------------------------------------------

double Axis::to_px(double v) const {
  double t;
  if (log) t = (std::log10(v) - std::log10(min)) / (std::log10(max) - std::log10(min));
  else t = (v - min) / (max - min);
  return pixel_min + t * (pixel_max - pixel_min);
}

std::pair<int, int> decade_range(double lo, double hi) {
  // A small tolerance keeps exact powers of ten (1e3 computed as 999.9999) on their own decade.
  const int a = int(std::floor(std::log10(lo) + 1e-9));
  int b = int(std::ceil(std::log10(hi) - 1e-9));
  if (b <= a) b = a + 1;
  return {a, b};
}

std::vector<double> nice_ticks(double max, int target) {
  if (!(max > 0)) return {0, 1};
  const double raw = max / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (int i = 0;; ++i) {
    ticks.push_back(i * step);
    if (i * step >= max * (1 - 1e-9)) break;
  }
  return ticks;
}

std::string decade_label(int exponent) {
  if (exponent >= -3 && exponent <= 4) {
    if (exponent >= 0) return "1" + std::string(std::size_t(exponent), '0');
    return "0." + std::string(std::size_t(-exponent - 1), '0') + "1";
  }
  static const char* const superscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string s = "10";
  if (exponent < 0) s += "⁻";
  const std::string digits = std::to_string(std::abs(exponent));
  for (char d : digits) s += superscript[d - '0'];
  return s;
}

std::string short_number(double v, int significant) {
  if (v == 0) return "0";
  const int mag = int(std::floor(std::log10(std::fabs(v))));
  const int decimals = std::max(0, significant - 1 - mag);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// ---- label placement ----------------------------------------------------------------------------

bool segment_crosses(double x0, double y0, double x1, double y1, const Box& b) {
  // Liang–Barsky clipping of the segment against the box.
  double t0 = 0, t1 = 1;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[] = {-dx, dx, -dy, dy};
  const double q[] = {x0 - b.x, b.right() - x0, y0 - b.y, b.bottom() - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  return true;
}

LabelPlacer::Placement LabelPlacer::place(double x, double y, double marker_r, double width, double height,
                                          double away_x, double away_y) {
  static constexpr double kPi = 3.14159265358979323846;
  // Close positions in order of preference (right, upper right, lower right, left, ...), then rings
  // further out with their directions sorted by closeness to the way out of the crowd.
  static const double near_angles_deg[] = {0, -35, 35, 180, -145, 145, -90, 90};
  std::vector<std::pair<double, double>> candidates;  // (distance from the marker edge, angle in degrees)
  for (double a : near_angles_deg) candidates.emplace_back(3.0, a);
  const double away_deg = (away_x == 0 && away_y == 0) ? 0.0 : std::atan2(away_y, away_x) * 180.0 / kPi;
  std::vector<double> ring_angles;
  for (int i = 0; i < 24; ++i) ring_angles.push_back(i * 15.0 - 180);
  auto angular_distance = [](double a, double b) {
    const double d = std::fmod(std::fabs(a - b), 360.0);
    return d > 180 ? 360 - d : d;
  };
  std::stable_sort(ring_angles.begin(), ring_angles.end(), [&](double a, double b) {
    return angular_distance(a, away_deg) < angular_distance(b, away_deg);
  });
  for (double ring : {16.0, 30.0, 46.0, 64.0, 86.0, 112.0})
    for (double a : ring_angles) candidates.emplace_back(ring, a);

  Placement best;
  double best_score = -1;
  for (const auto& [distance, angle_deg] : candidates) {
    const double a = angle_deg * kPi / 180.0;
    const double dx = std::cos(a), dy = std::sin(a);
    const double r = marker_r + distance;
    const double ax = x + r * dx, ay = y + r * dy;  // the box point nearest the marker
    Placement p;
    // The box hangs off (ax, ay) in the direction of the candidate.
    if (dx > 0.3) {
      p.box.x = ax;
      p.anchor = "start";
    } else if (dx < -0.3) {
      p.box.x = ax - width;
      p.anchor = "end";
    } else {
      p.box.x = ax - width / 2;
      p.anchor = "middle";
    }
    if (dy > 0.3) p.box.y = ay;
    else if (dy < -0.3) p.box.y = ay - height;
    else p.box.y = ay - height / 2;
    p.box.w = width;
    p.box.h = height;
    p.text_x = p.anchor == "start" ? p.box.x : p.anchor == "end" ? p.box.right() : p.box.x + width / 2;
    p.text_y = p.box.y + height * 0.78;  // baseline: the descender sits below it
    p.leader = distance > 10;
    p.leader_x = std::clamp(x, p.box.x, p.box.right());
    p.leader_y = std::clamp(y, p.box.y, p.box.bottom());

    double overlap = 0;
    if (!bounds_.contains(p.box)) overlap += 1e9;  // outside the plot: only as a last resort
    for (const Box& o : obstacles_) overlap += overlap_area(p.box, o);
    // Labels keep a 2 px gap between them, so that two labels never read as one.
    const Box padded{p.box.x - 2, p.box.y - 1, p.box.w + 4, p.box.h + 2};
    for (const Box& l : labels_) {
      overlap += overlap_area(padded, l);
      if (p.leader && segment_crosses(x, y, p.leader_x, p.leader_y, l)) overlap += 60;
    }
    p.overlap_px2 = overlap;
    double soft = 0;
    for (const Box& o : soft_) soft += overlap_area(p.box, o);
    const double score = overlap * 10 + soft * 0.1 + distance;
    if (best_score < 0 || score < best_score) {
      best = p;
      best_score = score;
    }
    if (overlap == 0 && soft == 0) break;  // candidates are in order of preference: the first clean one wins
  }
  labels_.push_back(best.box);
  return best;
}

}  // namespace roofline::detail

// SVG writing for the charts: an element writer that escapes text, formats coordinates compactly and
// closes what it opens; text widths estimated from DejaVu Sans advance widths (the widest of the common
// sans-serif fonts, so boxes err on the large side); axes mapping values to pixels (linear or log10);
// and a greedy label placer that keeps labels off each other, off markers and off reserved areas.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roofline::detail {

/// Text with &, <, >, " and ' replaced by entities.
std::string xml_escape(std::string_view text);

/// A pixel coordinate with at most one decimal, trailing zeros dropped ("12", "12.5").
std::string px(double v);

/// Width in pixels of `text` at `font_px`, from DejaVu Sans advance widths (UTF-8; non-ASCII: 0.65 em).
double text_width_px(std::string_view text, double font_px);

/// An axis-aligned rectangle in pixels (y grows downwards).
struct Box {
  double x = 0;
  double y = 0;
  double w = 0;
  double h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
  bool contains(const Box& b) const { return b.x >= x && b.y >= y && b.right() <= right() && b.bottom() <= bottom(); }
};
/// Area of the intersection of two boxes (0 when they do not overlap).
double overlap_area(const Box& a, const Box& b);

/// The attributes of one element, in order.
using Attributes = std::vector<std::pair<std::string, std::string>>;

/// Writes one SVG document; every open() is closed by close() or by finish().
class SvgWriter {
 public:
  /// Opens <svg> with the size, a viewBox, <title> and <desc>.
  SvgWriter(double width_px, double height_px, std::string_view title, std::string_view description);
  /// An element with no content: <name attrs/>.
  void leaf(std::string_view name, const Attributes& attrs);
  /// An element with a tooltip: <name attrs><title>tooltip</title></name>.
  void leaf_with_title(std::string_view name, const Attributes& attrs, std::string_view tooltip);
  /// <text attrs>content</text> (content escaped).
  void text(const Attributes& attrs, std::string_view content);
  void open(std::string_view name, const Attributes& attrs);
  void close();
  /// Raw, already well-formed markup (used for <tspan> runs).
  void raw(std::string_view markup);
  /// Closes everything still open and returns the document.
  std::string finish();

 private:
  void indent();
  std::string out_;
  std::vector<std::string> open_;
};

/// Maps data values to pixels along one axis, linearly or by log10.
struct Axis {
  double min = 0;        ///< data value at `pixel_min`
  double max = 1;        ///< data value at `pixel_max`
  double pixel_min = 0;
  double pixel_max = 1;
  bool log = false;
  double to_px(double v) const;
};

/// Powers of ten covering [lo, hi]: floor(log10 lo) .. ceil(log10 hi) as exponents.
std::pair<int, int> decade_range(double lo, double hi);

/// "Nice" linear ticks (steps of 1, 2 or 5 × 10^k) from 0 up to at least `max`, about `target` of them.
std::vector<double> nice_ticks(double max, int target = 5);

/// A decade written as a plain number when 1e-3 <= v <= 1e4 ("0.01", "100", "1000"), else "10⁵".
std::string decade_label(int exponent);

/// A number with `significant` digits and no exponent for ordinary magnitudes ("989", "3.35", "0.043").
std::string short_number(double v, int significant = 3);

/// Greedy placement of point labels: each label goes to the first candidate position around its anchor
/// (close positions first, then rings further out, drawn with a leader line) that overlaps nothing and
/// stays inside `bounds`; when none is free, the candidate with the lowest cost wins: distance in pixels +
/// 10 per px² over a placed label or an obstacle + 0.1 per px² over a soft obstacle (a line).
class LabelPlacer {
 public:
  explicit LabelPlacer(Box bounds) : bounds_(bounds) {}
  /// An area labels must avoid (markers, legend, other text).
  void add_obstacle(const Box& b) { obstacles_.push_back(b); }
  /// An area labels should rather avoid (a thin line: text over it stays readable with a halo).
  void add_soft_obstacle(const Box& b) { soft_.push_back(b); }

  struct Placement {
    Box box;                 ///< the label's box
    double text_x = 0;       ///< where to draw the text (baseline start, middle or end)
    double text_y = 0;
    std::string anchor;      ///< "start", "middle" or "end"
    bool leader = false;     ///< far from its anchor: draw a line from the anchor to the box
    double leader_x = 0;     ///< the point of the box nearest the anchor
    double leader_y = 0;
    double overlap_px2 = 0;  ///< overlap with other labels and obstacles (0: clean)
  };
  /// Places a label of `width` × `height` pixels for a marker of radius `marker_r` at (x, y). Far
  /// positions are tried first in the direction (away_x, away_y), pointing out of a crowd of markers, so
  /// that leader lines fan out instead of crossing; a leader line that crosses a placed label counts as
  /// an overlap.
  Placement place(double x, double y, double marker_r, double width, double height, double away_x = 1,
                  double away_y = 0);

 private:
  Box bounds_;
  std::vector<Box> obstacles_;
  std::vector<Box> soft_;
  std::vector<Box> labels_;
};

/// Whether the segment (x0, y0)–(x1, y1) passes through the box.
bool segment_crosses(double x0, double y0, double x1, double y1, const Box& b);

}  // namespace roofline::detail

#include "reports/svg_plot.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "base/error.h"
#include "base/number_text.h"

namespace ablate::reports {
namespace {

constexpr double kCharWidth = 7;  // mean advance of 12 px sans-serif, for layout only
constexpr double kTickLength = 5;
constexpr double kMinPlotSide = 40;
constexpr size_t kMaxLegendChars = 28;
constexpr size_t kMaxMarkedPoints = 30;
constexpr double kLegendRow = 20;
constexpr double kLegendSwatch = 24;
constexpr double kNoteRow = 18;
constexpr const char* kFloorDash = "5 4";  // shorter gaps than the series' "6 3", and thinner
constexpr const char* kSharedFloorColour = "#777";

// Okabe & Ito (2008), ordered so that the pale yellow, hardest to see on white, comes last.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];
constexpr const char* kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};

// 10^e, exact for |e| <= 22: ticks are built as integer * 10^e or integer / 10^-e so that each is
// the double nearest its decimal value.
double Pow10(int e) { return std::pow(10.0, e); }
double Scaled(double integer, int e) { return e >= 0 ? integer * Pow10(e) : integer / Pow10(-e); }

// The exponent of the largest power of ten at or below x > 0, without trusting log10's rounding.
int FloorLog10(double x) {
  int e = static_cast<int>(std::floor(std::log10(x)));
  if (Scaled(1, e) > x) --e;
  if (Scaled(1, e + 1) <= x) ++e;
  return e;
}

std::string FormatG(double x, int precision) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general, precision);
  return std::string(buf, end);
}

// A pixel coordinate to 0.1 px, trailing ".0" dropped.
std::string Px(double v) {
  double r = std::round(v * 10) / 10 + 0.0;  // + 0.0 turns -0 into 0
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, r, std::chars_format::fixed, 1);
  std::string s(buf, end);
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code points of `s`; bytes that are not valid UTF-8, and characters XML 1.0 forbids, become
// U+FFFD (control characters other than tab and newlines become spaces), so that any label gives
// a well-formed document.
std::vector<uint32_t> CodePoints(const std::string& s) {
  std::vector<uint32_t> cps;
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80           ? 1
                 : (b >> 5) == 0x6  ? 2
                 : (b >> 4) == 0xE  ? 3
                 : (b >> 3) == 0x1E ? 4
                                    : 0;
    uint32_t cp = len == 1 ? b : len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMinForLength[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok) {
      cps.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') cp = ' ';
    if (cp == 0xFFFE || cp == 0xFFFF) cp = 0xFFFD;
    cps.push_back(cp);
    i += len;
  }
  return cps;
}

std::string EscapeCodePoints(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t cp : cps) {
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        AppendUtf8(out, cp);
    }
  }
  return out;
}

struct Axis {
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double t0 = 0, t1 = 1;  // the axis ends, log10'd on a log axis

  double T(double v) const { return log ? std::log10(v) : v; }
  double Fraction(double v) const { return (T(v) - t0) / (t1 - t0); }
};

// Ticks for the data range [lo, hi] (absent: has_data false), with their labels. Labels that
// would collide at 4 digits fall back to the shortest round-trip spelling.
Axis MakeAxis(bool log, bool has_data, double lo, double hi) {
  Axis axis;
  axis.log = log;
  if (!has_data) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  axis.ticks = log ? LogTicks(lo, hi) : LinearTicks(lo, hi);
  if (axis.ticks.size() < 2 || !(axis.T(axis.ticks.back()) > axis.T(axis.ticks.front()))) {
    axis.ticks = {lo, lo == hi ? std::nextafter(hi, std::numeric_limits<double>::infinity()) : hi};
  }
  axis.t0 = axis.T(axis.ticks.front());
  axis.t1 = axis.T(axis.ticks.back());
  for (double t : axis.ticks) axis.labels.push_back(TickLabel(t));
  if (std::adjacent_find(axis.labels.begin(), axis.labels.end()) != axis.labels.end()) {
    for (size_t i = 0; i < axis.ticks.size(); ++i) axis.labels[i] = ShortestText(axis.ticks[i]);
  }
  return axis;
}

size_t LongestLabel(const std::vector<std::string>& labels) {
  size_t n = 0;
  for (const auto& s : labels) n = std::max(n, s.size());  // tick labels are ASCII
  return n;
}

struct Layout {
  Axis x, y;
  PlotArea area;
  double svg_width = 0, svg_height = 0;
  double legend_left = 0;      // where the swatches start
  std::vector<size_t> legend;  // indices of the series with a legend entry
  std::vector<size_t> floors;  // indices of the series whose floor is drawn
  size_t plotted = 0;          // series with a plottable point
  bool has_data = false;
};

bool Plottable(double x, double y, const PlotOptions& options) {
  return std::isfinite(x) && std::isfinite(y) && (!options.log_x || x > 0) &&
         (!options.log_y || y > 0);
}

Layout ComputeLayout(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  Layout layout;
  double inf = std::numeric_limits<double>::infinity();
  double x_lo = inf, x_hi = -inf, y_lo = inf, y_hi = -inf;
  size_t legend_chars = 0;
  for (size_t s = 0; s < series.size(); ++s) {
    const PlotSeries& line = series[s];
    ABLATE_CHECK(line.x.size() == line.y.size(),
                 "plot series \"" + line.label + "\" has " + std::to_string(line.x.size()) +
                     " x values but " + std::to_string(line.y.size()) + " y values");
    bool plotted = false;
    for (size_t i = 0; i < line.x.size(); ++i) {
      if (!Plottable(line.x[i], line.y[i], options)) continue;
      plotted = true;
      x_lo = std::min(x_lo, line.x[i]);
      x_hi = std::max(x_hi, line.x[i]);
      y_lo = std::min(y_lo, line.y[i]);
      y_hi = std::max(y_hi, line.y[i]);
    }
    if (plotted) {
      layout.has_data = true;
      ++layout.plotted;
      // A floor is read against its line, so one without a line is not drawn; one that is
      // drawn widens the range, so that a line that never leaves it shows as such.
      if (std::isfinite(line.floor) && (!options.log_y || line.floor > 0)) {
        layout.floors.push_back(s);
        y_lo = std::min(y_lo, line.floor);
        y_hi = std::max(y_hi, line.floor);
      }
    }
    if (!line.label.empty()) {
      layout.legend.push_back(s);
      legend_chars =
          std::max(legend_chars, std::min(CodePoints(line.label).size(), kMaxLegendChars));
    }
  }
  layout.x = MakeAxis(options.log_x, layout.has_data, x_lo, x_hi);
  layout.y = MakeAxis(options.log_y, layout.has_data, y_lo, y_hi);

  PlotArea& a = layout.area;
  a.top = options.title.empty() ? 16 : 40;
  double bottom = (options.x_label.empty() ? 28 : 44) + (layout.floors.empty() ? 0 : kNoteRow);
  a.left = std::max(48.0, 16 + (options.y_label.empty() ? 0 : 24) +
                              kCharWidth * static_cast<double>(LongestLabel(layout.y.labels)) + 8);
  double right =
      std::max(16.0, kCharWidth * static_cast<double>(layout.x.labels.back().size()) / 2 + 8);
  double legend_width =
      layout.legend.empty()
          ? 0
          : kLegendSwatch + 6 + kCharWidth * static_cast<double>(legend_chars) + 12;
  layout.svg_width = std::max<double>(options.width, a.left + kMinPlotSide + right + legend_width);
  if (!layout.floors.empty()) {
    const double note = kCharWidth * static_cast<double>(CodePoints(options.floor_note).size());
    layout.svg_width = std::max(layout.svg_width, a.left + note + 16);
  }
  layout.svg_height = std::max<double>(options.height, a.top + kMinPlotSide + bottom);
  a.width = layout.svg_width - a.left - right - legend_width;
  a.height = layout.svg_height - a.top - bottom;
  layout.legend_left = a.left + a.width + right;
  double legend_bottom = a.top + kLegendRow * static_cast<double>(layout.legend.size()) + 8;
  layout.svg_height = std::max(layout.svg_height, legend_bottom);
  return layout;
}

double PxX(const Layout& l, double x) { return l.area.left + l.area.width * l.x.Fraction(x); }
double PxY(const Layout& l, double y) { return l.area.top + l.area.height * (1 - l.y.Fraction(y)); }

void Line(std::string& svg, double x1, double y1, double x2, double y2) {
  svg += "<line x1=\"" + Px(x1) + "\" y1=\"" + Px(y1) + "\" x2=\"" + Px(x2) + "\" y2=\"" + Px(y2) +
         "\"/>\n";
}

void Text(std::string& svg, double x, double y, const char* anchor, const std::string& text,
          const std::string& extra = "") {
  svg += "<text x=\"" + Px(x) + "\" y=\"" + Px(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + Escape(text) + "</text>\n";
}

void DrawAxes(std::string& svg, const Layout& l, const PlotOptions& options) {
  const PlotArea& a = l.area;
  double bottom = a.top + a.height, right = a.left + a.width;
  svg += "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  for (double t : l.x.ticks) Line(svg, PxX(l, t), a.top, PxX(l, t), bottom);
  for (double t : l.y.ticks) Line(svg, a.left, PxY(l, t), right, PxY(l, t));
  svg += "</g>\n<g stroke=\"#444\" stroke-width=\"1\">\n";
  Line(svg, a.left, bottom, right, bottom);
  Line(svg, a.left, a.top, a.left, bottom);
  for (double t : l.x.ticks) Line(svg, PxX(l, t), bottom, PxX(l, t), bottom + kTickLength);
  for (double t : l.y.ticks) Line(svg, a.left - kTickLength, PxY(l, t), a.left, PxY(l, t));
  svg += "</g>\n<g fill=\"#222\">\n";
  for (size_t i = 0; i < l.x.ticks.size(); ++i) {
    Text(svg, PxX(l, l.x.ticks[i]), bottom + kTickLength + 15, "middle", l.x.labels[i]);
  }
  for (size_t i = 0; i < l.y.ticks.size(); ++i) {
    Text(svg, a.left - kTickLength - 3, PxY(l, l.y.ticks[i]) + 4, "end", l.y.labels[i]);
  }
  if (!options.x_label.empty())
    Text(svg, a.left + a.width / 2, bottom + 38, "middle", options.x_label);
  if (!l.floors.empty())
    Text(svg, a.left, bottom + (options.x_label.empty() ? 28 : 44) + 12, "start",
         options.floor_note);
  if (!options.y_label.empty()) {
    double x = 28, y = a.top + a.height / 2;
    Text(svg, x, y, "middle", options.y_label,
         " transform=\"rotate(-90 " + Px(x) + " " + Px(y) + ")\"");
  }
  svg += "</g>\n";
}

struct Point {
  std::string x, y;
};

// The series' plottable points in pixels, split into runs at the points that are not plottable.
// Consecutive points that print the same are kept once.
std::vector<std::vector<Point>> Segments(const PlotSeries& line, const Layout& l,
                                         const PlotOptions& options) {
  std::vector<std::vector<Point>> segments;
  bool broken = true;
  for (size_t i = 0; i < line.x.size(); ++i) {
    if (!Plottable(line.x[i], line.y[i], options)) {
      broken = true;
      continue;
    }
    Point p{Px(PxX(l, line.x[i])), Px(PxY(l, line.y[i]))};
    if (broken) segments.emplace_back();
    broken = false;
    auto& run = segments.back();
    if (run.empty() || run.back().x != p.x || run.back().y != p.y) run.push_back(std::move(p));
  }
  return segments;
}

void DrawSeries(std::string& svg, const std::vector<PlotSeries>& series, const Layout& l,
                const PlotOptions& options) {
  for (size_t s = 0; s < series.size(); ++s) {
    auto segments = Segments(series[s], l, options);
    if (segments.empty()) continue;
    const char* colour = kPalette[s % kPaletteSize];
    const char* dash = kDashes[(s / kPaletteSize) % (sizeof kDashes / sizeof kDashes[0])];
    std::string d;
    size_t points = 0;
    for (const auto& run : segments) {
      for (size_t i = 0; i < run.size(); ++i) d += (i ? "L" : "M") + run[i].x + "," + run[i].y;
      points += run.size();
    }
    svg += "<path class=\"series\" fill=\"none\" stroke=\"" + std::string(colour) +
           "\" stroke-width=\"1.75\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
    if (*dash) svg += " stroke-dasharray=\"" + std::string(dash) + "\"";
    svg += " d=\"" + d + "\"";
    svg += series[s].label.empty() ? "/>\n"
                                   : "><title>" + Escape(series[s].label) + "</title></path>\n";
    // Markers show where the measurements are on short series, and make a point that has no
    // plottable neighbour visible at all.
    std::string markers;
    for (const auto& run : segments) {
      if (points > kMaxMarkedPoints && run.size() > 1) continue;
      for (const auto& p : run)
        markers += "<circle cx=\"" + p.x + "\" cy=\"" + p.y + "\" r=\"3\"/>\n";
    }
    if (!markers.empty()) svg += "<g fill=\"" + std::string(colour) + "\">\n" + markers + "</g>\n";
  }
}

// One dashed line per distinct floor: series often share one (the report's rows trained on the
// same tokens), and lines drawn over one another would show only the last one's colour.
void DrawFloors(std::string& svg, const std::vector<PlotSeries>& series, const Layout& l,
                const PlotOptions& options) {
  if (l.floors.empty()) return;
  struct Level {
    std::string y;
    size_t first = 0, count = 0;
    std::string names;
  };
  std::vector<Level> levels;
  for (size_t s : l.floors) {
    std::string y = Px(PxY(l, series[s].floor));
    auto it = std::find_if(levels.begin(), levels.end(), [&](const Level& v) { return v.y == y; });
    if (it == levels.end()) {
      levels.push_back({y, s, 1, series[s].label});
    } else {
      ++it->count;
      if (!series[s].label.empty()) it->names += (it->names.empty() ? "" : ", ") + series[s].label;
    }
  }
  // One level that every line shares belongs to no series in particular.
  const bool shared = levels.size() == 1 && l.plotted >= 2 && levels[0].count == l.plotted;
  const std::string x1 = Px(l.area.left), x2 = Px(l.area.left + l.area.width);
  svg += "<g stroke-width=\"1.25\" stroke-dasharray=\"" + std::string(kFloorDash) + "\">\n";
  for (const Level& level : levels) {
    const std::string value = TickLabel(series[level.first].floor);
    svg += "<line class=\"floor\" x1=\"" + x1 + "\" y1=\"" + level.y + "\" x2=\"" + x2 +
           "\" y2=\"" + level.y + "\" stroke=\"" +
           (shared ? kSharedFloorColour : kPalette[level.first % kPaletteSize]) + "\"><title>" +
           Escape(level.names.empty() ? value : level.names + ": " + value) + "</title></line>\n";
  }
  svg += "</g>\n";
  if (shared) {
    Text(svg, l.area.left + l.area.width - 4, PxY(l, series[levels[0].first].floor) - 4, "end",
         options.floor_shared, " fill=\"" + std::string(kSharedFloorColour) + "\"");
  }
}

void DrawLegend(std::string& svg, const std::vector<PlotSeries>& series, const Layout& l) {
  if (l.legend.empty()) return;
  svg += "<g>\n";
  double baseline = l.area.top + 12;
  for (size_t s : l.legend) {
    const char* colour = kPalette[s % kPaletteSize];
    const char* dash = kDashes[(s / kPaletteSize) % (sizeof kDashes / sizeof kDashes[0])];
    svg += "<line x1=\"" + Px(l.legend_left) + "\" y1=\"" + Px(baseline - 4) + "\" x2=\"" +
           Px(l.legend_left + kLegendSwatch) + "\" y2=\"" + Px(baseline - 4) + "\" stroke=\"" +
           colour + "\" stroke-width=\"1.75\"";
    if (*dash) svg += " stroke-dasharray=\"" + std::string(dash) + "\"";
    svg += "/>\n";
    std::vector<uint32_t> cps = CodePoints(series[s].label);
    bool truncated = cps.size() > kMaxLegendChars;
    if (truncated) {
      cps.resize(kMaxLegendChars - 1);
      cps.push_back(0x2026);  // ellipsis; the full label is in the tooltip
    }
    svg += "<text x=\"" + Px(l.legend_left + kLegendSwatch + 6) + "\" y=\"" + Px(baseline) + "\">" +
           EscapeCodePoints(cps);
    if (truncated) svg += "<title>" + Escape(series[s].label) + "</title>";
    svg += "</text>\n";
    baseline += kLegendRow;
  }
  svg += "</g>\n";
}

}  // namespace

PlotArea PlotAreaFor(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  return ComputeLayout(series, options).area;
}

std::string RenderLinePlot(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  Layout l = ComputeLayout(series, options);
  std::string w = Px(l.svg_width), h = Px(l.svg_height);
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h +
         "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  if (!options.title.empty()) {
    Text(svg, l.area.left + l.area.width / 2, 26, "middle", options.title,
         " font-size=\"15\" fill=\"#222\"");
  }
  DrawAxes(svg, l, options);
  DrawFloors(svg, series, l, options);
  DrawSeries(svg, series, l, options);
  if (!l.has_data) {
    Text(svg, l.area.left + l.area.width / 2, l.area.top + l.area.height / 2, "middle", "no data",
         " fill=\"#777\"");
  }
  DrawLegend(svg, series, l);
  svg += "</svg>\n";
  return svg;
}

std::vector<double> LinearTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / std::max(target, 1);
  if (!std::isfinite(raw)) return {};
  // The step is c x 10^e with c in {10, 20, 25, 50, 100} and e one below raw's decade.
  int e = FloorLog10(raw) - 1;
  double c = 100;
  for (double candidate : {10.0, 20.0, 25.0, 50.0}) {
    if (Scaled(candidate, e) >= raw) {
      c = candidate;
      break;
    }
  }
  double step = Scaled(c, e);
  // The small slack keeps a bound that is a multiple of the step up to rounding (0.6 / 0.2) from
  // adding a tick beyond it.
  auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  std::vector<double> ticks;
  for (int64_t k = first; k <= last; ++k) ticks.push_back(Scaled(static_cast<double>(k) * c, e));
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo <= 0 || hi <= 0) return {};
  if (lo > hi) std::swap(lo, hi);
  if (hi / lo - 1 <= 1e-12) {
    lo /= 2;
    hi *= 2;
  }
  std::vector<double> ticks;
  if (std::log10(hi / lo) >= 2) {
    int e_lo = FloorLog10(lo);
    int e_hi = FloorLog10(hi);
    if (Scaled(1, e_hi) < hi) ++e_hi;
    int stride = std::max(1, (e_hi - e_lo + 9) / 10);
    // Floor/ceil to multiples of the stride, so 1e0, 1e3, 1e6 rather than 1e1, 1e4, 1e7.
    e_lo = static_cast<int>(std::floor(static_cast<double>(e_lo) / stride)) * stride;
    e_hi = static_cast<int>(std::ceil(static_cast<double>(e_hi) / stride)) * stride;
    for (int e = e_lo; e <= e_hi; e += stride) ticks.push_back(Scaled(1, e));
    return ticks;
  }
  if (hi / lo < 3) {
    std::vector<double> linear = LinearTicks(lo, hi);
    if (!linear.empty() && linear.front() > 0) return linear;
  }
  static constexpr double kMantissas[] = {1, 2, 5};
  int e = FloorLog10(lo);
  size_t m = 0;
  while (m + 1 < 3 && Scaled(kMantissas[m + 1], e) <= lo) ++m;
  while (true) {
    double v = Scaled(kMantissas[m], e);
    ticks.push_back(v);
    if (v >= hi) break;
    if (++m == 3) {
      m = 0;
      ++e;
    }
  }
  return ticks;
}

std::string TickLabel(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return "0";
  if (value < 0) return "-" + TickLabel(-value);
  // Round to 4 digits first, so that 999999 reads 1M rather than 1000k.
  std::string text = FormatG(value, 4);
  double rounded = value;
  std::from_chars(text.data(), text.data() + text.size(), rounded);
  static constexpr struct {
    double scale;
    const char* suffix;
  } kSuffixes[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}};
  if (rounded >= 1e15) return text;
  for (const auto& [scale, suffix] : kSuffixes) {
    if (rounded >= scale) return FormatG(rounded / scale, 4) + suffix;
  }
  return text;
}

std::string Escape(const std::string& s) { return EscapeCodePoints(CodePoints(s)); }

}  // namespace ablate::reports

// Renders learning curves (one line per series: loss or perplexity against tokens seen) as a
// standalone SVG document, written directly with no plotting tool. Drawing only: no SQL, no
// aggregation over seeds; the caller hands over the points it wants drawn.
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace ablate::reports {

struct PlotSeries {
  std::string label;         // legend text; a series with an empty label has no legend entry
  std::vector<double> x, y;  // same length; points with a non-finite or (on a log axis)
                             // non-positive coordinate are skipped and break the line
  // A level to read the line against (the report: the row's best trivial baseline), drawn as a
  // dashed horizontal line across the plot area in the series' colour; NaN for none. Drawn, and
  // kept in the y range, only when the series has a plottable point and the level is plottable.
  double floor = std::numeric_limits<double>::quiet_NaN();
};

struct PlotOptions {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  int width = 720, height = 440;  // pixels; grown only when the labels or legend could not fit
  // The line under the plot that says what the dashed floors are, shown when one is drawn. The
  // floor of every plotted series (two or more) is drawn in grey, labelled `floor_shared`.
  std::string floor_note =
      "dashed: the row's best trivial baseline (context-free predictor) on the same positions";
  std::string floor_shared = "all rows";
};

// The rectangle inside the axes, in SVG pixels (y grows downward). Laid out as follows, with
// text measured at kCharWidth = 7 px per character (12 px sans-serif):
//   top    = 40 with a title, else 16
//   bottom = 44 below the area with an x label, else 28 (tick labels, then the x label), plus
//            18 for the floor note when a floor is drawn
//   left   = max(48, 16 + (24 with a y label) + 7 * (longest y tick label) + 8)
//   right  = max(16, 7 * (last x tick label) / 2 + 8), then, when a series has a label, the
//            legend: a 24 px swatch, 6 px, 7 * (longest legend label, cut at 28 characters), 12 px
// and width / height are what is left of the document (grown to keep each at least 40 px, and
// the width so that the floor note, which starts at `left`, ends 16 px inside the document).
// The y data range is that of the plottable points and the drawn floors.
// The axes span the outermost ticks of each axis, so a value v maps to
//   px = left + width * (t(v) - t(first tick)) / (t(last tick) - t(first tick))
// (t = log10 on a log axis, identity otherwise), and py likewise from top + height upward.
struct PlotArea {
  double left = 0, top = 0, width = 0, height = 0;
};
PlotArea PlotAreaFor(const std::vector<PlotSeries>& series, const PlotOptions& options);

// A standalone SVG document (xmlns set) with a line per plottable series (a <path>, nothing else
// in the document is a <path>), Okabe-Ito colours (dashed once the eight run out), markers on
// series of at most 30 points and on isolated points, axes with ticks, labels and a light grid,
// the title and a legend to the right of the plot area. Each distinct floor (by its printed y) is
// one <line class="floor"> across the plot area, dashed "5 4", under the series, in the colour of
// the first series with it (grey with `floor_shared` at its right end when it is the floor of
// every plotted series), its tooltip naming the series and the value; `floor_note` then sits
// below the x label.
// Coordinates are printed to 0.1 px. Text is XML-escaped (invalid UTF-8 becomes U+FFFD). Without
// plottable points it still draws the axes and a "no data" note. Throws InternalError when a
// series' x and y differ in length.
std::string RenderLinePlot(const std::vector<PlotSeries>& series, const PlotOptions& options);

// Text for XML and HTML: & < > " ' as entities, invalid UTF-8 as U+FFFD (the HTML report uses it
// too).
std::string Escape(const std::string& text);

// "Nice" linear ticks covering [lo, hi]: the step is the smallest of {1, 2, 2.5, 5} x 10^k that is
// at least (hi - lo) / target, and the ticks run over the multiples of the step from the largest
// at or below lo to the smallest at or above hi (so target/2 to target + 2 of them). Each tick is
// the double nearest its decimal value (3 * 0.2 gives 0.6). lo == hi is padded to lo +- 10%
// (+-1 for 0). Empty for non-finite bounds.
std::vector<double> LinearTicks(double lo, double hi, int target = 6);

// Log ticks covering [lo, hi] (0 < lo <= hi). When hi / lo spans 2 decades or more: the powers of
// ten from the one at or below lo to the one at or above hi (every second, third, ... power when
// more than ten decades, so at most 11 ticks). Under 2 decades: the 1, 2, 5 x 10^k values from
// the largest at or below lo to the smallest at or above hi, unless hi / lo < 3, where those would
// give two or three ticks for the whole axis: then LinearTicks(lo, hi), when all of them are
// positive. lo == hi is padded to lo/2 .. 2*hi.
// Empty when lo <= 0 or a bound is not finite.
std::vector<double> LogTicks(double lo, double hi);

// Tick label text, at most 4 significant digits with trailing zeros dropped:
//   |v| >= 1000 (to 1e15): scaled by a suffix k (1e3), M (1e6), B (1e9) or T (1e12), so token
//                          counts read 10k, 2.5M, 1B;
//   otherwise:             printf %.4g, so 0, 2.5, 0.001, 1e-05, and 1e+15 and up.
// Rounding to 4 digits also removes binary noise (0.30000000000000004 reads 0.3).
std::string TickLabel(double value);

}  // namespace ablate::reports

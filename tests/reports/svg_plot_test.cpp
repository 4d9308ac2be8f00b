#include "reports/svg_plot.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace rp = ablate::reports;
using rp::PlotOptions;
using rp::PlotSeries;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Parses the document with Python's XML parser (a reference independent of our writer) and
// checks that the root is an SVG-namespaced <svg>.
bool WellFormedSvg(const std::string& document) {
  static int counter = 0;
  auto path =
      std::filesystem::temp_directory_path() / ("ablate_svg_plot_test_" + std::to_string(getpid()) +
                                                "_" + std::to_string(counter++) + ".svg");
  std::ofstream(path, std::ios::binary) << document;
  std::string command =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as ET; "
      "r = ET.parse(sys.argv[1]).getroot(); "
      "sys.exit(0 if r.tag == '{http://www.w3.org/2000/svg}svg' else 1)\" '" +
      path.string() + "' 2>/dev/null";
  int status = std::system(command.c_str());
  std::filesystem::remove(path);
  return status == 0;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The value of `attribute` in each element that opens with `tag` ("<path").
std::vector<std::string> Attributes(const std::string& svg, const std::string& tag,
                                    const std::string& attribute) {
  std::vector<std::string> values;
  for (size_t at = svg.find(tag + " "); at != std::string::npos; at = svg.find(tag + " ", at + 1)) {
    size_t end = svg.find('>', at);
    size_t a = svg.find(" " + attribute + "=\"", at);
    if (a == std::string::npos || a > end) continue;
    a += attribute.size() + 3;
    values.push_back(svg.substr(a, svg.find('"', a) - a));
  }
  return values;
}

std::vector<std::string> PathData(const std::string& svg) { return Attributes(svg, "<path", "d"); }

}  // namespace

TEST_CASE("linear ticks step by 1, 2, 2.5 or 5 x 10^k and cover the range", "[svg_plot]") {
  // 97 / 6 = 16.2 -> step 20.
  CHECK(rp::LinearTicks(0, 97) == std::vector<double>{0, 20, 40, 60, 80, 100});
  // 0.74 / 6 = 0.123 -> step 0.2, from 0 (<= 0.13) to 1 (>= 0.87); each the nearest double.
  CHECK(rp::LinearTicks(0.13, 0.87) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});
  // Training loss: 9 / 6 = 1.5 -> step 2.
  CHECK(rp::LinearTicks(2, 11) == std::vector<double>{2, 4, 6, 8, 10, 12});
  // 14 / 6 = 2.33 -> step 2.5.
  CHECK(rp::LinearTicks(0, 14) == std::vector<double>{0, 2.5, 5, 7.5, 10, 12.5, 15});
  CHECK(rp::LinearTicks(0, 1e6) == std::vector<double>{0, 2e5, 4e5, 6e5, 8e5, 1e6});
  CHECK(rp::LinearTicks(-3, 7) == std::vector<double>{-4, -2, 0, 2, 4, 6, 8});
  // A bound on a multiple of the step (up to rounding: 0.6 / 0.2 = 2.9999999999999996) adds no
  // tick beyond it.
  CHECK(rp::LinearTicks(0.6, 1.6, 5) == std::vector<double>{0.6, 0.8, 1, 1.2, 1.4, 1.6});
  CHECK(rp::LinearTicks(7, 2) == rp::LinearTicks(2, 7));
}

TEST_CASE("linear ticks pad a degenerate range", "[svg_plot]") {
  // 5 -> [4.5, 5.5]: 1 / 6 -> step 0.2.
  CHECK(rp::LinearTicks(5, 5) == std::vector<double>{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6});
  // 0 -> [-1, 1]: 2 / 6 -> step 0.5.
  CHECK(rp::LinearTicks(0, 0) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  CHECK(rp::LinearTicks(kNaN, 1).empty());
}

TEST_CASE("log ticks are powers of ten, with 2 and 5 under two decades", "[svg_plot]") {
  CHECK(rp::LogTicks(3, 4000) == std::vector<double>{1, 10, 100, 1000, 10000});
  CHECK(rp::LogTicks(10, 50000) == std::vector<double>{10, 100, 1000, 1e4, 1e5});
  // log10(500 / 10) = 1.7 decades.
  CHECK(rp::LogTicks(10, 500) == std::vector<double>{10, 20, 50, 100, 200, 500});
  CHECK(rp::LogTicks(3, 40) == std::vector<double>{2, 5, 10, 20, 50});
  CHECK(rp::LogTicks(0.003, 0.04) == std::vector<double>{0.002, 0.005, 0.01, 0.02, 0.05});
  // 100 -> [50, 200].
  CHECK(rp::LogTicks(100, 100) == std::vector<double>{50, 100, 200});
  // A narrow range (a perplexity between 1100 and 1400) gets linear steps, not just 1k and 2k.
  CHECK(rp::LogTicks(1100, 1400) == std::vector<double>{1100, 1150, 1200, 1250, 1300, 1350, 1400});
  CHECK(rp::LogTicks(0.5, 1.2) == std::vector<double>{0.4, 0.6, 0.8, 1, 1.2});
  // Twenty decades: every second power.
  CHECK(rp::LogTicks(1e-10, 1e10) ==
        std::vector<double>{1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1, 1e2, 1e4, 1e6, 1e8, 1e10});
  CHECK(rp::LogTicks(0, 10).empty());
  CHECK(rp::LogTicks(-1, 10).empty());
}

TEST_CASE("tick labels are short: k/M/B/T suffixes for large values", "[svg_plot]") {
  CHECK(rp::TickLabel(0) == "0");
  CHECK(rp::TickLabel(-0.0) == "0");
  CHECK(rp::TickLabel(2.5) == "2.5");
  CHECK(rp::TickLabel(12.5) == "12.5");
  CHECK(rp::TickLabel(999) == "999");
  CHECK(rp::TickLabel(0.001) == "0.001");
  CHECK(rp::TickLabel(1e-5) == "1e-05");
  CHECK(rp::TickLabel(0.1 + 0.2) == "0.3");
  CHECK(rp::TickLabel(1000) == "1k");
  CHECK(rp::TickLabel(1e4) == "10k");
  CHECK(rp::TickLabel(50000) == "50k");
  CHECK(rp::TickLabel(1e6) == "1M");
  CHECK(rp::TickLabel(1.25e6) == "1.25M");
  CHECK(rp::TickLabel(999999) == "1M");
  CHECK(rp::TickLabel(2.5e9) == "2.5B");
  CHECK(rp::TickLabel(5e13) == "50T");
  CHECK(rp::TickLabel(1e15) == "1e+15");
  CHECK(rp::TickLabel(-2000) == "-2k");
  CHECK(rp::TickLabel(-0.5) == "-0.5");
}

TEST_CASE("the plot is a well-formed SVG document with escaped text", "[svg_plot]") {
  REQUIRE_FALSE(WellFormedSvg("<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>"));
  PlotOptions options;
  options.title = "loss \"vs\" tokens & <more>";
  options.x_label = "tokens seen";
  options.y_label = "it's the loss";
  std::vector<PlotSeries> series = {{"a <&> b", {0, 1e5, 2e5}, {10, 6, 4}},
                                    {"bad \xff byte, \x01 control", {0, 1e5}, {9, 5}}};
  std::string svg = rp::RenderLinePlot(series, options);
  CHECK(WellFormedSvg(svg));
  CHECK(svg.find("a &lt;&amp;&gt; b</text>") != std::string::npos);
  CHECK(svg.find("<&>") == std::string::npos);
  CHECK(svg.find("loss &quot;vs&quot; tokens &amp; &lt;more&gt;") != std::string::npos);
  CHECK(svg.find(">tokens seen</text>") != std::string::npos);
  CHECK(svg.find("it&apos;s the loss") != std::string::npos);
  CHECK(svg.find("bad \xEF\xBF\xBD byte,   control") != std::string::npos);
  CHECK(svg.find(">100k</text>") != std::string::npos);
}

TEST_CASE("each series is one path in its own colour, with a legend entry", "[svg_plot]") {
  std::vector<PlotSeries> series = {
      {"first", {0, 1, 2}, {3, 2, 1}}, {"second", {0, 1, 2}, {4, 3, 2}}, {"third", {0, 2}, {5, 3}}};
  std::string svg = rp::RenderLinePlot(series, {});
  CHECK(PathData(svg).size() == 3);
  auto colours = Attributes(svg, "<path", "stroke");
  REQUIRE(colours.size() == 3);
  CHECK(colours[0] != colours[1]);
  CHECK(colours[1] != colours[2]);
  CHECK(colours[0] != colours[2]);
  for (const char* label : {">first</text>", ">second</text>", ">third</text>"}) {
    CHECK(Count(svg, label) == 1);
  }
}

TEST_CASE("the legend sits to the right of the plot area", "[svg_plot]") {
  std::vector<PlotSeries> series = {{"a fairly long legend label", {0, 100}, {1, 2}}};
  rp::PlotArea area = rp::PlotAreaFor(series, {});
  std::string svg = rp::RenderLinePlot(series, {});
  size_t label = svg.find(">a fairly long legend label</text>");
  REQUIRE(label != std::string::npos);
  size_t text = svg.rfind("<text x=\"", label);
  double x = std::stod(svg.substr(text + 9));
  CHECK(x > area.left + area.width);
  // 26 characters at 7 px: the label ends inside the document.
  CHECK(x + 26 * 7 <= 720);
}

TEST_CASE("long legend labels are cut with an ellipsis and kept whole in a tooltip", "[svg_plot]") {
  std::string label(40, 'x');
  std::string svg = rp::RenderLinePlot({{label, {0, 1}, {0, 1}}}, {});
  CHECK(svg.find(std::string(27, 'x') + "\xE2\x80\xA6<title>" + label + "</title></text>") !=
        std::string::npos);
}

TEST_CASE("points land where the documented layout puts them", "[svg_plot]") {
  PlotOptions options;
  options.title = "T";
  options.x_label = "tokens";
  options.y_label = "loss";
  std::vector<PlotSeries> series = {{"a", {0, 50, 100}, {2, 7, 12}}};
  // x ticks 0..100 (last label "100"), y ticks 2..12 step 2 (labels up to 2 characters).
  // top 40 (title), bottom 44 (x label), left 16 + 24 + 2 * 7 + 8 = 62,
  // right gap 3 * 7 / 2 + 8 = 18.5, legend 24 + 6 + 1 * 7 + 12 = 49.
  rp::PlotArea area = rp::PlotAreaFor(series, options);
  CHECK(area.left == 62);
  CHECK(area.top == 40);
  CHECK(area.width == 720 - 62 - 18.5 - 49);  // 590.5
  CHECK(area.height == 440 - 40 - 44);        // 356
  // (50, 7) is the middle: 62 + 590.5 / 2 = 357.25, printed to 0.1 px.
  std::string svg = rp::RenderLinePlot(series, options);
  CHECK(PathData(svg) == std::vector<std::string>{"M62,396L357.3,218L652.5,40"});
  // Three points get markers.
  CHECK(Count(svg, "<circle ") == 3);
}

TEST_CASE("a log axis puts each decade the same distance apart", "[svg_plot]") {
  PlotOptions options;
  options.log_y = true;
  std::vector<PlotSeries> series = {{"ppl", {0, 1, 2}, {10, 100, 10000}}};
  // y ticks 10, 100, 1k, 10k: three decades over 440 - 16 - 28 = 396 px, 132 px each.
  rp::PlotArea area = rp::PlotAreaFor(series, options);
  REQUIRE(area.height == 396);
  REQUIRE(area.top == 16);
  REQUIRE(area.left == 48);
  // x ticks 0..2 step 0.5; width 720 - 48 - 16 - (24 + 6 + 21 + 12) = 593.
  REQUIRE(area.width == 593);
  std::string svg = rp::RenderLinePlot(series, options);
  CHECK(PathData(svg) == std::vector<std::string>{"M48,412L344.5,280L641,16"});
  for (const char* label : {">10</text>", ">100</text>", ">1k</text>", ">10k</text>"}) {
    CHECK(svg.find(label) != std::string::npos);
  }
}

TEST_CASE("points that cannot be plotted break the line", "[svg_plot]") {
  std::string svg = rp::RenderLinePlot({{"nan", {0, 1, 2, 3, 4}, {1, 2, kNaN, 3, 4}}}, {});
  auto d = PathData(svg);
  REQUIRE(d.size() == 1);
  CHECK(Count(d[0], "M") == 2);
  CHECK(Count(d[0], "L") == 2);

  PlotOptions log;
  log.log_y = true;
  d = PathData(rp::RenderLinePlot({{"zero", {0, 1, 2, 3, 4}, {1, 2, 0, 3, 4}}}, log));
  REQUIRE(d.size() == 1);
  CHECK(Count(d[0], "M") == 2);
}

TEST_CASE("a single point gets a padded axis and a marker in the middle", "[svg_plot]") {
  std::vector<PlotSeries> series = {{"one", {5}, {3}}};
  rp::PlotArea area = rp::PlotAreaFor(series, {});
  std::string svg = rp::RenderLinePlot(series, {});
  CHECK(WellFormedSvg(svg));
  auto cx = Attributes(svg, "<circle", "cx");
  auto cy = Attributes(svg, "<circle", "cy");
  REQUIRE(cx.size() == 1);
  REQUIRE(cy.size() == 1);
  CHECK(std::stod(cx[0]) == Approx(area.left + area.width / 2).margin(0.05));
  CHECK(std::stod(cy[0]) == Approx(area.top + area.height / 2).margin(0.05));
  CHECK(svg.find(">4.4</text>") != std::string::npos);
  CHECK(svg.find(">2.7</text>") != std::string::npos);
}

TEST_CASE("long series have no markers", "[svg_plot]") {
  PlotSeries curve{"loss", {}, {}};
  for (int i = 0; i < 100; ++i) {
    curve.x.push_back(i * 1000.0);
    curve.y.push_back(10.0 / (1 + i));
  }
  std::string svg = rp::RenderLinePlot({curve}, {});
  CHECK(Count(svg, "<circle ") == 0);
  CHECK(PathData(svg).size() == 1);
}

TEST_CASE("without plottable points the axes are drawn with a no-data note", "[svg_plot]") {
  std::string svg = rp::RenderLinePlot({}, {});
  CHECK(WellFormedSvg(svg));
  CHECK(svg.find(">no data</text>") != std::string::npos);
  CHECK(svg.find(">0</text>") != std::string::npos);
  CHECK(svg.find(">1</text>") != std::string::npos);
  CHECK(PathData(svg).empty());

  PlotOptions log;
  log.log_x = log.log_y = true;
  svg = rp::RenderLinePlot({{"empty", {1, kNaN}, {-1, 2}}}, log);
  CHECK(WellFormedSvg(svg));
  CHECK(svg.find(">no data</text>") != std::string::npos);
  CHECK(svg.find(">empty</text>") != std::string::npos);
  CHECK(PathData(svg).empty());
}

namespace {

// The dashed floors of a plot: each <line class="floor">'s coordinates, colour and tooltip.
struct FloorLine {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  std::string stroke, title;
};
std::vector<FloorLine> Floors(const std::string& svg) {
  std::vector<FloorLine> floors;
  const std::string open = "<line class=\"floor\"";
  for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const std::string element = svg.substr(at, svg.find("</line>", at) - at);
    auto attribute = [&](const std::string& name) {
      size_t a = element.find(" " + name + "=\"");
      REQUIRE(a != std::string::npos);
      a += name.size() + 3;
      return element.substr(a, element.find('"', a) - a);
    };
    const size_t title = element.find("<title>") + 7;
    floors.push_back({std::stod(attribute("x1")), std::stod(attribute("y1")),
                      std::stod(attribute("x2")), std::stod(attribute("y2")), attribute("stroke"),
                      element.substr(title, element.find("</title>") - title)});
  }
  return floors;
}

const char* kFloorNote =
    ">dashed: the row&apos;s best trivial baseline (context-free predictor) on the same "
    "positions</text>";

}  // namespace

TEST_CASE("each series' floor is a dashed line across the plot at its value, in its colour",
          "[svg_plot]") {
  PlotOptions options;
  options.title = "T";
  options.x_label = "tokens";
  options.y_label = "loss";
  std::vector<PlotSeries> series = {{"a", {0, 50, 100}, {2, 7, 12}, 10},
                                    {"b", {0, 100}, {4, 6}, 3}};
  // As in "points land where the documented layout puts them" (y ticks 2..12, left 62, right
  // 18.5, legend 49, top 40), with the floor note's 18 px under the x label: bottom 62, so the
  // area is 590.5 x (440 - 40 - 62 = 338).
  rp::PlotArea area = rp::PlotAreaFor(series, options);
  REQUIRE(area.left == 62);
  REQUIRE(area.top == 40);
  REQUIRE(area.width == 590.5);
  REQUIRE(area.height == 338);
  std::string svg = rp::RenderLinePlot(series, options);
  CHECK(WellFormedSvg(svg));
  auto floors = Floors(svg);
  REQUIRE(floors.size() == 2);
  // 10 is 8/10 of the way up from 2 to 12: 40 + 338 * 0.2 = 107.6; 3 is 1/10: 40 + 338 * 0.9.
  CHECK(floors[0].y1 == 107.6);
  CHECK(floors[1].y1 == 344.2);
  for (const auto& floor : floors) {
    CHECK(floor.y2 == floor.y1);
    CHECK(floor.x1 == 62);
    CHECK(floor.x2 == 652.5);  // 62 + 590.5: the plot area's width
  }
  // In each series' own colour (the paths' strokes), named with its value in the tooltip.
  auto colours = Attributes(svg, "<path", "stroke");
  REQUIRE(colours.size() == 2);
  CHECK(floors[0].stroke == colours[0]);
  CHECK(floors[1].stroke == colours[1]);
  CHECK(floors[0].title == "a: 10");
  CHECK(floors[1].title == "b: 3");
  CHECK(Count(svg, "stroke-dasharray=\"5 4\"") == 1);  // the group of floors, and nothing else
  // Under the lines, which land where they did without floors but for the taller bottom.
  CHECK(svg.find("class=\"floor\"") < svg.find("<path"));
  CHECK(PathData(svg)[0] == "M62,378L357.3,209L652.5,40");
  // The note under the x label says what the dashes are.
  CHECK(Count(svg, kFloorNote) == 1);
  CHECK(svg.find("<text x=\"62\" y=\"434\" text-anchor=\"start\"" + std::string(kFloorNote)) !=
        std::string::npos);
}

TEST_CASE("without floors a plot has no dashed floors and no floor note", "[svg_plot]") {
  PlotOptions options;
  options.title = "T";
  options.x_label = "tokens";
  options.y_label = "loss";
  std::vector<PlotSeries> series = {{"a", {0, 50, 100}, {2, 7, 12}}, {"b", {0, 100}, {4, 6}}};
  std::string svg = rp::RenderLinePlot(series, options);
  CHECK(Floors(svg).empty());
  CHECK(svg.find("dashed:") == std::string::npos);
  CHECK(rp::PlotAreaFor(series, options).height == 356);  // no row for the note
  // A floor is not drawn without a plottable point of its series, nor where the axis cannot
  // show it.
  series.push_back({"no points", {0, 1}, {kNaN, kNaN}, 5});
  svg = rp::RenderLinePlot(series, options);
  CHECK(Floors(svg).empty());
  CHECK(svg.find("dashed:") == std::string::npos);
  options.log_y = true;
  svg = rp::RenderLinePlot({{"zero", {0, 1}, {5, 4}, 0}, {"nan", {0, 1}, {5, 4}, kNaN}}, options);
  CHECK(Floors(svg).empty());
  CHECK(svg.find("dashed:") == std::string::npos);
}

TEST_CASE("the y range reaches a floor above every point", "[svg_plot]") {
  PlotOptions options;
  options.log_y = true;
  const PlotSeries curve{"ppl", {0, 1, 2}, {10, 100, 1000}};
  std::string svg = rp::RenderLinePlot({curve}, options);
  CHECK(svg.find(">1k</text>") != std::string::npos);
  CHECK(svg.find(">10k</text>") == std::string::npos);

  PlotSeries floored = curve;
  floored.floor = 5000;  // a row that never reaches its floor's level on this plot
  rp::PlotArea area = rp::PlotAreaFor({floored}, options);
  svg = rp::RenderLinePlot({floored}, options);
  // The ticks now run 10, 100, 1k, 10k: three decades over 440 - 16 - (28 + 18) = 378 px.
  CHECK(svg.find(">10k</text>") != std::string::npos);
  REQUIRE(area.top == 16);
  REQUIRE(area.height == 378);
  auto floors = Floors(svg);
  REQUIRE(floors.size() == 1);
  const double expected = 16 + 378 * (1 - (std::log10(5000.0) - 1) / 3);  // 53.93
  CHECK(floors[0].y1 == Approx(expected).margin(0.05));
  CHECK(floors[0].y1 >= area.top);
  // Every point lies below it (larger y in SVG pixels).
  const std::string d = PathData(svg)[0];
  for (size_t at = d.find(','); at != std::string::npos; at = d.find(',', at + 1))
    CHECK(std::stod(d.substr(at + 1)) > floors[0].y1);
}

TEST_CASE("series with the same floor share one line, and one shared by all is grey and labelled",
          "[svg_plot]") {
  std::vector<PlotSeries> series = {
      {"a", {0, 1}, {9, 6}, 5}, {"b", {0, 1}, {10, 7}, 8}, {"c", {0, 1}, {11, 8}, 5}};
  std::string svg = rp::RenderLinePlot(series, {});
  auto colours = Attributes(svg, "<path", "stroke");
  REQUIRE(colours.size() == 3);
  auto floors = Floors(svg);
  REQUIRE(floors.size() == 2);
  CHECK(floors[0].stroke == colours[0]);  // the first series with it
  CHECK(floors[0].title == "a, c: 5");
  CHECK(floors[1].stroke == colours[1]);
  CHECK(floors[1].title == "b: 8");
  CHECK(svg.find(">all rows</text>") == std::string::npos);

  // Every series on one floor: it is nobody's in particular.
  series[1].floor = 5;
  svg = rp::RenderLinePlot(series, {});
  floors = Floors(svg);
  REQUIRE(floors.size() == 1);
  CHECK(floors[0].stroke == "#777");
  CHECK(floors[0].title == "a, b, c: 5");
  CHECK(Count(svg, ">all rows</text>") == 1);
  CHECK(Count(svg, kFloorNote) == 1);

  // A single series keeps its colour.
  svg = rp::RenderLinePlot({series[0]}, {});
  floors = Floors(svg);
  REQUIRE(floors.size() == 1);
  CHECK(floors[0].stroke == colours[0]);
  CHECK(svg.find(">all rows</text>") == std::string::npos);
}

// The output formats of a built Report, as a table of writers: GitHub-flavoured markdown (the
// default), LaTeX with booktabs, CSV (one line per cell, for further analysis), JSON, and one
// self-contained HTML page (report_html.h). Text only: what goes in the cells is decided by
// report.h, and the plots are drawn by svg_plot.h.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "reports/report.h"
#include "results/query.h"

namespace ablate::reports {

// The plot files of a table, as the document should link them (relative paths); empty = none.
struct PlotLinks {
  std::string loss, perplexity;
};

// What a writer is given. `curves` (by table id, ReadCurves) and `runs` (runs_wide of the
// report's experiments) are read only for a writer that embeds them; `plots` only for one whose
// curves go beside its file.
struct ReportDocument {
  const Report& report;
  std::map<std::string, PlotLinks> plots;
  std::map<std::string, TableCurves> curves;
  results::ResultSet runs;
};

// An output format of `ablate report --format`. A new format is a function and a row in
// ReportWriters().
struct ReportWriter {
  std::string_view name;
  std::vector<std::string_view> aliases;
  std::string_view what;  // for --help
  bool side_plots;        // links learning-curve SVGs written beside its file (plots)
  bool embeds_curves;     // draws the curves itself and lists the runs (curves, runs)
  void (*write)(std::ostream& out, const ReportDocument& document);
};

// markdown (the default), latex, csv, json and html, in that order.
const std::vector<ReportWriter>& ReportWriters();

// The writer named (or aliased) `name`; an InputError naming `option` otherwise, with the closest
// names.
const ReportWriter& FindReportWriter(std::string_view name, const std::string& option);

// "markdown, latex, csv, json or html".
std::string ReportWriterNames();

// The learning-curve SVGs of the tables with curves: <stem>-<table id>-loss.svg (training MLM
// loss) and -ppl.svg (held-out perplexity, log scale, the rows' floors dashed), drawn for the
// tables whose curves have points, with the links a document shows for them.
struct CurvePlotFile {
  std::string name, svg;
};
struct CurvePlots {
  std::vector<CurvePlotFile> files;
  std::map<std::string, PlotLinks> links;  // by table id
};
CurvePlots DrawCurvePlots(const Report& report, const std::map<std::string, TableCurves>& curves,
                          const std::string& stem);

// Writes `report` in the format named `format` (tests and benchmarks: no curves, no runs).
void RenderReport(std::ostream& out, const Report& report, std::string_view format,
                  const std::map<std::string, PlotLinks>& plots = {});

}  // namespace ablate::reports

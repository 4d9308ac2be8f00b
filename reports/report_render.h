// Writes a built Report as GitHub-flavoured markdown (the default), LaTeX with booktabs, CSV (one
// line per cell, for further analysis) or JSON. Text only: what goes in the cells is decided by
// report.h, and the plots are drawn by svg_plot.h.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <string_view>

#include "reports/report.h"

namespace ablate::reports {

// kHtml is written by report_html.h (it needs the curves and the runs as well).
enum class ReportFormat { kMarkdown, kLatex, kCsv, kJson, kHtml };

// "markdown", "latex", "csv", "json", "html"; throws InputError naming `option` otherwise.
ReportFormat ParseReportFormat(std::string_view text, const std::string& option);

// The plot files of a table, as the document should link them (relative paths); empty = none.
struct PlotLinks {
  std::string loss, perplexity;
};

void RenderReport(std::ostream& out, const Report& report, ReportFormat format,
                  const std::map<std::string, PlotLinks>& plots = {});

}  // namespace ablate::reports

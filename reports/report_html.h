// A report as one self-contained HTML file: the same tables as the markdown (spread, tested bold,
// footnotes, the paper's rows), sortable by any column, each cell's per-run values and run keys
// on hover and click; the learning curves as interactive uPlot charts (hover reads each row's
// value, the legend toggles rows, a button switches the axis between log and linear); and a
// filterable page of the runs (runs_wide). uPlot and its licence are embedded, so the file opens
// with no network. Rendering only: report.h builds the tables, results/ reads the runs.
#pragma once

#include <map>
#include <ostream>
#include <string>

#include "reports/report.h"
#include "results/query.h"

namespace ablate::reports {

// `curves` by table id (ReadCurves); `runs` the runs_wide rows of the report's experiments.
void RenderHtml(std::ostream& out, const Report& report,
                const std::map<std::string, TableCurves>& curves, const results::ResultSet& runs);

}  // namespace ablate::reports

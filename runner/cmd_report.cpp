// ablate report SPEC --db FILE [-o FILE] [--format markdown|latex|csv|json|html]: the tables of a
// report spec, made from the results database, and each table's learning curves as SVG next to
// the output file (html: one self-contained page with interactive charts and the runs).
#include <filesystem>
#include <iostream>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "reports/report.h"
#include "reports/report_html.h"
#include "reports/report_render.h"
#include "reports/report_spec.h"
#include "reports/svg_plot.h"
#include "results/run_reads.h"
#include "runner/cli.h"
#include "runner/slurm_runs.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;

// The user's output paths: a file that cannot be written there is bad input (exit 2).
void WriteOutput(const fs::path& path, const std::string& text) {
  try {
    WriteFileAtomically(path, text);
  } catch (const std::runtime_error& e) {
    throw InputError(path.string(), "", std::string("cannot write the file: ") + e.what());
  }
}

std::vector<reports::PlotSeries> Series(const std::vector<reports::CurveLine>& lines) {
  std::vector<reports::PlotSeries> series;
  for (const auto& line : lines)
    series.push_back({line.label, line.tokens, line.values, line.floor});
  return series;
}

bool HasPoints(const std::vector<reports::CurveLine>& lines) {
  for (const auto& line : lines) {
    if (!line.tokens.empty()) return true;
  }
  return false;
}

// Writes <stem>-<table>-loss.svg and -ppl.svg beside `out` for each table with curves; returns
// the links the document shows.
std::map<std::string, reports::PlotLinks> WritePlots(const reports::Report& report,
                                                     const std::string& db, const fs::path& out) {
  std::map<std::string, reports::PlotLinks> links;
  const fs::path dir = out.parent_path();
  const std::string stem = out.stem().string();
  const auto all_curves = reports::ReadCurves(report, db);
  for (const auto& table : report.tables) {
    if (!all_curves.count(table.spec->id)) continue;
    const reports::TableCurves& curves = all_curves.at(table.spec->id);
    const std::string caption = table.caption.empty() ? table.spec->id : table.caption;
    reports::PlotLinks link;
    if (HasPoints(curves.loss)) {
      reports::PlotOptions options;
      options.title = caption + ": training MLM loss";
      options.x_label = "tokens seen";
      options.y_label = "training MLM loss (without NSP)";
      link.loss = stem + "-" + table.spec->id + "-loss.svg";
      WriteOutput(dir / link.loss, reports::RenderLinePlot(Series(curves.loss), options));
    }
    if (HasPoints(curves.perplexity)) {
      reports::PlotOptions options;
      options.title = caption + ": validation perplexity";
      options.x_label = "tokens seen";
      options.y_label = "held-out MLM perplexity (log scale)";
      options.log_y = true;
      link.perplexity = stem + "-" + table.spec->id + "-ppl.svg";
      WriteOutput(dir / link.perplexity,
                  reports::RenderLinePlot(Series(curves.perplexity), options));
    }
    if (!link.loss.empty() || !link.perplexity.empty()) links[table.spec->id] = link;
  }
  return links;
}

}  // namespace

int CmdReport(const Args& args) {
  po::options_description options("options");
  options.add_options()("spec", po::value<std::string>()->required(), "report spec (JSON)")(
      "db", po::value<std::string>()->required(), "results database")(
      "output,o", po::value<std::string>(),
      "write here (default: stdout); learning curves go beside it as SVG")(
      "format", po::value<std::string>()->default_value("markdown"),
      "markdown, latex, csv, json or html (one self-contained page)")(
      "no-plots", "do not write the learning-curve SVGs (html: no charts)");
  auto vm = ParseOptions(
      args, "ablate report SPEC --db FILE [-o FILE] [--format markdown|latex|csv|json|html]",
      options, {"spec"});
  if (!vm) return 0;
  const auto format = reports::ParseReportFormat((*vm)["format"].as<std::string>(), "--format");
  const std::string db = (*vm)["db"].as<std::string>();
  CollectBeforeReading(db, std::nullopt, false, std::cerr);
  const reports::ReportSpec spec = reports::ReadReportSpec((*vm)["spec"].as<std::string>());
  const reports::Report report = reports::BuildReport(spec, db);
  // The builder prints nothing: its warnings go to stderr, apart from a report on stdout.
  for (const auto& table : report.tables) {
    for (const auto& warning : table.warnings)
      std::cerr << "ablate report: warning: " << warning << "\n";
  }

  if (format == reports::ReportFormat::kHtml) {
    std::map<std::string, reports::TableCurves> curves;
    if (!vm->count("no-plots")) curves = reports::ReadCurves(report, db);
    std::ostringstream page;
    reports::RenderHtml(page, report, curves,
                        results::ReadRunsWide(db, reports::InputsOf(spec).experiments));
    if (!vm->count("output")) {
      std::cout << page.str();
      return 0;
    }
    WriteOutput((*vm)["output"].as<std::string>(), page.str());
    std::cerr << "ablate report: wrote " << (*vm)["output"].as<std::string>() << "\n";
    return 0;
  }
  if (!vm->count("output")) {
    reports::RenderReport(std::cout, report, format);
    return 0;
  }
  const fs::path out = (*vm)["output"].as<std::string>();
  if (!out.parent_path().empty() && !fs::is_directory(out.parent_path())) {
    throw InputError("", "--output", "no such directory: " + out.parent_path().string());
  }
  std::map<std::string, reports::PlotLinks> plots;
  const bool plots_wanted = !vm->count("no-plots") && (format == reports::ReportFormat::kMarkdown ||
                                                       format == reports::ReportFormat::kJson);
  if (plots_wanted) plots = WritePlots(report, db, out);
  std::ostringstream text;
  reports::RenderReport(text, report, format, plots);
  WriteOutput(out, text.str());
  std::cerr << "ablate report: wrote " << out.string();
  for (const auto& [id, link] : plots) {
    for (const auto& file : {link.loss, link.perplexity}) {
      if (!file.empty()) std::cerr << ", " << file;
    }
  }
  std::cerr << "\n";
  return 0;
}

}  // namespace ablate::runner

// ablate report SPEC --db FILE [-o FILE] [--format FORMAT]: the tables of a
// report spec, made from the results database, and each table's learning curves as SVG next to
// the output file (html: one self-contained page with interactive charts and the runs).
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "reports/report.h"
#include "reports/report_render.h"
#include "reports/report_spec.h"
#include "results/run_reads.h"
#include "runner/backend.h"
#include "runner/cli.h"

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

}  // namespace

int CmdReport(const Args& args) {
  std::string formats, format_help;  // "markdown|latex|...", and each with what it writes
  for (const auto& writer : reports::ReportWriters()) {
    formats += (formats.empty() ? "" : "|") + std::string(writer.name);
    format_help += (format_help.empty() ? "" : "; ") + std::string(writer.name) + ": " +
                   std::string(writer.what);
  }
  po::options_description options("options");
  options.add_options()("spec", po::value<std::string>()->required(), "report spec (JSON)")(
      "db", po::value<std::string>()->required(), "results database")(
      "output,o", po::value<std::string>(),
      "write here (default: stdout); learning curves go beside it as SVG")(
      "format", po::value<std::string>()->default_value("markdown"), format_help.c_str())(
      "no-plots", "do not write the learning-curve SVGs (html: no charts)");
  auto vm = ParseOptions(args, "ablate report SPEC --db FILE [-o FILE] [--format " + formats + "]",
                         options, {"spec"});
  if (!vm) return 0;
  const reports::ReportWriter& writer =
      reports::FindReportWriter((*vm)["format"].as<std::string>(), "--format");
  const std::string db = (*vm)["db"].as<std::string>();
  CollectBeforeReading(db, std::nullopt, {}, std::cerr);
  const reports::ReportSpec spec = reports::ReadReportSpec((*vm)["spec"].as<std::string>());
  const reports::Report report = reports::BuildReport(spec, db);
  // The builder prints nothing: its warnings go to stderr, apart from a report on stdout.
  for (const auto& table : report.tables) {
    for (const auto& warning : table.warnings)
      std::cerr << "ablate report: warning: " << warning << "\n";
  }

  const bool plots = !vm->count("no-plots");
  const std::optional<fs::path> out =
      vm->count("output") ? std::optional<fs::path>((*vm)["output"].as<std::string>())
                          : std::nullopt;
  if (out && !out->parent_path().empty() && !fs::is_directory(out->parent_path())) {
    throw InputError("", "--output", "no such directory: " + out->parent_path().string());
  }
  // Refused before the SVGs beside it are written, so a refused report leaves nothing behind.
  if (out && fs::is_directory(*out))
    throw InputError("", "--output", out->string() + " is a directory: name a file to write");
  reports::ReportDocument document{report, {}, {}, {}};
  if (writer.embeds_curves) {
    if (plots) document.curves = reports::ReadCurves(report, db);
    document.runs = results::ReadRunsWide(db, reports::InputsOf(spec).experiments);
  }
  std::vector<std::string> written;
  if (out && plots && writer.side_plots) {
    const auto drawn =
        reports::DrawCurvePlots(report, reports::ReadCurves(report, db), out->stem().string());
    for (const auto& file : drawn.files) {
      WriteOutput(out->parent_path() / file.name, file.svg);
      written.push_back(file.name);
    }
    document.plots = drawn.links;
  }
  std::ostringstream text;
  writer.write(text, document);
  if (!out) {
    std::cout << text.str();
    return 0;
  }
  WriteOutput(*out, text.str());
  std::cerr << "ablate report: wrote " << out->string();
  for (const auto& file : written) std::cerr << ", " << file;
  std::cerr << "\n";
  return 0;
}

}  // namespace ablate::runner

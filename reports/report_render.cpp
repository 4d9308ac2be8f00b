#include "reports/report_render.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/list_text.h"
#include "base/number_text.h"
#include "base/suggest.h"
#include "reports/report_html.h"

namespace ablate::reports {
namespace {

using nlohmann::ordered_json;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// The first column's heading; captions fall back to the table id.
std::string Caption(const ReportTable& table) {
  return table.caption.empty() ? table.spec->id : table.caption;
}

std::string DefaultReferenceHeader(const ReportTable& table) {
  return table.reference_header.empty() ? "Reference" : table.reference_header;
}

// --- markdown ---

std::string MdEscape(const std::string& text) { return Replace(text, "|", "\\|"); }

// Bold: the tested best; italic: the best that the test could not separate from the runner-up.
std::string MdCell(const ReportCell& cell) {
  std::string out;
  for (size_t p = 0; p < cell.parts.size(); ++p) {
    if (p > 0) out += "/";
    const auto& part = cell.parts[p];
    out += part.bold ? "**" + part.text + "**" : part.best ? "*" + part.text + "*" : part.text;
    if (!part.not_better_than.empty()) out += "†";
    if (!part.spread.empty()) out += " " + part.spread;
  }
  if (!cell.note.empty()) out += " (" + cell.note + ")";
  return MdEscape(out);
}

void MdRow(std::ostream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (const auto& c : cells) out << " " << c << " |";
  out << "\n";
}

void WriteMarkdown(std::ostream& out, const Report& report,
                   const std::map<std::string, PlotLinks>& plots) {
  if (!report.spec->title.empty()) out << "# " << report.spec->title << "\n\n";
  bool any_reference = false;
  for (const auto& table : report.tables) {
    out << "## " << Caption(table) << "\n\n";
    const size_t width = table.columns.size() + 1;
    std::vector<std::string> header{MdEscape(table.spec->row_header)};
    for (const auto* column : table.columns) header.push_back(MdEscape(column->label));
    MdRow(out, header);
    std::vector<std::string> rule{":--"};
    rule.resize(width, "--:");
    MdRow(out, rule);
    auto group_line = [&](const std::string& text) {
      std::vector<std::string> cells{"*" + MdEscape(text) + "*"};
      cells.resize(width, "");
      MdRow(out, cells);
    };
    std::string group;
    bool in_reference = false;
    for (const auto& row : table.rows) {
      if (row.reference && !in_reference) {
        in_reference = true;
        any_reference = true;
        group_line(DefaultReferenceHeader(table));
      } else if (!row.reference && !row.group.empty() && row.group != group) {
        group_line(row.group);
      }
      if (!row.reference) group = row.group;
      std::vector<std::string> cells{MdEscape(row.label)};
      for (const auto& cell : row.cells) cells.push_back(MdCell(cell));
      MdRow(out, cells);
    }
    out << "\n";
    std::string text = table.summary;
    if (!table.fixed_key.empty())
      text += " Held fixed in this slice of the grid: " + table.fixed_key + ".";
    if (!text.empty()) out << text << "\n\n";
    for (const auto& claim : table.claims) out << "- " << claim.text << "\n";
    if (!table.claims.empty()) out << "\n";
    for (const auto& note : table.footnotes) out << "- " << note << "\n";
    if (!table.footnotes.empty()) out << "\n";
    if (!table.fixed.empty()) {
      out << "<details><summary>All " << table.fixed_count << " parameters held fixed</summary>\n\n"
          << MdEscape(table.fixed) << "\n\n</details>\n\n";
    }
    for (const auto& note : table.notes) out << "> " << note << "\n";
    if (!table.notes.empty()) out << "\n";
    if (auto it = plots.find(table.spec->id); it != plots.end()) {
      const std::string caption = Caption(table);
      if (!it->second.loss.empty()) {
        out << "![Training MLM loss, " << caption << "](" << it->second.loss << ")";
      }
      if (!it->second.perplexity.empty()) {
        out << (it->second.loss.empty() ? "" : " ") << "![Validation perplexity, " << caption
            << "](" << it->second.perplexity << ")";
      }
      out << "\n\n";
    }
  }
  if (any_reference && !report.spec->reference_source.empty()) {
    out << "Reference rows: " << report.spec->reference_source << "\n";
  }
}

// --- LaTeX (booktabs) ---

std::string TexEscape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\':
        out += "\\textbackslash{}";
        break;
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        out += std::string("\\") + c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      default:
        out += c;
    }
  }
  out = Replace(out, "–", "--");
  // The claims' and footnotes' symbols, which plain LaTeX (no unicode input) cannot set.
  out = Replace(out, "Δ", "$\\Delta$");
  out = Replace(out, "−", "$-$");
  out = Replace(out, "≤", "$\\le$");
  out = Replace(out, "†", "$^\\dagger$");
  return Replace(out, "±", "$\\pm$");
}

std::string TexCell(const ReportCell& cell) {
  std::string out;
  for (size_t p = 0; p < cell.parts.size(); ++p) {
    if (p > 0) out += "/";
    const auto& part = cell.parts[p];
    out += part.bold   ? "\\textbf{" + TexEscape(part.text) + "}"
           : part.best ? "\\textit{" + TexEscape(part.text) + "}"
                       : TexEscape(part.text);
    if (!part.not_better_than.empty()) out += "$^\\dagger$";
    if (!part.spread.empty()) out += "\\,{\\scriptsize " + TexEscape(part.spread) + "}";
  }
  if (!cell.note.empty()) out += " {\\scriptsize(" + TexEscape(cell.note) + ")}";
  return out;
}

// Escaped text with markdown's **bold** and *italic* turned into \\textbf and \\textit.
std::string TexInline(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const bool strong = text.compare(pos, 2, "**") == 0;
    const size_t marker = strong ? 2 : text[pos] == '*' ? 1 : 0;
    const size_t close =
        marker == 0 ? std::string::npos : text.find(std::string(marker, '*'), pos + marker);
    if (marker == 0 || close == std::string::npos) {
      const size_t next = text.find('*', pos + 1);
      out += TexEscape(text.substr(pos, next == std::string::npos ? next : next - pos));
      pos = next == std::string::npos ? text.size() : next;
      continue;
    }
    out += (strong ? "\\textbf{" : "\\textit{") +
           TexEscape(text.substr(pos + marker, close - pos - marker)) + "}";
    pos = close + marker;
  }
  return out;
}

void WriteLatex(std::ostream& out, const Report& report) {
  out << "% Generated by ablate report; needs \\usepackage{booktabs}.\n";
  for (const auto& table : report.tables) {
    const size_t width = table.columns.size() + 1;
    out << "\\begin{table}[t]\n\\centering\n\\caption{" << TexEscape(Caption(table)) << "}\n";
    out << "\\label{tab:" << table.spec->id << "}\n";
    out << "\\begin{tabular}{l" << std::string(table.columns.size(), 'r') << "}\n\\toprule\n";
    out << TexEscape(table.spec->row_header);
    for (const auto* column : table.columns) out << " & " << TexEscape(column->label);
    out << " \\\\\n\\midrule\n";
    auto group_line = [&](const std::string& text) {
      out << "\\multicolumn{" << width << "}{l}{\\textit{" << TexEscape(text) << "}} \\\\\n";
    };
    std::string group;
    bool in_reference = false;
    for (const auto& row : table.rows) {
      if (row.reference && !in_reference) {
        in_reference = true;
        out << "\\midrule\n";
        group_line(DefaultReferenceHeader(table));
      } else if (!row.reference && !row.group.empty() && row.group != group) {
        group_line(row.group);
      }
      if (!row.reference) group = row.group;
      out << TexEscape(row.label);
      for (const auto& cell : row.cells) out << " & " << TexCell(cell);
      out << " \\\\\n";
    }
    out << "\\bottomrule\n\\end{tabular}\n";
    std::string text = table.summary;
    if (!table.fixed.empty())
      text += (text.empty() ? "" : " ") + std::string("Held fixed: ") + table.fixed + ".";
    for (const auto& note : table.notes) text += " " + note;
    for (const auto& claim : table.claims) text += " " + claim.text;
    for (const auto& note : table.footnotes) text += " " + note;
    if (!text.empty())
      out << "\\par\\smallskip{\\footnotesize " << TexInline(Replace(text, "`", "")) << "}\n";
    out << "\\end{table}\n\n";
  }
}

// --- CSV: one line per cell part ---

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  return "\"" + Replace(text, "\"", "\"\"") + "\"";
}

// A number in full precision; "" for NaN (not estimated).
std::string Number(double value) {
  if (std::isnan(value)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// A shift as JSON: {estimate, low, high, confidence}, or null when not estimated.
ordered_json ShiftJson(const Shift& shift) {
  if (!shift.Known()) return nullptr;
  return {{"estimate", shift.estimate},
          {"low", shift.low},
          {"high", shift.high},
          {"confidence", shift.confidence}};
}

// A tuned row's candidate value as text ("" for runs without the parameter) and as JSON.
std::string CandidateText(const TunedChoice::Candidate& c) {
  return c.value ? (c.value->is_number ? ShortestText(c.value->number) : c.value->text) : "";
}
ordered_json CandidateJson(const TunedChoice::Candidate& c) {
  if (!c.value) return nullptr;
  return c.value->is_number ? ordered_json(c.value->number) : ordered_json(c.value->text);
}

void WriteCsv(std::ostream& out, const Report& report) {
  out << "table,section,group,row,column,metric,value,text,runs,bold,best,spread,p,values,keys,"
         "delta,delta_low,delta_high,delta_confidence,versus,not_better_than,tuned_param,"
         "tuned_value,tuned_candidates,tuned_selection_metric,tuned_selection_medians\r\n";
  for (const auto& table : report.tables) {
    for (const auto& row : table.rows) {
      // The tuned row's choice, the same on each of its lines.
      std::string tuned;
      if (row.tuned) {
        const TunedChoice& t = *row.tuned;
        std::string candidates, medians;
        for (size_t i = 0; i < t.candidates.size(); ++i) {
          candidates += (i > 0 ? ";" : "") + CandidateText(t.candidates[i]);
          medians += (i > 0 ? ";" : "") + Number(t.candidates[i].median);
        }
        tuned = CsvField(t.param) + "," + CsvField(CandidateText(t.candidates[t.chosen])) + "," +
                CsvField(candidates) + "," + CsvField(t.selection_metric) + "," + medians;
      } else {
        tuned = ",,,,";
      }
      for (size_t c = 0; c < table.columns.size(); ++c) {
        const ColumnSpec& column = *table.columns[c];
        for (size_t p = 0; p < row.cells[c].parts.size(); ++p) {
          const CellPart& part = row.cells[c].parts[p];
          const std::string metric = column.param.empty() ? column.metrics[p] : column.param;
          std::string value;
          if (part.numeric) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", part.value);
            value = buf;
          }
          std::string values, keys;
          for (size_t i = 0; i < part.values.size(); ++i) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", part.values[i]);
            values += (i > 0 ? ";" : "") + std::string(buf);
            keys += (i > 0 ? ";" : "") + part.keys[i];
          }
          std::string p_text;
          if (part.p_value >= 0) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", part.p_value);
            p_text = buf;
          }
          const bool ours = !row.reference && !row.baseline;
          out << CsvField(table.spec->id) << ","
              << (row.reference  ? "reference"
                  : row.baseline ? "baseline"
                                 : "ours")
              << "," << CsvField(row.reference ? DefaultReferenceHeader(table) : row.group) << ","
              << CsvField(row.label) << "," << CsvField(column.label) << "," << CsvField(metric)
              << "," << value << "," << CsvField(part.text) << ","
              << (ours ? std::to_string(part.count) : "") << "," << (part.bold ? 1 : 0) << ","
              << (part.best ? 1 : 0) << "," << CsvField(part.spread) << "," << p_text << ","
              << values << "," << keys << "," << Number(part.shift.estimate) << ","
              << Number(part.shift.low) << "," << Number(part.shift.high) << ","
              << (part.shift.Known() ? Number(part.shift.confidence) : "") << ","
              << CsvField(part.runner_up) << "," << CsvField(part.not_better_than) << "," << tuned
              << "\r\n";
        }
      }
    }
  }
}

// --- JSON ---

void WriteJson(std::ostream& out, const Report& report,
               const std::map<std::string, PlotLinks>& plots) {
  ordered_json doc = {{"title", report.spec->title}, {"tables", ordered_json::array()}};
  if (!report.spec->reference_source.empty()) doc["reference"] = report.spec->reference_source;
  for (const auto& table : report.tables) {
    ordered_json t = {{"id", table.spec->id},
                      {"caption", table.caption},
                      {"experiment", table.experiment},
                      {"aggregate", AggregateName(table.spec->aggregate)},
                      {"columns", ordered_json::array()},
                      {"rows", ordered_json::array()},
                      {"summary", table.summary},
                      {"fixed", table.fixed},
                      {"notes", table.notes},
                      {"footnotes", table.footnotes},
                      {"alpha", table.spec->alpha},
                      {"spread", SpreadName(table.spec->spread)},
                      {"claims", ordered_json::array()},
                      {"claim_family",
                       {{"test", ClaimTestName(table.family.test)},
                        {"correction", CorrectionName(table.family.correction)},
                        {"tests", table.family.tests}}}};
    for (const auto& claim : table.claims) {
      ordered_json results = ordered_json::array();
      for (const auto& r : claim.results) {
        results.push_back(
            {{"column", r.column},
             {"verdict", r.verdict},
             {"p_one_sided", r.p >= 0 ? ordered_json(r.p) : ordered_json(nullptr)},
             {"p_against", r.p_against >= 0 ? ordered_json(r.p_against) : ordered_json(nullptr)},
             {"p_adjusted", r.p_adjusted >= 0 ? ordered_json(r.p_adjusted) : ordered_json(nullptr)},
             {"p_against_adjusted", r.p_against_adjusted >= 0 ? ordered_json(r.p_against_adjusted)
                                                              : ordered_json(nullptr)},
             {"delta", ShiftJson(r.shift)},
             {"min_p", r.min_p >= 0 ? ordered_json(r.min_p) : ordered_json(nullptr)},
             {"detectable_shift", std::isnan(r.detectable) || std::isinf(r.detectable)
                                      ? ordered_json(nullptr)
                                      : ordered_json(r.detectable)},
             {"runs", {r.n_better, r.n_than}}});
      }
      t["claims"].push_back(
          {{"claim", claim.spec->text},
           {"kind", claim.spec->kind == ClaimKind::kAtLeast ? "at-least" : "better"},
           {"results", results},
           {"text", claim.text}});
    }
    for (const auto* column : table.columns) {
      ordered_json c = {{"label", column->label}};
      if (column->param.empty()) {
        c["metrics"] = column->metrics;
        c["better"] = column->better == Better::kHigher  ? "higher"
                      : column->better == Better::kLower ? "lower"
                                                         : "";
      } else {
        c["param"] = column->param;
      }
      t["columns"].push_back(c);
    }
    for (const auto& row : table.rows) {
      ordered_json r = {{"label", row.label},
                        {"group", row.reference ? DefaultReferenceHeader(table) : row.group},
                        {"reference", row.reference},
                        {"baseline", row.baseline},
                        {"runs", row.run_ids},
                        {"cells", ordered_json::array()}};
      if (row.tuned) {
        const TunedChoice& tuned = *row.tuned;
        ordered_json candidates = ordered_json::array();
        for (const auto& c : tuned.candidates) {
          candidates.push_back(
              {{"value", CandidateJson(c)}, {"median", c.median}, {"runs", c.runs}});
        }
        r["tuned"] = {{"param", tuned.param},
                      {"value", CandidateJson(tuned.candidates[tuned.chosen])},
                      {"selection_metric", tuned.selection_metric},
                      {"candidates", candidates},
                      {"tie", tuned.tie}};
      }
      for (size_t c = 0; c < row.cells.size(); ++c) {
        ordered_json parts = ordered_json::array();
        for (const auto& part : row.cells[c].parts) {
          ordered_json p = {{"text", part.text}, {"bold", part.bold}, {"best", part.best}};
          p["value"] = part.numeric   ? ordered_json(part.value)
                       : part.missing ? ordered_json(nullptr)
                                      : ordered_json(part.text);
          if (!row.reference && !row.baseline) {
            p["runs"] = part.count;
            p["n"] = part.values.size();
            p["values"] = part.values;
            p["keys"] = part.keys;
            p["spread"] = part.spread;
          }
          if (part.p_value >= 0) p["p"] = part.p_value;
          if (part.shift.Known()) {
            p["delta"] = ShiftJson(part.shift);
            p["versus"] = part.runner_up;
          }
          if (!part.not_better_than.empty()) p["not_better_than"] = part.not_better_than;
          parts.push_back(p);
        }
        r["cells"].push_back({{"parts", parts}, {"note", row.cells[c].note}});
      }
      t["rows"].push_back(r);
    }
    if (auto it = plots.find(table.spec->id); it != plots.end()) {
      t["plots"] = {{"loss", it->second.loss}, {"perplexity", it->second.perplexity}};
    }
    doc["tables"].push_back(t);
  }
  out << doc.dump(2) << "\n";
}

}  // namespace

const std::vector<ReportWriter>& ReportWriters() {
  static const std::vector<ReportWriter> writers = {
      {"markdown",
       {"md"},
       "GitHub-flavoured markdown tables, curves as SVG beside the file",
       true,
       false,
       [](std::ostream& out, const ReportDocument& d) { WriteMarkdown(out, d.report, d.plots); }},
      {"latex",
       {"tex"},
       "LaTeX tables with booktabs",
       false,
       false,
       [](std::ostream& out, const ReportDocument& d) { WriteLatex(out, d.report); }},
      {"csv",
       {},
       "one line per cell, for further analysis",
       false,
       false,
       [](std::ostream& out, const ReportDocument& d) { WriteCsv(out, d.report); }},
      {"json",
       {},
       "every cell with its runs, tests and notes, curves as SVG beside the file",
       true,
       false,
       [](std::ostream& out, const ReportDocument& d) { WriteJson(out, d.report, d.plots); }},
      {"html",
       {},
       "one self-contained page with interactive charts and the runs",
       false,
       true,
       [](std::ostream& out, const ReportDocument& d) {
         RenderHtml(out, d.report, d.curves, d.runs);
       }},
  };
  return writers;
}

namespace {

std::vector<std::string> WriterNames() {
  std::vector<std::string> names;
  for (const auto& writer : ReportWriters()) names.emplace_back(writer.name);
  return names;
}

}  // namespace

std::string ReportWriterNames() { return OrList(WriterNames()); }

const ReportWriter& FindReportWriter(std::string_view name, const std::string& option) {
  for (const auto& writer : ReportWriters()) {
    if (writer.name == name) return writer;
    for (auto alias : writer.aliases) {
      if (alias == name) return writer;
    }
  }
  const std::vector<std::string> names = WriterNames();
  throw InputError("", option,
                   "unknown format \"" + std::string(name) + "\"" +
                       DidYouMean(ClosestNames(name, names)) + ": expected " + ReportWriterNames());
}

void RenderReport(std::ostream& out, const Report& report, std::string_view format,
                  const std::map<std::string, PlotLinks>& plots) {
  FindReportWriter(format, "format").write(out, ReportDocument{report, plots, {}, {}});
}

}  // namespace ablate::reports

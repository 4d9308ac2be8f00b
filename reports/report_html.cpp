#include "reports/report_html.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/number_text.h"
#include "reports/svg_plot.h"
#include "reports/table_format.h"

// uPlot's files, embedded at build time (reports/CMakeLists.txt, from reports/vendor/uplot).
extern const char kUplotJs[];
extern const char kUplotCss[];
extern const char kUplotLicense[];

namespace ablate::reports {

using nlohmann::json;

namespace {

std::string Html(std::string_view text) { return Escape(std::string(text)); }

// Escaped text with the markdown the footnotes use: `code`, **bold** and *italic*.
std::string Inline(std::string_view text) {
  std::string out, plain;  // plain: text since the last markup, escaped as a whole (UTF-8 intact)
  bool code = false, strong = false, em = false;
  auto tag = [&](const char* open, const char* close, bool& state) {
    out += Html(plain) + (state ? close : open);
    plain.clear();
    state = !state;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '`') {
      tag("<code>", "</code>", code);
    } else if (!code && c == '*' && i + 1 < text.size() && text[i + 1] == '*') {
      tag("<strong>", "</strong>", strong);
      ++i;
    } else if (!code && c == '*' && (em || (i + 1 < text.size() && text[i + 1] != ' '))) {
      tag("<em>", "</em>", em);
    } else {
      plain += c;
    }
  }
  out += Html(plain);
  if (code) out += "</code>";
  if (strong) out += "</strong>";
  if (em) out += "</em>";
  return out;
}

// JSON for a <script> element: "</" cannot end the element early.
std::string ScriptJson(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

void Cell(std::ostream& out, const ReportCell& cell) {
  json runs = json::array();
  std::string title;
  double sort = NAN;
  for (const auto& part : cell.parts) {
    for (size_t i = 0; i < part.values.size() && i < part.keys.size(); ++i) {
      runs.push_back({part.keys[i], part.values[i]});
      title += part.keys[i] + ": " + ShortestText(part.values[i]) + "\n";
    }
    if (part.numeric && std::isnan(sort)) sort = part.value;
  }
  out << "<td";
  if (!std::isnan(sort)) out << " data-sort=\"" << ShortestText(sort) << "\"";
  if (!runs.empty())
    out << " data-runs=\"" << Html(runs.dump()) << "\" title=\"" << Html(title) << "\"";
  out << ">";
  for (size_t p = 0; p < cell.parts.size(); ++p) {
    const auto& part = cell.parts[p];
    if (p > 0) out << "/";
    const char* tag = part.bold ? "strong" : part.best ? "em" : nullptr;
    if (tag) out << "<" << tag << ">";
    out << Html(part.text);
    if (tag) out << "</" << tag << ">";
    if (!part.not_better_than.empty())
      out << "<span class=\"flag\" title=\"not better than the trivial baseline: "
          << Html(part.not_better_than) << "\">†</span>";
    if (!part.spread.empty()) out << " <span class=\"spread\">" << Html(part.spread) << "</span>";
  }
  if (!cell.note.empty()) out << " <span class=\"note\">(" << Html(cell.note) << ")</span>";
  out << "</td>";
}

void Table(std::ostream& out, const ReportTable& table, bool has_curves) {
  const std::string id = table.spec->id;
  const std::string caption = table.caption.empty() ? id : table.caption;
  const size_t width = table.columns.size() + 1;
  out << "<section class=\"table\" id=\"table-" << Html(id) << "\">\n<h2>" << Html(caption)
      << "</h2>\n<table class=\"report\"><thead><tr><th>" << Html(table.spec->row_header)
      << "</th>";
  for (const auto* column : table.columns) out << "<th>" << Html(column->label) << "</th>";
  out << "</tr></thead>\n<tbody class=\"ours\">\n";
  std::string group;
  bool in_reference = false;
  for (const auto& row : table.rows) {
    if (row.reference && !in_reference) {
      in_reference = true;
      out << "</tbody>\n<tbody class=\"reference\"><tr class=\"group\"><td colspan=\"" << width
          << "\">" << Html(table.reference_header.empty() ? "Reference" : table.reference_header)
          << "</td></tr>\n";
    } else if (!row.reference && !row.group.empty() && row.group != group) {
      out << "<tr class=\"group\"><td colspan=\"" << width << "\">" << Html(row.group)
          << "</td></tr>\n";
    }
    if (!row.reference) group = row.group;
    out << "<tr" << (row.baseline ? " class=\"baseline\"" : "") << "><td>" << Html(row.label)
        << "</td>";
    for (const auto& cell : row.cells) Cell(out, cell);
    out << "</tr>\n";
  }
  out << "</tbody></table>\n<div class=\"cell-runs\" hidden></div>\n";
  std::string summary = table.summary;
  if (!table.fixed_key.empty())
    summary += " Held fixed in this slice of the grid: " + table.fixed_key + ".";
  if (!summary.empty()) out << "<p class=\"summary\">" << Inline(summary) << "</p>\n";
  if (!table.claims.empty()) {
    out << "<ul class=\"claims\">";
    for (const auto& claim : table.claims) out << "<li>" << Inline(claim.text) << "</li>";
    out << "</ul>\n";
  }
  if (!table.footnotes.empty()) {
    out << "<ul class=\"footnotes\">";
    for (const auto& note : table.footnotes) out << "<li>" << Inline(note) << "</li>";
    out << "</ul>\n";
  }
  if (!table.fixed.empty()) {
    out << "<details><summary>All " << table.fixed_count << " parameters held fixed</summary><p>"
        << Html(table.fixed) << "</p></details>\n";
  }
  for (const auto& note : table.notes) out << "<blockquote>" << Inline(note) << "</blockquote>\n";
  if (has_curves) out << "<div class=\"curves\" data-table=\"" << Html(id) << "\"></div>\n";
  out << "</section>\n";
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.report th { cursor: pointer; user-select: none; background: #f6f6f6; }
table.report th[data-dir=asc]::after { content: " \25B2"; }
table.report th[data-dir=desc]::after { content: " \25BC"; }
td[data-runs] { cursor: pointer; }
tr.group td { font-style: italic; text-align: left; color: #555; }
tbody.reference td { color: #555; }
.spread, .note { color: #777; font-size: 90%; }
.cell-runs { background: #f6f8ff; border: 1px solid #ccd; padding: .4em .8em; display: inline-block; }
.cell-runs[hidden] { display: none; }
.curves { display: flex; flex-wrap: wrap; gap: 1em; }
.chart button { font-size: 12px; }
#runs-table td, #runs-table th { font-size: 12px; white-space: nowrap; }
#runs-wrap { overflow-x: auto; }
)css";

constexpr const char* kApp = R"js(
(function () {
  'use strict';
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                  '#7f7f7f', '#bcbd22', '#17becf'];
  // Sorting: a header click orders the table's own rows by that column (numbers as numbers).
  function sortKey(cell) {
    const s = cell.dataset.sort;
    return s !== undefined && s !== '' && !isNaN(+s) ? +s : cell.textContent.trim();
  }
  document.querySelectorAll('table.report').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, column) {
      th.addEventListener('click', function () {
        const body = table.tBodies[0];
        const rows = Array.from(body.rows).filter(r => !r.classList.contains('group'));
        body.querySelectorAll('tr.group').forEach(r => r.remove());
        const dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
        table.querySelectorAll('th').forEach(h => delete h.dataset.dir);
        th.dataset.dir = dir;
        rows.sort(function (a, b) {
          const x = sortKey(a.cells[column]), y = sortKey(b.cells[column]);
          const order = typeof x === 'number' && typeof y === 'number' ? x - y
                        : String(x).localeCompare(String(y));
          return dir === 'asc' ? order : -order;
        });
        rows.forEach(r => body.appendChild(r));
      });
    });
    // A cell's runs: its per-run values and keys below the table.
    const box = table.parentElement.querySelector('.cell-runs');
    table.querySelectorAll('td[data-runs]').forEach(function (cell) {
      cell.addEventListener('click', function () {
        const runs = JSON.parse(cell.dataset.runs);
        box.textContent = '';
        const head = document.createElement('strong');
        head.textContent = cell.parentElement.cells[0].textContent + ', ' +
            table.querySelectorAll('th')[cell.cellIndex].textContent + ': ';
        box.appendChild(head);
        box.appendChild(document.createTextNode(
            runs.map(r => 'run ' + r[0] + ' = ' + r[1]).join(', ')));
        box.hidden = false;
      });
    });
  });

  // Learning curves: one chart per metric, rows aligned on the union of their token counts.
  const charts = [];
  function chart(parent, title, axis, lines, log) {
    const xs = Array.from(new Set(lines.flatMap(l => l.tokens))).sort((a, b) => a - b);
    // The rows' floors as the SVG plots draw them: each distinct value once, dashed, in the
    // colour of the first row with it, or grey when every row shares it.
    const floors = [];
    lines.forEach(function (l, i) {
      if (l.floor === undefined) return;
      const same = floors.find(f => f.value === l.floor);
      if (same) same.rows.push(l.label);
      else floors.push({ value: l.floor, color: colors[i % colors.length], rows: [l.label] });
    });
    if (floors.length === 1 && lines.length > 1 && floors[0].rows.length === lines.length) {
      floors[0].color = '#777';
      floors[0].rows = [FLOORS.shared];
    }
    const data = [xs].concat(lines.map(function (l) {
      const at = new Map(l.tokens.map((t, i) => [t, l.values[i]]));
      return xs.map(x => (at.has(x) ? at.get(x) : null));
    }), floors.map(f => xs.map(() => f.value)));
    const holder = document.createElement('div');
    holder.className = 'chart';
    parent.appendChild(holder);
    const button = document.createElement('button');
    holder.appendChild(button);
    const plot = document.createElement('div');
    holder.appendChild(plot);
    let u = null;
    function draw() {
      if (u) u.destroy();
      button.textContent = log ? 'linear axis' : 'log axis';
      u = new uPlot({
        title: title, width: 520, height: 300,
        scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
        axes: [{ label: 'tokens seen' }, { label: axis }],
        series: [{ label: 'tokens' }].concat(lines.map((l, i) => ({
          label: l.label, stroke: colors[i % colors.length], width: 2, spanGaps: true })),
          floors.map(f => ({ label: 'baseline: ' + f.rows.join(', '), stroke: f.color,
                             width: 1.25, dash: [5, 4], points: { show: false } }))),
      }, data, plot);
      charts[index] = u;
    }
    if (floors.length) {
      const note = document.createElement('div');
      note.className = 'note';
      note.textContent = FLOORS.note;
      holder.appendChild(note);
    }
    const index = charts.length;
    charts.push(null);
    button.addEventListener('click', function () { log = !log; draw(); });
    draw();
  }
  document.querySelectorAll('.curves').forEach(function (div) {
    const curves = CURVES[div.dataset.table];
    if (!curves) return;
    if (curves.loss.length) chart(div, 'Training MLM loss', 'loss', curves.loss, false);
    if (curves.perplexity.length) chart(div, 'Validation perplexity', 'ppl', curves.perplexity, true);
  });

  // The runs page: rows whose text contains the filter's words.
  const filter = document.getElementById('runs-filter');
  const runRows = Array.from(document.querySelectorAll('#runs-table tbody tr'));
  filter.addEventListener('input', function () {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    runRows.forEach(function (r) {
      const text = r.textContent.toLowerCase();
      r.hidden = !words.every(w => text.includes(w));
    });
  });

  // #selftest: what a browser test reads back from the DOM.
  // After uPlot's first draw (it lays charts out asynchronously).
  if (location.hash === '#selftest') setTimeout(selftest, 50);
  function selftest() {
    const result = { tables: [], charts: charts.length, hover: null, sorted: null, filtered: null };
    // Per chart, its dashed floors: [legend label, value].
    result.floors = charts.map(
        u => u.series.flatMap((s, i) => (s.dash ? [[s.label, u.data[i][0]]] : [])));
    result.notes = Array.from(document.querySelectorAll('.chart .note')).map(n => n.textContent);
    document.querySelectorAll('table.report').forEach(function (t) {
      result.tables.push({ columns: t.querySelectorAll('th').length,
                           rows: Array.from(t.tBodies[0].rows).filter(r => !r.classList.contains('group')).length });
    });
    if (charts.length) {
      // Hover the middle of the first chart: the legend shows each row's value there.
      const u = charts[0];
      u.setCursor({ left: u.over.clientWidth / 2, top: u.over.clientHeight / 2 });
      const idx = u.cursor.idx;
      const legend = Array.from(u.root.querySelectorAll('.u-legend .u-series'));
      result.hover = { index: idx, tokens: u.data[0][idx], series: legend.slice(1).map((s, i) => [
        s.querySelector('.u-label').textContent, s.querySelector('.u-value').textContent,
        u.data[i + 1][idx]]) };
    }
    const first = document.querySelector('table.report');
    if (first && first.querySelectorAll('th').length > 1) {
      first.querySelectorAll('th')[1].click();
      result.sorted = Array.from(first.tBodies[0].rows).map(r => r.cells[0].textContent);
    }
    // Filter by the first run's key: one row is left.
    const keyColumn = Array.from(document.querySelectorAll('#runs-table th')).findIndex(
        th => th.textContent === 'key');
    filter.value = runRows.length && keyColumn >= 0 ? runRows[0].cells[keyColumn].textContent : 'x';
    filter.dispatchEvent(new Event('input'));
    result.filtered = [runRows.filter(r => !r.hidden).length, runRows.length];
    result.errors = window.__errors;
    const pre = document.createElement('pre');
    pre.id = 'selftest';
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }
})();
)js";

}  // namespace

void RenderHtml(std::ostream& out, const Report& report,
                const std::map<std::string, TableCurves>& curves, const results::ResultSet& runs) {
  const std::string title = report.spec->title.empty() ? "ablate report" : report.spec->title;
  out << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << Html(title)
      << "</title>\n"
      // Errors of the page's own scripts are kept for the browser test (#selftest).
      << "<script>window.__errors=[];window.addEventListener('error',function(e){__errors.push("
         "String(e.message));});(function(){var o=console.error;console.error=function(){"
         "__errors.push(Array.prototype.join.call(arguments,' '));o.apply(console,arguments);};"
         "})();</script>\n<style>"
      << kUplotCss << kStyle << "</style>\n<script>" << kUplotJs << "</script>\n</head><body>\n<h1>"
      << Html(title)
      << "</h1>\n<nav><a href=\"#tables\">Tables</a><a href=\"#runs\">Runs</a></nav>\n"
      << "<div id=\"tables\">\n";
  json curve_data = json::object();
  for (const auto& table : report.tables) {
    auto it = curves.find(table.spec->id);
    const bool has =
        it != curves.end() && (!it->second.loss.empty() || !it->second.perplexity.empty());
    Table(out, table, has);
    if (!has) continue;
    auto lines = [](const std::vector<CurveLine>& ls) {
      json a = json::array();
      for (const auto& l : ls) {
        // A row without points (a baseline, a row whose runs logged nothing) has no line.
        if (l.tokens.empty()) continue;
        a.push_back({{"label", l.label}, {"tokens", l.tokens}, {"values", l.values}});
        if (std::isfinite(l.floor) && l.floor > 0) a.back()["floor"] = l.floor;
      }
      return a;
    };
    curve_data[table.spec->id] = {{"loss", lines(it->second.loss)},
                                  {"perplexity", lines(it->second.perplexity)}};
  }
  if (!report.spec->reference_source.empty()) {
    out << "<p class=\"summary\">Reference rows: " << Inline(report.spec->reference_source)
        << "</p>\n";
  }
  out << "</div>\n<section id=\"runs\"><h2>Runs</h2>\n<input id=\"runs-filter\" type=\"search\" "
         "placeholder=\"filter runs: words that must all appear\" size=\"50\">\n<div "
         "id=\"runs-wrap\"><table id=\"runs-table\"><thead><tr>";
  for (const auto& column : runs.columns) out << "<th>" << Html(column) << "</th>";
  out << "</tr></thead><tbody>\n";
  for (const auto& row : runs.rows) {
    out << "<tr>";
    for (const auto& value : row) out << "<td>" << Html(CellText(value)) << "</td>";
    out << "</tr>\n";
  }
  const PlotOptions plot;  // the SVG plots' words for the floors
  out << "</tbody></table></div></section>\n<script>const CURVES = " << ScriptJson(curve_data)
      << ";\nconst FLOORS = "
      << ScriptJson(json{{"note", plot.floor_note}, {"shared", plot.floor_shared}})
      << ";</script>\n<script>" << kApp << "</script>\n"
      << "<details><summary>Made with ablate; charts by uPlot (MIT licence)</summary><pre>"
      << Html(kUplotLicense) << "</pre></details>\n</body></html>\n";
}

}  // namespace ablate::reports

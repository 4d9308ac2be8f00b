#include "reports/table_format.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/error.h"
#include "base/number_text.h"

namespace ablate::reports {
namespace {

using results::ResultSet;
using results::Value;

// Display width in terminal columns: counts UTF-8 code points, not bytes.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsNumber(const Value& v) {
  return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
}

void WriteAligned(std::ostream& out, const ResultSet& set) {
  std::vector<size_t> width(set.columns.size());
  std::vector<bool> numeric(set.columns.size(), true);
  for (size_t c = 0; c < set.columns.size(); ++c) width[c] = Width(set.columns[c]);
  for (const auto& row : set.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], Width(CellText(row[c])));
      if (!IsNumber(row[c]) && !std::holds_alternative<std::monostate>(row[c])) numeric[c] = false;
    }
  }
  auto line = [&](auto cell_text, auto right_align) {
    std::string text;
    for (size_t c = 0; c < set.columns.size(); ++c) {
      std::string cell = cell_text(c);
      std::string pad(width[c] - Width(cell), ' ');
      if (c > 0) text += "  ";
      text += right_align(c) ? pad + cell : cell + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line([&](size_t c) { return set.columns[c]; }, [&](size_t c) { return numeric[c]; });
  line([&](size_t c) { return std::string(width[c], '-'); }, [](size_t) { return false; });
  for (const auto& row : set.rows) {
    line([&](size_t c) { return CellText(row[c]); }, [&](size_t c) { return numeric[c]; });
  }
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void WriteCsv(std::ostream& out, const ResultSet& set) {
  for (size_t c = 0; c < set.columns.size(); ++c) out << (c ? "," : "") << CsvField(set.columns[c]);
  out << "\r\n";
  for (const auto& row : set.rows) {
    for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << CsvField(CellText(row[c]));
    out << "\r\n";
  }
}

void WriteJson(std::ostream& out, const ResultSet& set) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : set.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < row.size(); ++c) {
      const Value& v = row[c];
      auto& slot = object[set.columns[c]];
      if (const auto* i = std::get_if<int64_t>(&v)) {
        slot = *i;
      } else if (const auto* d = std::get_if<double>(&v)) {
        if (std::isfinite(*d)) slot = *d;  // JSON has no NaN/Inf: those become null
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        slot = *s;
      }
    }
    rows.push_back(std::move(object));
  }
  out << rows.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string MarkdownCell(const std::string& s) {
  std::string escaped;
  for (char c : s) {
    if (c == '|') {
      escaped += "\\|";
    } else if (c == '\n' || c == '\r') {
      escaped += ' ';
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void WriteMarkdown(std::ostream& out, const ResultSet& set) {
  std::vector<bool> numeric(set.columns.size(), !set.rows.empty());
  for (const auto& row : set.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (!IsNumber(row[c]) && !std::holds_alternative<std::monostate>(row[c])) numeric[c] = false;
    }
  }
  out << "|";
  for (const auto& col : set.columns) out << ' ' << MarkdownCell(col) << " |";
  out << "\n|";
  for (size_t c = 0; c < set.columns.size(); ++c) out << (numeric[c] ? " ---: |" : " --- |");
  out << '\n';
  for (const auto& row : set.rows) {
    out << "|";
    for (const auto& cell : row) out << ' ' << MarkdownCell(CellText(cell)) << " |";
    out << '\n';
  }
}

}  // namespace

TableFormat ParseTableFormat(std::string_view text, const std::string& option) {
  if (text == "table") return TableFormat::kTable;
  if (text == "csv") return TableFormat::kCsv;
  if (text == "json") return TableFormat::kJson;
  if (text == "markdown" || text == "md") return TableFormat::kMarkdown;
  throw InputError(
      "", option,
      "unknown format \"" + std::string(text) + "\": expected table, csv, json or markdown");
}

std::string CellText(const Value& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    // Large values in full (times are epoch seconds: 1796030801.0688229, not 1.796e+09), still
    // the shortest text that reads back as the same double.
    if (std::isfinite(*d) && std::abs(*d) >= 1e5 && std::abs(*d) < 1e17) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::fixed);
      return std::string(buf, end);
    }
    return ShortestText(*d);
  }
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return "";
}

void WriteTable(std::ostream& out, const ResultSet& set, TableFormat format) {
  switch (format) {
    case TableFormat::kTable:
      return WriteAligned(out, set);
    case TableFormat::kCsv:
      return WriteCsv(out, set);
    case TableFormat::kJson:
      return WriteJson(out, set);
    case TableFormat::kMarkdown:
      return WriteMarkdown(out, set);
  }
}

}  // namespace ablate::reports

#include "reports/report_spec.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <set>

#include "base/error.h"
#include "base/json_text.h"
#include "base/suggest.h"

namespace ablate::reports {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

class SpecParser {
 public:
  SpecParser(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  ReportSpec Parse(const ordered_json& root) {
    ReportSpec spec;
    spec.source = source_;
    Expect(root, "", "an object", root.is_object());
    Keys(root, "",
         {"$schema", "title", "description", "reference", "aggregate", "spread", "alpha", "tables",
          "test", "correction", "bootstrap", "mixed", "tune"});
    spec.title = String(root, "", "title", "");
    TableSpec defaults;
    if (root.contains("aggregate"))
      defaults.aggregate = ParseAggregate(root["aggregate"], "/aggregate");
    if (root.contains("spread")) defaults.spread = ParseSpread(root["spread"], "/spread");
    if (root.contains("alpha")) defaults.alpha = ParseAlpha(root["alpha"], "/alpha");
    ParseTesting(root, "", defaults, defaults);
    if (root.contains("mixed")) defaults.mixed = ParseMixed(root["mixed"], "/mixed");
    if (root.contains("tune")) defaults.tune = ParseTune(root["tune"], "/tune");
    if (root.contains("reference")) {
      const auto& ref = root["reference"];
      Expect(ref, "/reference", "a file name (string)", ref.is_string() && !ref.empty());
      std::filesystem::path file = ref.get<std::string>();
      if (file.is_relative()) file = base_dir_ / file;
      spec.reference = json(ReadJsonFile(file.string()));
      if (!spec.reference.is_object()) {
        throw InputError(file.string(), "/", "expected an object of reference tables");
      }
      reference_file_ = file.string();
      spec.reference_source = spec.reference.value("source", "");
    }
    reference_ = &spec.reference;
    Expect(Get(root, "tables"), "/tables", "a non-empty array of tables",
           root.contains("tables") && root["tables"].is_array() && !root["tables"].empty());
    std::set<std::string> ids;
    for (size_t i = 0; i < root["tables"].size(); ++i) {
      const std::string path = "/tables/" + std::to_string(i);
      TableSpec table = ParseTable(root["tables"][i], path, defaults);
      if (!ids.insert(table.id).second)
        Fail(path + "/id", "duplicate table id \"" + table.id + "\"");
      spec.tables.push_back(std::move(table));
    }
    return spec;
  }

 private:
  TableSpec ParseTable(const ordered_json& t, const std::string& path, const TableSpec& defaults) {
    Expect(t, path, "an object", t.is_object());
    Keys(t, path,
         {"id", "caption", "row_header", "runs", "rows", "columns", "aggregate", "spread", "alpha",
          "claims", "reference", "curves", "test", "correction", "bootstrap", "mixed", "tune"});
    TableSpec table;
    table.path = path;
    table.spread =
        t.contains("spread") ? ParseSpread(t["spread"], path + "/spread") : defaults.spread;
    table.alpha = t.contains("alpha") ? ParseAlpha(t["alpha"], path + "/alpha") : defaults.alpha;
    ParseTesting(t, path, defaults, table);
    table.mixed = t.contains("mixed") ? ParseMixed(t["mixed"], path + "/mixed") : defaults.mixed;
    table.tune = t.contains("tune") ? ParseTune(t["tune"], path + "/tune") : defaults.tune;
    table.id = String(t, path, "id", "");
    if (table.id.empty()) Fail(path + "/id", "missing: every table needs an id (names its plots)");
    for (char c : table.id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        Fail(path + "/id", "\"" + table.id + "\" may hold only letters, digits, - and _");
      }
    }
    table.caption = String(t, path, "caption", "");
    table.row_header = String(t, path, "row_header", "");
    table.aggregate = t.contains("aggregate") ? ParseAggregate(t["aggregate"], path + "/aggregate")
                                              : defaults.aggregate;
    if (t.contains("curves")) {
      Expect(t["curves"], path + "/curves", "true or false", t["curves"].is_boolean());
      table.curves = t["curves"].get<bool>();
    }

    Expect(Get(t, "runs"), path + "/runs",
           "an object or a non-empty array of {\"experiment\", \"where\"}",
           t.contains("runs") &&
               (t["runs"].is_object() || (t["runs"].is_array() && !t["runs"].empty())));
    if (t["runs"].is_object()) {
      table.runs.push_back(ParseSource(t["runs"], path + "/runs"));
    } else {
      for (size_t i = 0; i < t["runs"].size(); ++i) {
        table.runs.push_back(ParseSource(t["runs"][i], path + "/runs/" + std::to_string(i)));
      }
    }

    const std::string rows_path = path + "/rows";
    Expect(Get(t, "rows"), rows_path, "an array of rows or {\"by\": [...]}",
           t.contains("rows") && (t["rows"].is_array() || t["rows"].is_object()));
    if (t["rows"].is_object()) {
      table.generated = ParseGenerated(t["rows"], rows_path);
    } else {
      Expect(t["rows"], rows_path, "at least one row", !t["rows"].empty());
      for (size_t i = 0; i < t["rows"].size(); ++i) {
        table.rows.push_back(ParseRow(t["rows"][i], rows_path + "/" + std::to_string(i)));
      }
    }

    Expect(Get(t, "columns"), path + "/columns", "a non-empty array of columns",
           t.contains("columns") && t["columns"].is_array() && !t["columns"].empty());
    for (size_t i = 0; i < t["columns"].size(); ++i) {
      table.columns.push_back(ParseColumn(t["columns"][i], path + "/columns/" + std::to_string(i)));
      // A tuned table reports its held-out metrics on the half its selection did not see.
      if (table.tune) {
        for (auto& metric : table.columns.back().metrics) {
          if (IsTunableMetric(metric)) metric = HalfMetric(metric, "report");
        }
      }
    }
    if (t.contains("reference")) {
      table.reference = ParseReference(t["reference"], path + "/reference", table.columns);
    }
    if (t.contains("claims")) {
      Expect(t["claims"], path + "/claims", "an array of claims", t["claims"].is_array());
      for (size_t i = 0; i < t["claims"].size(); ++i) {
        table.claims.push_back(
            ParseClaim(t["claims"][i], path + "/claims/" + std::to_string(i), table.columns));
      }
    }
    if (table.tune && table.test == ClaimTest::kMultiBootstrap) CheckTunedBootstrap(table);
    return table;
  }

  // "tune": {"param", "metric", "better"}, or false (a table's way to drop the report's default).
  std::optional<TuneSpec> ParseTune(const ordered_json& t, const std::string& path) {
    Expect(t, path, "an object {\"param\", \"metric\", \"better\"} or false",
           t.is_object() || t == false);
    if (!t.is_object()) return std::nullopt;
    Keys(t, path, {"param", "metric", "better"});
    TuneSpec tune;
    tune.path = path;
    Expect(Get(t, "param"), path + "/param", "the name of the parameter to choose per row",
           t.contains("param") && t["param"].is_string() && !t["param"].empty());
    tune.param = t["param"].get<std::string>();
    if (tune.param == "seed") {
      Fail(path + "/param",
           "choosing the seed per row picks the luckiest draw: tune a hyperparameter, and let the "
           "row pool its seeds");
    }
    const std::vector<std::string> tunable(std::begin(kTunableMetrics), std::end(kTunableMetrics));
    Expect(Get(t, "metric"), path + "/metric", "one of \"valid/ppl\", \"valid/mlm_acc\"",
           t.contains("metric") && t["metric"].is_string());
    tune.metric = t["metric"].get<std::string>();
    if (!IsTunableMetric(tune.metric)) {
      Fail(path + "/metric",
           "\"" + tune.metric +
               "\" is not a held-out metric that runs record on two halves of the held-out "
               "documents: expected \"valid/ppl\" or \"valid/mlm_acc\"" +
               DidYouMean(ClosestNames(tune.metric, tunable)));
    }
    Expect(Get(t, "better"), path + "/better", "\"lower\" or \"higher\"",
           t.contains("better") && (t["better"] == "lower" || t["better"] == "higher"));
    tune.better = t["better"] == "lower" ? Better::kLower : Better::kHigher;
    // Choosing the worst value is never what a spec means.
    const bool lower = tune.metric == "valid/ppl";
    if ((tune.better == Better::kLower) != lower) {
      Fail(path + "/better", "\"" + tune.metric + "\" is better " +
                                 (lower ? "lower (a perplexity)" : "higher (an accuracy)"));
    }
    return tune;
  }

  // The Multi-Bootstrap resamples the runs' per-example outcomes, which exist for the whole
  // held-out sample only: a claim on a tuned table's report-half column cannot use them, and
  // testing that one column otherwise would mix two tests in one family unannounced.
  void CheckTunedBootstrap(const TableSpec& table) {
    for (const auto& claim : table.claims) {
      for (const auto& column : table.columns) {
        if (column.better == Better::kNone || !column.param.empty()) continue;
        if (!claim.columns.empty() && std::find(claim.columns.begin(), claim.columns.end(),
                                                column.label) == claim.columns.end()) {
          continue;
        }
        for (const auto& metric : column.metrics) {
          if (metric.rfind("valid/report/", 0) != 0) continue;
          Fail(claim.path,
               "the Multi-Bootstrap (\"test\": \"multibootstrap\") resamples per-example "
               "outcomes, which runs record for the whole held-out sample only, not for the report "
               "half (" +
                   metric + ") that column \"" + column.label +
                   "\" of this tuned table shows: give the table \"test\": \"rank\", or leave the "
                   "column out of the claim's \"columns\"");
        }
      }
    }
  }

  ClaimSpec ParseClaim(const ordered_json& c, const std::string& path,
                       const std::vector<ColumnSpec>& columns) {
    Expect(c, path, "an object {\"claim\", \"better\", \"than\", \"kind\", \"columns\"}",
           c.is_object());
    Keys(c, path, {"claim", "better", "than", "kind", "columns"});
    ClaimSpec claim;
    claim.path = path;
    claim.text = String(c, path, "claim", "");
    if (claim.text.empty()) Fail(path + "/claim", "missing: say the paper's claim in words");
    claim.better = Labels(c, path, "better");
    claim.than = Labels(c, path, "than");
    const std::string kind = String(c, path, "kind", "better");
    if (kind == "better") {
      claim.kind = ClaimKind::kBetter;
    } else if (kind == "at-least") {
      claim.kind = ClaimKind::kAtLeast;
    } else {
      Fail(path + "/kind", "\"" + kind + "\" is not \"better\" or \"at-least\"");
    }
    std::vector<std::string> tested;
    for (const auto& column : columns) {
      if (column.better != Better::kNone && column.param.empty()) tested.push_back(column.label);
    }
    if (c.contains("columns")) {
      claim.columns = Labels(c, path, "columns");
      for (size_t i = 0; i < claim.columns.size(); ++i) {
        if (std::find(tested.begin(), tested.end(), claim.columns[i]) == tested.end()) {
          Fail(path + "/columns/" + std::to_string(i),
               "\"" + claim.columns[i] + "\" is not a metric column with \"better\"" +
                   DidYouMean(ClosestNames(claim.columns[i], tested)));
        }
      }
    }
    return claim;
  }

  // A label or a non-empty array of labels.
  std::vector<std::string> Labels(const ordered_json& c, const std::string& path,
                                  const std::string& key) {
    const auto& v = Get(c, key);
    std::vector<std::string> out;
    if (v.is_string() && !v.get<std::string>().empty()) {
      out.push_back(v.get<std::string>());
    } else if (v.is_array() && !v.empty()) {
      for (const auto& item : v) {
        Expect(v, path + "/" + key, "a row label or an array of them",
               item.is_string() && !item.get<std::string>().empty());
        out.push_back(item.get<std::string>());
      }
    }
    Expect(v, path + "/" + key, "a row label or an array of them", !out.empty());
    return out;
  }

  Spread ParseSpread(const ordered_json& s, const std::string& path) {
    if (s == "range") return Spread::kRange;
    if (s == "iqr") return Spread::kIqr;
    if (s == "std") return Spread::kStd;
    if (s == "none") return Spread::kNone;
    Fail(path, s.dump() + " is not one of \"range\", \"iqr\", \"std\", \"none\"");
  }

  double ParseAlpha(const ordered_json& a, const std::string& path) {
    Expect(a, path, "a significance level between 0 and 1",
           a.is_number() && a.get<double>() > 0 && a.get<double>() < 1);
    return a.get<double>();
  }

  RunSource ParseSource(const ordered_json& s, const std::string& path) {
    Expect(s, path, "an object {\"experiment\": NAME, \"where\": {...}}", s.is_object());
    Keys(s, path, {"experiment", "where"});
    RunSource source;
    source.path = path;
    source.experiment = String(s, path, "experiment", "");
    if (source.experiment.empty()) Fail(path + "/experiment", "missing: name the experiment");
    if (s.contains("where")) source.where = ParseFilter(s["where"], path + "/where");
    return source;
  }

  RowSpec ParseRow(const ordered_json& r, const std::string& path) {
    Expect(r, path, "an object {\"label\", \"where\", \"group\"}", r.is_object());
    Keys(r, path, {"label", "group", "where"});
    RowSpec row;
    row.path = path;
    row.label = String(r, path, "label", "");
    if (row.label.empty()) Fail(path + "/label", "missing: every row needs a label");
    row.group = String(r, path, "group", "");
    Expect(Get(r, "where"), path + "/where",
           "an object of parameter values that select the row's runs", r.contains("where"));
    row.where = ParseFilter(r["where"], path + "/where");
    return row;
  }

  GeneratedRows ParseGenerated(const ordered_json& g, const std::string& path) {
    Keys(g, path, {"by", "label", "group", "order"});
    GeneratedRows rows;
    rows.path = path;
    const bool ok = g.contains("by") && ((g["by"].is_string() && !g["by"].empty()) ||
                                         (g["by"].is_array() && !g["by"].empty()));
    Expect(Get(g, "by"), path + "/by", "a parameter name or a non-empty array of them", ok);
    if (g["by"].is_string()) {
      rows.by.push_back(g["by"].get<std::string>());
    } else {
      for (size_t i = 0; i < g["by"].size(); ++i) {
        const auto& name = g["by"][i];
        Expect(name, path + "/by/" + std::to_string(i), "a parameter name", name.is_string());
        rows.by.push_back(name.get<std::string>());
      }
    }
    rows.label = String(g, path, "label", "");
    if (rows.label.empty()) {
      for (const auto& name : rows.by)
        rows.label += (rows.label.empty() ? "{" : ", {") + name + "}";
    }
    for (size_t pos = rows.label.find('{'); pos != std::string::npos;
         pos = rows.label.find('{', pos + 1)) {
      const size_t end = rows.label.find('}', pos);
      if (end == std::string::npos)
        Fail(path + "/label", "unclosed \"{\" in \"" + rows.label + "\"");
    }
    rows.group = String(g, path, "group", "");
    if (g.contains("order")) {
      Expect(g["order"], path + "/order", "an object: parameter -> values in display order",
             g["order"].is_object());
      for (const auto& [name, values] : g["order"].items()) {
        const std::string p = path + "/order/" + name;
        Expect(values, p, "an array of values", values.is_array());
        for (const auto& v : values) rows.order[name].push_back(json(v));
      }
    }
    return rows;
  }

  ColumnSpec ParseColumn(const ordered_json& c, const std::string& path) {
    Expect(c, path, "an object", c.is_object());
    Keys(c, path,
         {"label", "metric", "metrics", "param", "decimals", "scale", "better", "optional",
          "reference", "spread", "note"});
    ColumnSpec column;
    column.path = path;
    const int sources = c.contains("metric") + c.contains("metrics") + c.contains("param");
    if (sources != 1) {
      Fail(path,
           "a column shows exactly one of \"metric\", \"metrics\" (a combined cell) or "
           "\"param\"");
    }
    if (c.contains("metric")) {
      column.metrics.push_back(String(c, path, "metric", ""));
      if (column.metrics[0].empty()) Fail(path + "/metric", "expected a final metric name");
    } else if (c.contains("metrics")) {
      const auto& m = c["metrics"];
      Expect(m, path + "/metrics", "an array of at least two final metric names",
             m.is_array() && m.size() >= 2);
      for (size_t i = 0; i < m.size(); ++i) {
        Expect(m[i], path + "/metrics/" + std::to_string(i), "a final metric name",
               m[i].is_string() && !m[i].empty());
        column.metrics.push_back(m[i].get<std::string>());
      }
    } else {
      column.param = String(c, path, "param", "");
      if (column.param.empty()) Fail(path + "/param", "expected a parameter name");
    }
    column.label =
        String(c, path, "label", column.param.empty() ? column.metrics[0] : column.param);
    if (c.contains("decimals")) {
      const auto& d = c["decimals"];
      Expect(d, path + "/decimals", "an integer from 0 to 10",
             d.is_number_integer() && d.get<int>() >= 0 && d.get<int>() <= 10);
      column.decimals = d.get<int>();
    }
    if (c.contains("scale")) {
      const auto& s = c["scale"];
      Expect(s, path + "/scale", "a positive number", s.is_number() && s.get<double>() > 0);
      column.scale = s.get<double>();
    }
    if (c.contains("better")) {
      const std::string b = String(c, path, "better", "");
      if (b == "higher") {
        column.better = Better::kHigher;
      } else if (b == "lower") {
        column.better = Better::kLower;
      } else {
        Fail(path + "/better", "\"" + b + "\" is not \"higher\" or \"lower\"");
      }
    }
    if (c.contains("optional")) {
      Expect(c["optional"], path + "/optional", "true or false", c["optional"].is_boolean());
      column.optional = c["optional"].get<bool>();
    }
    if (c.contains("spread")) column.spread = ParseSpread(c["spread"], path + "/spread");
    column.note = String(c, path, "note", "");
    if (c.contains("reference")) {
      const auto& r = c["reference"];
      const size_t parts = column.param.empty() ? column.metrics.size() : 1;
      if (r.is_string()) {
        column.reference.push_back(r.get<std::string>());
      } else if (r.is_array()) {
        for (size_t i = 0; i < r.size(); ++i) {
          Expect(r[i], path + "/reference/" + std::to_string(i), "a reference column name",
                 r[i].is_string());
          column.reference.push_back(r[i].get<std::string>());
        }
      }
      Expect(r, path + "/reference",
             "the reference table's column name, or one per part of a combined cell (" +
                 std::to_string(parts) + ")",
             column.reference.size() == parts);
    }
    return column;
  }

  ReferenceSpec ParseReference(const ordered_json& r, const std::string& path,
                               const std::vector<ColumnSpec>& columns) {
    Expect(r, path, "an object {\"table\", \"header\", \"rows\", \"labels\"}", r.is_object());
    Keys(r, path, {"table", "header", "rows", "labels"});
    if (reference_->is_null()) {
      Fail(path, "the spec names no reference file (top-level \"reference\")");
    }
    ReferenceSpec ref;
    ref.table = String(r, path, "table", "");
    std::vector<std::string> tables;
    for (const auto& [name, value] : reference_->items()) {
      if (value.is_object() && value.contains("rows")) tables.push_back(name);
    }
    if (std::find(tables.begin(), tables.end(), ref.table) == tables.end()) {
      Fail(path + "/table", "\"" + ref.table + "\" is not a table of " + reference_file_ +
                                DidYouMean(ClosestNames(ref.table, tables)));
    }
    const json& table = (*reference_)[ref.table];
    ref.header = String(r, path, "header", "");
    std::vector<std::string> names, known_columns;
    for (const auto& row : table["rows"]) names.push_back(row.value("name", ""));
    for (const auto& column : table.value("columns", json::array())) {
      known_columns.push_back(column.get<std::string>());
    }
    if (r.contains("rows")) {
      Expect(r["rows"], path + "/rows", "an array of row names", r["rows"].is_array());
      for (size_t i = 0; i < r["rows"].size(); ++i) {
        const auto& name = r["rows"][i];
        const std::string p = path + "/rows/" + std::to_string(i);
        Expect(name, p, "a row name", name.is_string());
        const std::string n = name.get<std::string>();
        if (std::find(names.begin(), names.end(), n) == names.end()) {
          Fail(p, "\"" + n + "\" is not a row of reference table \"" + ref.table + "\"" +
                      DidYouMean(ClosestNames(n, names)));
        }
        ref.rows.push_back(n);
      }
    } else {
      ref.rows = names;
    }
    if (r.contains("labels")) {
      Expect(r["labels"], path + "/labels", "an object: row name -> display label",
             r["labels"].is_object());
      for (const auto& [name, label] : r["labels"].items()) {
        Expect(label, path + "/labels/" + name, "a display label", label.is_string());
        ref.labels[name] = label.get<std::string>();
      }
    }
    for (const auto& column : columns) {
      for (size_t i = 0; i < column.reference.size(); ++i) {
        const std::string& name = column.reference[i];
        if (std::find(known_columns.begin(), known_columns.end(), name) == known_columns.end()) {
          Fail(column.path + "/reference" +
                   (column.reference.size() > 1 ? "/" + std::to_string(i) : ""),
               "\"" + name + "\" is not a column of reference table \"" + ref.table + "\"" +
                   DidYouMean(ClosestNames(name, known_columns)));
        }
      }
    }
    return ref;
  }

  ParamFilter ParseFilter(const ordered_json& w, const std::string& path) {
    Expect(w, path, "an object: parameter -> value or [values]", w.is_object());
    ParamFilter filter;
    for (const auto& [name, value] : w.items()) {
      const std::string p = path + "/" + name;
      auto scalar = [](const ordered_json& v) { return v.is_primitive() && !v.is_null(); };
      if (value.is_array()) {
        Expect(value, p, "a value or a non-empty array of values", !value.empty());
        for (size_t i = 0; i < value.size(); ++i) {
          Expect(value[i], p + "/" + std::to_string(i), "a number, string or boolean",
                 scalar(value[i]));
          filter[name].push_back(json(value[i]));
        }
      } else {
        Expect(value, p, "a number, string or boolean, or an array of them", scalar(value));
        filter[name].push_back(json(value));
      }
    }
    return filter;
  }

  // "test", "correction" and "bootstrap": {"samples", "seed"} of the report (its defaults) or of
  // a table; what is absent comes from `defaults`.
  void ParseTesting(const ordered_json& object, const std::string& path, const TableSpec& defaults,
                    TableSpec& out) {
    out.test = defaults.test;
    out.correction = defaults.correction;
    out.bootstrap_samples = defaults.bootstrap_samples;
    out.bootstrap_seed = defaults.bootstrap_seed;
    if (object.contains("test")) {
      const auto& t = object["test"];
      if (t == "rank") {
        out.test = ClaimTest::kRank;
      } else if (t == "multibootstrap") {
        out.test = ClaimTest::kMultiBootstrap;
      } else {
        Fail(path + "/test", t.dump() + " is not one of \"rank\", \"multibootstrap\"");
      }
    }
    if (object.contains("correction")) {
      const auto& c = object["correction"];
      if (c == "holm") {
        out.correction = Correction::kHolm;
      } else if (c == "none") {
        out.correction = Correction::kNone;
      } else {
        Fail(path + "/correction", c.dump() + " is not one of \"holm\", \"none\"");
      }
    }
    if (object.contains("bootstrap")) {
      const auto& b = object["bootstrap"];
      const std::string bpath = path + "/bootstrap";
      Expect(b, bpath, "an object {\"samples\", \"seed\"}", b.is_object());
      Keys(b, bpath, {"samples", "seed"});
      if (b.contains("samples")) {
        Expect(b["samples"], bpath + "/samples", "an integer from 100 to 1000000",
               b["samples"].is_number_integer() && b["samples"].get<int64_t>() >= 100 &&
                   b["samples"].get<int64_t>() <= 1000000);
        out.bootstrap_samples = b["samples"].get<int64_t>();
      }
      if (b.contains("seed")) {
        Expect(b["seed"], bpath + "/seed", "a non-negative integer",
               b["seed"].is_number_unsigned() ||
                   (b["seed"].is_number_integer() && b["seed"].get<int64_t>() >= 0));
        out.bootstrap_seed = b["seed"].get<uint64_t>();
      }
    }
  }

  // "mixed": what a row does with runs that differ in more than the seed (report_spec.h).
  Mixed ParseMixed(const ordered_json& m, const std::string& path) {
    if (m == "warn") return Mixed::kWarn;
    if (m == "split") return Mixed::kSplit;
    if (m == "error") return Mixed::kError;
    Fail(path, m.dump() + " is not one of \"warn\", \"split\", \"error\"");
  }

  Aggregate ParseAggregate(const ordered_json& a, const std::string& path) {
    if (a == "median") return Aggregate::kMedian;
    if (a == "mean") return Aggregate::kMean;
    if (a == "mean±std" || a == "mean+-std") return Aggregate::kMeanStd;
    Fail(path, a.dump() + " is not one of \"median\", \"mean\", \"mean±std\"");
  }

  static const ordered_json& Get(const ordered_json& object, const std::string& key) {
    static const ordered_json kMissing(ordered_json::value_t::discarded);
    return object.contains(key) ? object[key] : kMissing;
  }

  std::string String(const ordered_json& object, const std::string& path, const std::string& key,
                     const std::string& fallback) {
    if (!object.contains(key)) return fallback;
    Expect(object[key], path + "/" + key, "a string", object[key].is_string());
    return object[key].get<std::string>();
  }

  void Keys(const ordered_json& object, const std::string& path,
            const std::vector<std::string>& allowed) {
    for (const auto& [key, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Fail(path + "/" + key,
             "unknown key \"" + key + "\"" + DidYouMean(ClosestNames(key, allowed)));
      }
    }
  }

  void Expect(const ordered_json& value, const std::string& path, const std::string& what,
              bool ok) {
    if (!ok) {
      if (value.is_discarded()) Fail(path, "missing: expected " + what);
      std::string got = value.dump();
      if (got.size() > 60) got = got.substr(0, 57) + "...";
      Fail(path, "expected " + what + ", got " + got);
    }
  }

  [[noreturn]] void Fail(const std::string& path, const std::string& message) {
    throw InputError(source_, path.empty() ? "/" : path, message);
  }

  std::string source_;
  std::filesystem::path base_dir_;
  const json* reference_ = nullptr;
  std::string reference_file_;
};

}  // namespace

ReportSpec ParseReportSpec(const ordered_json& spec, const std::string& source,
                           const std::filesystem::path& base_dir) {
  return SpecParser(source, base_dir).Parse(spec);
}

ReportSpec ReadReportSpec(const std::filesystem::path& path) {
  return ParseReportSpec(ReadJsonFile(path.string()), path.string(), path.parent_path());
}

// Held-out masked-LM metrics: valid/... on the corpus the run is scored on, valid-<corpus>/... on
// each further one.
bool ColumnSpec::Intrinsic() const {
  for (const auto& metric : metrics) {
    if (metric.rfind("valid/", 0) == 0 || metric.rfind("valid-", 0) == 0) return true;
  }
  return false;
}

bool IsTunableMetric(const std::string& metric) {
  return std::find(std::begin(kTunableMetrics), std::end(kTunableMetrics), metric) !=
         std::end(kTunableMetrics);
}

std::string HalfMetric(const std::string& metric, const std::string& half) {
  return "valid/" + half + metric.substr(metric.find('/'));
}

std::string SpreadName(Spread spread) {
  switch (spread) {
    case Spread::kRange:
      return "range";
    case Spread::kIqr:
      return "iqr";
    case Spread::kStd:
      return "std";
    case Spread::kNone:
      return "none";
  }
  return "";
}

std::string ClaimTestName(ClaimTest test) {
  return test == ClaimTest::kRank ? "rank" : "multibootstrap";
}

std::string CorrectionName(Correction correction) {
  return correction == Correction::kHolm ? "holm" : "none";
}

std::string AggregateName(Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kMedian:
      return "median";
    case Aggregate::kMean:
      return "mean";
    case Aggregate::kMeanStd:
      return "mean±std";
  }
  return "";
}

}  // namespace ablate::reports

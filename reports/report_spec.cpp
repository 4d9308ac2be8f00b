#include "reports/report_spec.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <set>

#include "base/error.h"
#include "base/json_at.h"
#include "base/json_text.h"
#include "base/suggest.h"

namespace ablate::reports {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

bool NonEmptyString(const ordered_json& v) {
  return v.is_string() && !v.get_ref<const std::string&>().empty();
}

class SpecParser {
 public:
  SpecParser(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  ReportSpec Parse(const ordered_json& document) {
    const JsonAt root(document, source_);
    ReportSpec spec;
    spec.source = source_;
    root.ExpectObject();
    root.CheckKeys({"$schema", "title", "description", "reference", "aggregate", "spread", "alpha",
                    "tables", "test", "correction", "bootstrap", "mixed", "tune"});
    spec.title = root.StringOr("title", "");
    TableSpec defaults;
    if (auto a = root.Find("aggregate")) defaults.aggregate = ParseAggregate(*a);
    if (auto s = root.Find("spread")) defaults.spread = ParseSpread(*s);
    if (auto a = root.Find("alpha")) defaults.alpha = ParseAlpha(*a);
    ParseTesting(root, defaults, defaults);
    if (auto m = root.Find("mixed")) defaults.mixed = ParseMixed(*m);
    if (auto t = root.Find("tune")) defaults.tune = ParseTune(*t);
    if (auto ref = root.Find("reference")) {
      ref->Expect(NonEmptyString(ref->value()), "a file name (string)");
      std::filesystem::path file = ref->String();
      if (file.is_relative()) file = base_dir_ / file;
      spec.reference = json(ReadJsonFile(file.string()));
      if (!spec.reference.is_object()) {
        throw InputError(file.string(), "/", "expected an object of reference tables");
      }
      reference_file_ = file.string();
      spec.reference_source = spec.reference.value("source", "");
    }
    reference_ = &spec.reference;
    const JsonAt tables = root["tables"];
    tables.Expect(tables.value().is_array() && !tables.value().empty(),
                  "a non-empty array of tables");
    std::set<std::string> ids;
    for (const auto& t : tables.Elements()) {
      TableSpec table = ParseTable(t, defaults);
      if (!ids.insert(table.id).second) t["id"].Fail("duplicate table id \"" + table.id + "\"");
      spec.tables.push_back(std::move(table));
    }
    return spec;
  }

 private:
  TableSpec ParseTable(const JsonAt& t, const TableSpec& defaults) {
    t.ExpectObject();
    t.CheckKeys({"id", "caption", "row_header", "runs", "rows", "columns", "aggregate", "spread",
                 "alpha", "claims", "reference", "curves", "test", "correction", "bootstrap",
                 "mixed", "tune"});
    TableSpec table;
    table.path = t.path();
    table.spread = t.Has("spread") ? ParseSpread(t["spread"]) : defaults.spread;
    table.alpha = t.Has("alpha") ? ParseAlpha(t["alpha"]) : defaults.alpha;
    ParseTesting(t, defaults, table);
    table.mixed = t.Has("mixed") ? ParseMixed(t["mixed"]) : defaults.mixed;
    table.tune = t.Has("tune") ? ParseTune(t["tune"]) : defaults.tune;
    table.id = t.StringOr("id", "");
    if (table.id.empty()) t["id"].Fail("missing: every table needs an id (names its plots)");
    for (char c : table.id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        t["id"].Fail("\"" + table.id + "\" may hold only letters, digits, - and _");
      }
    }
    table.caption = t.StringOr("caption", "");
    table.row_header = t.StringOr("row_header", "");
    table.aggregate = t.Has("aggregate") ? ParseAggregate(t["aggregate"]) : defaults.aggregate;
    table.curves = t.BoolOr("curves", table.curves);

    const JsonAt runs = t["runs"];
    runs.Expect(runs.value().is_object() || (runs.value().is_array() && !runs.value().empty()),
                "an object or a non-empty array of {\"experiment\", \"where\"}");
    if (runs.value().is_object()) {
      table.runs.push_back(ParseSource(runs));
    } else {
      for (const auto& source : runs.Elements()) table.runs.push_back(ParseSource(source));
    }

    const JsonAt rows = t["rows"];
    rows.Expect(rows.value().is_array() || rows.value().is_object(),
                "an array of rows or {\"by\": [...]}");
    if (rows.value().is_object()) {
      table.generated = ParseGenerated(rows);
    } else {
      rows.Expect(!rows.value().empty(), "at least one row");
      for (const auto& row : rows.Elements()) table.rows.push_back(ParseRow(row));
    }

    const JsonAt columns = t["columns"];
    columns.Expect(columns.value().is_array() && !columns.value().empty(),
                   "a non-empty array of columns");
    for (const auto& c : columns.Elements()) {
      table.columns.push_back(ParseColumn(c));
      // A tuned table reports its held-out metrics on the half its selection did not see.
      if (table.tune) {
        for (auto& metric : table.columns.back().metrics) {
          if (IsTunableMetric(metric)) metric = HalfMetric(metric, "report");
        }
      }
    }
    if (auto r = t.Find("reference")) table.reference = ParseReference(*r, table.columns);
    if (auto claims = t.Find("claims")) {
      for (const auto& c : claims->Elements("an array of claims")) {
        table.claims.push_back(ParseClaim(c, table.columns));
      }
    }
    if (table.tune && table.test == ClaimTest::kMultiBootstrap) CheckTunedBootstrap(table);
    return table;
  }

  // "tune": {"param", "metric", "better"}, or false (a table's way to drop the report's default).
  std::optional<TuneSpec> ParseTune(const JsonAt& t) {
    t.Expect(t.value().is_object() || t.value() == false,
             "an object {\"param\", \"metric\", \"better\"} or false");
    if (!t.value().is_object()) return std::nullopt;
    t.CheckKeys({"param", "metric", "better"});
    TuneSpec tune;
    tune.path = t.path();
    const JsonAt param = t["param"];
    param.Expect(NonEmptyString(param.value()), "the name of the parameter to choose per row");
    tune.param = param.String();
    if (tune.param == "seed") {
      param.Fail(
          "choosing the seed per row picks the luckiest draw: tune a hyperparameter, and let the "
          "row pool its seeds");
    }
    const std::vector<std::string> tunable(std::begin(kTunableMetrics), std::end(kTunableMetrics));
    const JsonAt metric = t["metric"];
    tune.metric = metric.String("one of \"valid/ppl\", \"valid/mlm_acc\"");
    if (!IsTunableMetric(tune.metric)) {
      metric.Fail("\"" + tune.metric +
                  "\" is not a held-out metric that runs record on two halves of the held-out "
                  "documents: expected \"valid/ppl\" or \"valid/mlm_acc\"" +
                  DidYouMean(ClosestNames(tune.metric, tunable)));
    }
    const JsonAt better = t["better"];
    better.Expect(better.value() == "lower" || better.value() == "higher",
                  "\"lower\" or \"higher\"");
    tune.better = better.value() == "lower" ? Better::kLower : Better::kHigher;
    // Choosing the worst value is never what a spec means.
    const bool lower = tune.metric == "valid/ppl";
    if ((tune.better == Better::kLower) != lower) {
      better.Fail("\"" + tune.metric + "\" is better " +
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

  ClaimSpec ParseClaim(const JsonAt& c, const std::vector<ColumnSpec>& columns) {
    c.ExpectObject("an object {\"claim\", \"better\", \"than\", \"kind\", \"columns\"}");
    c.CheckKeys({"claim", "better", "than", "kind", "columns"});
    ClaimSpec claim;
    claim.path = c.path();
    claim.text = c.StringOr("claim", "");
    if (claim.text.empty()) c["claim"].Fail("missing: say the paper's claim in words");
    claim.better = Labels(c["better"]);
    claim.than = Labels(c["than"]);
    const std::string kind = c.StringOr("kind", "better");
    if (kind == "better") {
      claim.kind = ClaimKind::kBetter;
    } else if (kind == "at-least") {
      claim.kind = ClaimKind::kAtLeast;
    } else {
      c["kind"].Fail("\"" + kind + "\" is not \"better\" or \"at-least\"");
    }
    std::vector<std::string> tested;
    for (const auto& column : columns) {
      if (column.better != Better::kNone && column.param.empty()) tested.push_back(column.label);
    }
    if (c.Has("columns")) {
      claim.columns = Labels(c["columns"]);
      for (size_t i = 0; i < claim.columns.size(); ++i) {
        if (std::find(tested.begin(), tested.end(), claim.columns[i]) == tested.end()) {
          c["columns"][i].Fail("\"" + claim.columns[i] +
                               "\" is not a metric column with \"better\"" +
                               DidYouMean(ClosestNames(claim.columns[i], tested)));
        }
      }
    }
    return claim;
  }

  // A label or a non-empty array of labels.
  static std::vector<std::string> Labels(const JsonAt& v) {
    const std::string what = "a row label or an array of them";
    auto label = [](const ordered_json& item) {
      return item.is_string() && !item.get<std::string>().empty();
    };
    std::vector<std::string> out;
    if (label(v.value())) {
      out.push_back(v.String());
    } else if (v.value().is_array()) {
      for (const auto& item : v.value()) {
        v.Expect(label(item), what);
        out.push_back(item.get<std::string>());
      }
    }
    v.Expect(!out.empty(), what);
    return out;
  }

  static Spread ParseSpread(const JsonAt& s) {
    if (s.value() == "range") return Spread::kRange;
    if (s.value() == "iqr") return Spread::kIqr;
    if (s.value() == "std") return Spread::kStd;
    if (s.value() == "none") return Spread::kNone;
    s.Fail(s.value().dump() + " is not one of \"range\", \"iqr\", \"std\", \"none\"");
  }

  static double ParseAlpha(const JsonAt& a) {
    const double alpha = a.Number("a significance level between 0 and 1");
    a.Expect(alpha > 0 && alpha < 1, "a significance level between 0 and 1");
    return alpha;
  }

  static RunSource ParseSource(const JsonAt& s) {
    s.ExpectObject("an object {\"experiment\": NAME, \"where\": {...}}");
    s.CheckKeys({"experiment", "where"});
    RunSource source;
    source.path = s.path();
    source.experiment = s.StringOr("experiment", "");
    if (source.experiment.empty()) s["experiment"].Fail("missing: name the experiment");
    if (auto where = s.Find("where")) source.where = ParseFilter(*where);
    return source;
  }

  static RowSpec ParseRow(const JsonAt& r) {
    r.ExpectObject("an object {\"label\", \"where\", \"group\"}");
    r.CheckKeys({"label", "group", "where"});
    RowSpec row;
    row.path = r.path();
    row.label = r.StringOr("label", "");
    if (row.label.empty()) r["label"].Fail("missing: every row needs a label");
    row.group = r.StringOr("group", "");
    const JsonAt where = r["where"];
    where.Expect(!where.Missing(), "an object of parameter values that select the row's runs");
    row.where = ParseFilter(where);
    return row;
  }

  static GeneratedRows ParseGenerated(const JsonAt& g) {
    g.CheckKeys({"by", "label", "group", "order"});
    GeneratedRows rows;
    rows.path = g.path();
    const JsonAt by = g["by"];
    by.Expect(NonEmptyString(by.value()) || (by.value().is_array() && !by.value().empty()),
              "a parameter name or a non-empty array of them");
    if (by.value().is_string()) {
      rows.by.push_back(by.String());
    } else {
      for (const auto& name : by.Elements()) rows.by.push_back(name.String("a parameter name"));
    }
    rows.label = g.StringOr("label", "");
    if (rows.label.empty()) {
      for (const auto& name : rows.by)
        rows.label += (rows.label.empty() ? "{" : ", {") + name + "}";
    }
    for (size_t pos = rows.label.find('{'); pos != std::string::npos;
         pos = rows.label.find('{', pos + 1)) {
      const size_t end = rows.label.find('}', pos);
      if (end == std::string::npos) g["label"].Fail("unclosed \"{\" in \"" + rows.label + "\"");
    }
    rows.group = g.StringOr("group", "");
    if (auto order = g.Find("order")) {
      for (const auto& [name, values] :
           order->Members("an object: parameter -> values in display order")) {
        for (const auto& v : values.Elements("an array of values"))
          rows.order[name].push_back(json(v.value()));
      }
    }
    return rows;
  }

  static ColumnSpec ParseColumn(const JsonAt& c) {
    c.ExpectObject();
    c.CheckKeys({"label", "metric", "metrics", "param", "decimals", "scale", "better", "optional",
                 "reference", "spread", "note"});
    ColumnSpec column;
    column.path = c.path();
    const int sources = c.Has("metric") + c.Has("metrics") + c.Has("param");
    if (sources != 1) {
      c.Fail(
          "a column shows exactly one of \"metric\", \"metrics\" (a combined cell) or "
          "\"param\"");
    }
    if (auto metric = c.Find("metric")) {
      column.metrics.push_back(metric->String());
      if (column.metrics[0].empty()) metric->Fail("expected a final metric name");
    } else if (auto metrics = c.Find("metrics")) {
      metrics->Expect(metrics->value().is_array() && metrics->value().size() >= 2,
                      "an array of at least two final metric names");
      for (const auto& m : metrics->Elements()) {
        m.Expect(NonEmptyString(m.value()), "a final metric name");
        column.metrics.push_back(m.String());
      }
    } else {
      column.param = c.StringOr("param", "");
      if (column.param.empty()) c["param"].Fail("expected a parameter name");
    }
    column.label = c.StringOr("label", column.param.empty() ? column.metrics[0] : column.param);
    if (auto d = c.Find("decimals")) {
      const std::string what = "an integer from 0 to 10";
      d->Expect(d->value().is_number_integer() && d->value().get<int64_t>() >= 0 &&
                    d->value().get<int64_t>() <= 10,
                what);
      column.decimals = static_cast<int>(d->Int(what));
    }
    if (auto s = c.Find("scale")) {
      column.scale = s->Number("a positive number");
      s->Expect(column.scale > 0, "a positive number");
    }
    if (auto b = c.Find("better")) {
      const std::string& better = b->String();
      if (better == "higher") {
        column.better = Better::kHigher;
      } else if (better == "lower") {
        column.better = Better::kLower;
      } else {
        b->Fail("\"" + better + "\" is not \"higher\" or \"lower\"");
      }
    }
    column.optional = c.BoolOr("optional", column.optional);
    if (auto s = c.Find("spread")) column.spread = ParseSpread(*s);
    column.note = c.StringOr("note", "");
    if (auto r = c.Find("reference")) {
      const size_t parts = column.param.empty() ? column.metrics.size() : 1;
      if (r->value().is_string()) {
        column.reference.push_back(r->String());
      } else if (r->value().is_array()) {
        for (const auto& name : r->Elements())
          column.reference.push_back(name.String("a reference column name"));
      }
      r->Expect(column.reference.size() == parts,
                "the reference table's column name, or one per part of a combined cell (" +
                    std::to_string(parts) + ")");
    }
    return column;
  }

  ReferenceSpec ParseReference(const JsonAt& r, const std::vector<ColumnSpec>& columns) {
    r.ExpectObject("an object {\"table\", \"header\", \"rows\", \"labels\"}");
    r.CheckKeys({"table", "header", "rows", "labels"});
    if (reference_->is_null()) r.Fail("the spec names no reference file (top-level \"reference\")");
    ReferenceSpec ref;
    ref.table = r.StringOr("table", "");
    std::vector<std::string> tables;
    for (const auto& [name, value] : reference_->items()) {
      if (value.is_object() && value.contains("rows")) tables.push_back(name);
    }
    if (std::find(tables.begin(), tables.end(), ref.table) == tables.end()) {
      r["table"].Fail("\"" + ref.table + "\" is not a table of " + reference_file_ +
                      DidYouMean(ClosestNames(ref.table, tables)));
    }
    const json& table = (*reference_)[ref.table];
    ref.header = r.StringOr("header", "");
    std::vector<std::string> names, known_columns;
    for (const auto& row : table["rows"]) names.push_back(row.value("name", ""));
    for (const auto& column : table.value("columns", json::array())) {
      known_columns.push_back(column.get<std::string>());
    }
    if (auto rows = r.Find("rows")) {
      for (const auto& name : rows->Elements("an array of row names")) {
        const std::string& n = name.String("a row name");
        if (std::find(names.begin(), names.end(), n) == names.end()) {
          name.Fail("\"" + n + "\" is not a row of reference table \"" + ref.table + "\"" +
                    DidYouMean(ClosestNames(n, names)));
        }
        ref.rows.push_back(n);
      }
    } else {
      ref.rows = names;
    }
    if (auto labels = r.Find("labels")) {
      for (const auto& [name, label] : labels->Members("an object: row name -> display label")) {
        ref.labels[name] = label.String("a display label");
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

  static ParamFilter ParseFilter(const JsonAt& w) {
    ParamFilter filter;
    auto scalar = [](const ordered_json& v) { return v.is_primitive() && !v.is_null(); };
    for (const auto& [name, value] : w.Members("an object: parameter -> value or [values]")) {
      if (value.value().is_array()) {
        value.Expect(!value.value().empty(), "a value or a non-empty array of values");
        for (const auto& item : value.Elements()) {
          item.Expect(scalar(item.value()), "a number, string or boolean");
          filter[name].push_back(json(item.value()));
        }
      } else {
        value.Expect(scalar(value.value()), "a number, string or boolean, or an array of them");
        filter[name].push_back(json(value.value()));
      }
    }
    return filter;
  }

  // "test", "correction" and "bootstrap": {"samples", "seed"} of the report (its defaults) or of
  // a table; what is absent comes from `defaults`.
  static void ParseTesting(const JsonAt& object, const TableSpec& defaults, TableSpec& out) {
    out.test = defaults.test;
    out.correction = defaults.correction;
    out.bootstrap_samples = defaults.bootstrap_samples;
    out.bootstrap_seed = defaults.bootstrap_seed;
    if (auto t = object.Find("test")) {
      if (t->value() == "rank") {
        out.test = ClaimTest::kRank;
      } else if (t->value() == "multibootstrap") {
        out.test = ClaimTest::kMultiBootstrap;
      } else {
        t->Fail(t->value().dump() + " is not one of \"rank\", \"multibootstrap\"");
      }
    }
    if (auto c = object.Find("correction")) {
      if (c->value() == "holm") {
        out.correction = Correction::kHolm;
      } else if (c->value() == "none") {
        out.correction = Correction::kNone;
      } else {
        c->Fail(c->value().dump() + " is not one of \"holm\", \"none\"");
      }
    }
    if (auto b = object.Find("bootstrap")) {
      b->ExpectObject("an object {\"samples\", \"seed\"}");
      b->CheckKeys({"samples", "seed"});
      if (auto samples = b->Find("samples")) {
        const std::string what = "an integer from 100 to 1000000";
        samples->Expect(samples->value().is_number_integer() &&
                            samples->value().get<int64_t>() >= 100 &&
                            samples->value().get<int64_t>() <= 1000000,
                        what);
        out.bootstrap_samples = samples->Int(what);
      }
      if (auto seed = b->Find("seed")) {
        seed->Expect(seed->value().is_number_unsigned() ||
                         (seed->value().is_number_integer() && seed->value().get<int64_t>() >= 0),
                     "a non-negative integer");
        out.bootstrap_seed = seed->value().get<uint64_t>();
      }
    }
  }

  // "mixed": what a row does with runs that differ in more than the seed (report_spec.h).
  static Mixed ParseMixed(const JsonAt& m) {
    if (m.value() == "warn") return Mixed::kWarn;
    if (m.value() == "split") return Mixed::kSplit;
    if (m.value() == "error") return Mixed::kError;
    m.Fail(m.value().dump() + " is not one of \"warn\", \"split\", \"error\"");
  }

  static Aggregate ParseAggregate(const JsonAt& a) {
    if (a.value() == "median") return Aggregate::kMedian;
    if (a.value() == "mean") return Aggregate::kMean;
    if (a.value() == "mean±std" || a.value() == "mean+-std") return Aggregate::kMeanStd;
    a.Fail(a.value().dump() + " is not one of \"median\", \"mean\", \"mean±std\"");
  }

  [[noreturn]] void Fail(const std::string& path, const std::string& message) const {
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

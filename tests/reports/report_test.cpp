#include "reports/report.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "reports/report_render.h"
#include "reports/report_spec.h"
#include "results/query.h"
#include "results/store.h"
#include "tests/results/helpers.h"

namespace rp = ablate::reports;
namespace fs = std::filesystem;
using ablate::InputError;
using ablate::results::Store;
using nlohmann::json;

namespace {

struct FixtureRun {
  std::string format;
  int seed;
  std::string status;  // "queued" leaves it unclaimed
  std::map<std::string, double> finals;
};

// Submits `runs` as one experiment, moves each to its status and records its final metrics.
void AddExperiment(Store& store, const std::string& name, const std::vector<json>& params,
                   const std::vector<std::string>& statuses,
                   const std::vector<std::map<std::string, double>>& finals) {
  ablate::results::ExperimentSubmission submission{name, "", "{}", {}};
  for (size_t i = 0; i < params.size(); ++i) {
    submission.runs.push_back({"run" + std::to_string(i), params[i]});
  }
  store.Submit(submission);
  for (size_t i = 0; i < params.size(); ++i) {
    if (statuses[i] == "queued") continue;
    auto claimed = store.StartRun(name, "run" + std::to_string(i), "host", 1);
    for (const auto& [metric, value] : finals[i]) {
      store.SetFinalMetric(claimed.run_id, metric, value, 10);
    }
    if (statuses[i] != "running") store.Finish(claimed.run_id, statuses[i]);
  }
}

// The fixture of the golden test: one table with groups, combined cells, odd and even medians,
// a failed and a queued run, missing values, an optional column without data and reference
// rows; one with generated rows, a parameter column and mean ± std.
void BuildFixture(const std::string& db) {
  Store store = Store::Open(db);
  auto p = [](const std::string& format, int seed) {
    return json{{"seed", seed},
                {"data.format", format},
                {"data.corpus", "books"},
                {"train.batch_size", 16},
                {"optim.lr", 1e-4}};
  };
  using F = std::map<std::string, double>;
  // Outside every row of the table: it makes train.batch_size vary in the experiment, so the
  // table's 16 is named as what its slice holds fixed.
  json big_batch = p("SENTENCE-PAIR+NSP", 1);
  big_batch["train.batch_size"] = 32;
  AddExperiment(
      store, "formats",
      {p("SEGMENT-PAIR+NSP", 1), p("SEGMENT-PAIR+NSP", 2), p("SEGMENT-PAIR+NSP", 3),
       p("SEGMENT-PAIR+NSP", 4), p("FULL-SENTENCES", 1), p("FULL-SENTENCES", 2),
       p("FULL-SENTENCES", 3), p("DOC-SENTENCES", 1), p("DOC-SENTENCES", 2), p("DOC-SENTENCES", 3),
       big_batch},
      {"completed", "completed", "completed", "queued", "completed", "completed", "failed",
       "completed", "completed", "completed", "completed"},
      {F{{"eval/squad1/f1", 80}, {"eval/squad2/f1", 70}, {"eval/mnli/acc", 0.80}, {"valid/ppl", 5}},
       F{{"eval/squad1/f1", 82}, {"eval/squad2/f1", 71}, {"eval/mnli/acc", 0.85}, {"valid/ppl", 4}},
       F{{"eval/squad1/f1", 90}, {"eval/squad2/f1", 60}, {"eval/mnli/acc", 0.90}, {"valid/ppl", 6}},
       F{},
       F{{"eval/squad1/f1", 84}, {"eval/squad2/f1", 72}, {"eval/mnli/acc", 0.80}, {"valid/ppl", 3}},
       F{{"eval/squad1/f1", 85}, {"eval/squad2/f1", 73}, {"eval/mnli/acc", 0.90}, {"valid/ppl", 4}},
       F{{"eval/squad1/f1", 10}, {"eval/squad2/f1", 10}, {"eval/mnli/acc", 0.10}, {"valid/ppl", 1}},
       F{{"valid/ppl", 7}}, F{{"valid/ppl", 9}}, F{{"valid/ppl", 8}}, F{{"valid/ppl", 2}}});

  auto b = [](int batch, double lr, int seed) {
    return json{{"seed", seed}, {"train.batch_size", batch}, {"optim.lr", lr}};
  };
  AddExperiment(
      store, "sizes",
      {b(256, 1e-4, 1), b(256, 1e-4, 2), b(2048, 7e-4, 1), b(8192, 1e-3, 1), b(8192, 1e-3, 2)},
      {"completed", "completed", "completed", "completed", "completed"},
      {F{{"valid/ppl", 4.0}}, F{{"valid/ppl", 4.2}}, F{{"valid/ppl", 3.7}}, F{{"valid/ppl", 3.8}},
       F{{"valid/ppl", 3.9}}});
}

const char* kReference = R"({
  "source": "Test reference numbers.",
  "t": {"columns": ["SQuAD 1.1", "SQuAD 2.0", "MNLI-m", "ppl"],
        "rows": [{"name": "BERT", "values": [88.5, 76.3, 84.3, null]},
                 {"name": "XLNet", "values": [null, 81.3, 85.8, 3.2]},
                 {"name": "Other", "values": [null, null, null, null]}]}
})";

const char* kSpec = R"({
  "title": "Fixture report",
  "reference": "reference.json",
  "tables": [
    {"id": "formats", "caption": "Input formats", "row_header": "Format",
     "runs": {"experiment": "formats"},
     "rows": [
       {"group": "With NSP:", "label": "SEGMENT-PAIR", "where": {"data.format": "SEGMENT-PAIR+NSP"}},
       {"group": "Without NSP:", "label": "FULL-SENTENCES", "where": {"data.format": "FULL-SENTENCES"}},
       {"group": "Without NSP:", "label": "DOC-SENTENCES", "where": {"data.format": "DOC-SENTENCES"}}
     ],
     "columns": [
       {"label": "SQuAD 1.1/2.0", "metrics": ["eval/squad1/f1", "eval/squad2/f1"],
        "better": "higher", "reference": ["SQuAD 1.1", "SQuAD 2.0"]},
       {"label": "MNLI-m", "metric": "eval/mnli/acc", "scale": 100, "better": "higher",
        "reference": "MNLI-m"},
       {"label": "RACE", "metric": "eval/race/acc", "optional": true},
       {"label": "ppl", "metric": "valid/ppl", "decimals": 2, "better": "lower", "reference": "ppl"}
     ],
     "reference": {"table": "t", "header": "Reported:", "labels": {"BERT": "BERT-BASE"}}},
    {"id": "sizes", "caption": "Batch size", "row_header": "bsz", "aggregate": "mean±std",
     "runs": [{"experiment": "absent"}, {"experiment": "sizes"}],
     "rows": {"by": "train.batch_size", "label": "bsz {train.batch_size}",
              "order": {"train.batch_size": [8192]}},
     "columns": [
       {"label": "lr", "param": "optim.lr"},
       {"label": "ppl", "metric": "valid/ppl", "decimals": 2, "better": "lower"}
     ]}
  ]
})";

struct Fixture {
  ablate::results::test::TempDir dir;
  std::string db = dir.File("results.db");
  rp::ReportSpec spec;

  Fixture() {
    BuildFixture(db);
    std::ofstream(dir.File("reference.json")) << kReference;
    std::ofstream(dir.File("spec.json")) << kSpec;
    spec = rp::ReadReportSpec(dir.File("spec.json"));
  }

  std::string Render(rp::ReportFormat format) const {
    const rp::Report report = rp::BuildReport(spec, db);
    std::ostringstream out;
    rp::RenderReport(out, report, format);
    return out.str();
  }
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The error a spec gets, as the CLI prints it.
std::string SpecError(const std::string& spec_text) {
  ablate::results::test::TempDir dir;
  std::ofstream(dir.File("reference.json")) << kReference;
  std::ofstream(dir.File("spec.json")) << spec_text;
  try {
    rp::ReadReportSpec(dir.File("spec.json"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

json SpecWith(const std::function<void(json&)>& change) {
  json spec = json::parse(kSpec);
  change(spec);
  return spec;
}

}  // namespace

TEST_CASE("the markdown report matches the hand-checked golden file", "[report]") {
  Fixture f;
  const std::string golden =
      ReadFile(fs::path(ABLATE_SOURCE_DIR) / "tests" / "data" / "report_golden.md");
  CHECK(f.Render(rp::ReportFormat::kMarkdown) == golden);
}

TEST_CASE("medians take the middle value, or the mean of the two middle ones", "[report]") {
  Fixture f;
  const rp::Report report = rp::BuildReport(f.spec, f.db);
  const auto& formats = report.tables.at(0);
  REQUIRE(formats.rows.size() == 5);  // 3 of ours, BERT and XLNet ("Other" has no values)
  // SEGMENT-PAIR: squad1 {80, 82, 90} -> 82; FULL-SENTENCES: {84, 85} -> 84.5 (the failed run's
  // 10 is left out).
  CHECK(formats.rows[0].cells[0].parts[0].value == Approx(82));
  CHECK(formats.rows[1].cells[0].parts[0].value == Approx(84.5));
  CHECK(formats.rows[1].cells[0].parts[0].count == 2);
  CHECK(formats.rows[1].cells[0].note == "n=2");
  // DOC-SENTENCES has ppl only: {7, 9, 8} -> 8.
  CHECK(formats.rows[2].cells[0].parts[0].missing);
  CHECK(formats.rows[2].cells[2].parts[0].value == Approx(8));
  // The optional RACE column had no data and was dropped.
  REQUIRE(formats.columns.size() == 3);
  CHECK(formats.columns[2]->label == "ppl");
  // Only completed runs are aggregated; the others are named in a note.
  CHECK(formats.rows[0].run_ids.size() == 3);
  CHECK(formats.notes ==
        std::vector<std::string>{"Row \"SEGMENT-PAIR\": 1 run queued, not included.",
                                 "Row \"FULL-SENTENCES\": 1 run failed, not included."});
}

TEST_CASE("generated rows follow the order list, then natural order", "[report]") {
  Fixture f;
  const rp::Report report = rp::BuildReport(f.spec, f.db);
  const auto& sizes = report.tables.at(1);
  CHECK(sizes.experiment == "sizes");  // the first source, "absent", has no runs
  REQUIRE(sizes.rows.size() == 3);
  CHECK(sizes.rows[0].label == "bsz 8192");
  CHECK(sizes.rows[1].label == "bsz 256");
  CHECK(sizes.rows[2].label == "bsz 2048");
  // mean ± sample std of {4.0, 4.2}: 4.10 ± 0.14
  CHECK(sizes.rows[1].cells[1].parts[0].text == "4.10 ± 0.14");
  CHECK(sizes.rows[1].cells[0].parts[0].text == "0.0001");
}

TEST_CASE("LaTeX uses booktabs rules, bold and escaped text", "[report]") {
  Fixture f;
  const std::string tex = f.Render(rp::ReportFormat::kLatex);
  CHECK(tex.find("\\toprule\nFormat & SQuAD 1.1/2.0 & MNLI-m & ppl \\\\\n\\midrule\n") !=
        std::string::npos);
  CHECK(tex.find("\\multicolumn{4}{l}{\\textit{With NSP:}} \\\\\n") != std::string::npos);
  CHECK(tex.find("FULL-SENTENCES & \\textbf{84.5}/\\textbf{72.5} {\\scriptsize(n=2)} & "
                 "\\textbf{85.0} {\\scriptsize(n=2)} & \\textbf{3.50} {\\scriptsize(n=2)} \\\\") !=
        std::string::npos);
  CHECK(tex.find("XLNet & --/81.3 & 85.8 & 3.20 \\\\") != std::string::npos);
  CHECK(tex.find("4.10 $\\pm$ 0.14") != std::string::npos);
  CHECK(tex.find("\\bottomrule\n\\end{tabular}") != std::string::npos);
}

TEST_CASE("CSV has one line per cell part with raw values", "[report]") {
  Fixture f;
  const std::string csv = f.Render(rp::ReportFormat::kCsv);
  CHECK(csv.rfind("table,section,group,row,column,metric,value,text,runs,bold\r\n", 0) == 0);
  CHECK(csv.find(
            "formats,ours,With NSP:,SEGMENT-PAIR,SQuAD 1.1/2.0,eval/squad2/f1,70,70.0,3,0\r\n") !=
        std::string::npos);
  CHECK(csv.find("formats,ours,Without NSP:,DOC-SENTENCES,MNLI-m,eval/mnli/acc,,–,0,0\r\n") !=
        std::string::npos);
  CHECK(csv.find("formats,reference,Reported:,BERT-BASE,ppl,valid/ppl,,–,,0\r\n") !=
        std::string::npos);
}

TEST_CASE("JSON keeps numbers, runs and bold flags", "[report]") {
  Fixture f;
  const json doc = json::parse(f.Render(rp::ReportFormat::kJson));
  const json& row = doc["tables"][0]["rows"][1];
  CHECK(row["label"] == "FULL-SENTENCES");
  CHECK(row["runs"].size() == 2);
  CHECK(row["cells"][1]["parts"][0]["value"] == Approx(85.0));
  CHECK(row["cells"][1]["parts"][0]["bold"] == true);
  CHECK(doc["tables"][0]["rows"][2]["cells"][0]["parts"][0]["value"].is_null());
}

TEST_CASE("learning curves are the median over a row's runs against tokens seen", "[report]") {
  Fixture f;
  {
    Store store = Store::Open(f.db);
    auto writer = store.Metrics();
    // Runs 1-3 are SEGMENT-PAIR's completed runs (ids follow submission order).
    const double losses[3][2] = {{9, 7}, {8, 6}, {10, 5}};
    for (int run = 1; run <= 3; ++run) {
      for (int step = 1; step <= 2; ++step) {
        writer.Add(run, "train/loss", step, losses[run - 1][step - 1]);
        writer.Add(run, "train/tokens_seen", step, 100.0 * step + run);
      }
    }
    writer.Add(1, "train/loss", 3, 4);  // a step the others lack is left out
    writer.Flush();
  }
  const rp::Report report = rp::BuildReport(f.spec, f.db);
  const rp::TableCurves curves = rp::ReadCurves(report, f.db).at("formats");
  REQUIRE(curves.loss.size() == 3);
  CHECK(curves.loss[0].label == "SEGMENT-PAIR");
  CHECK(curves.loss[0].tokens == std::vector<double>{102, 202});
  CHECK(curves.loss[0].values == std::vector<double>{9, 6});
  CHECK(curves.loss[1].tokens.empty());
  CHECK(curves.perplexity[0].tokens.empty());
}

TEST_CASE("bad specs get one error naming the JSON path", "[report][errors]") {
  CHECK(SpecError("{\"tables\": [}").find("spec.json:1:13: malformed JSON") != std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tabels"] = 1; }).dump())
            .find(": /tabels: unknown key \"tabels\" (did you mean \"tables\"?)") !=
        std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][0]["columns"][1]["param"] = "x"; }).dump())
            .find(": /tables/0/columns/1: a column shows exactly one of") != std::string::npos);
  CHECK(SpecError(
            SpecWith([](json& s) { s["tables"][0]["columns"][0]["reference"] = "SQuAD"; }).dump())
            .find(": /tables/0/columns/0/reference: expected the reference table's column name, "
                  "or one per part of a combined cell (2)") != std::string::npos);
  CHECK(SpecError(
            SpecWith([](json& s) { s["tables"][0]["columns"][1]["reference"] = "MNLI"; }).dump())
            .find(": /tables/0/columns/1/reference: \"MNLI\" is not a column of reference table "
                  "\"t\" (did you mean \"MNLI-m\"?)") != std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][1]["aggregate"] = "max"; }).dump())
            .find(": /tables/1/aggregate: \"max\" is not one of") != std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][1]["rows"]["label"] = "{seed}"; }).dump())
            .find(": /tables/1/rows/label: {seed} is not one of the \"by\" parameters") !=
        std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][0]["rows"][0].erase("where"); }).dump())
            .find(": /tables/0/rows/0/where: missing") != std::string::npos);
}

TEST_CASE("a parameter the runs do not have is an error, not an empty table", "[report][errors]") {
  Fixture f;
  f.spec.tables[0].rows[1].where = {{"data.fromat", {json("FULL-SENTENCES")}}};
  try {
    rp::BuildReport(f.spec, f.db);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("/tables/0/rows/1/where/data.fromat: no run of experiment "
                                     "\"formats\" has parameter \"data.fromat\" (did you mean "
                                     "\"data.format\"?)") != std::string::npos);
  }
}

TEST_CASE("the shipped paper report spec and the README's example spec are valid", "[report]") {
  const fs::path root = ABLATE_SOURCE_DIR;
  const rp::ReportSpec paper = rp::ReadReportSpec(root / "experiments" / "roberta" / "report.json");
  REQUIRE(paper.tables.size() == 4);
  CHECK(paper.tables[1].reference->table == "table2_input_format");

  const std::string readme = ReadFile(root / "README.md");
  const size_t intro = readme.find("A spec, in full:");
  REQUIRE(intro != std::string::npos);
  const size_t begin = readme.find("```json\n", intro) + 8;
  const size_t end = readme.find("```", begin);
  const auto example = nlohmann::ordered_json::parse(readme.substr(begin, end - begin));
  const rp::ReportSpec spec =
      rp::ParseReportSpec(example, "README.md", root / "experiments" / "roberta");
  CHECK(spec.tables.at(0).columns.size() == 4);
}

TEST_CASE("the README's example SQL runs against a results database", "[report][docs]") {
  ablate::results::test::TempDir dir;
  const std::string db = dir.File("r.db");
  {
    Store store = Store::Open(db);
    AddExperiment(
        store, "roberta-micro",
        {json{{"seed", 1},
              {"data.masking", "static"},
              {"data.format", "FULL-SENTENCES"},
              {"train.batch_size", 16},
              {"optim.lr", 1e-3}}},
        {"completed"},
        {{{"valid/ppl", 9.5}, {"eval/uci-sentiment/acc", 70}, {"eval/reuters-grain/f1", 40}}});
  }
  const std::string readme = ReadFile(fs::path(ABLATE_SOURCE_DIR) / "README.md");
  const size_t intro = readme.find("Example queries");
  REQUIRE(intro != std::string::npos);
  const size_t begin = readme.find("```sql\n", intro) + 7;
  const std::string sql = readme.substr(begin, readme.find("```", begin) - begin);
  const auto sets = ablate::results::RunReadOnlyQuery(db, sql);
  CHECK(sets.size() == 6);
  // The downstream query finds the run's scores.
  REQUIRE(sets.at(3).rows.size() == 1);
  CHECK(std::get<double>(sets.at(3).rows[0][1]) == 70);
}

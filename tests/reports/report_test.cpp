#include "reports/report.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "base/error.h"
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

// An in-memory run of experiment "mem" as results::ReadRunRecords returns it: key "k<id>", its
// status and seed; the callers add the parameters and final metrics they test.
ablate::results::RunRecord MemRecord(int64_t id, int seed,
                                     const std::string& status = "completed") {
  ablate::results::RunRecord r;
  r.id = id;
  r.experiment = "mem";
  r.key = "k" + std::to_string(id);
  r.status = status;
  r.params["seed"] = {true, static_cast<double>(seed), ""};
  return r;
}

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
    if (statuses[i] != "running")
      store.Finish(claimed.run_id, *ablate::results::ParseStatus(statuses[i]));
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

  std::string Render(std::string_view format) const {
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
  const fs::path file = fs::path(ABLATE_SOURCE_DIR) / "tests" / "data" / "report_golden.md";
  // ABLATE_UPDATE_GOLDEN=1 rewrites the file: read the diff before committing it.
  if (std::getenv("ABLATE_UPDATE_GOLDEN") != nullptr) std::ofstream(file) << f.Render("markdown");
  CHECK(f.Render("markdown") == ReadFile(file));
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

TEST_CASE("the spread beside a median: range, interquartile range, std, or none per column",
          "[report]") {
  Fixture f;
  // SEGMENT-PAIR's SQuAD 1.1 runs: {80, 82, 90}.
  auto squad1 = [&](rp::Spread table, std::optional<rp::Spread> column) {
    f.spec.tables[0].spread = table;
    f.spec.tables[0].columns[0].spread = column;
    return rp::BuildReport(f.spec, f.db).tables[0].rows[0].cells[0].parts[0].spread;
  };
  CHECK(squad1(rp::Spread::kRange, std::nullopt) == "(80.0–90.0)");
  // numpy.quantile([80, 82, 90], [0.25, 0.75]) = 81, 86
  CHECK(squad1(rp::Spread::kIqr, std::nullopt) == "(IQR 81.0–86.0)");
  // sqrt((16 + 4 + 36) / 2) = 5.29
  CHECK(squad1(rp::Spread::kStd, std::nullopt) == "± 5.3");
  CHECK(squad1(rp::Spread::kRange, rp::Spread::kNone).empty());
  // One run has no spread: bsz 2048 of the second table.
  const auto report = rp::BuildReport(f.spec, f.db);
  CHECK(report.tables[1].rows[2].cells[1].parts[0].spread.empty());
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
  const std::string tex = f.Render("latex");
  CHECK(tex.find("\\toprule\nFormat & SQuAD 1.1/2.0 & MNLI-m & ppl \\\\\n\\midrule\n") !=
        std::string::npos);
  CHECK(tex.find("\\multicolumn{4}{l}{\\textit{With NSP:}} \\\\\n") != std::string::npos);
  // The best that the test cannot separate is italic, with the range beside it in small type.
  CHECK(tex.find("FULL-SENTENCES & \\textit{84.5}\\,{\\scriptsize (84.0--85.0)}/"
                 "\\textit{72.5}\\,{\\scriptsize (72.0--73.0)} {\\scriptsize(n=2)} & "
                 "85.0\\,{\\scriptsize (80.0--90.0)} {\\scriptsize(n=2)} & "
                 "\\textit{3.50}\\,{\\scriptsize (3.00--4.00)} {\\scriptsize(n=2)} \\\\") !=
        std::string::npos);
  // Footnotes keep their emphasis.
  CHECK(tex.find("\\textbf{Bold}: the column's best row") != std::string::npos);
  CHECK(tex.find("XLNet & --/81.3 & 85.8 & 3.20 \\\\") != std::string::npos);
  CHECK(tex.find("4.10 $\\pm$ 0.14") != std::string::npos);
  CHECK(tex.find("\\bottomrule\n\\end{tabular}") != std::string::npos);
}

TEST_CASE("CSV has one line per cell part with raw values", "[report]") {
  Fixture f;
  const std::string csv = f.Render("csv");
  CHECK(csv.rfind("table,section,group,row,column,metric,value,text,runs,bold,best,spread,p,values,"
                  "keys,delta,delta_low,delta_high,delta_confidence,versus,not_better_than,"
                  "tuned_param,tuned_value,tuned_candidates,tuned_selection_metric,"
                  "tuned_selection_medians\r\n",
                  0) == 0);
  // The per-run values and their runs' keys round-trip.
  CHECK(csv.find("formats,ours,With NSP:,SEGMENT-PAIR,SQuAD 1.1/2.0,eval/squad2/f1,70,70.0,3,0,0,"
                 "(60.0–71.0),,70;71;60,run0;run1;run2,,,,,,,,,,,\r\n") != std::string::npos);
  CHECK(csv.find("formats,ours,Without "
                 "NSP:,DOC-SENTENCES,MNLI-m,eval/mnli/acc,,–,0,0,0,,,,,,,,,,,,,,,\r\n") !=
        std::string::npos);
  CHECK(
      csv.find("formats,reference,Reported:,BERT-BASE,ppl,valid/ppl,,–,,0,0,,,,,,,,,,,,,,,\r\n") !=
      std::string::npos);
  // The untested-best ppl of FULL-SENTENCES: best, not bold, with the p of its test and its
  // shift from the runner-up SEGMENT-PAIR (4, 5, 6): the six differences of {3, 4} − {4, 5, 6}
  // are −3, −2, −2, −1, −1, 0, median −1.5; 2 against 3 cannot reach 95% (P(U <= 0) = 1/10), so
  // the interval is the widest, [−3, 0], covering 1 − 2/10 = 0.8.
  CHECK(csv.find(
            "formats,ours,Without NSP:,FULL-SENTENCES,ppl,valid/ppl,3.5,3.50,2,0,1,"
            "(3.00–4.00),0.3,3;4,run4;run5,-1.5,-3,0,0.80000000000000004,SEGMENT-PAIR,,,,,,\r\n") !=
        std::string::npos);
}

TEST_CASE("JSON keeps numbers, runs and bold flags", "[report]") {
  Fixture f;
  const json doc = json::parse(f.Render("json"));
  const json& row = doc["tables"][0]["rows"][1];
  CHECK(row["label"] == "FULL-SENTENCES");
  CHECK(row["runs"].size() == 2);
  CHECK(row["cells"][1]["parts"][0]["value"] == Approx(85.0));
  CHECK(row["cells"][1]["parts"][0]["values"] == json::array({80.0, 90.0}));
  CHECK(row["cells"][1]["parts"][0]["keys"] == json::array({"run4", "run5"}));
  CHECK(row["cells"][1]["parts"][0]["n"] == 2);
  // ppl 3.5 of {3, 4} against SEGMENT-PAIR's {5, 4, 6}: midranks {1, 2.5} of {1, 2.5, 2.5, 4, 5};
  // 3 of the 10 splits lie as far from the mean rank sum 6: p = 0.3, best but not bold.
  const json& ppl = row["cells"][2]["parts"][0];
  CHECK(ppl["best"] == true);
  CHECK(ppl["bold"] == false);
  CHECK(ppl["p"] == Approx(0.3));
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
        writer.Add(run, "train/mlm_loss", step, losses[run - 1][step - 1]);
        writer.Add(run, "train/tokens_seen", step, 100.0 * step + run);
      }
    }
    writer.Add(1, "train/mlm_loss", 3, 4);  // a step the others lack is left out
    writer.Add(2, "train/loss", 1, 99);     // MLM + NSP: not what the curves show
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

TEST_CASE(
    "a clearly better row is bold and reproduces its claim, overlapping rows are not "
    "separable, and a reference under other conditions keeps its perplexity out",
    "[report][tests]") {
  ablate::results::test::TempDir dir;
  const std::string db = dir.File("r.db");
  {
    Store store = Store::Open(db);
    std::vector<json> params;
    std::vector<std::map<std::string, double>> finals;
    for (const char* masking : {"dynamic", "static"}) {
      for (int seed = 1; seed <= 5; ++seed) {
        params.push_back({{"seed", seed},
                          {"data.masking", masking},
                          {"model.layers", 2},
                          {"data.tokenizer", "bpe-8192@books"},
                          {"data.seq_len", 128},
                          {"eval.seeds", 1},
                          {"eval.lrs", "3e-4"}});
        const bool dynamic = std::string(masking) == "dynamic";
        // acc: dynamic 80..84 against static 70..74, fully separated; ppl interleaved.
        finals.push_back({{"eval/t/acc", (dynamic ? 79.0 : 69.0) + seed},
                          {"eval/t/baseline/acc", 60},
                          {"valid/ppl", (dynamic ? 9.0 : 9.5) + seed},
                          {"train/tokens_per_update", 2000},
                          {"train/tokens_seen", 600000}});
      }
    }
    AddExperiment(store, "study", params, std::vector<std::string>(10, "completed"), finals);
  }
  std::ofstream(dir.File("reference.json")) << R"({"r": {
      "conditions": {"model.layers": 12, "data.tokenizer": "gpt2", "data.seq_len": 512},
      "columns": ["acc", "ppl"], "rows": [{"name": "paper", "values": [90.0, 3.9]}]}})";
  std::ofstream(dir.File("spec.json")) << R"spec({"reference": "reference.json", "tables": [
    {"id": "m", "caption": "Masking ({model.layers} layers)", "runs": {"experiment": "study"},
     "rows": {"by": "data.masking", "order": {"data.masking": ["static", "dynamic"]}},
     "columns": [
       {"label": "acc", "metric": "eval/t/acc", "better": "higher", "reference": "acc"},
       {"label": "ppl", "metric": "valid/ppl", "decimals": 2, "better": "lower",
        "reference": "ppl", "note": "held-out text packed as FULL-SENTENCES."}],
     "claims": [
       {"claim": "dynamic masking is at least as good as static", "better": "dynamic",
        "than": "static", "kind": "at-least"},
       {"claim": "static masking beats dynamic", "better": "static", "than": "dynamic"}],
     "reference": {"table": "r", "header": "Reported:"}}]})spec";
  const auto spec = rp::ReadReportSpec(dir.File("spec.json"));
  const rp::Report report = rp::BuildReport(spec, db);
  const rp::ReportTable& t = report.tables.at(0);
  CHECK(t.caption == "Masking (2 layers)");
  REQUIRE(t.rows.size() == 4);  // static, dynamic, the trivial baseline, the paper
  const auto& dynamic = t.rows[1];
  REQUIRE(dynamic.label == "dynamic");
  // acc: 5 against 5, fully separated: p = 2 / C(10, 5) = 2 / 252.
  const auto& acc = dynamic.cells[0].parts[0];
  CHECK(acc.text == "82.0");
  CHECK(acc.spread == "(80.0–84.0)");
  CHECK(acc.bold);
  CHECK(acc.p_value == Approx(2.0 / 252));
  CHECK(acc.values == std::vector<double>{80, 81, 82, 83, 84});
  // ppl 12.00 against 12.50, interleaved: the best, not separable.
  const auto& ppl = dynamic.cells[1].parts[0];
  CHECK(ppl.best);
  CHECK(!ppl.bold);
  CHECK(ppl.p_value > 0.05);
  // The trivial baseline row, never bold.
  CHECK(t.rows[2].baseline);
  CHECK(t.rows[2].cells[0].parts[0].text == "60.0");
  CHECK(!t.rows[2].cells[0].parts[0].bold);
  CHECK(t.rows[2].cells[1].parts[0].missing);
  // The paper's downstream number shows; its perplexity (12 layers, GPT-2 BPE, 512) does not.
  CHECK(t.rows[3].reference);
  CHECK(t.rows[3].cells[0].parts[0].text == "90.0");
  CHECK(t.rows[3].cells[1].parts[0].missing);
  auto footnote = [&](const std::string& text) {
    for (const auto& f : t.footnotes)
      if (f.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(
      footnote("The published ppl is left out: it was measured under other conditions "
               "(data.seq_len 512 (here 128), data.tokenizer gpt2 (here bpe-8192@books), "
               "model.layers 12 (here 2))"));
  CHECK(footnote("compare the direction of the differences, not the values"));
  CHECK(
      footnote("each run's is the median over 1 fine-tuning seed, each at its best epoch, at "
               "the best of 1 learning rate (3e-4)"));
  CHECK(
      footnote("tokens per update static 2k, dynamic 2k; training tokens static 600k, dynamic "
               "600k"));
  CHECK(footnote("ppl: held-out text packed as FULL-SENTENCES."));
  // Claims, from the same per-run values.
  REQUIRE(t.claims.size() == 2);
  REQUIRE(t.claims[0].results.size() == 2);
  CHECK(t.claims[0].results[0].verdict == "reproduced");
  CHECK(t.claims[0].results[0].p == Approx(1.0 / 252));
  CHECK(t.claims[0].results[1].verdict == "consistent");
  CHECK(t.claims[1].results[0].verdict == "reversed");
  CHECK(t.claims[1].results[0].p_against == Approx(1.0 / 252));
  CHECK(t.claims[1].results[1].verdict == "not separable");
  // Four one-sided tests form the family: Holm multiplies the smallest p by 4.
  CHECK(t.family.tests == 4);
  CHECK(t.claims[0].results[0].p_adjusted == Approx(4.0 / 252));
  // Hodges–Lehmann by hand: the 25 differences dynamic − static run 6..14 (one 6, two 7s, ...,
  // five 10s, ..., one 14), median 10. 5 against 5: P(U <= 2) = 4/252 <= 0.025 < P(U <= 3) =
  // 7/252, so k = 3 and the interval is [D_(3), D_(23)] = [7, 13], coverage 1 - 8/252 = 0.968.
  const auto& shift = t.claims[0].results[0].shift;
  CHECK(shift.estimate == 10);
  CHECK(shift.low == 7);
  CHECK(shift.high == 13);
  CHECK(shift.confidence == Approx(1 - 8.0 / 252));
  CHECK(t.claims[0].text.rfind(
            "Claim: dynamic masking is at least as good as static. Here: acc: **reproduced** "
            "(Δ +10.0 [7.0, 13.0], one-sided p = 0.004, Holm = 0.016); ppl: **consistent** (Δ ",
            0) == 0);
  // Markdown: bold, italic, spread, the baseline header and the claim lines.
  std::ostringstream md;
  rp::RenderReport(md, report, "markdown");
  CHECK(md.str().find("| dynamic | **82.0** (80.0–84.0) | *12.00* (10.00–14.00) |") !=
        std::string::npos);
  CHECK(md.str().find("| *Trivial baselines (the same examples):* |") != std::string::npos);
  CHECK(md.str().find("- Claim: static masking beats dynamic. Here: acc: **reversed** (Δ −10.0 "
                      "[−13.0, −7.0], one-sided p = 0.004, Holm = 0.016 against the claim)") !=
        std::string::npos);
  // The family and what the runs could show: 5 against 5 reach 1/252 = 0.004, below 0.05/4.
  CHECK(
      footnote("the 4 one-sided tests of this table's claims form one family, their p-values "
               "adjusted by Holm's method"));
  CHECK(
      footnote("the smallest one-sided p a test can reach is 0.004 (5 runs against 5), and Holm's "
               "first step "
               "needs p ≤ 0.013 (0.05/4): a verdict can reach significance."));
  // The bold comparison has its size: acc best dynamic − static.
  CHECK(acc.shift.estimate == 10);
  CHECK(acc.runner_up == "static");
  CHECK(footnote("acc: dynamic − static Δ +10.0 [7.0, 13.0], p = 0.0079"));
  // The summary counts our rows only, not the baseline or reference rows.
  CHECK(t.summary.find("(5 completed runs per row;") != std::string::npos);
  // A claim naming a row the table lacks is bad input.
  auto bad = rp::ReadReportSpec(dir.File("spec.json"));
  bad.tables[0].claims[0].than = {"statik"};
  CHECK_THROWS_WITH(rp::BuildReport(bad, db),
                    Catch::Contains("/tables/0/claims/0/than/0: \"statik\" is not a row of this "
                                    "table (did you mean \"static\"?)"));
}

TEST_CASE("the table builder is a pure function of in-memory runs", "[report]") {
  // No database: runs as results::ReadRunRecords returns them.
  auto run = [](int64_t id, const std::string& masking, const std::string& status, double ppl) {
    ablate::results::RunRecord r = MemRecord(id, static_cast<int>(id), status);
    r.params["data.masking"] = {false, 0, masking};
    r.finals["valid/ppl"] = ppl;
    return r;
  };
  std::vector<ablate::results::RunRecord> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(run(1 + i, "static", "completed", 20 + i));
  for (int i = 0; i < 4; ++i) runs.push_back(run(5 + i, "dynamic", "completed", 10 + i));
  runs.push_back(run(9, "dynamic", "failed", 1));
  const auto spec = rp::ParseReportSpec(json::parse(R"({"tables": [{"id": "t",
      "runs": {"experiment": "mem"}, "rows": {"by": "data.masking"},
      "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"}]}]})"),
                                        "mem.json", ".");
  const auto inputs = rp::InputsOf(spec);
  CHECK(inputs.experiments == std::set<std::string>{"mem"});
  CHECK(inputs.metrics.count("valid/ppl") == 1);
  const rp::Report report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].label == "dynamic");  // text values in natural order
  // 10, 11, 12, 13 against 20..23: median 11.5, separated (p = 2/70), the failed run left out.
  CHECK(t.rows[0].cells[0].parts[0].value == Approx(11.5));
  CHECK(t.rows[0].cells[0].parts[0].bold);
  CHECK(t.rows[0].cells[0].parts[0].p_value == Approx(2.0 / 70));
  CHECK(t.rows[0].run_ids == std::vector<int64_t>{5, 6, 7, 8});
  CHECK(t.notes == std::vector<std::string>{"Row \"dynamic\": 1 run failed, not included."});
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
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][1]["spread"] = "minmax"; }).dump())
            .find(": /tables/1/spread: \"minmax\" is not one of \"range\", \"iqr\"") !=
        std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) {
                    s["tables"][0]["claims"] = json::array({{{"claim", "x"},
                                                             {"better", "FULL-SENTENCES"},
                                                             {"than", "DOC-SENTENCES"},
                                                             {"columns", {"MNLI"}}}});
                  }).dump())
            .find(": /tables/0/claims/0/columns/0: \"MNLI\" is not a metric column with "
                  "\"better\" (did you mean \"MNLI-m\"?)") != std::string::npos);
  CHECK(SpecError(SpecWith([](json& s) { s["tables"][0]["rows"][0].erase("where"); }).dump())
            .find(": /tables/0/rows/0/where: missing") != std::string::npos);
  // Keys with '/' and '~' are escaped as RFC 6901 says, so the path names one place.
  CHECK(
      SpecError(SpecWith([](json& s) { s["tables"][0]["rows"][0]["where"]["a/b~c"] = {}; }).dump())
          .find(": /tables/0/rows/0/where/a~1b~0c: expected a number, string or boolean, or an "
                "array of them, got null") != std::string::npos);
}

TEST_CASE("a misspelt row parameter is named as such, before its label placeholder",
          "[report][errors]") {
  Fixture f;
  // "by" names a parameter no run has, and the label names the real one: the parameter is wrong.
  f.spec.tables[1].generated->by = {"train.batch_sise"};
  f.spec.tables[1].generated->label = "bsz {train.batch_size}";
  try {
    rp::BuildReport(f.spec, f.db);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("/tables/1/rows/by/0: no run of experiment \"sizes\" has "
                                     "parameter \"train.batch_sise\" (did you mean "
                                     "\"train.batch_size\"?)") != std::string::npos);
  }
  // With real parameters, a placeholder outside "by" is the label's mistake.
  f.spec.tables[1].generated->by = {"train.batch_size"};
  f.spec.tables[1].generated->label = "{seed}";
  try {
    rp::BuildReport(f.spec, f.db);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("/tables/1/rows/label: {seed} is not one of the \"by\" "
                                     "parameters") != std::string::npos);
  }
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

TEST_CASE("the shipped paper report spec and docs/reports.md's example spec are valid",
          "[report][docs]") {
  const fs::path root = ABLATE_SOURCE_DIR;
  const rp::ReportSpec paper = rp::ReadReportSpec(root / "experiments" / "roberta" / "report.json");
  REQUIRE(paper.tables.size() == 4);
  CHECK(paper.tables[1].reference->table == "table2_input_format");

  const std::string page = ReadFile(root / "docs" / "reports.md");
  const size_t intro = page.find("A spec, in full:");
  REQUIRE(intro != std::string::npos);
  const size_t begin = page.find("```json\n", intro) + 8;
  const size_t end = page.find("```", begin);
  const auto example = nlohmann::ordered_json::parse(page.substr(begin, end - begin));
  const rp::ReportSpec spec =
      rp::ParseReportSpec(example, "docs/reports.md", root / "experiments" / "roberta");
  CHECK(spec.tables.at(0).columns.size() == 4);
}

TEST_CASE("docs/results.md's example SQL runs against a results database", "[report][docs]") {
  ablate::results::test::TempDir dir;
  const std::string db = dir.File("r.db");
  {
    Store store = Store::Open(db);
    AddExperiment(
        store, "roberta-micro",
        {json{{"seed", 1},
              {"data.masking", "static"},
              {"data.format", "FULL-SENTENCES"},
              {"train.batch_size", 64},
              {"optim.lr", 1e-3}}},
        {"completed"},
        {{{"valid/ppl", 9.5}, {"eval/bshift/acc", 70}, {"eval/bshift/untrained/acc", 50}}});
  }
  const std::string page = ReadFile(fs::path(ABLATE_SOURCE_DIR) / "docs" / "results.md");
  const size_t intro = page.find("Example queries");
  REQUIRE(intro != std::string::npos);
  const size_t begin = page.find("```sql\n", intro) + 7;
  const std::string sql = page.substr(begin, page.find("```", begin) - begin);
  const auto sets = ablate::results::RunReadOnlyQuery(db, sql);
  CHECK(sets.size() == 6);
  // The downstream query finds the run's scores.
  REQUIRE(sets.at(3).rows.size() == 1);
  CHECK(std::get<double>(sets.at(3).rows[0][1]) == 70);
}

namespace {

// In-memory runs of experiment "mem" for the mixed-row tests: `masking`, `lr` and the seed, plus
// whatever `extra` sets.
ablate::results::RunRecord MemRun(int64_t id, const std::string& masking, double lr, int seed,
                                  double ppl, const std::string& status = "completed",
                                  const std::map<std::string, double>& extra = {}) {
  ablate::results::RunRecord r = MemRecord(id, seed, status);
  r.params["data.masking"] = {false, 0, masking};
  r.params["optim.lr"] = {true, lr, ""};
  for (const auto& [name, value] : extra) r.params[name] = {true, value, ""};
  r.finals["valid/ppl"] = ppl;
  return r;
}

// A grid run with optim.lr 1e-3 (4 seeds a row), then its static row again with
// --set optim.lr=5e-4 (4 more seeds and one failed run): row "static" pools two settings.
std::vector<ablate::results::RunRecord> MixedRuns() {
  std::vector<ablate::results::RunRecord> runs;
  for (int s = 1; s <= 4; ++s) runs.push_back(MemRun(s, "static", 1e-3, s, 20 + s));
  for (int s = 1; s <= 4; ++s) runs.push_back(MemRun(4 + s, "dynamic", 1e-3, s, 10 + s));
  for (int s = 1; s <= 4; ++s) runs.push_back(MemRun(8 + s, "static", 5e-4, s, 30 + s));
  runs.push_back(MemRun(13, "static", 5e-4, 5, 1, "failed"));
  return runs;
}

rp::ReportSpec MemSpec(const std::string& mixed, const std::string& claims = "[]") {
  return rp::ParseReportSpec(
      nlohmann::ordered_json::parse(
          std::string(R"({"tables": [{"id": "t", "runs": {"experiment": "mem"},
            "rows": {"by": "data.masking"},
            "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"}])") +
          (mixed.empty() ? "" : ", \"mixed\": \"" + mixed + "\"") + ", \"claims\": " + claims +
          "}]}"),
      "mem.json", ".");
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& line : lines)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a row whose runs differ in more than the seed is named in a note and a warning",
          "[report][mixed]") {
  const auto runs = MixedRuns();
  const auto spec = MemSpec("");  // "warn" is the default
  REQUIRE(spec.tables[0].mixed == rp::Mixed::kWarn);
  const rp::Report report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1].label == "static");
  CHECK(t.rows[1].run_ids == std::vector<int64_t>{1, 2, 3, 4, 9, 10, 11, 12});
  // The values in the order they were run, each with its count of completed runs.
  CHECK(AnyContains(t.notes,
                    "Row \"static\": optim.lr takes 0.001 (4 runs), 0.0005 (4 runs); its cells "
                    "pool these settings, not only seeds"));
  CHECK(!AnyContains(t.notes, "Row \"dynamic\": optim.lr"));
  REQUIRE(t.warnings.size() == 1);
  CHECK(t.warnings[0] ==
        "table \"t\" (/tables/0), row \"static\": optim.lr takes 0.001 (4 runs), 0.0005 (4 runs); "
        "pooled in one row");
  // The summary no longer says the row's cells are over seeds alone.
  CHECK(t.summary.find("pretraining seeds") == std::string::npos);
  CHECK(
      t.summary.find("Each cell is the median over its row's runs (4–8 completed runs per row;") !=
      std::string::npos);
  CHECK(t.summary.find("Row \"static\" pools runs that differ in more than the seed") !=
        std::string::npos);
  std::ostringstream md;
  rp::RenderReport(md, report, "markdown");
  CHECK(md.str().find("> Row \"static\": optim.lr takes 0.001 (4 runs), 0.0005 (4 runs)") !=
        std::string::npos);
}

TEST_CASE("with mixed split, each setting of a mixed row gets its own row", "[report][mixed]") {
  const auto runs = MixedRuns();
  const rp::Report report = rp::BuildReport(MemSpec("split"), runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0].label == "dynamic");
  CHECK(t.rows[1].label == "static (optim.lr=0.001)");
  CHECK(t.rows[1].run_ids == std::vector<int64_t>{1, 2, 3, 4});
  CHECK(t.rows[1].cells[0].parts[0].value == Approx(22.5));
  CHECK(t.rows[2].label == "static (optim.lr=0.0005)");
  CHECK(t.rows[2].run_ids == std::vector<int64_t>{9, 10, 11, 12});
  CHECK(t.rows[2].cells[0].parts[0].value == Approx(32.5));
  CHECK(t.warnings.empty());
  CHECK(AnyContains(t.notes,
                    "Row \"static\" is split (\"mixed\": \"split\"): optim.lr takes "
                    "0.001 (4 runs), 0.0005 (4 runs)."));
  // The failed run stays with its own setting's row.
  CHECK(AnyContains(t.notes, "Row \"static (optim.lr=0.0005)\": 1 run failed, not included."));
  CHECK(t.summary.find("over its row's pretraining seeds (4 completed runs per row;") !=
        std::string::npos);

  // A claim names a split row by one of its new labels; the old label is refused, since pooling
  // the split rows again would test the mixed comparison the split avoids.
  const auto named = MemSpec(
      "split", R"j([{"claim": "c", "better": "dynamic", "than": "static (optim.lr=0.001)"}])j");
  CHECK(rp::BuildReport(named, runs).tables.at(0).claims.size() == 1);
  const auto old = MemSpec("split", R"([{"claim": "c", "better": "dynamic", "than": "static"}])");
  CHECK_THROWS_WITH(
      rp::BuildReport(old, runs),
      Catch::Contains("mem.json: /tables/0/claims/0/than/0: row \"static\" was split by "
                      "\"mixed\": \"split\"") &&
          Catch::Contains("name one of its rows (\"static (optim.lr=0.001)\", \"static "
                          "(optim.lr=0.0005)\"), or pool them with \"mixed\": \"warn\""));
}

TEST_CASE("with mixed error, a mixed row is refused, naming its JSON path and the values",
          "[report][mixed][errors]") {
  const auto runs = MixedRuns();
  CHECK_THROWS_AS(rp::BuildReport(MemSpec("error"), runs), InputError);
  CHECK_THROWS_WITH(rp::BuildReport(MemSpec("error"), runs),
                    Catch::Contains("mem.json: /tables/0/rows: row \"static\" pools runs that "
                                    "differ in more than the seed: optim.lr takes 0.001 (4 runs), "
                                    "0.0005 (4 runs)"));
  // Explicit rows: the row's own path. The report's "mixed" is every table's default.
  const auto spec = rp::ParseReportSpec(json::parse(R"({"mixed": "error", "tables": [{"id": "t",
      "runs": {"experiment": "mem"},
      "rows": [{"label": "dynamic", "where": {"data.masking": "dynamic"}},
               {"label": "static", "where": {"data.masking": "static"}}],
      "columns": [{"label": "ppl", "metric": "valid/ppl"}]}]})"),
                                        "mem.json", ".");
  CHECK_THROWS_WITH(rp::BuildReport(spec, runs),
                    Catch::Contains("mem.json: /tables/0/rows/1: row \"static\" pools runs"));
  // A table may override the report's choice.
  auto relaxed = json::parse(R"({"mixed": "error", "tables": [{"id": "t", "mixed": "warn",
      "runs": {"experiment": "mem"}, "rows": {"by": "data.masking"},
      "columns": [{"label": "ppl", "metric": "valid/ppl"}]}]})");
  CHECK(rp::BuildReport(rp::ParseReportSpec(relaxed, "mem.json", "."), runs)
            .tables.at(0)
            .warnings.size() == 1);
  relaxed["tables"][0]["mixed"] = "splt";
  CHECK_THROWS_WITH(rp::ParseReportSpec(relaxed, "mem.json", "."),
                    Catch::Contains("mem.json: /tables/0/mixed: \"splt\" is not one of \"warn\", "
                                    "\"split\", \"error\""));
}

TEST_CASE("rows whose runs differ only in the seed (or how they were run) are not mixed",
          "[report][mixed]") {
  // Micro-batch, checkpoint and validation intervals change how a run was carried out, not what
  // it measures; the seed is what a row pools over.
  std::vector<ablate::results::RunRecord> runs;
  for (int s = 1; s <= 4; ++s) {
    runs.push_back(MemRun(s, "static", 1e-3, s, 20 + s, "completed",
                          {{"train.micro_batch", s % 2 == 0 ? 0.0 : 8.0},
                           {"train.checkpoint_every", 100.0 * s},
                           {"eval.every", 50.0 * s}}));
    runs.push_back(MemRun(4 + s, "dynamic", 1e-3, s, 10 + s));
  }
  for (const char* mixed : {"warn", "split", "error"}) {
    const rp::Report report = rp::BuildReport(MemSpec(mixed), runs);
    const auto& t = report.tables.at(0);
    CHECK(t.rows.size() == 2);
    CHECK(t.warnings.empty());
    CHECK(t.notes.empty());
    CHECK(t.summary.find("over its row's pretraining seeds (4 completed runs per row;") !=
          std::string::npos);
  }
}

TEST_CASE(
    "a published perplexity is withheld when the runs learnt from or were scored on "
    "another corpus",
    "[report][reference]") {
  ablate::results::test::TempDir dir;
  auto report_with = [&](const json& conditions, const std::string& eval_corpus) {
    std::vector<ablate::results::RunRecord> runs;
    for (int s = 1; s <= 2; ++s) {
      ablate::results::RunRecord r = MemRecord(s, s);
      r.params["model.layers"] = {true, 12, ""};
      r.params["data.tokenizer"] = {false, 0, "gpt2"};
      r.params["data.seq_len"] = {true, 512, ""};
      r.params["data.corpus"] = {false, 0, "books"};
      r.params["eval.corpus"] = {false, 0, eval_corpus};
      r.finals["valid/ppl"] = 4.0 + s;
      r.finals["eval/t/acc"] = 80.0 + s;
      runs.push_back(r);
    }
    json reference = {{"r",
                       {{"conditions", conditions},
                        {"columns", {"acc", "ppl"}},
                        {"rows", {{{"name", "paper"}, {"values", {90.0, 3.9}}}}}}}};
    dir.Write("reference.json", reference.dump());
    const auto spec = rp::ParseReportSpec(json::parse(R"({"reference": "reference.json",
        "tables": [{"id": "t", "runs": {"experiment": "mem"}, "rows": {"by": "data.corpus"},
        "columns": [{"label": "acc", "metric": "eval/t/acc", "reference": "acc"},
                    {"label": "ppl", "metric": "valid/ppl", "reference": "ppl"}],
        "reference": {"table": "r"}}]})"),
                                          "spec.json", dir.path());
    return rp::BuildReport(spec, runs).tables.at(0);
  };
  const json same = {{"model.layers", 12}, {"data.tokenizer", "gpt2"}, {"data.seq_len", 512}};
  auto paper_row = [](const rp::ReportTable& t) { return t.rows.back(); };

  // The same model, vocabulary, length and corpus: the published perplexity is comparable.
  json books = same;
  books["data.corpus"] = "books";
  const auto comparable = report_with(books, "");
  CHECK(paper_row(comparable).cells[1].parts[0].text == "3.9");
  CHECK(!AnyContains(comparable.footnotes, "left out"));

  // The paper's corpus is not ours: the perplexity is of other text, so it is withheld.
  json paper = same;
  paper["data.corpus"] = "BOOKS+WIKI (16GB)";
  const auto other_corpus = report_with(paper, "");
  CHECK(paper_row(other_corpus).cells[0].parts[0].text == "90.0");
  CHECK(paper_row(other_corpus).cells[1].parts[0].missing);
  CHECK(AnyContains(other_corpus.footnotes,
                    "The published ppl is left out: it was measured under other conditions "
                    "(data.corpus BOOKS+WIKI (16GB) (here books))"));

  // Trained on the paper's corpus but scored on another's held-out text: withheld too.
  const auto other_text = report_with(books, "mixture");
  CHECK(paper_row(other_text).cells[1].parts[0].missing);
  CHECK(AnyContains(other_text.footnotes, "(eval.corpus books (here mixture))"));
}

namespace {

// In-memory runs for the "tune" tests: rows by train.batch_size, candidates of optim.lr, and the
// held-out metrics on the whole sample (valid/...), the selection half (valid/select/...) and the
// report half (valid/report/...), each with its unigram baseline.
struct Halves {
  double whole, select, report;
};
ablate::results::RunRecord TunedRun(int64_t id, int batch, double lr, int seed, Halves ppl,
                                    Halves baseline = {900, 800, 700}) {
  ablate::results::RunRecord r = MemRecord(id, seed);
  r.params["train.batch_size"] = {true, static_cast<double>(batch), ""};
  r.params["optim.lr"] = {true, lr, ""};
  r.finals["valid/ppl"] = ppl.whole;
  r.finals["valid/select/ppl"] = ppl.select;
  r.finals["valid/report/ppl"] = ppl.report;
  r.finals["valid/baseline/unigram/ppl"] = baseline.whole;
  r.finals["valid/select/baseline/unigram/ppl"] = baseline.select;
  r.finals["valid/report/baseline/unigram/ppl"] = baseline.report;
  // The accuracies move with the perplexities: 1 / ppl.
  r.finals["valid/mlm_acc"] = 1 / ppl.whole;
  r.finals["valid/select/mlm_acc"] = 1 / ppl.select;
  r.finals["valid/report/mlm_acc"] = 1 / ppl.report;
  r.finals["eval/t/acc"] = 50 + std::round(lr * 1000);
  return r;
}

// Hand-built so that the two halves disagree: in row "bsz 8", lr 0.001 has the better selection
// half (median 11 against 15) but lr 0.002 the better report half (17 against 21); in row
// "bsz 32", lr 0.004 is best on the selection half (9 against 13) and worst on the report half
// (31 against 7). The runs are submitted with
// the larger lr first, so the choice cannot follow submission order.
std::vector<ablate::results::RunRecord> TunedRuns() {
  std::vector<ablate::results::RunRecord> runs;
  int64_t id = 0;
  for (int s = 1; s <= 3; ++s)
    runs.push_back(TunedRun(++id, 8, 0.002, s, {15, 13.0 + s, 15.0 + s}));
  for (int s = 1; s <= 3; ++s)
    runs.push_back(TunedRun(++id, 8, 0.001, s, {15, 9.0 + s, 19.0 + s}, {900, 800, 100.0 + s}));
  for (int s = 1; s <= 3; ++s) runs.push_back(TunedRun(++id, 32, 0.002, s, {9, 11.0 + s, 5.0 + s}));
  for (int s = 1; s <= 3; ++s)
    runs.push_back(TunedRun(++id, 32, 0.004, s, {9, 7.0 + s, 29.0 + s}, {900, 800, 103.0 + s}));
  return runs;
}

const char* kTuneTable = R"({"id": "t", "runs": {"experiment": "mem"},
    "rows": {"by": "train.batch_size", "label": "bsz {train.batch_size}"},
    "tune": {"param": "optim.lr", "metric": "valid/ppl", "better": "lower"},
    "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"},
                {"label": "MLM acc", "metric": "valid/mlm_acc", "scale": 100, "better": "higher"},
                {"label": "T", "metric": "eval/t/acc"}]})";

rp::ReportSpec TuneSpec(const std::function<void(json&)>& change = [](json&) {}) {
  json spec = {{"tables", {json::parse(kTuneTable)}}};
  change(spec);
  return rp::ParseReportSpec(spec, "mem.json", ".");
}

std::string TuneSpecError(const std::function<void(json&)>& change) {
  try {
    TuneSpec(change);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE(
    "a tuned row keeps the value best on the selection half and reports the other half of "
    "the held-out documents",
    "[report][tune]") {
  const auto runs = TunedRuns();
  const auto spec = TuneSpec();
  // The held-out columns read the report half; the downstream column is unchanged.
  CHECK(spec.tables[0].columns[0].metrics == std::vector<std::string>{"valid/report/ppl"});
  CHECK(spec.tables[0].columns[1].metrics == std::vector<std::string>{"valid/report/mlm_acc"});
  CHECK(spec.tables[0].columns[2].metrics == std::vector<std::string>{"eval/t/acc"});
  const auto inputs = rp::InputsOf(spec);
  for (const char* metric : {"valid/select/ppl", "valid/report/ppl",
                             "valid/report/baseline/unigram/ppl", "valid/report/baseline/copy/ppl"})
    CHECK(inputs.metrics.count(metric) == 1);

  const rp::Report report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 3);  // bsz 8, bsz 32, the unigram baseline
  // bsz 8: lr 0.001 (selection median 11 against 15), reported on its report half {20, 21, 22};
  // lr 0.002's report half (median 17) would have won on the numbers the table shows.
  const auto& bsz8 = t.rows[0];
  CHECK(bsz8.label == "bsz 8");
  CHECK(bsz8.run_ids == std::vector<int64_t>{4, 5, 6});
  CHECK(bsz8.cells[0].parts[0].value == Approx(21));
  CHECK(bsz8.cells[0].parts[0].values == std::vector<double>{20, 21, 22});
  CHECK(bsz8.cells[1].parts[0].value == Approx(100.0 / 21));
  CHECK(bsz8.cells[2].parts[0].value == Approx(51));
  REQUIRE(bsz8.tuned);
  CHECK(bsz8.tuned->param == "optim.lr");
  CHECK(bsz8.tuned->selection_metric == "valid/select/ppl");
  REQUIRE(bsz8.tuned->candidates.size() == 2);
  CHECK(bsz8.tuned->candidates[0].value->number == 0.001);
  CHECK(bsz8.tuned->candidates[0].median == 11);
  CHECK(bsz8.tuned->candidates[0].runs == 3);
  CHECK(bsz8.tuned->candidates[1].median == 15);
  CHECK(bsz8.tuned->chosen == 0);
  CHECK(!bsz8.tuned->tie);
  // bsz 32: lr 0.004 (9 against 13), although its report half is the worse one.
  CHECK(t.rows[1].run_ids == std::vector<int64_t>{10, 11, 12});
  CHECK(t.rows[1].cells[0].parts[0].value == Approx(31));
  CHECK(t.rows[1].tuned->chosen == 1);
  // The bold compares the chosen runs only: 21 against 31, best bsz 8.
  CHECK(bsz8.cells[0].parts[0].best);
  CHECK(bsz8.cells[0].parts[0].runner_up == "bsz 32");
  // The baseline row: the report half's unigram, the median over the chosen runs only
  // {101, 102, 103, 104, 105, 106}, not the whole sample's 900 or the selection half's 800.
  CHECK(t.rows[2].baseline);
  CHECK(t.rows[2].label == "unigram of the training tokens");
  CHECK(t.rows[2].cells[0].parts[0].value == Approx(103.5));
  // Differing in the tuned parameter is what a tuned row is for: not mixed.
  CHECK(t.warnings.empty());
  CHECK(t.notes.empty());
  CHECK(t.summary.find("over its row's pretraining seeds (3 completed runs per row;") !=
        std::string::npos);
  // The footnote names the choice per row and the halves.
  CHECK(AnyContains(t.footnotes,
                    "Tuned per row: optim.lr chosen by the median of valid/select/ppl (lower) on "
                    "one half of the held-out documents; ppl and MLM acc are reported on the "
                    "other half (valid/report/ppl, valid/report/mlm_acc). bsz 8: 0.001 (of 0.001, "
                    "0.002); bsz 32: 0.004 (of 0.002, 0.004)."));
  // Chosen per row, so not held fixed, though its values vary nowhere else.
  CHECK(t.fixed.find("optim.lr") == std::string::npos);

  std::ostringstream json_out;
  rp::RenderReport(json_out, report, "json");
  const json doc = json::parse(json_out.str());
  const json& tuned = doc["tables"][0]["rows"][0]["tuned"];
  CHECK(tuned["param"] == "optim.lr");
  CHECK(tuned["value"].get<double>() == 0.001);
  CHECK(tuned["selection_metric"] == "valid/select/ppl");
  CHECK(tuned["candidates"] == json::parse(R"([{"value": 0.001, "median": 11.0, "runs": 3},
                                               {"value": 0.002, "median": 15.0, "runs": 3}])"));
  CHECK(tuned["tie"] == false);
  CHECK(!doc["tables"][0]["rows"][2].contains("tuned"));
  CHECK(doc["tables"][0]["columns"][0]["metrics"] == json::array({"valid/report/ppl"}));

  std::ostringstream csv;
  rp::RenderReport(csv, report, "csv");
  CHECK(csv.str().find("t,ours,,bsz 32,T,eval/t/acc,54,54.0,3,0,0,(54.0–54.0),,54;54;54,k10;k11;"
                       "k12,,,,,,,optim.lr,0.004,0.002;0.004,valid/select/ppl,13;9\r\n") !=
        std::string::npos);
  CHECK(csv.str().find("t,baseline,Trivial baselines (the same examples):,unigram of the training "
                       "tokens,ppl,valid/report/ppl,103.5,103.5,,0,0,,,,,,,,,,,,,,,\r\n") !=
        std::string::npos);
}

TEST_CASE(
    "a tuned row with one value, or a tie, says so, and a tie goes to the first value in order",
    "[report][tune]") {
  std::vector<ablate::results::RunRecord> runs;
  // bsz 8: 0.003 and 0.001 tie on the selection half (submitted 0.003 first): 0.001 is taken.
  for (int s = 1; s <= 2; ++s) runs.push_back(TunedRun(s, 8, 0.003, s, {15, 10, 30.0 + s}));
  for (int s = 1; s <= 2; ++s) runs.push_back(TunedRun(2 + s, 8, 0.001, s, {15, 10, 20.0 + s}));
  // bsz 32: one value, nothing to choose.
  for (int s = 1; s <= 2; ++s) runs.push_back(TunedRun(4 + s, 32, 0.002, s, {9, 8, 7}));
  // A failed run of the value not chosen is no note of the row; one of the chosen value is.
  runs.push_back(TunedRun(7, 8, 0.003, 3, {1, 1, 1}));
  runs.back().status = "failed";
  runs.push_back(TunedRun(8, 8, 0.001, 3, {1, 1, 1}));
  runs.back().status = "diverged";
  // A held-out metric without halves is named as scored on the selection documents too.
  const auto spec = TuneSpec([](json& s) {
    s["tables"][0]["columns"].push_back({{"label", "loss"}, {"metric", "valid/loss"}});
  });
  CHECK(spec.tables[0].columns[3].metrics[0] == "valid/loss");
  const rp::Report report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  CHECK(AnyContains(t.footnotes,
                    "(valid/report/ppl, valid/report/mlm_acc). Not split into "
                    "halves, so scored on the documents the choice was made on too: "
                    "loss (valid/loss). bsz 8:"));
  CHECK(t.rows[0].run_ids == std::vector<int64_t>{3, 4});
  CHECK(t.rows[0].tuned->tie);
  CHECK(t.rows[0].cells[0].parts[0].value == Approx(21.5));
  CHECK(t.rows[1].tuned->candidates.size() == 1);
  CHECK(AnyContains(t.footnotes,
                    "bsz 8: 0.001 (of 0.001, 0.003; tied, the first taken); bsz 32: 0.002 (one "
                    "value)."));
  CHECK(t.notes == std::vector<std::string>{"Row \"bsz 8\": 1 run diverged, not included."});
}

TEST_CASE("tuning comes after mixed rows are settled, and leaves only the tuned parameter aside",
          "[report][tune][mixed]") {
  auto runs = TunedRuns();
  // bsz 32 was also run with another warmup: not the tuned parameter, so still mixed.
  for (auto& run : runs) {
    const bool other = run.params["train.batch_size"].number == 32 && run.id % 2 == 0;
    run.params["optim.warmup_steps"] = {true, other ? 100.0 : 10.0, ""};
  }
  // "error" refuses bsz 32 for its warmup, and says nothing of the learning rate.
  CHECK_THROWS_WITH(rp::BuildReport(TuneSpec([](json& s) { s["mixed"] = "error"; }), runs),
                    Catch::Contains("row \"bsz 32\" pools runs that differ in more than the "
                                    "seed: optim.warmup_steps takes") &&
                        !Catch::Contains("optim.lr"));
  // "split" gives each warmup its own row, each tuned on its own runs.
  const auto report = rp::BuildReport(TuneSpec([](json& s) { s["mixed"] = "split"; }), runs);
  const auto& t = report.tables.at(0);
  // Warmup 10: runs 7, 9 (lr 0.002, selection 12, 14) and 11 (lr 0.004, 9); warmup 100: runs 8
  // (lr 0.002, 13) and 10, 12 (lr 0.004, 8, 10).
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[1].label == "bsz 32 (optim.warmup_steps=10)");
  CHECK(t.rows[1].run_ids == std::vector<int64_t>{11});
  CHECK(t.rows[2].label == "bsz 32 (optim.warmup_steps=100)");
  CHECK(t.rows[2].run_ids == std::vector<int64_t>{10, 12});
  // Without "tune" the same runs are mixed in the learning rate too.
  const auto untuned =
      rp::BuildReport(TuneSpec([](json& s) { s["tables"][0].erase("tune"); }), TunedRuns());
  CHECK(AnyContains(untuned.tables[0].notes,
                    "Row \"bsz 8\": optim.lr takes 0.002 (3 runs), "
                    "0.001 (3 runs)"));
}

TEST_CASE("a tuned table refuses runs recorded without the selection half",
          "[report][tune][errors]") {
  auto runs = TunedRuns();
  runs[4].finals.erase("valid/select/ppl");
  runs[5].finals.erase("valid/select/ppl");
  CHECK_THROWS_AS(rp::BuildReport(TuneSpec(), runs), InputError);
  CHECK_THROWS_WITH(rp::BuildReport(TuneSpec(), runs),
                    Catch::Contains("mem.json: /tables/0/rows: row \"bsz 8\": 2 of its 6 "
                                    "completed runs (k5, k6) have no valid/select/ppl, the "
                                    "held-out half \"tune\" (/tables/0/tune) chooses optim.lr by"));
  // Explicit rows: the row's own path.
  const auto spec = TuneSpec([](json& s) {
    s["tables"][0]["rows"] = json::parse(R"([{"label": "small", "where": {"train.batch_size": 8}},
                                             {"label": "big", "where": {"train.batch_size": 32}}])");
  });
  runs = TunedRuns();
  runs[10].finals.erase("valid/select/ppl");
  CHECK_THROWS_WITH(rp::BuildReport(spec, runs),
                    Catch::Contains("mem.json: /tables/0/rows/1: row \"big\": 1 of its 6"));
  // A misspelt tuned parameter is named with the real one.
  CHECK_THROWS_WITH(
      rp::BuildReport(
          TuneSpec([](json& s) { s["tables"][0]["tune"]["param"] = "optim.learning_rate"; }),
          TunedRuns()),
      Catch::Contains("/tables/0/tune/param: no run of experiment \"mem\" has parameter "
                      "\"optim.learning_rate\""));
}

TEST_CASE("the tune option is checked, with the JSON path of the problem",
          "[report][tune][errors]") {
  auto tune = [](json value) { return [value](json& s) { s["tables"][0]["tune"] = value; }; };
  CHECK_THAT(
      TuneSpecError(tune({{"param", "optim.lr"}, {"metric", "eval/x/acc"}, {"better", "higher"}})),
      Catch::Contains("mem.json: /tables/0/tune/metric: \"eval/x/acc\" is not a held-out metric "
                      "that runs record on two halves of the held-out documents: expected "
                      "\"valid/ppl\" or \"valid/mlm_acc\""));
  CHECK_THAT(TuneSpecError(tune(
                 {{"param", "optim.lr"}, {"metric", "valid/report/ppl"}, {"better", "lower"}})),
             Catch::Contains("/tables/0/tune/metric: \"valid/report/ppl\" is not a held-out"));
  CHECK_THAT(TuneSpecError(tune({{"param", "optim.lr"}, {"metric", "valid/ppl"}})),
             Catch::Contains("mem.json: /tables/0/tune/better: missing: expected \"lower\" or "
                             "\"higher\""));
  CHECK_THAT(
      TuneSpecError(tune({{"param", "optim.lr"}, {"metric", "valid/ppl"}, {"better", "best"}})),
      Catch::Contains(
          "/tables/0/tune/better: expected \"lower\" or \"higher\", got a string \"best\""));
  CHECK_THAT(
      TuneSpecError(tune({{"param", "optim.lr"}, {"metric", "valid/ppl"}, {"better", "higher"}})),
      Catch::Contains("/tables/0/tune/better: \"valid/ppl\" is better lower (a perplexity)"));
  CHECK_THAT(TuneSpecError(tune({{"param", "optim.lr"},
                                 {"metrc", "valid/ppl"},
                                 {"metric", "valid/ppl"},
                                 {"better", "lower"}})),
             Catch::Contains("/tables/0/tune/metrc: unknown key \"metrc\" (did you mean "
                             "\"metric\"?)"));
  CHECK_THAT(TuneSpecError(tune({{"metric", "valid/ppl"}, {"better", "lower"}})),
             Catch::Contains("/tables/0/tune/param: missing"));
  CHECK_THAT(TuneSpecError(tune({{"param", "seed"}, {"metric", "valid/ppl"}, {"better", "lower"}})),
             Catch::Contains("/tables/0/tune/param: choosing the seed per row picks the luckiest"));
  CHECK_THAT(TuneSpecError(tune("optim.lr")),
             Catch::Contains("/tables/0/tune: expected an object {\"param\", \"metric\", "
                             "\"better\"} or false"));
  // The report's "tune" is every table's default, with its own path; false drops it.
  const json tuning = {{"param", "optim.lr"}, {"metric", "valid/mlm_acc"}, {"better", "higher"}};
  const auto by_default = TuneSpec([&](json& s) {
    s["tune"] = tuning;
    s["tables"][0].erase("tune");
  });
  REQUIRE(by_default.tables[0].tune);
  CHECK(by_default.tables[0].tune->metric == "valid/mlm_acc");
  CHECK(by_default.tables[0].tune->path == "/tune");
  CHECK(by_default.tables[0].columns[0].metrics[0] == "valid/report/ppl");
  const auto dropped = TuneSpec([&](json& s) {
    s["tune"] = tuning;
    s["tables"][0]["tune"] = false;
  });
  CHECK(!dropped.tables[0].tune);
  CHECK(dropped.tables[0].columns[0].metrics[0] == "valid/ppl");
  CHECK_THAT(TuneSpecError([](json& s) {
               s["tune"] = {{"param", "optim.lr"}};
             }),
             Catch::Contains("mem.json: /tune/metric: missing"));
  // The Multi-Bootstrap has no per-example outcomes for the report half: a claim on a tuned
  // held-out column must use the rank test.
  const json claim = json::parse(R"([{"claim": "c", "better": "bsz 8", "than": "bsz 32"}])");
  CHECK_THAT(TuneSpecError([&](json& s) {
               s["tables"][0]["test"] = "multibootstrap";
               s["tables"][0]["claims"] = claim;
             }),
             Catch::Contains("/tables/0/claims/0: the Multi-Bootstrap (\"test\": "
                             "\"multibootstrap\") resamples per-example outcomes, which runs "
                             "record for the whole held-out sample only, not for the report half "
                             "(valid/report/ppl) that column \"ppl\""));
  CHECK_NOTHROW(TuneSpec([&](json& s) {
    s["tables"][0]["test"] = "multibootstrap";
    s["tables"][0]["claims"] = claim;
    s["tables"][0]["claims"][0]["columns"] = {"T"};
    s["tables"][0]["columns"][2]["better"] = "higher";
  }));
}

// valid-<corpus>/ppl was scored on that corpus; valid/ppl and its halves on the first corpus of
// eval.corpus ("books,mixture"), or the training corpus when it names none.
TEST_CASE("a published perplexity is withheld per column, by the text its metric was scored on",
          "[report][reference]") {
  ablate::results::test::TempDir dir;
  auto report_with = [&](const std::string& trained, const std::string& eval_corpus) {
    std::vector<ablate::results::RunRecord> runs;
    for (int s = 1; s <= 2; ++s) {
      ablate::results::RunRecord r = MemRecord(s, s);
      r.params["model.layers"] = {true, 12, ""};
      r.params["data.corpus"] = {false, 0, "books"};
      r.params["eval.corpus"] = {false, 0, eval_corpus};
      r.finals["valid/ppl"] = 4.0 + s;
      r.finals["valid/report/ppl"] = 4.5 + s;
      r.finals["valid-mixture/ppl"] = 6.0 + s;
      runs.push_back(r);
    }
    const json reference = {{"r",
                             {{"conditions", {{"model.layers", 12}, {"data.corpus", trained}}},
                              {"columns", {"ppl"}},
                              {"rows", {{{"name", "paper"}, {"values", {3.9}}}}}}}};
    dir.Write("reference.json", reference.dump());
    const auto spec = rp::ParseReportSpec(json::parse(R"({"reference": "reference.json",
        "tables": [{"id": "t", "runs": {"experiment": "mem"}, "rows": {"by": "data.corpus"},
        "columns": [{"label": "ppl", "metric": "valid/ppl", "reference": "ppl"},
                    {"label": "ppl report half", "metric": "valid/report/ppl", "reference": "ppl"},
                    {"label": "ppl mixture", "metric": "valid-mixture/ppl", "reference": "ppl"}],
        "reference": {"table": "r"}}]})"),
                                          "spec.json", dir.path());
    return rp::BuildReport(spec, runs).tables.at(0);
  };
  // Scored on books first, then on mixture: the books columns are the paper's quantity.
  const auto both = report_with("books", "books,mixture");
  const auto& paper = both.rows.back();
  CHECK(paper.reference);
  CHECK(paper.cells[0].parts[0].text == "3.9");
  CHECK(paper.cells[1].parts[0].text == "3.9");
  CHECK(paper.cells[2].parts[0].missing);
  CHECK(AnyContains(both.footnotes,
                    "The published ppl mixture is left out: it was measured under other "
                    "conditions (eval.corpus books (here mixture)), so it is not the same "
                    "quantity as ours."));
  // Scored on mixture alone: the whole sample and its report half are of other text too.
  const auto mixture = report_with("books", "mixture");
  CHECK(!mixture.rows.back().reference);  // a reference row without a number is left out
  CHECK(AnyContains(mixture.footnotes,
                    "The published ppl, ppl report half, ppl mixture is left out: it was "
                    "measured under other conditions (eval.corpus books (here mixture))"));
  // Trained on other text: every perplexity is withheld, the mixture one for both reasons.
  const auto other = report_with("wiki", "");
  CHECK(!other.rows.back().reference);
  CHECK(AnyContains(other.footnotes,
                    "The published ppl, ppl report half is left out: it was "
                    "measured under other conditions (data.corpus wiki (here "
                    "books))"));
  CHECK(AnyContains(other.footnotes,
                    "The published ppl mixture is left out: it was measured "
                    "under other conditions (data.corpus wiki (here books), "
                    "eval.corpus wiki (here mixture))"));
}

TEST_CASE("a tuned table's perplexity curve and floor are its chosen runs' report half's",
          "[report][tune]") {
  ablate::results::test::TempDir dir;
  const std::string db = dir.File("r.db");
  {
    Store store = Store::Open(db);
    auto p = [](double lr, int seed) {
      return json{{"seed", seed}, {"train.batch_size", 8}, {"optim.lr", lr}};
    };
    using F = std::map<std::string, double>;
    // Runs 1, 2 (lr 0.001) win on the selection half; runs 3, 4 (lr 0.002) do not.
    AddExperiment(store, "tuned", {p(0.001, 1), p(0.001, 2), p(0.002, 1), p(0.002, 2)},
                  {"completed", "completed", "completed", "completed"},
                  {F{{"valid/select/ppl", 10}, {"valid/report/ppl", 30}},
                   F{{"valid/select/ppl", 10}, {"valid/report/ppl", 32}},
                   F{{"valid/select/ppl", 20}, {"valid/report/ppl", 1}},
                   F{{"valid/select/ppl", 20}, {"valid/report/ppl", 1}}});
    auto writer = store.Metrics();
    for (int run = 1; run <= 4; ++run) {
      for (int step = 1; step <= 2; ++step) {
        writer.Add(run, "train/tokens_seen", step, 100.0 * step);
        writer.Add(run, "valid/ppl", step, 1000.0 * step + run);
        writer.Add(run, "valid/report/ppl", step, 100.0 * step + run);
      }
      // The whole sample's floor is of other positions than the curve's.
      writer.Add(run, "valid/baseline/copy/ppl", 2, 900);
      writer.Add(run, "valid/report/baseline/copy/ppl", 2, run <= 2 ? 69.0 + run : 5.0);
    }
    writer.Flush();
  }
  const auto spec = rp::ParseReportSpec(json::parse(R"({"tables": [{"id": "t",
      "runs": {"experiment": "tuned"}, "rows": {"by": "train.batch_size"},
      "tune": {"param": "optim.lr", "metric": "valid/ppl", "better": "lower"},
      "columns": [{"label": "ppl", "metric": "valid/ppl"}]}]})"),
                                        "spec.json", dir.path());
  const rp::Report report = rp::BuildReport(spec, db);
  REQUIRE(report.tables[0].rows[0].run_ids == std::vector<int64_t>{1, 2});
  CHECK(report.tables[0].rows[0].cells[0].parts[0].value == Approx(31));
  const rp::TableCurves curves = rp::ReadCurves(report, db).at("t");
  REQUIRE(curves.perplexity.size() == 1);
  CHECK(curves.perplexity[0].tokens == std::vector<double>{100, 200});
  CHECK(curves.perplexity[0].values == std::vector<double>{101.5, 201.5});
  // Its floor too: runs 1 and 2's 70 and 71 (all four runs' would be 37.5, the whole sample's
  // 900).
  CHECK(curves.perplexity[0].floor == 70.5);
}

TEST_CASE("a perplexity curve's floor is the median over its row's runs of each one's best",
          "[report]") {
  Fixture f;
  {
    Store store = Store::Open(f.db);
    auto writer = store.Metrics();
    // SEGMENT-PAIR is runs 1-3, FULL-SENTENCES runs 5 and 6, DOC-SENTENCES runs 8-10.
    for (int run : {1, 2, 3, 5, 6, 8, 9, 10}) {
      for (int step = 1; step <= 2; ++step) {
        writer.Add(run, "train/tokens_seen", step, 100.0 * step);
        writer.Add(run, "valid/ppl", step, 200.0 / step);
      }
    }
    const char* copy = "valid/baseline/copy/ppl";
    const char* unigram = "valid/baseline/unigram/ppl";
    // Run 1's unigram floor is below its copy-aware one: its best is 45.
    writer.Add(1, copy, 1, 80);
    writer.Add(1, copy, 2, 80);
    writer.Add(1, unigram, 2, 45);
    writer.Add(2, copy, 2, 40);
    // Run 3's floor is its last value, 50.
    writer.Add(3, copy, 1, 55);
    writer.Add(3, copy, 2, 50);
    writer.Add(3, unigram, 2, 90);
    // Run 5 ends at 20; run 6 recorded the unigram floor alone, 24.
    writer.Add(5, copy, 1, 30);
    writer.Add(5, copy, 2, 20);
    writer.Add(6, unigram, 2, 24);
    // A loss's baseline-like name is no floor of a perplexity curve.
    writer.Add(8, "valid/baseline/copy/mlm_acc", 2, 0.1);
    writer.Flush();
  }
  const rp::Report report = rp::BuildReport(f.spec, f.db);
  const rp::TableCurves curves = rp::ReadCurves(report, f.db).at("formats");
  REQUIRE(curves.perplexity.size() == 3);
  // Best per run 45, 40, 50: the median is 45 (the copy-aware floors alone give 50, the worse
  // floor of each run 80).
  CHECK(curves.perplexity[0].floor == 45);
  // 20 and 24: 22 (the first values would give 27).
  CHECK(curves.perplexity[1].floor == 22);
  // DOC-SENTENCES' runs recorded no floors, as in a database from before them: none.
  CHECK(std::isnan(curves.perplexity[2].floor));
  CHECK(curves.perplexity[2].values == std::vector<double>{200, 100});
  for (const auto& line : curves.loss) CHECK(std::isnan(line.floor));
}

TEST_CASE("report formats come from one table of writers, with aliases and did-you-mean",
          "[report][errors]") {
  CHECK(rp::ReportWriterNames() == "markdown, latex, csv, json or html");
  CHECK(rp::FindReportWriter("md", "--format").name == "markdown");
  CHECK(rp::FindReportWriter("tex", "--format").name == "latex");
  CHECK(rp::FindReportWriter("html", "--format").embeds_curves);
  CHECK(rp::FindReportWriter("json", "--format").side_plots);
  CHECK_THROWS_WITH(rp::FindReportWriter("mardown", "--format"),
                    "--format: unknown format \"mardown\" (did you mean \"markdown\"?): expected "
                    "markdown, latex, csv, json or html");
}

// The report's floors and verdict sizes: trivial-baseline rows and the cells that do not beat
// them, claims with their Hodges–Lehmann shift, Holm's correction over a table's family and what
// the runs could reach, and the Multi-Bootstrap option wired to the runs' per-example outcomes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/multibootstrap.h"
#include "reports/report.h"
#include "reports/report_render.h"
#include "reports/report_spec.h"
#include "reports/table_builder.h"

namespace rp = ablate::reports;
using nlohmann::json;

namespace {

ablate::results::RunRecord Run(int64_t id, const std::string& row, int seed,
                               std::map<std::string, double> finals) {
  ablate::results::RunRecord r;
  r.id = id;
  r.experiment = "mem";
  r.key = "k" + std::to_string(id);
  r.status = "completed";
  r.params["data.masking"] = {false, 0, row};
  r.params["seed"] = {true, static_cast<double>(seed), ""};
  for (const auto& [name, value] : finals) r.finals[name] = value;
  return r;
}

rp::ReportSpec Spec(const std::string& table_extra, const std::string& columns) {
  return rp::ParseReportSpec(json::parse(R"({"tables": [{"id": "t",
      "runs": {"experiment": "mem"}, "rows": {"by": "data.masking"},
      "columns": )" + columns + table_extra +
                                         "}]}"),
                             "mem.json", ".");
}

bool HasFootnote(const rp::ReportTable& t, const std::string& text) {
  for (const auto& f : t.footnotes)
    if (f.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE(
    "pretraining columns get the trivial baselines as rows, and a row that does not beat "
    "them is flagged in its cell and footnote",
    "[report][baselines]") {
  // Row "a" sits at the unigram level (above both baselines), "b" between the copy-aware and the
  // unigram predictor, "c" below both; accuracies likewise.
  std::vector<ablate::results::RunRecord> runs;
  int64_t id = 0;
  for (const auto& [row, ppl, acc] : std::vector<std::tuple<std::string, double, double>>{
           {"a", 900, 0.05}, {"b", 500, 0.12}, {"c", 300, 0.30}}) {
    for (int seed = 1; seed <= 3; ++seed) {
      runs.push_back(Run(++id, row, seed,
                         {{"valid/ppl", ppl + seed},
                          {"valid/mlm_acc", acc},
                          {"valid/baseline/unigram/ppl", 835},
                          {"valid/baseline/copy/ppl", 460},
                          {"valid/baseline/unigram/mlm_acc", 0.06},
                          {"valid/baseline/copy/mlm_acc", 0.15}}));
    }
  }
  const auto spec = Spec("", R"([
      {"label": "ppl", "metric": "valid/ppl", "better": "lower"},
      {"label": "acc", "metric": "valid/mlm_acc", "scale": 100}])");
  const auto inputs = rp::InputsOf(spec);
  CHECK(inputs.metrics.count("valid/baseline/unigram/ppl") == 1);
  CHECK(inputs.metrics.count("valid/baseline/copy/mlm_acc") == 1);
  const rp::Report report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 5);
  CHECK(t.rows[3].baseline);
  CHECK(t.rows[3].label == "unigram of the training tokens");
  CHECK(t.rows[3].cells[0].parts[0].text == "835.0");
  CHECK(t.rows[3].cells[1].parts[0].text == "6.0");
  CHECK(t.rows[4].label == "unigram + the visible token");
  CHECK(t.rows[4].cells[0].parts[0].text == "460.0");
  // The weakest baseline a cell does not beat names its flag; "c" beats both.
  CHECK(t.rows[0].cells[0].parts[0].not_better_than == "unigram of the training tokens");
  CHECK(t.rows[1].cells[0].parts[0].not_better_than == "unigram + the visible token");
  CHECK(t.rows[2].cells[0].parts[0].not_better_than.empty());
  CHECK(t.rows[0].cells[1].parts[0].not_better_than == "unigram of the training tokens");
  CHECK(t.rows[1].cells[1].parts[0].not_better_than == "unigram + the visible token");
  CHECK(t.rows[2].cells[1].parts[0].not_better_than.empty());
  CHECK(HasFootnote(t, "\"a\" ppl 902.0, not better than a unigram model (835.0)"));
  CHECK(HasFootnote(t, "\"b\" ppl 502.0, not better than a context-free predictor (460.0)"));
  std::ostringstream md;
  rp::RenderReport(md, report, "markdown");
  CHECK(md.str().find("| a | 902.0† (901.0–903.0) | 5.0† (5.0–5.0) |") != std::string::npos);
  CHECK(md.str().find("| *Trivial baselines (the same examples):* |") != std::string::npos);
  CHECK(md.str().find("| unigram of the training tokens | 835.0 | 6.0 |") != std::string::npos);
}

TEST_CASE("downstream columns show the encoder that was never pretrained as a baseline row",
          "[report][baselines]") {
  std::vector<ablate::results::RunRecord> runs;
  int64_t id = 0;
  for (int seed = 1; seed <= 2; ++seed) {
    runs.push_back(
        Run(++id, "static", seed,
            {{"eval/t/acc", 61}, {"eval/t/baseline/acc", 50}, {"eval/t/untrained/acc", 62}}));
    runs.push_back(
        Run(++id, "dynamic", seed,
            {{"eval/t/acc", 70}, {"eval/t/baseline/acc", 50}, {"eval/t/untrained/acc", 62}}));
  }
  const auto spec = Spec("", R"([{"label": "T", "metric": "eval/t/acc", "better": "higher"}])");
  const auto report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[2].label == "constant prediction");
  CHECK(t.rows[2].cells[0].parts[0].text == "50.0");
  CHECK(t.rows[3].label == "no pretraining (fine-tuned from random init)");
  CHECK(t.rows[3].cells[0].parts[0].text == "62.0");
  CHECK(t.rows[0].label == "dynamic");
  CHECK(t.rows[0].cells[0].parts[0].not_better_than.empty());
  CHECK(t.rows[1].cells[0].parts[0].not_better_than ==
        "no pretraining (fine-tuned from random init)");
  CHECK(HasFootnote(t, "\"static\" T 61.0, not better than no pretraining (62.0)"));
}

TEST_CASE(
    "a table's claims form one Holm family, and the footnote says when the runs cannot "
    "reach significance after the correction",
    "[report][claims]") {
  // 3 against 3, fully separated: one-sided p = 1 / C(6, 3) = 0.05 for each of two claims.
  std::vector<ablate::results::RunRecord> runs;
  int64_t id = 0;
  for (int seed = 1; seed <= 3; ++seed) {
    runs.push_back(Run(++id, "static", seed, {{"valid/ppl", 20.0 + seed}, {"eval/t/acc", 70}}));
    runs.push_back(Run(++id, "dynamic", seed, {{"valid/ppl", 10.0 + seed}, {"eval/t/acc", 80}}));
  }
  const std::string columns = R"([
      {"label": "ppl", "metric": "valid/ppl", "better": "lower"},
      {"label": "T", "metric": "eval/t/acc", "better": "higher"}])";
  const std::string claims = R"(, "claims": [
      {"claim": "dynamic beats static", "better": "dynamic", "than": "static"}])";
  SECTION("Holm (the default)") {
    const auto spec = Spec(claims, columns);  // the report points into it
    const auto report = rp::BuildReport(spec, runs);
    const auto& t = report.tables.at(0);
    REQUIRE(t.claims.at(0).results.size() == 2);
    const auto& ppl = t.claims[0].results[0];
    CHECK(ppl.p == Approx(0.05));
    CHECK(ppl.p_adjusted == Approx(0.1));  // 2 x 0.05, then the running maximum
    CHECK(t.claims[0].results[1].p_adjusted == Approx(0.1));
    CHECK(ppl.verdict == "not separable");
    CHECK(ppl.min_p == Approx(0.05));
    // 3 against 3 give no 95% interval: the widest, [11 − 23, 13 − 21] = [−12, −8], covers 90%.
    CHECK(ppl.shift.estimate == -10);
    CHECK(ppl.shift.low == -12);
    CHECK(ppl.shift.high == -8);
    CHECK(ppl.shift.confidence == Approx(0.9));
    CHECK(std::isinf(ppl.detectable));  // 0.05 > 0.025: no shift can be separated
    CHECK(t.claims[0].text ==
          "Claim: dynamic beats static. Here: ppl: **not separable** (Δ −10.0 [−12.0, −8.0] ("
          "90% interval: the most these runs allow), one-sided p = 0.05, Holm = 0.1); T: **not "
          "separable** (Δ +10.0 [10.0, 10.0] (90% interval: the most these runs allow), "
          "one-sided p = 0.05, Holm = 0.1).");
    CHECK(HasFootnote(t, "the 2 one-sided tests of this table's claims form one family"));
    CHECK(HasFootnote(
        t,
        "the smallest one-sided p a test can reach is 0.05 (3 runs against 3), and Holm's first "
        "step needs p ≤ 0.025 (0.05/2): no verdict can reach significance; more "
        "seeds are needed."));
    CHECK(HasFootnote(t, "claim 1 ppl none, claim 1 T none"));
    // The bold could not be reached either (2 / C(6, 3) = 0.1), and the footnote says so.
    CHECK(HasFootnote(t,
                      "the smallest p a test can reach is 0.1 for 3 runs against 3: no "
                      "column's best can be bold"));
    std::ostringstream out;
    rp::RenderReport(out, report, "json");
    const json doc = json::parse(out.str());
    const json& result = doc["tables"][0]["claims"][0]["results"][0];
    CHECK(result["p_adjusted"].get<double>() == Approx(0.1));
    CHECK(result["delta"]["estimate"].get<double>() == -10);
    CHECK(result["delta"]["confidence"].get<double>() == Approx(0.9));
    CHECK(doc["tables"][0]["claim_family"]["correction"] == "holm");
    CHECK(doc["tables"][0]["claim_family"]["tests"] == 2);
  }
  SECTION("\"correction\": \"none\" reads each p at alpha") {
    const auto spec = Spec(claims + R"(, "correction": "none")", columns);
    const auto report = rp::BuildReport(spec, runs);
    const auto& t = report.tables.at(0);
    CHECK(t.claims[0].results[0].p_adjusted == Approx(0.05));
    CHECK(t.claims[0].results[0].verdict == "reproduced");
    CHECK(HasFootnote(t, "with no correction for multiplicity"));
  }
}

TEST_CASE("the Multi-Bootstrap option tests claims on the runs' per-example outcomes",
          "[report][claims][multibootstrap]") {
  // Two rows of three pretraining seeds each, one replicate, 40 held-out sequences: "dynamic"
  // has a lower loss on every sequence.
  std::vector<ablate::results::RunRecord> runs;
  rp::RunExamples examples;
  std::vector<ablate::BootstrapRun> dynamic, fixed;
  int64_t id = 0;
  for (int seed = 1; seed <= 3; ++seed) {
    for (const std::string row : {"static", "dynamic"}) {
      runs.push_back(Run(++id, row, seed, {{"valid/ppl", row == "dynamic" ? 10.0 : 20.0}}));
      ablate::BootstrapRun b;
      b.seed = static_cast<uint64_t>(seed);
      b.replicates.emplace_back();
      auto& pairs = examples[{id, "valid/ppl"}][0];
      for (int i = 0; i < 40; ++i) {
        const double loss = (row == "dynamic" ? 2.0 : 3.0) + 0.01 * ((i * 7 + seed) % 13);
        pairs.push_back({loss * 10, 10});
        b.replicates[0].numerator.push_back(loss * 10);
        b.replicates[0].denominator.push_back(10);
      }
      (row == "dynamic" ? dynamic : fixed).push_back(b);
    }
  }
  const std::string columns = R"([{"label": "ppl", "metric": "valid/ppl", "better": "lower"}])";
  const std::string extra = R"(, "test": "multibootstrap", "bootstrap": {"samples": 500, "seed": 7},
      "claims": [{"claim": "dynamic beats static", "better": "dynamic", "than": "static"}])";
  const auto spec = Spec(extra, columns);
  const auto report = rp::BuildReport(spec, runs, examples);
  const auto& r = report.tables.at(0).claims.at(0).results.at(0);
  // The same comparison made directly: the same seeds on both sides are paired.
  ablate::MultiBootstrapOptions options;
  options.samples = 500;
  options.seed = 7;
  options.transform = ablate::BootstrapTransform::kExp;
  const auto direct = ablate::MultiBootstrapCompare(dynamic, fixed, options);
  CHECK(direct.paired);
  CHECK(r.p == direct.p_less);
  CHECK(r.p == 0);
  CHECK(r.shift.estimate == Approx(direct.estimate));
  CHECK(r.shift.high < 0);
  CHECK(r.verdict == "reproduced");
  CHECK(HasFootnote(report.tables[0],
                    "Each test is the Multi-Bootstrap (Sellam et al. 2022): 500 "
                    "resamples"));
  // A run without per-example outcomes leaves the claim without data, not tested on less.
  examples.erase({1, "valid/ppl"});
  const auto partial = rp::BuildReport(spec, runs, examples);
  CHECK(partial.tables[0].claims[0].results[0].verdict == "no data");
}

TEST_CASE("the claim test and correction options are checked", "[report][errors]") {
  auto error = [](const std::string& extra) {
    try {
      Spec(extra, R"([{"label": "ppl", "metric": "valid/ppl"}])");
    } catch (const ablate::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error(R"(, "test": "bootstrap")")
            .find("/tables/0/test: \"bootstrap\" is not one of \"rank\", \"multibootstrap\"") !=
        std::string::npos);
  CHECK(error(R"(, "correction": "bonferroni")")
            .find("/tables/0/correction: \"bonferroni\" is not one of \"holm\", \"none\"") !=
        std::string::npos);
  CHECK(error(R"(, "bootstrap": {"samples": 10})")
            .find("/tables/0/bootstrap/samples: expected an integer from 100 to 1000000") !=
        std::string::npos);
}

TEST_CASE("every held-out prefix maps to its own trivial baselines: the halves and further corpora",
          "[report][baselines]") {
  const auto& kinds = rp::BaselineKinds();
  REQUIRE(kinds.size() >= 2);
  const auto& unigram = kinds[0].metric;
  const auto& copy = kinds[1].metric;
  CHECK(unigram("valid/ppl") == "valid/baseline/unigram/ppl");
  CHECK(copy("valid/mlm_acc") == "valid/baseline/copy/mlm_acc");
  CHECK(copy("valid/report/ppl") == "valid/report/baseline/copy/ppl");
  CHECK(unigram("valid/select/mlm_acc") == "valid/select/baseline/unigram/mlm_acc");
  CHECK(unigram("valid-mixture/ppl") == "valid-mixture/baseline/unigram/ppl");
  CHECK(unigram("valid-mixture/mlm_acc") == "valid-mixture/baseline/unigram/mlm_acc");
  // Not a masked-LM metric with a baseline, or a baseline itself.
  for (const char* metric :
       {"valid/loss", "valid/nsp_acc", "valid/baseline/copy/ppl",
        "valid/report/baseline/unigram/ppl", "valid-mixture/baseline/copy/mlm_acc", "eval/t/acc",
        "validation/ppl", "train/ppl", "valid-mixture"}) {
    CHECK(unigram(metric).empty());
    CHECK(copy(metric).empty());
  }

  // The baseline rows and flags of a further corpus's column come from its own baselines.
  std::vector<ablate::results::RunRecord> runs;
  int64_t id = 0;
  for (const auto& [row, ppl] :
       std::vector<std::pair<std::string, double>>{{"a", 900}, {"b", 300}}) {
    for (int seed = 1; seed <= 2; ++seed) {
      runs.push_back(Run(++id, row, seed,
                         {{"valid-mixture/ppl", ppl},
                          {"valid-mixture/baseline/unigram/ppl", 835},
                          {"valid-mixture/baseline/copy/ppl", 460},
                          {"valid/baseline/unigram/ppl", 1}}));
    }
  }
  const auto spec =
      Spec("", R"([{"label": "ppl mixture", "metric": "valid-mixture/ppl", "better": "lower"}])");
  CHECK(rp::InputsOf(spec).metrics.count("valid-mixture/baseline/copy/ppl") == 1);
  const auto report = rp::BuildReport(spec, runs);
  const auto& t = report.tables.at(0);
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[2].label == "unigram of the training tokens");
  CHECK(t.rows[2].cells[0].parts[0].text == "835.0");
  CHECK(t.rows[3].cells[0].parts[0].text == "460.0");
  CHECK(t.rows[0].cells[0].parts[0].not_better_than == "unigram of the training tokens");
  CHECK(t.rows[1].cells[0].parts[0].not_better_than.empty());
}

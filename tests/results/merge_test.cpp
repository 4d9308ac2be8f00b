#include "results/merge.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "base/error.h"
#include "results/metric_writer.h"
#include "results/run_reads.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::QueryText;
using test::TempDir;

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Completes run `key` of `experiment` with metric points [first, last] and final `ppl`.
void Complete(Store& store, const std::string& experiment, const std::string& key, int first,
              int last, double ppl) {
  auto run = store.StartRun(experiment, key, "host", 1);
  MetricWriter writer = store.Metrics();
  for (int step = first; step <= last; ++step) writer.Add(run.run_id, "train/loss", step, step);
  writer.Flush();
  store.SetFinalMetric(run.run_id, "valid/ppl", ppl, last);
  store.AddArtifact(run.run_id, "run_dir", "/" + experiment + "/" + key, std::nullopt);
  store.Finish(run.run_id, RunStatus::kCompleted, "");
}

TEST_CASE("merging unites experiments, runs, points and finals, and reports conflicts",
          "[results][merge]") {
  TempDir dir;
  const std::string a = dir.File("a.db"), b = dir.File("b.db"), into = dir.File("into.db");
  {
    Store sa = Store::Open(a);
    sa.Submit(
        {"grid", "", "{}", {{"r1", {{"seed", 1}}}, {"r2", {{"seed", 2}}}, {"r3", {{"seed", 3}}}}});
    Complete(sa, "grid", "r1", 1, 5, 10.0);  // completed here, queued in b
    Complete(sa, "grid", "r3", 1, 4, 30.0);  // completed in both, differently
  }
  {
    Store sb = Store::Open(b);
    sb.Submit(
        {"grid", "", "{}", {{"r1", {{"seed", 1}}}, {"r2", {{"seed", 2}}}, {"r3", {{"seed", 3}}}}});
    Complete(sb, "grid", "r2", 3, 8, 20.0);
    Complete(sb, "grid", "r3", 1, 6, 31.0);  // finished later than a's copy
    sb.Submit({"other", "an unrelated experiment", "{}", {{"x", {{"seed", 9}}}}});
  }
  const std::string a_before = Bytes(a), b_before = Bytes(b);

  Store store = Store::Open(into);
  const auto from_a = Merge(store, a, MergePrefer::kNewest);
  CHECK(from_a.runs_added == 3);
  CHECK(from_a.conflicts.empty());
  const auto from_b = Merge(store, b, MergePrefer::kNewest);
  CHECK(from_b.runs_added == 1);     // other/x
  CHECK(from_b.runs_advanced == 1);  // r2: queued in a, completed in b
  REQUIRE(from_b.conflicts.size() == 1);
  CHECK_THAT(from_b.conflicts[0], Catch::Contains("grid/r3") &&
                                      Catch::Contains("valid/ppl 30 vs 31") &&
                                      Catch::Contains("newest"));

  const Connection& db = store.connection();
  CHECK(QueryInt(db, "SELECT count(*) FROM runs") == 4);
  CHECK(QueryInt(db, "SELECT count(*) FROM experiments") == 2);
  CHECK(QueryText(db, "SELECT status FROM run_info WHERE key = 'r1'") == "completed");
  CHECK(QueryText(db, "SELECT status FROM run_info WHERE key = 'r2'") == "completed");
  CHECK(QueryText(db, "SELECT status FROM run_info WHERE key = 'x'") == "queued");
  // r3: the newest copy's finals; its points the union of both copies' steps.
  CHECK(QueryInt(db, "SELECT \"valid/ppl\" FROM runs_wide WHERE key = 'r3'") == 31);
  CHECK(QueryInt(db,
                 "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.key = "
                 "'r3'") == 6);
  CHECK(QueryInt(db,
                 "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.key = "
                 "'r2'") == 6);
  CHECK(QueryInt(db, "SELECT count(*) FROM params") == 4);
  CHECK(QueryInt(db, "SELECT count(*) FROM artifacts") == 3);

  // Again: nothing changes. The sources were only read.
  const auto snapshot = QueryInt(db, "SELECT count(*) FROM metrics") * 1000 +
                        QueryInt(db, "SELECT count(*) FROM final_metrics");
  const auto repeat = Merge(store, b, MergePrefer::kNewest);
  CHECK(repeat.runs_added + repeat.runs_advanced + repeat.points_added + repeat.finals_added == 0);
  CHECK(QueryInt(db, "SELECT count(*) FROM metrics") * 1000 +
            QueryInt(db, "SELECT count(*) FROM final_metrics") ==
        snapshot);
  CHECK(Bytes(a) == a_before);
  CHECK(Bytes(b) == b_before);

  // --prefer first keeps the copy already there.
  Store first = Store::Open(dir.File("first.db"));
  Merge(first, a, MergePrefer::kFirst);
  const auto kept = Merge(first, b, MergePrefer::kFirst);
  REQUIRE(kept.conflicts.size() == 1);
  CHECK(QueryInt(first.connection(), "SELECT \"valid/ppl\" FROM runs_wide WHERE key = 'r3'") == 30);

  // Not an ablate database: refused, naming it.
  std::ofstream(dir.File("junk.db")) << "not sqlite";
  CHECK_THROWS_AS(Merge(store, dir.File("junk.db"), MergePrefer::kNewest), InputError);
}

TEST_CASE("merging copies a run's example outcomes with it, and reads sources from before them",
          "[results][merge][outcomes]") {
  TempDir dir;
  const std::string a = dir.File("a.db"), b = dir.File("b.db"), old = dir.File("old.db"),
                    into = dir.File("into.db");
  const ExampleOutcomes seed1 = {{100, 1}, {0, 1}}, seed2 = {{0, 1}, {0, 1}};
  const ExampleOutcomes losses = {{120.5, 40}, {99.25, 38}};
  {
    Store sa = Store::Open(a);
    sa.Submit({"grid", "", "{}", {{"r1", {{"seed", 1}}}, {"r2", {{"seed", 2}}}}});
    Complete(sa, "grid", "r1", 1, 3, 10.0);
    const int64_t r1 = QueryInt(sa.connection(), "SELECT id FROM runs WHERE key = 'r1'");
    sa.SetExampleOutcomes(r1, "eval/sst2/acc", 1, seed1);
    sa.SetExampleOutcomes(r1, "eval/sst2/acc", 2, seed2);
    sa.SetExampleOutcomes(r1, "valid/ppl", 0, losses);
  }
  {
    // b has r2 further than a (completed, with outcomes); its copy of r1 is only queued.
    Store sb = Store::Open(b);
    sb.Submit({"grid", "", "{}", {{"r1", {{"seed", 1}}}, {"r2", {{"seed", 2}}}}});
    Complete(sb, "grid", "r2", 1, 3, 20.0);
    const int64_t r2 = QueryInt(sb.connection(), "SELECT id FROM runs WHERE key = 'r2'");
    sb.SetExampleOutcomes(r2, "eval/sst2/acc", 1, {{100, 1}, {100, 1}});
  }
  {
    // A source from before schema v5 merges as it always did.
    Store so = Store::Open(old);
    so.Submit({"legacy", "", "{}", {{"x", {{"seed", 1}}}}});
    Complete(so, "legacy", "x", 1, 2, 5.0);
    so.connection().Exec("DROP TABLE example_outcomes; PRAGMA user_version = 4");
  }
  Store store = Store::Open(into);
  CHECK(Merge(store, a, MergePrefer::kNewest).outcomes_added == 3);
  CHECK(Merge(store, b, MergePrefer::kNewest).outcomes_added == 1);
  CHECK(Merge(store, old, MergePrefer::kNewest).runs_added == 1);
  CHECK(Merge(store, a, MergePrefer::kNewest).outcomes_added == 0);  // idempotent
  const Connection& db = store.connection();
  const int64_t r1 = QueryInt(db, "SELECT id FROM runs WHERE key = 'r1'");
  const int64_t r2 = QueryInt(db, "SELECT id FROM runs WHERE key = 'r2'");
  const auto acc = ReadExampleOutcomes(into, {r1, r2}, "eval/sst2/acc");
  CHECK(acc.at(r1).at(1) == seed1);
  CHECK(acc.at(r1).at(2) == seed2);
  CHECK(acc.at(r2).at(1) == ExampleOutcomes{{100, 1}, {100, 1}});
  CHECK(ReadExampleOutcomes(into, {r1}, "valid/ppl").at(r1).at(0) == losses);
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 4);

  // A copy that wins a conflict brings its outcomes and drops the loser's: theirs would not add
  // up to the finals kept.
  const std::string c = dir.File("c.db");
  {
    Store sc = Store::Open(c);
    sc.Submit({"grid", "", "{}", {{"r1", {{"seed", 1}}}}});
    Complete(sc, "grid", "r1", 1, 3, 11.0);  // finished after a's copy
    const int64_t id = QueryInt(sc.connection(), "SELECT id FROM runs WHERE key = 'r1'");
    sc.SetExampleOutcomes(id, "eval/sst2/acc", 1, {{0, 1}, {100, 1}});
  }
  REQUIRE(Merge(store, c, MergePrefer::kNewest).conflicts.size() == 1);
  const auto after = ReadExampleOutcomes(into, {r1}, "eval/sst2/acc");
  CHECK(after.at(r1).size() == 1);
  CHECK(after.at(r1).at(1) == ExampleOutcomes{{0, 1}, {100, 1}});
  CHECK(ReadExampleOutcomes(into, {r1}, "valid/ppl").empty());
}

}  // namespace
}  // namespace ablate::results

#include "results/metric_writer.h"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>

#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::QueryText;
using test::TempDir;

// A store with one experiment of two runs; returns their ids.
std::pair<int64_t, int64_t> TwoRuns(Store& store) {
  store.Submit(
      {"exp", "", "{}", {{"a", nlohmann::json::object()}, {"b", nlohmann::json::object()}}});
  return {QueryInt(store.connection(), "SELECT id FROM runs WHERE key = 'a'"),
          QueryInt(store.connection(), "SELECT id FROM runs WHERE key = 'b'")};
}

int64_t MetricCount(const Store& store) {
  return QueryInt(store.connection(), "SELECT count(*) FROM metrics");
}

TEST_CASE("a metric writer buffers points until flushed", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  MetricWriter writer = store.Metrics(100);
  for (int step = 0; step < 5; ++step) {
    writer.Add(a, "loss", step, 10.0 - step, 1000.0 + step);
    writer.Add(b, "loss", step, 20.0 - step, 2000.0 + step);
  }
  CHECK(writer.pending() == 10);
  CHECK(MetricCount(store) == 0);
  writer.Flush();
  CHECK(writer.pending() == 0);
  CHECK(MetricCount(store) == 10);
  CHECK(QueryText(store.connection(),
                  "SELECT group_concat(value || '@' || time, ' ') FROM (SELECT * FROM metrics "
                  "WHERE run_id = " +
                      std::to_string(b) + " ORDER BY step)") ==
        "20.0@2000.0 19.0@2001.0 18.0@2002.0 17.0@2003.0 16.0@2004.0");
}

TEST_CASE("a metric writer flushes by itself when its batch is full", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics(4);
  for (int step = 0; step < 10; ++step) writer.Add(run, "loss", step, 1.0);
  CHECK(MetricCount(store) == 8);
  CHECK(writer.pending() == 2);
}

TEST_CASE("a metric writer flushes when destroyed", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  {
    MetricWriter writer = store.Metrics();
    writer.Add(run, "loss", 1, 2.0);
    writer.Add(run, "lr", 1, 1e-4);
  }
  CHECK(MetricCount(store) == 2);
}

TEST_CASE("re-logging a step replaces the stored point instead of adding one",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics();
  writer.Add(run, "loss", 100, 3.0, 1.0);
  writer.Add(run, "loss", 100, 2.5, 2.0);  // the same step twice in one batch: the last one wins
  writer.Flush();
  CHECK(QueryText(store.connection(), "SELECT value || '@' || time FROM metrics") == "2.5@2.0");
  // A run resumed from a checkpoint logs the steps after it again.
  writer.Add(run, "loss", 100, 2.25, 3.0);
  writer.Add(run, "loss", 101, 2.0, 3.0);
  writer.Flush();
  CHECK(MetricCount(store) == 2);
  CHECK(QueryText(store.connection(),
                  "SELECT value || '@' || time FROM metrics WHERE step = 100") == "2.25@3.0");
}

TEST_CASE("re-logging part of a long history replaces those steps and appends the rest",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics(1000);
  for (int step = 0; step < 200; ++step) writer.Add(run, "loss", step, step, 1.0);
  writer.Flush();
  // A run resumed from the checkpoint at step 150: 50 replaced points, then 100 new ones, in one
  // batch of more than one multi-row statement.
  for (int step = 150; step < 300; ++step) writer.Add(run, "loss", step, -step, 2.0);
  writer.Flush();
  CHECK(MetricCount(store) == 300);
  CHECK(QueryInt(store.connection(),
                 "SELECT count(*) FROM metrics WHERE step < 150 AND value = step AND time = 1.0") ==
        150);
  CHECK(QueryInt(store.connection(),
                 "SELECT count(*) FROM metrics WHERE step >= 150 AND value = -step AND "
                 "time = 2.0") == 150);
}

TEST_CASE("random re-logging across batches keeps the value logged last for every step",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  // The reference: what the history must hold, (run, name, step) -> value.
  std::map<std::tuple<int64_t, std::string, int64_t>, double> expected;
  std::mt19937 random(7);
  MetricWriter writer = store.Metrics(97);  // multi-row statements, tails, and flushes mid-step
  const std::array<std::string, 3> names = {"loss", "lr", "grad_norm"};
  for (int i = 0; i < 3000; ++i) {
    const int64_t run = random() % 2 == 0 ? a : b;
    const std::string& name = names[random() % names.size()];
    // Mostly forward, sometimes back over steps already stored, as resumed runs do.
    const int64_t step = static_cast<int64_t>(i / 10 - random() % 40);
    writer.Add(run, name, step, i, 0.0);
    expected[{run, name, step}] = i;
  }
  writer.Flush();
  Statement select = store.connection().Prepare(
      "SELECT run_id, name, step, value FROM metrics ORDER BY run_id, name, step");
  auto want = expected.begin();
  int64_t rows = 0;
  while (select.Step()) {
    ++rows;
    REQUIRE(want != expected.end());
    const auto& [run, name, step] = want->first;
    CHECK(select.ColumnInt(0) == run);
    CHECK(select.ColumnText(1) == name);
    CHECK(select.ColumnInt(2) == step);
    CHECK(select.ColumnDouble(3) == want->second);
    ++want;
  }
  CHECK(rows == static_cast<int64_t>(expected.size()));
}

TEST_CASE("the metrics view shows each point with its run and metric name",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  MetricWriter writer = store.Metrics();
  writer.Add(b, "train/loss", 1, 2.5, 11.0);
  writer.Add(a, "train/loss", 1, 1.25, 12.0);
  writer.Add(a, "train/lr", 0, 0.5, 10.0);
  writer.Add(a, "train/loss", 0, 1.5, 10.0);
  writer.Flush();
  const std::string run_a = std::to_string(a) + " ";
  const std::string run_b = std::to_string(b) + " ";
  const std::string expected = run_a + "train/loss 0 1.5 10.0, " + run_a +
                               "train/loss 1 1.25 12.0, " + run_a + "train/lr 0 0.5 10.0, " +
                               run_b + "train/loss 1 2.5 11.0";
  CHECK(QueryText(store.connection(),
                  "SELECT group_concat(run_id || ' ' || name || ' ' || step || ' ' || value || ' ' "
                  "|| time, ', ') FROM (SELECT * FROM metrics ORDER BY run_id, name, step)") ==
        expected);
}

TEST_CASE("each metric name is stored once however many runs and batches log it",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  MetricWriter writer = store.Metrics(3);
  for (int step = 0; step < 10; ++step) {
    for (const int64_t run : {a, b}) {
      writer.Add(run, "train/loss", step, 1.0);
      writer.Add(run, "train/lr", step, 1e-4);
    }
  }
  writer.Flush();
  CHECK(MetricCount(store) == 40);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metric_names") == 2);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metric_series") == 4);
}

TEST_CASE("deleting a run deletes its metric history", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  MetricWriter writer = store.Metrics();
  for (int step = 0; step < 5; ++step) {
    writer.Add(a, "loss", step, 1.0);
    writer.Add(b, "loss", step, 2.0);
  }
  writer.Flush();
  store.connection().Exec("DELETE FROM runs WHERE id = " + std::to_string(a));
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metric_points") == 5);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metrics WHERE run_id = " +
                                         std::to_string(b) + " AND value = 2.0") == 5);
}

TEST_CASE("every point of a large batch is stored exactly once with its own values",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const auto [a, b] = TwoRuns(store);
  MetricWriter writer = store.Metrics(1000);
  // 999 points: whole multi-row statements plus a remainder, names and runs out of key order.
  for (int step = 332; step >= 0; --step) {
    writer.Add(b, "z", step, step * 10 + 1, step);
    writer.Add(a, "m", step, step * 10 + 2, step);
    writer.Add(b, "a", step, step * 10 + 3, step);
  }
  writer.Flush();
  CHECK(MetricCount(store) == 999);
  const std::string where =
      " FROM metrics WHERE (run_id = " + std::to_string(b) +
      " AND name = 'z' AND value = step * 10 + 1) OR (run_id = " + std::to_string(a) +
      " AND name = 'm' AND value = step * 10 + 2) OR "
      "(run_id = " +
      std::to_string(b) +
      " AND name = 'a' AND value = step "
      "* 10 + 3)";
  CHECK(QueryInt(store.connection(), "SELECT count(*)" + where + " AND time = step") == 999);
}

TEST_CASE("a step repeated many times in one batch keeps the value added last",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics();
  for (int i = 0; i < 300; ++i) {
    writer.Add(run, "loss", 7, i);
    writer.Add(run, "loss", 8, -i);
  }
  writer.Flush();
  CHECK(QueryText(store.connection(),
                  "SELECT group_concat(value, ' ') FROM (SELECT value FROM metrics ORDER BY "
                  "step)") == "299.0 -299.0");
}

TEST_CASE("points without a time are stamped with the current unix time",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics();
  const double before = UnixNow();
  writer.Add(run, "loss", 0, 1.0);
  const double after = UnixNow();
  writer.Flush();
  Statement time = store.connection().Prepare("SELECT time FROM metrics");
  REQUIRE(time.Step());
  CHECK(time.ColumnDouble(0) >= before);
  CHECK(time.ColumnDouble(0) <= after);
}

TEST_CASE("NaN is stored as NULL and infinities as infinities", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics();
  writer.Add(run, "loss", 0, std::numeric_limits<double>::quiet_NaN());
  writer.Add(run, "loss", 1, std::numeric_limits<double>::infinity());
  writer.Add(run, "loss", 2, -std::numeric_limits<double>::infinity());
  writer.Flush();
  Statement select = store.connection().Prepare("SELECT value FROM metrics ORDER BY step");
  REQUIRE(select.Step());
  CHECK(select.ColumnIsNull(0));
  REQUIRE(select.Step());
  CHECK(select.ColumnDouble(0) == std::numeric_limits<double>::infinity());
  REQUIRE(select.Step());
  CHECK(select.ColumnDouble(0) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("a failed flush writes nothing and keeps the points for the next try",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  const int64_t missing_run = run + 1000;
  MetricWriter writer = store.Metrics();
  writer.Add(run, "loss", 0, 1.0);
  writer.Add(missing_run, "loss", 0, 1.0);
  writer.Add(run, "loss", 1, 0.5);
  CHECK_THROWS_WITH(writer.Flush(), Catch::Contains("FOREIGN KEY constraint failed"));
  CHECK(MetricCount(store) == 0);
  CHECK(writer.pending() == 3);

  store.connection().Exec("INSERT INTO runs (id, experiment_id, key, created_at) VALUES (" +
                          std::to_string(missing_run) + ", 1, 'late', 0)");
  writer.Flush();
  CHECK(MetricCount(store) == 3);
}

TEST_CASE("a metric writer that cannot flush when destroyed does not throw",
          "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  auto write_to_missing_run = [&store] {
    MetricWriter writer = store.Metrics();
    writer.Add(12345, "loss", 0, 1.0);
  };
  CHECK_NOTHROW(write_to_missing_run());
  CHECK(MetricCount(store) == 0);
}

TEST_CASE("metric names of any length and number are kept apart", "[results][metric_writer]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const int64_t run = TwoRuns(store).first;
  MetricWriter writer = store.Metrics(7);  // batches end between names, not at a cycle boundary
  const std::string long_prefix(100, 'x');
  for (int step = 0; step < 20; ++step) {
    for (int layer = 0; layer < 5; ++layer) {
      writer.Add(run, long_prefix + "/grad_norm/" + std::to_string(layer), step, layer + step);
    }
    writer.Add(run, "loss", step, -step);
  }
  writer.Flush();
  CHECK(MetricCount(store) == 120);
  CHECK(QueryInt(store.connection(), "SELECT count(DISTINCT name) FROM metrics") == 6);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metrics WHERE name = '" + long_prefix +
                                         "/grad_norm/3' AND value = step + 3") == 20);
  CHECK(QueryInt(store.connection(), "SELECT sum(value) FROM metrics WHERE name = 'loss'") == -190);
}

}  // namespace
}  // namespace ablate::results

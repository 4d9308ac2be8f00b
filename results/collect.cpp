#include "results/collect.h"

#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/json_text.h"
#include "results/clock.h"
#include "results/run_log.h"
#include "results/run_status.h"

namespace ablate::results {

using nlohmann::json;

namespace {

double PointValue(const json& v) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_string()) {
    return v == "-inf" ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
  }
  return v.get<double>();
}

// An integer field of a record. nlohmann converts a float to an integer with a plain cast, which
// is undefined beyond the type's range (7.7e104 as world_size, found by fuzzing): only JSON
// integers that fit are taken, anything else makes the record one this ablate does not write.
template <typename T>
T Integer(const json& v) {
  if (const std::optional<T> n = JsonInteger<T>(v)) return *n;
  throw InputError("", "", "expected an integer, found " + v.dump());
}

template <typename T>
T IntegerOr(const json& r, const char* key, T fallback) {
  const auto it = r.find(key);
  return it == r.end() ? fallback : Integer<T>(*it);
}

struct LogRow {
  int64_t run_id;
  std::string path;
  int64_t collected;
};

std::vector<LogRow> Logs(const Connection& db, const std::optional<std::string>& experiment) {
  Statement select = db.Prepare(
      "SELECT l.run_id, l.path, l.collected FROM run_logs l JOIN runs r ON r.id = l.run_id "
      "JOIN experiments e ON e.id = r.experiment_id WHERE ?1 IS NULL OR e.name = ?1 "
      "ORDER BY l.run_id");
  if (experiment) {
    select.BindText(1, *experiment);
  } else {
    select.BindNull(1);
  }
  std::vector<LogRow> rows;
  while (select.Step())
    rows.push_back({select.ColumnInt(0), select.ColumnText(1), select.ColumnInt(2)});
  return rows;
}

// Applies one record of run `run_id`; returns the metric points it held.
int64_t Apply(Store& store, MetricWriter& writer, int64_t run_id, const json& r, bool& ended) {
  const Connection& db = store.connection();
  const std::string kind = r.value("t", "");
  const double time = r.value("time", UnixNow());
  if (kind == "start") {
    ended = false;
    db.Prepare(
          "UPDATE runs SET status = 'running', started_at = ?2, heartbeat_at = ?2, "
          "finished_at = NULL, error = NULL, host = ?3, pid = ?4, attempts = attempts + 1 "
          "WHERE id = ?1")
        .BindInt(1, run_id)
        .BindDouble(2, time)
        .BindText(3, r.value("host", ""))
        .BindInt(4, IntegerOr<int64_t>(r, "pid", 0))
        .Run();
  } else if (kind == "points") {
    int64_t n = 0;
    for (const auto& p : r.at("points")) {
      writer.Add(run_id, p.at(0).get<std::string>(), Integer<int64_t>(p.at(1)), PointValue(p.at(2)),
                 p.at(3).get<double>());
      ++n;
    }
    return n;
  } else if (kind == "final") {
    store.SetFinalMetric(run_id, r.at("name").get<std::string>(), r.at("value").get<double>(),
                         Integer<int64_t>(r.at("step")));
  } else if (kind == "outcomes") {
    const json& pairs = r.at("outcomes");
    if (!pairs.is_array()) throw InputError("", "", "example outcomes that are not a list");
    ExampleOutcomes outcomes;
    for (const json& pair : pairs) {
      if (!pair.is_array() || pair.size() != 2) {
        throw InputError(
            "", "",
            "an example outcome is not [numerator, denominator]: " + pair.dump().substr(0, 80));
      }
      outcomes.emplace_back(PointValue(pair[0]), PointValue(pair[1]));
    }
    store.SetExampleOutcomes(run_id, r.at("source").get<std::string>(),
                             Integer<int64_t>(r.at("replicate")), outcomes);
  } else if (kind == "artifact") {
    const auto& step = r.at("step");
    store.AddArtifact(
        run_id, r.at("kind").get<std::string>(), r.at("path").get<std::string>(),
        step.is_null() ? std::nullopt : std::optional<int64_t>(Integer<int64_t>(step)));
  } else if (kind == "provenance") {
    store.SetProvenance(
        run_id, {r.value("git_commit", ""), r.value("torch_version", ""), r.value("device", ""),
                 IntegerOr<int>(r, "world_size", 1), r.value("backend", "none"),
                 IntegerOr<int>(r, "ranks_per_node", 1)});
  } else if (kind == "heartbeat") {
    db.Prepare("UPDATE runs SET heartbeat_at = ?2 WHERE id = ?1 AND status = 'running'")
        .BindInt(1, run_id)
        .BindDouble(2, time)
        .Run();
  } else if (kind == "end") {
    const auto status = ParseStatus(r.at("status").get<std::string>());
    if (!status || !IsFinal(*status)) {
      throw InputError("", "", "a run's end with status " + r.at("status").dump());
    }
    ended = true;
    db.Prepare(
          "UPDATE runs SET status = ?2, finished_at = ?3, heartbeat_at = ?3, "
          "error = NULLIF(?4, '') WHERE id = ?1")
        .BindInt(1, run_id)
        .BindText(2, std::string(StatusName(*status)))
        .BindDouble(3, time)
        .BindText(4, r.value("reason", ""))
        .Run();
    // The task is done with the run: a later `ablate run` may hand it to a new one.
    db.Prepare("DELETE FROM remote_tasks WHERE run_id = ?1").BindInt(1, run_id).Run();
  } else if (kind == "requeue") {
    // The scheduler requeued the task at its time limit: the run waits for its next job, still
    // its own.
    db.Prepare(
          "UPDATE runs SET status = 'queued', heartbeat_at = ?2, pid = NULL, error = ?3 "
          "WHERE id = ?1")
        .BindInt(1, run_id)
        .BindDouble(2, time)
        .BindText(3, r.value("reason", ""))
        .Run();
  }
  // Unknown kinds come from a newer ablate: left for it, not an error.
  return 0;
}

}  // namespace

CollectResult Collect(Store& store, const std::optional<std::string>& experiment) {
  CollectResult result;
  const Connection& db = store.connection();
  for (const auto& log : Logs(db, experiment)) {
    RunLogRead read;
    try {
      read = ReadRunLog(log.path, static_cast<uint64_t>(log.collected));
    } catch (const std::exception& e) {
      result.problems.push_back(e.what());
      continue;
    }
    result.skipped += read.skipped;
    if (read.end == static_cast<uint64_t>(log.collected)) continue;
    Transaction transaction(db);
    MetricWriter writer = store.Metrics();
    bool ended = false;
    {
      Statement current = db.Prepare("SELECT ended FROM run_logs WHERE run_id = ?1");
      current.BindInt(1, log.run_id);
      if (current.Step()) ended = current.ColumnInt(0) != 0;
    }
    try {
      for (const auto& record : read.records) {
        result.points += Apply(store, writer, log.run_id, record, ended);
        ++result.records;
      }
    } catch (const std::exception& e) {
      result.problems.push_back(log.path +
                                ": a record is not what this ablate expects: " + e.what());
      continue;  // the transaction rolls back; the log stays where it was
    }
    writer.Flush();
    db.Prepare(
          "UPDATE run_logs SET collected = ?2, collected_at = ?3, ended = ?4 WHERE run_id = ?1")
        .BindInt(1, log.run_id)
        .BindInt(2, static_cast<int64_t>(read.end))
        .BindDouble(3, UnixNow())
        .BindInt(4, ended ? 1 : 0)
        .Run();
    transaction.Commit();
    ++result.logs;
  }
  return result;
}

bool HasRunLogs(const Connection& connection, const std::optional<std::string>& experiment) {
  if (!connection.HasTable("run_logs")) return false;
  Statement select = connection.Prepare(
      "SELECT EXISTS (SELECT 1 FROM run_logs l JOIN runs r ON r.id = l.run_id JOIN experiments e "
      "ON e.id = r.experiment_id WHERE ?1 IS NULL OR e.name = ?1)");
  if (experiment) {
    select.BindText(1, *experiment);
  } else {
    select.BindNull(1);
  }
  select.Step();
  return select.ColumnInt(0) != 0;
}

std::vector<std::string> ExperimentsWithRunLogs(const Connection& connection) {
  Statement names = connection.Prepare(
      "SELECT DISTINCT e.name FROM experiments e JOIN runs r ON r.experiment_id = e.id JOIN "
      "run_logs l ON l.run_id = r.id ORDER BY e.id");
  std::vector<std::string> out;
  while (names.Step()) out.push_back(names.ColumnText(0));
  return out;
}

void RegisterRemoteTask(Store& store, const std::string& backend, int64_t run_id,
                        const std::filesystem::path& log, const std::string& job_id, int task) {
  const Connection& db = store.connection();
  Transaction transaction(db);
  db.Prepare(
        "INSERT INTO run_logs (run_id, path) VALUES (?1, ?2) ON CONFLICT (run_id) DO UPDATE SET "
        "path = excluded.path WHERE path != excluded.path")
      .BindInt(1, run_id)
      .BindText(2, log.string())
      .Run();
  db.Prepare(
        "DELETE FROM remote_tasks WHERE run_id = ?1 OR (backend = ?2 AND job_id = ?3 AND task = "
        "?4)")
      .BindInt(1, run_id)
      .BindText(2, backend)
      .BindText(3, job_id)
      .BindInt(4, task)
      .Run();
  db.Prepare(
        "INSERT INTO remote_tasks (backend, job_id, task, run_id, submitted_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)")
      .BindText(1, backend)
      .BindText(2, job_id)
      .BindInt(3, task)
      .BindInt(4, run_id)
      .BindDouble(5, UnixNow())
      .Run();
  transaction.Commit();
}

std::vector<PendingRemoteRun> PendingRemoteRuns(const Store& store, const std::string& backend,
                                                const std::string& experiment) {
  Statement select = store.connection().Prepare(
      "SELECT r.id, r.key, t.job_id, t.task FROM remote_tasks t JOIN runs r ON r.id = t.run_id "
      "JOIN experiments e ON e.id = r.experiment_id LEFT JOIN run_logs l ON l.run_id = r.id "
      "WHERE t.backend = ?1 AND e.name = ?2 AND r.status IN ('queued', 'running') AND "
      "COALESCE(l.ended, 0) = 0 ORDER BY r.id");
  select.BindText(1, backend);
  select.BindText(2, experiment);
  std::vector<PendingRemoteRun> out;
  while (select.Step()) {
    out.push_back({select.ColumnInt(0), select.ColumnText(1), select.ColumnText(2),
                   static_cast<int>(select.ColumnInt(3))});
  }
  return out;
}

void MarkTaskLost(Store& store, int64_t run_id, const std::string& reason) {
  const Connection& db = store.connection();
  Transaction transaction(db);
  db.Prepare(
        "UPDATE runs SET status = 'interrupted', finished_at = ?2, error = ?3 WHERE id = ?1 AND "
        "status IN ('queued', 'running')")
      .BindInt(1, run_id)
      .BindDouble(2, UnixNow())
      .BindText(3, reason)
      .Run();
  db.Prepare("DELETE FROM remote_tasks WHERE run_id = ?1").BindInt(1, run_id).Run();
  transaction.Commit();
}

}  // namespace ablate::results

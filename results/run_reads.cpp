#include "results/run_reads.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "results/metric_names.h"
#include "results/run_status.h"
#include "results/sqlite.h"
#include "results/store.h"

namespace ablate::results {
namespace {

// A list bound as one JSON array parameter: `x IN (SELECT value FROM json_each(?N))`.
template <typename Items>
std::string JsonList(const Items& items) {
  return nlohmann::json(items).dump();
}

Connection OpenForReading(const std::string& db_path) {
  if (!std::filesystem::exists(db_path)) throw InputError("no such database: " + db_path);
  return Connection::Open(db_path, Connection::Mode::kReadOnly);
}

}  // namespace

std::vector<RunRecord> ReadRunRecords(const std::string& db_path,
                                      const std::set<std::string>& experiments,
                                      const std::set<std::string>& metrics) {
  const Connection db = OpenForReading(db_path);
  const std::string names = JsonList(experiments);
  std::vector<RunRecord> runs;
  std::unordered_map<int64_t, size_t> index;
  {
    Statement s = db.Prepare(
        "SELECT run_id, experiment, key, status FROM run_info "
        "WHERE experiment IN (SELECT value FROM json_each(?1)) ORDER BY run_id");
    s.BindText(1, names);
    while (s.Step()) {
      index[s.ColumnInt(0)] = runs.size();
      runs.push_back({s.ColumnInt(0), s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), {}, {}});
    }
  }
  {
    Statement s = db.Prepare(
        "SELECT run_id, name, value FROM run_params "
        "WHERE experiment IN (SELECT value FROM json_each(?1))");
    s.BindText(1, names);
    while (s.Step()) {
      auto it = index.find(s.ColumnInt(0));
      if (it == index.end()) continue;
      ParamValue v;
      const int type = s.ColumnType(2);
      if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        v.is_number = true;
        v.number = s.ColumnDouble(2);
      } else {
        v.text = s.ColumnText(2);
      }
      runs[it->second].params.emplace(s.ColumnText(1), std::move(v));
    }
  }
  if (!metrics.empty()) {
    Statement s = db.Prepare(
        "SELECT run_id, name, value FROM run_finals "
        "WHERE experiment IN (SELECT value FROM json_each(?1)) "
        "AND name IN (SELECT value FROM json_each(?2))");
    s.BindText(1, names).BindText(2, JsonList(metrics));
    while (s.Step()) {
      auto it = index.find(s.ColumnInt(0));
      if (it == index.end() || s.ColumnIsNull(2)) continue;
      runs[it->second].finals[s.ColumnText(1)] = s.ColumnDouble(2);
    }
  }
  return runs;
}

std::unordered_map<int64_t, Series> ReadSeries(const std::string& db_path,
                                               const std::vector<int64_t>& run_ids,
                                               const std::string& name) {
  std::unordered_map<int64_t, Series> series;
  if (run_ids.empty()) return series;
  const Connection db = OpenForReading(db_path);
  Statement s = db.Prepare(
      "SELECT run_id, step, value FROM metrics WHERE name = ?1 AND value IS NOT NULL "
      "AND run_id IN (SELECT value FROM json_each(?2))");
  s.BindText(1, name).BindText(2, JsonList(run_ids));
  while (s.Step()) series[s.ColumnInt(0)].emplace_back(s.ColumnInt(1), s.ColumnDouble(2));
  for (auto& [id, points] : series) {
    if (!std::is_sorted(points.begin(), points.end())) std::sort(points.begin(), points.end());
  }
  return series;
}

std::map<int64_t, std::map<int64_t, ExampleOutcomes>> ReadExampleOutcomes(
    const std::string& db_path, const std::vector<int64_t>& run_ids, const std::string& source) {
  std::map<int64_t, std::map<int64_t, ExampleOutcomes>> out;
  if (run_ids.empty()) return out;
  const Connection db = OpenForReading(db_path);
  if (!db.HasTable("example_outcomes")) return out;
  Statement s = db.Prepare(
      "SELECT run_id, replicate, outcomes FROM example_outcomes WHERE source = ?1 "
      "AND run_id IN (SELECT value FROM json_each(?2))");
  s.BindText(1, source).BindText(2, JsonList(run_ids));
  while (s.Step()) {
    const int64_t run_id = s.ColumnInt(0), replicate = s.ColumnInt(1);
    try {
      out[run_id][replicate] = DecodeExampleOutcomes(s.ColumnBlob(2));
    } catch (const InputError& e) {
      throw InputError(db_path, "",
                       "run " + std::to_string(run_id) + ", " + source + ", replicate " +
                           std::to_string(replicate) + ": " + e.message());
    }
  }
  return out;
}

ResultSet ReadStatusTable(const std::string& db_path) {
  const Connection db = OpenForReading(db_path);
  // One column per status, in lifecycle order, counted with bound status names.
  std::string sql = "SELECT e.name AS experiment";
  const RunStatus statuses[] = {RunStatus::kQueued, RunStatus::kRunning,  RunStatus::kCompleted,
                                RunStatus::kFailed, RunStatus::kDiverged, RunStatus::kInterrupted};
  for (size_t i = 0; i < std::size(statuses); ++i) {
    sql += ", SUM(r.status = ?" + std::to_string(i + 1) + ") AS \"" +
           std::string(StatusName(statuses[i])) + "\"";
  }
  sql +=
      ", COUNT(r.id) AS total FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id "
      "GROUP BY e.id ORDER BY e.id";
  Statement s = db.Prepare(sql);
  for (size_t i = 0; i < std::size(statuses); ++i)
    s.BindText(static_cast<int>(i + 1), StatusName(statuses[i]));
  ResultSet set;
  for (int c = 0; c < s.ColumnCount(); ++c) set.columns.push_back(s.ColumnName(c));
  while (s.Step()) {
    std::vector<Value> row;
    row.reserve(static_cast<size_t>(s.ColumnCount()));
    row.emplace_back(std::in_place_type<std::string>, s.ColumnText(0));
    for (int c = 1; c < s.ColumnCount(); ++c)
      row.emplace_back(std::in_place_type<int64_t>, s.ColumnInt(c));
    set.rows.push_back(std::move(row));
  }
  return set;
}

ResultSet ReadRunsWide(const std::string& db_path, const std::set<std::string>& experiments) {
  const Connection db = OpenForReading(db_path);
  Statement s = db.Prepare(
      "SELECT * FROM runs_wide WHERE experiment IN (SELECT value FROM json_each(?1)) ORDER BY "
      "run_id");
  s.BindText(1, JsonList(experiments));
  ResultSet set;
  for (int c = 0; c < s.ColumnCount(); ++c) set.columns.push_back(s.ColumnName(c));
  while (s.Step()) {
    std::vector<Value>& row = set.rows.emplace_back();
    for (int c = 0; c < s.ColumnCount(); ++c) row.push_back(ColumnValue(s, c));
  }
  return set;
}

RunDescription ReadRunByKey(const std::string& db_path, const std::string& key,
                            const std::optional<std::string>& experiment) {
  const Connection db = OpenForReading(db_path);
  Statement find = db.Prepare(
      "SELECT run_id, experiment, status, COALESCE(git_commit, ''), COALESCE(torch_version, ''), "
      "COALESCE(device, '') FROM run_info WHERE key = ?1 AND (?2 IS NULL OR experiment = ?2)");
  find.BindText(1, key);
  if (experiment) {
    find.BindText(2, *experiment);
  } else {
    find.BindNull(2);
  }
  if (!find.Step()) {
    throw InputError(db_path, "",
                     "no run " + key + (experiment ? " in experiment " + *experiment : ""));
  }
  RunDescription run;
  const int64_t id = find.ColumnInt(0);
  run.experiment = find.ColumnText(1);
  run.key = key;
  run.status = find.ColumnText(2);
  run.provenance = {{"git_commit", find.ColumnText(3)},
                    {"torch_version", find.ColumnText(4)},
                    {"device", find.ColumnText(5)}};
  if (find.Step()) {
    throw InputError(db_path, "",
                     "run key " + key + " is in several experiments (" + run.experiment + ", " +
                         find.ColumnText(1) + "): name one with --experiment");
  }
  run.params = ReadRunParams(db, id);
  Statement dir = db.Prepare(
      "SELECT path FROM artifacts WHERE run_id = ?1 AND kind = 'run_dir' ORDER BY id DESC LIMIT 1");
  dir.BindInt(1, id);
  if (dir.Step()) run.run_dir = dir.ColumnText(0);
  Statement finals = db.Prepare("SELECT name, value FROM final_metrics WHERE run_id = ?1");
  finals.BindInt(1, id);
  while (finals.Step()) {
    if (!finals.ColumnIsNull(1)) run.finals[finals.ColumnText(0)] = finals.ColumnDouble(1);
  }
  return run;
}

std::vector<RunDirectory> ReadRunDirectories(const std::string& db_path) {
  const Connection db = OpenForReading(db_path);
  Statement dirs = db.Prepare(
      "SELECT i.experiment, i.key, a.path FROM artifacts a JOIN run_info i ON i.run_id = a.run_id "
      "WHERE a.kind = 'run_dir' ORDER BY a.run_id, a.id");
  std::vector<RunDirectory> out;
  while (dirs.Step()) out.push_back({dirs.ColumnText(0), dirs.ColumnText(1), dirs.ColumnText(2)});
  return out;
}

std::vector<ExperimentProgress> ReadProgress(const std::string& db_path) {
  const Connection db = OpenForReading(db_path);
  std::vector<ExperimentProgress> out;
  Statement experiments = db.Prepare(
      "SELECT e.id, e.name, sum(r.status IN ('completed', 'failed', 'diverged')), "
      "sum(r.status = 'running'), sum(r.status IN ('queued', 'interrupted')) FROM experiments e "
      "JOIN runs r ON r.experiment_id = e.id GROUP BY e.id HAVING sum(r.status IN ('queued', "
      "'interrupted', 'running')) > 0 ORDER BY e.id");
  // Per unfinished run: steps to go, and tokens per update so far (when it has trained).
  Statement runs = db.Prepare(
      "SELECT r.id, r.status, COALESCE((SELECT p.value FROM params p WHERE p.run_id = r.id AND "
      "p.name = 'train.steps'), 0), (SELECT m.step FROM metrics m WHERE m.run_id = r.id AND "
      "m.name = ?2 ORDER BY m.step DESC LIMIT 1), (SELECT m.value FROM metrics m WHERE m.run_id = "
      "r.id AND m.name = ?2 ORDER BY m.step DESC LIMIT 1) FROM runs r WHERE r.experiment_id = ?1 "
      "AND r.status IN ('queued', 'interrupted', 'running')");
  Statement finished_rate = db.Prepare(
      "SELECT avg(f.value) FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE "
      "r.experiment_id = ?1 AND f.name = ?2");
  Statement recent = db.Prepare(
      "SELECT avg(value) FROM (SELECT m.value FROM metrics m WHERE m.run_id = ?1 AND m.name = ?2 "
      "ORDER BY m.step DESC LIMIT 10)");
  while (experiments.Step()) {
    ExperimentProgress p;
    const int64_t experiment_id = experiments.ColumnInt(0);
    p.experiment = experiments.ColumnText(1);
    p.done = experiments.ColumnInt(2);
    p.running = experiments.ColumnInt(3);
    p.left = experiments.ColumnInt(4);
    struct ToGo {
      double steps;
      std::optional<double> tokens_per_update;
    };
    std::vector<ToGo> to_go;
    double known_sum = 0;
    int known = 0;
    runs.Reset();
    runs.BindInt(1, experiment_id).BindText(2, metric::kTrainTokensSeen);
    while (runs.Step()) {
      const double steps = runs.ColumnDouble(2);
      ToGo t{steps, std::nullopt};
      if (!runs.ColumnIsNull(3) && runs.ColumnInt(3) > 0) {
        const double step = runs.ColumnDouble(3);
        t.steps = std::max(0.0, steps - step);
        t.tokens_per_update = runs.ColumnDouble(4) / step;
        known_sum += *t.tokens_per_update;
        ++known;
      }
      to_go.push_back(t);
      if (runs.ColumnText(1) == "running") {
        recent.Reset();
        recent.BindInt(1, runs.ColumnInt(0)).BindText(2, metric::kTrainTokensPerSecond);
        if (recent.Step() && !recent.ColumnIsNull(0)) p.tokens_per_second += recent.ColumnDouble(0);
      }
    }
    std::optional<double> mean;
    if (known > 0) mean = known_sum / known;
    finished_rate.Reset();
    finished_rate.BindInt(1, experiment_id).BindText(2, metric::kTrainTokensPerUpdate);
    if (!mean && finished_rate.Step() && !finished_rate.ColumnIsNull(0))
      mean = finished_rate.ColumnDouble(0);
    if (mean) {
      double tokens = 0;
      for (const auto& t : to_go) tokens += t.steps * t.tokens_per_update.value_or(*mean);
      p.tokens_left = tokens;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ReadOverrides(const std::string& db_path) {
  const Connection db = OpenForReading(db_path);
  Statement column =
      db.Prepare("SELECT count(*) FROM pragma_table_info('experiments') WHERE name = 'overrides'");
  column.Step();
  std::vector<std::pair<std::string, std::string>> out;
  if (column.ColumnInt(0) == 0) return out;
  Statement s =
      db.Prepare("SELECT name, overrides FROM experiments WHERE overrides != '{}' ORDER BY id");
  while (s.Step()) out.emplace_back(s.ColumnText(0), s.ColumnText(1));
  return out;
}

std::vector<RemoteJobRecord> ReadRemoteJobs(const std::string& db_path,
                                            const std::string& backend) {
  const Connection db = OpenForReading(db_path);
  // Readers do not migrate: before schema v6 the only remote jobs were Slurm's job arrays.
  Statement s = db.Prepare(db.HasTable("remote_jobs")
                               ? "SELECT e.name, j.job_id, j.tasks FROM remote_jobs j JOIN "
                                 "experiments e ON e.id = j.experiment_id WHERE j.backend = ?1 "
                                 "ORDER BY j.id"
                               : "SELECT e.name, j.job_id, j.tasks FROM slurm_arrays j JOIN "
                                 "experiments e ON e.id = j.experiment_id WHERE ?1 = 'slurm' "
                                 "ORDER BY j.id");
  s.BindText(1, backend);
  std::vector<RemoteJobRecord> jobs;
  while (s.Step()) jobs.push_back({s.ColumnText(0), s.ColumnText(1), s.ColumnInt(2)});
  return jobs;
}

}  // namespace ablate::results

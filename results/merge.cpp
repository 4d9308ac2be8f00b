#include "results/merge.h"

#include <map>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/number_text.h"
#include "results/run_status.h"
#include "results/schema.h"
#include "results/sqlite.h"

namespace ablate::results {

namespace {

// How far a run has come: a run keeps the furthest of its copies' states.
int Progress(const std::string& status) {
  if (status == "completed") return 4;
  if (status == "failed" || status == "diverged") return 3;
  if (status == "interrupted") return 2;
  if (status == "running") return 1;
  return 0;
}

// The columns of `runs` a merge carries, in this order; older schemas lack the last three.
const std::vector<std::string> kRunColumns = {
    "status",        "created_at", "started_at", "finished_at", "heartbeat_at",
    "host",          "pid",        "attempts",   "error",       "git_commit",
    "torch_version", "device",     "world_size", "backend",     "ranks_per_node"};

std::set<std::string> Columns(const Connection& db, const std::string& table) {
  Statement info = db.Prepare("SELECT name FROM pragma_table_info(?1)");
  info.BindText(1, table);
  std::set<std::string> names;
  while (info.Step()) names.insert(info.ColumnText(0));
  return names;
}

// Copies column `from_column` of `from` into parameter `index` of `to`, keeping SQLite's type.
void BindColumn(Statement& to, int index, const Statement& from, int from_column) {
  switch (from.ColumnType(from_column)) {
    case SQLITE_INTEGER:
      to.BindInt(index, from.ColumnInt(from_column));
      break;
    case SQLITE_FLOAT:
      to.BindDouble(index, from.ColumnDouble(from_column));
      break;
    case SQLITE_NULL:
      to.BindNull(index);
      break;
    case SQLITE_BLOB:
      to.BindBlob(index, from.ColumnBlob(from_column));
      break;
    default:
      to.BindText(index, from.ColumnText(from_column));
  }
}

std::map<std::string, double> Finals(const Connection& db, int64_t run_id) {
  Statement select = db.Prepare("SELECT name, value FROM final_metrics WHERE run_id = ?1");
  select.BindInt(1, run_id);
  std::map<std::string, double> out;
  while (select.Step()) out[select.ColumnText(0)] = select.ColumnDouble(1);
  return out;
}

std::string Differences(const std::map<std::string, double>& a,
                        const std::map<std::string, double>& b) {
  std::string out;
  int shown = 0;
  for (const auto& [name, value] : a) {
    auto other = b.find(name);
    if (other != b.end() && other->second == value) continue;
    if (++shown > 3) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "" : ", ") + name + " " + ShortestText(value) + " vs " +
           (other == b.end() ? std::string("none") : ShortestText(other->second));
  }
  return out;
}

}  // namespace

MergeResult Merge(Store& into, const std::string& source, MergePrefer prefer) {
  const Connection src = Connection::Open(source, Connection::Mode::kReadOnly);
  const int version = SchemaVersion(src);
  if (version < 1 || version > LatestSchemaVersion()) {
    throw InputError(source, "",
                     version < 1
                         ? "not an ablate results database"
                         : "written by a newer ablate (schema v" + std::to_string(version) + ")");
  }
  const Connection& db = into.connection();
  MergeResult result;
  Transaction transaction(db);
  std::set<std::string> param_names, final_names;
  // Schema v5 added per-example outcomes; an older source has none to copy.
  const bool has_outcomes = !Columns(src, "example_outcomes").empty();

  // Experiments by name.
  std::map<int64_t, int64_t> experiment_ids;  // source id -> destination id
  Statement experiments = src.Prepare(
      "SELECT id, name, description, grid_json, grid_sha256, created_at, updated_at FROM "
      "experiments ORDER BY id");
  while (experiments.Step()) {
    Statement find = db.Prepare("SELECT id FROM experiments WHERE name = ?1");
    find.BindText(1, experiments.ColumnText(1));
    if (find.Step()) {
      experiment_ids[experiments.ColumnInt(0)] = find.ColumnInt(0);
      continue;
    }
    Statement insert = db.Prepare(
        "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
    for (int i = 1; i <= 6; ++i) BindColumn(insert, i, experiments, i);
    insert.Step();
    experiment_ids[experiments.ColumnInt(0)] = insert.ColumnInt(0);
    ++result.experiments_added;
  }

  // Runs by (experiment, key).
  const std::set<std::string> present = Columns(src, "runs");
  std::string select_sql = "SELECT r.id, r.experiment_id, r.key, e.name";
  for (const auto& column : kRunColumns)
    select_sql += present.count(column) ? ", r." + column : ", NULL";
  select_sql += " FROM runs r JOIN experiments e ON e.id = r.experiment_id ORDER BY r.id";
  Statement runs = src.Prepare(select_sql);
  constexpr int kFirstRunColumn = 4;
  std::string set_sql;
  for (size_t i = 0; i < kRunColumns.size(); ++i) {
    set_sql += (i ? ", " : "") + kRunColumns[i] + " = ?" + std::to_string(i + 2);
  }
  while (runs.Step()) {
    const int64_t src_run = runs.ColumnInt(0);
    const int64_t experiment = experiment_ids.at(runs.ColumnInt(1));
    const std::string key = runs.ColumnText(2);
    const std::string label = runs.ColumnText(3) + "/" + key;
    const std::string src_status = runs.ColumnText(kFirstRunColumn);
    Statement find = db.Prepare(
        "SELECT id, status, COALESCE(finished_at, 0) FROM runs WHERE experiment_id = ?1 AND "
        "key = ?2");
    find.BindInt(1, experiment).BindText(2, key);
    int64_t run_id = 0;
    bool take_source = false, replace_finals = false;
    if (!find.Step()) {
      Statement insert = db.Prepare(
          "INSERT INTO runs (experiment_id, key, created_at) VALUES (?1, ?2, 0) RETURNING id");
      insert.BindInt(1, experiment).BindText(2, key);
      insert.Step();
      run_id = insert.ColumnInt(0);
      insert.Reset();
      take_source = true;
      ++result.runs_added;
      Statement params = src.Prepare("SELECT name, value, type FROM params WHERE run_id = ?1");
      params.BindInt(1, src_run);
      while (params.Step()) {
        Statement add =
            db.Prepare("INSERT INTO params (run_id, name, value, type) VALUES (?1, ?2, ?3, ?4)");
        add.BindInt(1, run_id).BindText(2, params.ColumnText(0));
        BindColumn(add, 3, params, 1);
        add.BindText(4, params.ColumnText(2));
        add.Run();
        param_names.insert(params.ColumnText(0));
      }
    } else {
      run_id = find.ColumnInt(0);
      const std::string dest_status = find.ColumnText(1);
      const double dest_finished = find.ColumnDouble(2);
      if (Progress(src_status) > Progress(dest_status)) {
        take_source = replace_finals = true;
        ++result.runs_advanced;
      } else if (src_status == "completed" && dest_status == "completed") {
        const auto mine = Finals(db, run_id), theirs = Finals(src, src_run);
        if (mine != theirs) {
          const double src_finished = runs.ColumnType(kFirstRunColumn + 3) == SQLITE_NULL
                                          ? 0
                                          : runs.ColumnDouble(kFirstRunColumn + 3);
          const bool newest_is_source = src_finished > dest_finished;
          take_source = replace_finals = prefer == MergePrefer::kNewest && newest_is_source;
          result.conflicts.push_back(label + ": completed in both with different final metrics (" +
                                     Differences(mine, theirs) + "); kept the " +
                                     (prefer == MergePrefer::kNewest ? "newest" : "first") +
                                     " copy, from " +
                                     (take_source ? source : std::string("the destination")));
        }
      }
    }
    if (take_source) {
      Statement update = db.Prepare("UPDATE runs SET " + set_sql + " WHERE id = ?1");
      update.BindInt(1, run_id);
      for (size_t i = 0; i < kRunColumns.size(); ++i) {
        BindColumn(update, static_cast<int>(i + 2), runs, kFirstRunColumn + static_cast<int>(i));
      }
      update.Run();
    }
    if (replace_finals) {
      db.Prepare("DELETE FROM final_metrics WHERE run_id = ?1").BindInt(1, run_id).Run();
      // The outcomes behind the finals go with them: kept, they would not add up to the new ones.
      db.Prepare("DELETE FROM example_outcomes WHERE run_id = ?1").BindInt(1, run_id).Run();
    }
    // Final metrics: kept where the destination has none of that name.
    Statement finals =
        src.Prepare("SELECT name, value, step, time FROM final_metrics WHERE run_id = ?1");
    finals.BindInt(1, src_run);
    while (finals.Step()) {
      Statement add = db.Prepare(
          "INSERT INTO final_metrics (run_id, name, value, step, time) VALUES (?1, ?2, ?3, ?4, "
          "?5) ON CONFLICT (run_id, name) DO NOTHING");
      add.BindInt(1, run_id).BindText(2, finals.ColumnText(0));
      BindColumn(add, 3, finals, 1);
      BindColumn(add, 4, finals, 2);
      BindColumn(add, 5, finals, 3);
      add.Run();
      if (db.Changes() > 0) ++result.finals_added;
      final_names.insert(finals.ColumnText(0));
    }
    // Per-example outcomes, as the finals: kept where the destination has none of that (source,
    // replicate). The encoded bytes are copied as they are.
    if (has_outcomes) {
      Statement outcomes = src.Prepare(
          "SELECT source, replicate, examples, outcomes FROM example_outcomes WHERE run_id = ?1");
      outcomes.BindInt(1, src_run);
      while (outcomes.Step()) {
        Statement add = db.Prepare(
            "INSERT INTO example_outcomes (run_id, source, replicate, examples, outcomes) VALUES "
            "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, source, replicate) DO NOTHING");
        add.BindInt(1, run_id).BindText(2, outcomes.ColumnText(0));
        for (int i = 1; i <= 3; ++i) BindColumn(add, i + 2, outcomes, i);
        add.Run();
        if (db.Changes() > 0) ++result.outcomes_added;
      }
    }
    // Artifacts, as recorded.
    Statement artifacts =
        src.Prepare("SELECT kind, path, step, created_at FROM artifacts WHERE run_id = ?1");
    artifacts.BindInt(1, src_run);
    while (artifacts.Step()) {
      Statement add = db.Prepare(
          "INSERT INTO artifacts (run_id, kind, path, step, created_at) VALUES (?1, ?2, ?3, ?4, "
          "?5) ON CONFLICT (run_id, kind, path) DO NOTHING");
      add.BindInt(1, run_id)
          .BindText(2, artifacts.ColumnText(0))
          .BindText(3, artifacts.ColumnText(1));
      BindColumn(add, 4, artifacts, 2);
      BindColumn(add, 5, artifacts, 3);
      add.Run();
    }
    // Metric points united by (name, step): the destination's stay, the others are added.
    std::set<std::pair<std::string, int64_t>> have;
    {
      Statement mine = db.Prepare("SELECT name, step FROM metrics WHERE run_id = ?1");
      mine.BindInt(1, run_id);
      while (mine.Step()) have.emplace(mine.ColumnText(0), mine.ColumnInt(1));
    }
    MetricWriter writer = into.Metrics();
    Statement points = src.Prepare(
        "SELECT name, step, value, time FROM metrics WHERE run_id = ?1 ORDER BY "
        "name, step");
    points.BindInt(1, src_run);
    while (points.Step()) {
      if (have.count({points.ColumnText(0), points.ColumnInt(1)})) continue;
      const double value = points.ColumnType(2) == SQLITE_NULL
                               ? std::numeric_limits<double>::quiet_NaN()
                               : points.ColumnDouble(2);
      writer.Add(run_id, points.ColumnText(0), points.ColumnInt(1), value, points.ColumnDouble(3));
      ++result.points_added;
    }
    writer.Flush();
  }
  into.CommitKeepingWideView(transaction, param_names, final_names);
  return result;
}

}  // namespace ablate::results

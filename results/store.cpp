#include "results/store.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "base/hash.h"
#include "results/clock.h"
#include "results/schema.h"

namespace ablate::results {
namespace {

using nlohmann::json;

// Names become SQL string literals and identifiers in runs_wide's definition, where a NUL would
// cut the statement short.
void CheckName(const std::string& name, const std::string& source, const std::string& path,
               std::string_view what) {
  if (name.empty()) throw InputError(source, path, std::string(what) + " must not be empty");
  if (name.find('\0') != std::string::npos) {
    throw InputError(source, path, std::string(what) + " must not contain a NUL character");
  }
}

// The params.type of a value, or InputError when it is not a flat scalar.
const char* ParamType(const json& value, const std::string& source, const std::string& path) {
  switch (value.type()) {
    case json::value_t::number_integer:
      return "int";
    case json::value_t::number_unsigned:
      if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw InputError(source, path, "integer " + value.dump() + " does not fit in 64 bits");
      }
      return "int";
    case json::value_t::number_float:
      return "float";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "bool";
    default:
      throw InputError(source, path,
                       std::string("param must be a number, string or boolean, got ") +
                           value.type_name() + " " + value.dump());
  }
}

void BindParamValue(Statement& statement, int index, const json& value) {
  switch (value.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      statement.BindInt(index, value.get<int64_t>());
      break;
    case json::value_t::number_float:
      statement.BindDouble(index, value.get<double>());
      break;
    case json::value_t::string:
      statement.BindText(index, value.get_ref<const std::string&>());
      break;
    case json::value_t::boolean:
      statement.BindInt(index, value.get<bool>() ? 1 : 0);
      break;
    default:
      ABLATE_CHECK(false, "param value was not validated: " + value.dump());
  }
}

// Checks every run before the transaction starts, so a bad submission touches nothing.
void ValidateSubmission(const ExperimentSubmission& submission) {
  const std::string source = "experiment '" + submission.name + "'";
  CheckName(submission.name, source, "/name", "experiment name");
  std::set<std::string_view> keys;
  for (size_t i = 0; i < submission.runs.size(); ++i) {
    const RunSubmission& run = submission.runs[i];
    const std::string run_path = "/runs/" + std::to_string(i);
    CheckName(run.key, source, run_path + "/key", "run key");
    if (!keys.insert(run.key).second) {
      throw InputError(source, run_path + "/key", "run key '" + run.key + "' is given twice");
    }
    if (run.params.is_null()) continue;
    if (!run.params.is_object()) {
      throw InputError(source, run_path + "/params",
                       std::string("params must be an object, got ") + run.params.type_name());
    }
    for (const auto& [name, value] : run.params.items()) {
      const std::string param_path = run_path + "/params/" + name;
      CheckName(name, source, param_path, "param name");
      ParamType(value, source, param_path);
      if (value.is_number_float() && !std::isfinite(value.get<double>())) {
        throw InputError(source, param_path, "param must be finite, got " + value.dump());
      }
    }
  }
}

// ---- runs_wide ----------------------------------------------------------------------------------
//
// SQLite cannot pivot at query time, so runs_wide is generated SQL: the run_info columns, then one
// column per param name, then one per final-metric name, each a correlated subquery on the table's
// primary key. A param named like a run_info column becomes "param:NAME"; a final metric named like
// a run_info column or a param becomes "final:NAME"; a clash that remains gets ":2", ":3", ...
// SQLite column names are ASCII case-insensitive, so clashes are too. Its limit of 2000 columns
// bounds the number of distinct names.

struct WideNames {
  std::set<std::string> params;
  std::set<std::string> finals;
};

struct WideColumn {
  std::string column;
  std::string name;
  bool is_param;
};

std::set<std::string> DistinctNames(const Connection& connection, std::string_view table) {
  Statement select = connection.Prepare("SELECT DISTINCT name FROM " + std::string(table));
  std::set<std::string> names;
  while (select.Step()) names.insert(select.ColumnText(0));
  return names;
}

WideNames LoadWideNames(const Connection& connection) {
  return {DistinctNames(connection, "params"), DistinctNames(connection, "final_metrics")};
}

std::vector<std::string> ViewColumns(const Connection& connection, std::string_view view) {
  Statement info = connection.Prepare("SELECT name FROM pragma_table_info(?1)");
  info.BindText(1, view);
  std::vector<std::string> columns;
  while (info.Step()) columns.push_back(info.ColumnText(0));
  return columns;
}

std::string AsciiLower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Two passes, so that every name that can be its own column is, whatever the sort order: a metric
// literally named "final:lr" keeps that column, and a clashing final "lr" becomes "final:lr:2".
std::vector<WideColumn> PlanWideColumns(const std::vector<std::string>& base,
                                        const WideNames& names) {
  std::vector<WideColumn> columns;
  for (const std::string& name : names.params) columns.push_back({"", name, true});
  for (const std::string& name : names.finals) columns.push_back({"", name, false});
  std::set<std::string> taken;
  for (const std::string& column : base) taken.insert(AsciiLower(column));
  for (WideColumn& column : columns) {
    if (taken.insert(AsciiLower(column.name)).second) column.column = column.name;
  }
  for (WideColumn& column : columns) {
    if (!column.column.empty()) continue;
    const std::string prefixed = (column.is_param ? "param:" : "final:") + column.name;
    column.column = prefixed;
    for (int n = 2; !taken.insert(AsciiLower(column.column)).second; ++n) {
      column.column = prefixed + ":" + std::to_string(n);
    }
  }
  return columns;
}

std::vector<std::string> ExpectedWideColumns(const std::vector<std::string>& base,
                                             const WideNames& names) {
  std::vector<std::string> expected = base;
  for (const WideColumn& column : PlanWideColumns(base, names)) expected.push_back(column.column);
  return expected;
}

std::string Quote(std::string_view text, char quote) {
  std::string quoted(1, quote);
  for (char c : text) {
    if (c == quote) quoted += quote;
    quoted += c;
  }
  return quoted + quote;
}

std::string QuoteIdentifier(std::string_view name) { return Quote(name, '"'); }
std::string QuoteLiteral(std::string_view text) { return Quote(text, '\''); }

// Drops and recreates runs_wide from the names now in the database (not only this process's:
// another one may have added names), inside the caller's write transaction. Returns the names.
WideNames RefreshWideView(const Connection& connection) {
  WideNames names = LoadWideNames(connection);
  const std::vector<std::string> base = ViewColumns(connection, "run_info");
  std::string sql = "CREATE VIEW runs_wide AS SELECT ";
  for (const std::string& column : base) sql += "i." + QuoteIdentifier(column) + ", ";
  for (const WideColumn& column : PlanWideColumns(base, names)) {
    sql += column.is_param ? "(SELECT p.value FROM params p WHERE p.run_id = i.run_id AND p.name = "
                           : "(SELECT f.value FROM final_metrics f WHERE f.run_id = i.run_id AND "
                             "f.name = ";
    sql += QuoteLiteral(column.name) + ") AS " + QuoteIdentifier(column.column) + ", ";
  }
  sql.resize(sql.size() - 2);  // the last ", "
  sql += " FROM run_info i";
  connection.Exec("DROP VIEW IF EXISTS runs_wide");
  connection.Exec(sql);
  return names;
}

}  // namespace

json ReadRunParams(const Connection& db, int64_t run_id) {
  Statement params = db.Prepare("SELECT name, value, type FROM params WHERE run_id = ?1");
  params.BindInt(1, run_id);
  json out = json::object();
  while (params.Step()) {
    const std::string type = params.ColumnText(2);
    auto& slot = out[params.ColumnText(0)];
    if (type == "int") {
      slot = params.ColumnInt(1);
    } else if (type == "float") {
      slot = params.ColumnDouble(1);
    } else if (type == "bool") {
      slot = params.ColumnInt(1) != 0;
    } else {
      slot = params.ColumnText(1);
    }
  }
  return out;
}

Store::Store(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}

Store Store::Open(const std::string& path) {
  auto connection =
      std::make_shared<Connection>(Connection::Open(path, Connection::Mode::kReadWrite));
  Migrate(*connection);
  Store store(std::move(connection));
  const Connection& db = *store.connection_;
  // A fresh database, one from an older build or one whose view another tool replaced: rebuild
  // when the view's columns are not the ones its names call for.
  WideNames names = LoadWideNames(db);
  if (ViewColumns(db, "runs_wide") != ExpectedWideColumns(ViewColumns(db, "run_info"), names)) {
    Transaction transaction(db);
    names = RefreshWideView(db);
    transaction.Commit();
  }
  store.known_params_ = std::move(names.params);
  store.known_finals_ = std::move(names.finals);
  return store;
}

void Store::CommitKeepingWideView(Transaction& transaction, const std::set<std::string>& params,
                                  const std::set<std::string>& finals) {
  if (std::includes(known_params_.begin(), known_params_.end(), params.begin(), params.end()) &&
      std::includes(known_finals_.begin(), known_finals_.end(), finals.begin(), finals.end())) {
    transaction.Commit();
    return;
  }
  WideNames names = RefreshWideView(*connection_);
  transaction.Commit();
  known_params_ = std::move(names.params);
  known_finals_ = std::move(names.finals);
}

SubmitResult Store::Submit(const ExperimentSubmission& submission) {
  ValidateSubmission(submission);
  const Connection& db = *connection_;
  const double now = UnixNow();
  const std::string grid_sha256 = Sha256Hex(submission.grid_json);
  SubmitResult result;

  Transaction transaction(db);
  Statement find =
      db.Prepare("SELECT id, grid_sha256, description FROM experiments WHERE name = ?1");
  find.BindText(1, submission.name);
  if (find.Step()) {
    result.experiment_id = find.ColumnInt(0);
    result.grid_changed = find.ColumnText(1) != grid_sha256;
    if (result.grid_changed || find.ColumnText(2) != submission.description) {
      db.Prepare(
            "UPDATE experiments SET description = ?2, grid_json = ?3, grid_sha256 = ?4, "
            "updated_at = ?5 WHERE id = ?1")
          .BindInt(1, result.experiment_id)
          .BindText(2, submission.description)
          .BindText(3, submission.grid_json)
          .BindText(4, grid_sha256)
          .BindDouble(5, now)
          .Run();
    }
  } else {
    Statement insert = db.Prepare(
        "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id");
    insert.BindText(1, submission.name)
        .BindText(2, submission.description)
        .BindText(3, submission.grid_json)
        .BindText(4, grid_sha256)
        .BindDouble(5, now)
        .Step();
    result.experiment_id = insert.ColumnInt(0);
    insert.Run();
  }

  // RETURNING yields a row only for a run that was inserted, not for one that already existed.
  Statement insert_run = db.Prepare(
      "INSERT INTO runs (experiment_id, key, created_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (experiment_id, key) DO NOTHING RETURNING id");
  Statement insert_param =
      db.Prepare("INSERT INTO params (run_id, name, value, type) VALUES (?1, ?2, ?3, ?4)");
  std::set<std::string> param_names;
  for (const RunSubmission& run : submission.runs) {
    insert_run.Reset();
    insert_run.BindInt(1, result.experiment_id).BindText(2, run.key).BindDouble(3, now);
    if (!insert_run.Step()) {
      ++result.existing;
      continue;
    }
    const int64_t run_id = insert_run.ColumnInt(0);
    insert_run.Run();
    ++result.added;
    if (run.params.is_null()) continue;
    for (const auto& [name, value] : run.params.items()) {
      insert_param.Reset();
      insert_param.BindInt(1, run_id).BindText(2, name).BindText(4, ParamType(value, "", ""));
      BindParamValue(insert_param, 3, value);
      insert_param.Run();
      param_names.insert(name);
    }
  }
  CommitKeepingWideView(transaction, param_names, {});
  return result;
}

std::vector<StatusCount> Store::StatusCounts() const {
  Statement select = connection_->Prepare(
      "SELECT e.name, r.status, count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
      "GROUP BY r.experiment_id, r.status "
      "ORDER BY r.experiment_id, CASE r.status WHEN 'queued' THEN 0 WHEN 'running' THEN 1 "
      "WHEN 'completed' THEN 2 WHEN 'failed' THEN 3 WHEN 'diverged' THEN 4 ELSE 5 END");
  std::vector<StatusCount> counts;
  while (select.Step()) {
    counts.push_back({select.ColumnText(0), select.ColumnText(1), select.ColumnInt(2)});
  }
  return counts;
}

MetricWriter Store::Metrics(size_t batch_size) const {
  return MetricWriter(connection_, batch_size);
}

void Store::SetFinalMetric(int64_t run_id, const std::string& name, double value, int64_t step) {
  CheckName(name, connection_->path(), "", "final metric name");
  Transaction transaction(*connection_);
  connection_
      ->Prepare(
          "INSERT INTO final_metrics (run_id, name, value, step, time) VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value, step = excluded.step, "
          "time = excluded.time")
      .BindInt(1, run_id)
      .BindText(2, name)
      .BindDouble(3, value)
      .BindInt(4, step)
      .BindDouble(5, UnixNow())
      .Run();
  CommitKeepingWideView(transaction, {}, {name});
}

void Store::SetExampleOutcomes(int64_t run_id, const std::string& source, int64_t replicate,
                               const ExampleOutcomes& outcomes) {
  CheckName(source, connection_->path(), "", "example outcomes' source");
  connection_
      ->Prepare(
          "INSERT INTO example_outcomes (run_id, source, replicate, examples, outcomes) VALUES "
          "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, source, replicate) DO UPDATE SET examples = "
          "excluded.examples, outcomes = excluded.outcomes")
      .BindInt(1, run_id)
      .BindText(2, source)
      .BindInt(3, replicate)
      .BindInt(4, static_cast<int64_t>(outcomes.size()))
      .BindBlob(5, EncodeExampleOutcomes(outcomes))
      .Run();
}

std::set<std::string> Store::FinalMetricNames(int64_t run_id) const {
  Statement select = connection_->Prepare("SELECT name FROM final_metrics WHERE run_id = ?1");
  select.BindInt(1, run_id);
  std::set<std::string> names;
  while (select.Step()) names.insert(select.ColumnText(0));
  return names;
}

void Store::AddArtifact(int64_t run_id, const std::string& kind, const std::string& path,
                        std::optional<int64_t> step) {
  Transaction transaction(*connection_);
  connection_
      ->Prepare(
          "INSERT INTO artifacts (run_id, kind, path, step, created_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, kind, path) "
          "DO UPDATE SET step = excluded.step, created_at = excluded.created_at")
      .BindInt(1, run_id)
      .BindText(2, kind)
      .BindText(3, path)
      .BindOptionalInt(4, step)
      .BindDouble(5, UnixNow())
      .Run();
  transaction.Commit();
}

std::optional<ClaimedRun> Store::ClaimNext(const std::optional<std::string>& experiment,
                                           const std::string& host, int64_t pid) {
  const Connection& db = *connection_;
  // The write lock is taken before the queued run is chosen, so no other process can choose it.
  Transaction transaction(db);
  std::optional<int64_t> experiment_id;
  if (experiment) {
    Statement find = db.Prepare("SELECT id FROM experiments WHERE name = ?1");
    find.BindText(1, *experiment);
    if (!find.Step()) throw InputError(db.path(), "", "no such experiment: " + *experiment);
    experiment_id = find.ColumnInt(0);
  }

  Statement pick = db.Prepare(
      "SELECT r.id, r.key, e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id "
      "WHERE r.status = 'queued' AND (?1 IS NULL OR r.experiment_id = ?1) ORDER BY r.id LIMIT 1");
  pick.BindOptionalInt(1, experiment_id);
  if (!pick.Step()) return std::nullopt;
  ClaimedRun claimed;
  claimed.run_id = pick.ColumnInt(0);
  claimed.key = pick.ColumnText(1);
  claimed.experiment = pick.ColumnText(2);
  MarkRunning(claimed, host, pid);
  transaction.Commit();
  return claimed;
}

ClaimedRun Store::StartRun(const std::string& experiment, const std::string& key,
                           const std::string& host, int64_t pid) {
  const Connection& db = *connection_;
  Transaction transaction(db);
  Statement find = db.Prepare(
      "SELECT r.id, r.status, r.host, r.pid FROM runs r JOIN experiments e ON e.id = "
      "r.experiment_id WHERE e.name = ?1 AND r.key = ?2");
  find.BindText(1, experiment).BindText(2, key);
  if (!find.Step()) {
    throw InputError(db.path(), "", "no run " + key + " in experiment " + experiment);
  }
  if (ParseStatus(find.ColumnText(1)) == RunStatus::kRunning) {
    throw InputError(db.path(), "",
                     "run " + key + " is already running (host " + find.ColumnText(2) + ", pid " +
                         std::to_string(find.ColumnInt(3)) + ")");
  }
  ClaimedRun claimed;
  claimed.run_id = find.ColumnInt(0);
  claimed.key = key;
  claimed.experiment = experiment;
  MarkRunning(claimed, host, pid);
  transaction.Commit();
  return claimed;
}

void Store::MarkRunning(ClaimedRun& claimed, const std::string& host, int64_t pid) {
  const Connection& db = *connection_;
  const double now = UnixNow();
  Statement update = db.Prepare(
      "UPDATE runs SET status = 'running', started_at = ?2, heartbeat_at = ?2, "
      "finished_at = NULL, error = NULL, host = ?3, pid = ?4, attempts = attempts + 1 "
      "WHERE id = ?1 RETURNING attempts");
  update.BindInt(1, claimed.run_id).BindDouble(2, now).BindText(3, host).BindInt(4, pid).Step();
  claimed.attempts = update.ColumnInt(0);
  update.Run();

  claimed.params = ReadRunParams(db, claimed.run_id);
}

std::vector<ClaimedRun> Store::QueuedWithoutTask(const std::string& experiment) const {
  const Connection& db = *connection_;
  Statement pick = db.Prepare(
      "SELECT r.id, r.key, r.attempts FROM runs r JOIN experiments e ON e.id = r.experiment_id "
      "WHERE e.name = ?1 AND r.status = 'queued' AND NOT EXISTS (SELECT 1 FROM remote_tasks t "
      "WHERE t.run_id = r.id) ORDER BY r.id");
  pick.BindText(1, experiment);
  std::vector<ClaimedRun> runs;
  while (pick.Step()) {
    ClaimedRun run;
    run.run_id = pick.ColumnInt(0);
    run.key = pick.ColumnText(1);
    run.experiment = experiment;
    run.attempts = pick.ColumnInt(2);
    run.params = ReadRunParams(db, run.run_id);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<RunningRun> Store::RunningRuns() const {
  Statement select = connection_->Prepare(
      "SELECT id, COALESCE(host, ''), COALESCE(pid, 0), COALESCE(heartbeat_at, 0) FROM runs "
      "WHERE status = 'running' ORDER BY id");
  std::vector<RunningRun> out;
  while (select.Step()) {
    out.push_back(
        {select.ColumnInt(0), select.ColumnText(1), select.ColumnInt(2), select.ColumnDouble(3)});
  }
  return out;
}

bool Store::RequeueRunning(int64_t run_id, const std::string& reason) {
  Transaction transaction(*connection_);
  connection_
      ->Prepare(
          "UPDATE runs SET status = 'queued', error = ?2, pid = NULL WHERE id = ?1 AND "
          "status = 'running'")
      .BindInt(1, run_id)
      .BindText(2, reason)
      .Run();
  const bool changed = connection_->Changes() == 1;
  transaction.Commit();
  return changed;
}

int Store::Requeue(const std::string& experiment, const std::vector<RunStatus>& statuses) {
  Transaction transaction(*connection_);
  int total = 0;
  for (const auto& status : statuses) {
    connection_
        ->Prepare(
            "UPDATE runs SET status = 'queued' WHERE status = ?2 AND experiment_id = "
            "(SELECT id FROM experiments WHERE name = ?1)")
        .BindText(1, experiment)
        .BindText(2, std::string(StatusName(status)))
        .Run();
    total += connection_->Changes();
  }
  transaction.Commit();
  return total;
}

void Store::SetProvenance(int64_t run_id, const Provenance& p) {
  Transaction transaction(*connection_);
  connection_
      ->Prepare(
          "UPDATE runs SET git_commit = ?2, torch_version = ?3, device = ?4, world_size = ?5, "
          "backend = ?6, ranks_per_node = ?7 WHERE id = ?1")
      .BindInt(1, run_id)
      .BindText(2, p.git_commit)
      .BindText(3, p.torch_version)
      .BindText(4, p.device)
      .BindInt(5, p.world_size)
      .BindText(6, p.backend)
      .BindInt(7, p.ranks_per_node)
      .Run();
  transaction.Commit();
}

void Store::SetOverrides(const std::string& experiment, const std::string& overrides_json) {
  Transaction transaction(*connection_);
  connection_->Prepare("UPDATE experiments SET overrides = ?2 WHERE name = ?1")
      .BindText(1, experiment)
      .BindText(2, overrides_json)
      .Run();
  ABLATE_CHECK(connection_->Changes() == 1, "no experiment " + experiment);
  transaction.Commit();
}

void Store::RecordRemoteJob(const std::string& backend, const std::string& experiment,
                            const std::string& job_id, int tasks, const std::string& log_dir) {
  Transaction transaction(*connection_);
  connection_
      ->Prepare(
          "INSERT INTO remote_jobs (backend, experiment_id, job_id, tasks, log_dir, submitted_at) "
          "SELECT ?1, id, ?3, ?4, ?5, ?6 FROM experiments WHERE name = ?2")
      .BindText(1, backend)
      .BindText(2, experiment)
      .BindText(3, job_id)
      .BindInt(4, tasks)
      .BindText(5, log_dir)
      .BindDouble(6, UnixNow())
      .Run();
  ABLATE_CHECK(connection_->Changes() == 1, "no experiment " + experiment);
  transaction.Commit();
}

void Store::Heartbeat(int64_t run_id) {
  Transaction transaction(*connection_);
  connection_->Prepare("UPDATE runs SET heartbeat_at = ?2 WHERE id = ?1 AND status = 'running'")
      .BindInt(1, run_id)
      .BindDouble(2, UnixNow())
      .Run();
  ABLATE_CHECK(connection_->Changes() == 1,
               "heartbeat for run " + std::to_string(run_id) + ", which is not running");
  transaction.Commit();
}

void Store::Finish(int64_t run_id, RunStatus status, const std::string& error) {
  ABLATE_CHECK(IsFinal(status),
               "a run cannot finish with status '" + std::string(StatusName(status)) + "'");
  Transaction transaction(*connection_);
  const double now = UnixNow();
  connection_
      ->Prepare(
          "UPDATE runs SET status = ?2, finished_at = ?3, heartbeat_at = ?3, "
          "error = NULLIF(?4, '') WHERE id = ?1 AND status = 'running'")
      .BindInt(1, run_id)
      .BindText(2, std::string(StatusName(status)))
      .BindDouble(3, now)
      .BindText(4, error)
      .Run();
  ABLATE_CHECK(connection_->Changes() == 1,
               "finish of run " + std::to_string(run_id) + ", which is not running");
  transaction.Commit();
}

}  // namespace ablate::results

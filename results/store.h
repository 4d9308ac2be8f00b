// The write side of the results database: submitting experiments and their runs, the run
// lifecycle (claim, heartbeat, finish), final metrics, artifacts, and keeping the runs_wide view
// in step with the param and metric names. Read-only SQL for users is in query.h.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "results/example_outcomes.h"
#include "results/metric_writer.h"
#include "results/run_status.h"
#include "results/sqlite.h"

namespace ablate::results {

struct RunSubmission {
  std::string key;
  // Flat object of the run's effective config, e.g. {"optim.lr": 1e-4, "data.masking": "static"}.
  // JSON integers are stored as 'int', other numbers as 'float', strings as 'string', booleans as
  // 'bool' (0/1); anything else is an InputError.
  nlohmann::json params;
};

struct ExperimentSubmission {
  std::string name;
  std::string description;
  std::string grid_json;
  std::vector<RunSubmission> runs;
};

struct SubmitResult {
  int64_t experiment_id = 0;
  int added = 0;
  int existing = 0;
  // The experiment existed and its grid_json differs from the stored one.
  bool grid_changed = false;
};

struct StatusCount {
  std::string experiment;
  std::string status;
  int64_t count = 0;
};

struct ClaimedRun {
  int64_t run_id = 0;
  std::string key;
  std::string experiment;
  nlohmann::json params;  // typed as submitted
  int64_t attempts = 0;   // including this one, so 1 on a first claim
};

struct RunningRun {
  int64_t run_id = 0;
  std::string host;
  int64_t pid = 0;
  double heartbeat_at = 0;
};

// One write connection. Use a Store, and the MetricWriters it hands out, from one thread; several
// processes may each open their own Store on one file.
//
// The Store keeps the runs_wide view complete: one row per run with the run_info columns, then a
// column per param name and one per final-metric name, named as the param or metric (so SQL reads
// `SELECT "data.masking", valid_ppl FROM runs_wide`). A param named like a run_info column is
// "param:NAME"; a final metric named like a run_info column or a param is "final:NAME".
// A run's params, typed as they were submitted (ints, floats, bools, strings).
nlohmann::json ReadRunParams(const Connection& db, int64_t run_id);

// How the last attempt of a run was trained (runs.git_commit ... runs.ranks_per_node).
struct Provenance {
  std::string git_commit, torch_version, device;
  int world_size = 1;            // ranks that train the run
  std::string backend = "none";  // their c10d backend: gloo, nccl, or none for one process
  int ranks_per_node = 1;
};

class Store {
 public:
  // Creates the file if missing (its directory must exist) and migrates it. Throws InputError
  // naming the file when it cannot be opened, is not an ablate database or is from a newer ablate.
  static Store Open(const std::string& path);

  // One transaction, all or nothing, and idempotent: the experiment is matched by name and keeps
  // its id (description, grid_json and its hash are updated when they changed); runs whose key
  // exists are left untouched; new runs are inserted queued, with their params. Throws InputError
  // for an empty name or key, a key given twice, or a param that is not a flat scalar.
  SubmitResult Submit(const ExperimentSubmission& submission);

  // Every (experiment, status) with a non-zero count: experiments in order of creation, statuses
  // in lifecycle order (queued, running, completed, failed, diverged, interrupted).
  std::vector<StatusCount> StatusCounts() const;

  MetricWriter Metrics(size_t batch_size = MetricWriter::kDefaultBatchSize) const;

  // Replaces any earlier final value of `name` for the run.
  void SetFinalMetric(int64_t run_id, const std::string& name, double value, int64_t step);
  // The names of the run's final metrics, e.g. to skip a stage whose results are recorded.
  std::set<std::string> FinalMetricNames(int64_t run_id) const;

  // The per-example outcomes behind final metric `source` of the run, for fine-tuning seed
  // `replicate` (0 for pretraining's own scores); replaces any recorded for the same (source,
  // replicate). Throws InputError for an empty source.
  void SetExampleOutcomes(int64_t run_id, const std::string& source, int64_t replicate,
                          const ExampleOutcomes& outcomes);

  // Re-adding the same (run, kind, path) updates its step and time.
  void AddArtifact(int64_t run_id, const std::string& kind, const std::string& path,
                   std::optional<int64_t> step);

  // Atomically moves the oldest queued run (of `experiment`, if given) to running, recording host,
  // pid, start and heartbeat times and one more attempt. nullopt when nothing is queued. Two
  // processes never claim the same run. Throws InputError when `experiment` does not exist.
  std::optional<ClaimedRun> ClaimNext(const std::optional<std::string>& experiment,
                                      const std::string& host, int64_t pid);
  // Moves the run `key` of `experiment` to running whatever its status (a completed, failed or
  // interrupted run is started again, e.g. to resume it), like ClaimNext does. Throws InputError
  // when there is no such run or it is running already.
  ClaimedRun StartRun(const std::string& experiment, const std::string& key,
                      const std::string& host, int64_t pid);
  // Runs marked running, for finding those whose worker is gone.
  std::vector<RunningRun> RunningRuns() const;
  // Puts a run that is still `running` back in the queue (its worker died); false if it has
  // moved on meanwhile. The run resumes from its last checkpoint when claimed again.
  bool RequeueRunning(int64_t run_id, const std::string& reason);
  // Puts the runs of `experiment` with one of `statuses` (failed, diverged, interrupted) back in
  // the queue; returns how many.
  int Requeue(const std::string& experiment, const std::vector<RunStatus>& statuses);

  // The queued runs of `experiment` that no remote task is assigned to (collect.h), with their
  // params, in run order: what a remote backend's submission hands out.
  std::vector<ClaimedRun> QueuedWithoutTask(const std::string& experiment) const;

  // Commits `transaction` (on this store's connection), first rebuilding runs_wide (see
  // RefreshWideView in store.cpp) when the transaction wrote a param or final-metric name that this
  // Store has not seen in the view.
  void CommitKeepingWideView(Transaction& transaction, const std::set<std::string>& params,
                             const std::set<std::string>& finals);

  // Records where and with what a running run is trained (shown in run_info and runs_wide).
  void SetProvenance(int64_t run_id, const Provenance& provenance);

  // Records the --set overrides `experiment` (which must exist) was last submitted with: a JSON
  // object of parameter -> value, "{}" for none.
  void SetOverrides(const std::string& experiment, const std::string& overrides_json);

  // Remembers a job of `tasks` remote tasks that `backend` ("slurm", ...) submitted for
  // `experiment` (which must exist), so `ablate status` can show their states.
  void RecordRemoteJob(const std::string& backend, const std::string& experiment,
                       const std::string& job_id, int tasks, const std::string& log_dir);

  // Marks a running run as alive now.
  void Heartbeat(int64_t run_id);
  // Moves a running run to `status` (completed, failed, diverged or interrupted) with an optional
  // reason; an empty error stores NULL.
  void Finish(int64_t run_id, RunStatus status, const std::string& error = "");

  const Connection& connection() const { return *connection_; }

 private:
  explicit Store(std::shared_ptr<Connection> connection);

  // Inside a write transaction: the run becomes running (times, host, pid, one more attempt) and
  // `claimed` gets its attempts and params.
  void MarkRunning(ClaimedRun& claimed, const std::string& host, int64_t pid);

  std::shared_ptr<Connection> connection_;
  // Names runs_wide is known to have a column for. Only updated after a commit, so a rolled-back
  // rebuild is never mistaken for a done one; runs_wide's names only grow (ablate deletes no runs).
  std::set<std::string> known_params_;
  std::set<std::string> known_finals_;
};

}  // namespace ablate::results

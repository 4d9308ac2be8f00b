// The reads reports and `ablate status` need, behind bound parameters: the runs of some
// experiments with their parameters (typed) and chosen final metrics, one metric series of some
// runs, the per-example outcomes behind one metric, the status table and the remote jobs. It
// writes nothing and knows nothing of tables (reports/ builds those from what it returns).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "results/example_outcomes.h"
#include "results/query.h"

namespace ablate::results {

// A stored parameter value: a number (int, float and bool all compare as numbers) or text.
struct ParamValue {
  bool is_number = false;
  double number = 0;
  std::string text;

  bool operator==(const ParamValue& o) const {
    return is_number == o.is_number && (is_number ? number == o.number : text == o.text);
  }
  bool operator<(const ParamValue& o) const {
    if (is_number != o.is_number) return is_number;  // numbers before text
    return is_number ? number < o.number : text < o.text;
  }
};

struct RunRecord {
  int64_t id = 0;
  std::string experiment, key, status;
  std::map<std::string, ParamValue> params;
  std::unordered_map<std::string, double> finals;  // of the names asked for, when recorded
};

// The runs of `experiments`, in id order, with every parameter and the final metrics named in
// `metrics`. Throws InputError for a path that is not a results database.
std::vector<RunRecord> ReadRunRecords(const std::string& db_path,
                                      const std::set<std::string>& experiments,
                                      const std::set<std::string>& metrics);

// (step, value) points, by run id, sorted by step: the metric `name` of the runs `run_ids`.
using Series = std::vector<std::pair<int64_t, double>>;
std::unordered_map<int64_t, Series> ReadSeries(const std::string& db_path,
                                               const std::vector<int64_t>& run_ids,
                                               const std::string& name);

// The per-example outcomes recorded for final metric `source` ("valid/ppl", "eval/<task>/<metric>")
// of the runs `run_ids`: run id -> replicate (fine-tuning seed; 0 for pretraining's own scores) ->
// (numerator, denominator) per example (example_outcomes.h). Runs without any are absent; empty
// for a database from before schema v5. Throws InputError naming the database and the run for a
// record this ablate cannot decode.
std::map<int64_t, std::map<int64_t, ExampleOutcomes>> ReadExampleOutcomes(
    const std::string& db_path, const std::vector<int64_t>& run_ids, const std::string& source);

// Runs per status per experiment, one row per experiment (all statuses as columns, then the
// total): what `ablate status` prints.
ResultSet ReadStatusTable(const std::string& db_path);

// One run found by key (and experiment, when keys repeat across experiments), as `ablate export`
// describes it: its typed params, status, run directory, final metrics and provenance.
struct RunDescription {
  std::string experiment, key, status;
  nlohmann::json params;  // typed as submitted
  std::string run_dir;    // "" when none was recorded
  std::map<std::string, double> finals;
  std::map<std::string, std::string> provenance;  // git_commit, torch_version, device, ...
};
// Throws InputError naming the key when no run (or, without `experiment`, more than one) has it.
RunDescription ReadRunByKey(const std::string& db_path, const std::string& key,
                            const std::optional<std::string>& experiment);

// Every run directory the database records, with its run's experiment and key, in run order:
// where `ablate export` must not write.
struct RunDirectory {
  std::string experiment, key, path;
};
std::vector<RunDirectory> ReadRunDirectories(const std::string& db_path);

// The runs_wide rows (every column) of the runs of `experiments`, in run order.
ResultSet ReadRunsWide(const std::string& db_path, const std::set<std::string>& experiments);

// How far each unfinished experiment is: runs done (completed, failed, diverged), running and left
// (queued, interrupted), and when the running ones keep their recent pace, the time to go.
struct ExperimentProgress {
  std::string experiment;
  int64_t done = 0, running = 0, left = 0;
  // Tokens the unfinished runs still have to train: each run's steps to go times its tokens per
  // update (its own so far, else the mean of the experiment's runs that have one). nullopt when
  // no run of the experiment has recorded any.
  std::optional<double> tokens_left;
  double tokens_per_second = 0;  // the running runs' recent rates (last 10 updates each), summed
};
std::vector<ExperimentProgress> ReadProgress(const std::string& db_path);

// The jobs `backend` ("slurm", ...) submitted for each experiment, in submission order. A database
// from before schema v6 is read as it is (its job arrays are Slurm's).
struct RemoteJobRecord {
  std::string experiment, job_id;
  int64_t tasks = 0;
};
std::vector<RemoteJobRecord> ReadRemoteJobs(const std::string& db_path, const std::string& backend);

// Experiments submitted with --set overrides: (name, JSON object of parameter -> value). Empty for
// a database from before schema v4.
std::vector<std::pair<std::string, std::string>> ReadOverrides(const std::string& db_path);

}  // namespace ablate::results

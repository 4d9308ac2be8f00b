// The backends of `ablate run`: one Backend per way of training a grid's queued runs (worker
// processes on this machine, a Slurm job array, ...), chosen by name from Backends(), and what the
// other commands ask of them (collect, reconcile, status). A backend that hands runs to a
// scheduler's tasks registers each task in the results database (results/collect.h); its tasks
// write their records to run logs that the head collects, and the database never leaves the head.
// Adding a backend is one file, backend_<name>.cpp, and one row of Backends() in backend.cpp
// (docs/adding-a-backend.md). The backends train nothing themselves: the worker loop and `ablate
// task` do.
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/world.h"
#include "results/store.h"
#include "runner/worker.h"

namespace ablate::runner {

// What `ablate run` hands a backend once the grid is submitted and its runs are queued.
struct Submission {
  WorkerOptions worker;     // database, run and data directories, device, threads, ranks per run,
                            // --max-runs; `experiment` is the grid's name
  int jobs = 1;             // --jobs
  bool jobs_given = false;  // --jobs was on the command line (not its default)
  // `ablate run`'s command line, from which a backend reads the options it added (AddRunOptions).
  const boost::program_options::variables_map* options = nullptr;
  // The worker loop, run in this process (RunWorker). Only the training binary links it: it passes
  // it here so that the backends, which `ablate` links too, need no LibTorch.
  WorkerSummary (*run_worker)(const WorkerOptions& options) = nullptr;
};

// The scheduler a backend hands runs to, as the other commands meet it: its name, and the
// environment variables through which it tells a process it started where it is. All empty for a
// backend that starts its processes itself.
struct Scheduler {
  std::string name;                    // "Slurm", in messages and help
  std::string job_variable;            // set in every process of its jobs (SLURM_JOB_ID)
  std::string array_index_variable;    // the array element a task runs: `ablate task`'s --index
  std::string cpus_per_task_variable;  // the CPUs each task was given
  std::string cpus_on_node_variable;   // the CPUs the job has on this node
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The options of `ablate run` that only this backend reads (Slurm's --slurm-args, ...), added
  // after --backend in its --help. None by default.
  virtual void AddRunOptions(boost::program_options::options_description& options) const;

  // True when runs train on this machine, so its device must work before any run is queued.
  virtual bool TrainsHere() const = 0;

  // Trains or hands over the queued runs of `submission.worker.experiment` (submitted, with its
  // interrupted runs requeued, by `ablate run` just before) and says what it did on `out`.
  // Returns `ablate run`'s exit code: 0, 1 when a run failed here, 130 when stopped by a signal.
  // Throws InputError for a bad option of its own.
  virtual int Submit(const Submission& submission, std::ostream& out) const = 0;

  // Joins the database with the scheduler's view of the runs of `experiment` this backend was
  // given, after their logs were collected: a run whose task the scheduler says has ended without
  // its log saying so becomes `interrupted` (results::MarkTaskLost), to be submitted again.
  // A scheduler that does not answer is reported on `err` and changes nothing.
  virtual void Reconcile(results::Store& store, const std::string& experiment,
                         std::ostream& err) const = 0;

  // Lines for `ablate status` (after its table): the jobs this backend submitted to the database
  // at `db`, with their tasks' states as the scheduler reports them. Reads the database only.
  virtual void DescribeState(const std::string& db, std::ostream& out) const = 0;

  // The scheduler it hands runs to; empty (the default) when it starts its processes itself.
  virtual Scheduler scheduler() const;
};

// A row of the backends' table.
struct BackendEntry {
  const char* name;     // --backend NAME
  const char* summary;  // what `--backend NAME` does, in `ablate run --help`
  std::unique_ptr<Backend> (*make)();
};

// Every backend, in the order `ablate run --help` lists them; the first is the default.
const std::vector<BackendEntry>& Backends();

// The backend named `name`. Throws InputError for --backend naming none (with a did-you-mean).
std::unique_ptr<Backend> MakeBackend(const std::string& name);

// Every backend's name, in table order: all of them, for `ask` below.
std::vector<std::string> BackendNames();

// Reads the new records of `experiment`'s run logs (all experiments' when empty) into the
// database, then has each backend named in `ask` reconcile `experiment` (not done for all).
// Problems reading a log, or a scheduler not answering, are reported on `err` and stop nothing.
void CollectAndReconcile(results::Store& store, const std::string& experiment,
                         const std::vector<std::string>& ask, std::ostream& err);

// The same for a database path, for the readers (status, report, sql): opened for writing only
// when it has run logs; a database that cannot be written is read as it is, with a warning.
void CollectBeforeReading(const std::string& db, const std::optional<std::string>& experiment,
                          const std::vector<std::string>& ask, std::ostream& err);

// Reads the new records of `experiment`'s run logs (all when nullopt), reporting problems and torn
// records on `err`: the collection every backend's reconciliation starts from.
void CollectLogs(results::Store& store, const std::optional<std::string>& experiment,
                 std::ostream& err);

// The schedulers of the backends that have one, in table order.
std::vector<Scheduler> Schedulers();

// What a scheduler's environment says of this process (a worker or task it started): the first of
// Schedulers() any of whose variables is set, with their values as atol/atoi read them.
struct Placement {
  Scheduler scheduler;
  bool in_job = false;  // its job variable is set
  std::optional<long> array_index;
  std::optional<int> cpus_per_task;
  std::optional<int> cpus_on_node;
};
std::optional<Placement> PlacementFromEnvironment(const core::Environment& env);

}  // namespace ablate::runner

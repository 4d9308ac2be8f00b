// ablate run GRID --db FILE [--jobs N] [--backend NAME]: submits the grid (idempotent) and hands
// its queued runs to a backend (backend.h): N local worker processes that train them until none is
// left, or a scheduler's job array.
#include <iostream>

#include "base/error.h"
#include "core/batch_tensors.h"
#include "experiments/grid.h"
#include "results/collect.h"
#include "results/store.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/grid_plan.h"
#include "runner/worker.h"

namespace ablate::runner {

int CmdRun(const Args& args) {
  std::string backend_help, backend_names;
  for (const auto& entry : Backends()) {
    backend_help +=
        std::string(backend_help.empty() ? "" : "; ") + entry.name + ": " + entry.summary;
    backend_names += std::string(backend_names.empty() ? "" : "|") + entry.name;
  }
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "db", po::value<std::string>()->required(), "results database (created if missing)")(
      "jobs", po::value<int>()->default_value(1), "worker processes")(
      "rerun-failed", po::bool_switch(), "queue failed and diverged runs again")(
      "backend", po::value<std::string>()->default_value(Backends().front().name),
      backend_help.c_str());
  for (const auto& entry : Backends()) entry.make()->AddRunOptions(options);
  AddWorkerOptions(options);
  AddSetOption(options);
  auto vm = ParseOptions(args,
                         "ablate run GRID --db FILE [--jobs N] [--backend " + backend_names +
                             "] [--device cpu|cuda] [--rerun-failed] [--max-runs K] "
                             "[--nproc-per-run R] [--set NAME=VALUE ...]",
                         options, {"grid"});
  if (!vm) return 0;
  WorkerOptions worker = WorkerOptionsFrom(*vm);
  const int jobs = (*vm)["jobs"].as<int>();
  if (jobs < 1) throw InputError("", "--jobs", "must be at least 1");
  const auto backend = MakeBackend((*vm)["backend"].as<std::string>());

  // A device this build cannot use fails here, before any run is queued or claimed; a
  // scheduler's nodes may have what this machine lacks, so there it is left to the tasks.
  if (backend->TrainsHere()) core::ResolveDevice(worker.device);
  // Validate everything before the database is touched.
  const auto overrides = OverridesFrom(*vm);
  auto grid = LoadGridWithOverrides(*vm);
  auto runs = experiments::ExpandGrid(grid);
  // The plan's warnings once, before anything trains (ablate expand --plan shows the figures).
  PrintPlanWarnings(std::cerr, PlanOnPreparedData(grid, runs, worker.data_dir));
  {
    auto store = results::Store::Open(worker.db);
    // Runs trained by remote tasks: their logs first, and tasks a scheduler lost become
    // interrupted, so the requeue below sends them again. (Only such runs have logs.)
    if (results::HasRunLogs(store.connection(), grid.name))
      CollectAndReconcile(store, grid.name, BackendNames(), std::cerr);
    results::ExperimentSubmission submission{grid.name, grid.description, grid.text, {}};
    for (const auto& run : runs) submission.runs.push_back({run.key, run.params});
    auto submitted = store.Submit(submission);
    store.SetOverrides(grid.name, overrides.dump());
    // Interrupted runs were stopped on purpose and continue; failures only when asked.
    int requeued = store.Requeue(grid.name, {results::RunStatus::kInterrupted});
    if ((*vm)["rerun-failed"].as<bool>())
      requeued +=
          store.Requeue(grid.name, {results::RunStatus::kFailed, results::RunStatus::kDiverged});
    std::cout << grid.name << ": " << runs.size() << " runs (" << submitted.added << " new";
    if (requeued > 0) std::cout << ", " << requeued << " requeued";
    std::cout << ")" << std::endl;
  }
  worker.experiment = grid.name;
  Submission submission;
  submission.worker = worker;
  submission.jobs = jobs;
  submission.jobs_given = vm->count("jobs") && !(*vm)["jobs"].defaulted();
  submission.options = &*vm;
  submission.run_worker = RunWorker;
  return backend->Submit(submission, std::cout);
}

}  // namespace ablate::runner

// ablate task --list FILE: what one element of a scheduler's job array runs (a remote backend's
// task, backend.h). It trains the run whose directory is line N of FILE (--index, else the array
// index the scheduler set), from the config.json the head wrote there, and writes its records to
// the run's own log; it never opens a database. When a launcher started several ranks, each is one
// rank of the run, and rank 0 alone writes.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "core/corpus.h"
#include "core/world.h"
#include "experiments/grid.h"
#include "results/run_records.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/execute_run.h"
#include "runner/signals.h"

namespace ablate::runner {

namespace fs = std::filesystem;

namespace {

// The run's log, except that an attempt stopped for its job's time limit is requeued, not ended.
class TaskRecords : public results::LogRecords {
 public:
  using LogRecords::LogRecords;
  void Finish(results::RunStatus status, const std::string& reason) override {
    if (status == results::RunStatus::kInterrupted && TimeLimitSignalled()) {
      Requeued("the job reached its time limit; " + reason);
    } else {
      LogRecords::Finish(status, reason);
    }
  }
};

// Line `index` of `list`; the error names `variables`, the schedulers' array index variables.
fs::path RunDirOf(const std::string& list, long index, const std::string& variables) {
  std::ifstream in(list);
  if (!in) throw InputError(list, "", "cannot read the list of run directories");
  std::string line;
  for (long i = 0; std::getline(in, line); ++i) {
    if (i == index) return line;
  }
  throw InputError(list, "", "has no line " + std::to_string(index) + " (" + variables + ")");
}

// "A or B" of the schedulers' `field`s, for help and messages.
std::string Either(const std::vector<Scheduler>& schedulers, std::string Scheduler::*field,
                   const std::string& prefix = "") {
  std::string out;
  for (const auto& scheduler : schedulers) {
    if ((scheduler.*field).empty()) continue;
    out += (out.empty() ? "" : " or ") + prefix + scheduler.*field;
  }
  return out;
}

}  // namespace

int CmdTask(const Args& args) {
  const std::vector<Scheduler> schedulers = Schedulers();
  const std::string index_variables = Either(schedulers, &Scheduler::array_index_variable);
  po::options_description options("options");
  options.add_options()("list", po::value<std::string>()->required(),
                        "file of run directories, one per array element")(
      "index", po::value<long>(),
      ("which line (default: " + Either(schedulers, &Scheduler::array_index_variable, "$") + ")")
          .c_str());
  AddDataDirOption(options);
  AddDeviceOptions(options,
                   "CPU threads (0 = what " + Either(schedulers, &Scheduler::name) + " gave)");
  auto vm = ParseOptions(args, "ablate task --list FILE [--index N] [OPTIONS]", options);
  if (!vm) return 0;
  const std::optional<Placement> placement = PlacementFromEnvironment(core::ProcessEnvironment());
  long index = 0;
  if (vm->count("index")) {
    index = (*vm)["index"].as<long>();
  } else if (placement && placement->array_index) {
    index = *placement->array_index;
  } else {
    throw InputError("", "--index", "not given, and " + index_variables + " is not set");
  }
  const fs::path run_dir = RunDirOf((*vm)["list"].as<std::string>(), index, index_variables);
  const fs::path config = run_dir / "config.json";
  const auto run = experiments::LoadRunConfig(ReadRunConfigFile(config.string()), config.string());
  const std::optional<core::World> world = core::WorldFromEnvironment(core::ProcessEnvironment());
  const bool rank0 = !world || world->rank == 0;

  ExecuteOptions execute;
  execute.data_dir = DataDirFrom(*vm);
  execute.device = DeviceFrom(*vm);
  execute.threads = ThreadsFrom(*vm);
  if (execute.threads == 0 && placement && placement->cpus_per_task)
    execute.threads = std::max(1, *placement->cpus_per_task);
  execute.label = run_dir.parent_path().filename().string() + "/" + run_dir.filename().string();
  execute.world = world;
  execute.rank_timeout = RankTimeoutFrom(*vm);

  InstallStopHandlers();
  InstallTimeLimitHandler();
  std::optional<TaskRecords> records;
  if (rank0) {
    records.emplace(run_dir);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    records->Start(host, ::getpid());
  }
  const RunOutcome outcome =
      ExecuteRun(run, run_dir, records ? &*records : nullptr, execute, std::cerr);
  records.reset();  // flushed and closed before the exit code tells the script what to do
  if (outcome.status == results::RunStatus::kInterrupted && TimeLimitSignalled())
    return kRequeueExitCode;
  if (outcome.status == results::RunStatus::kCompleted) return 0;
  if (outcome.status == results::RunStatus::kInterrupted) return 130;
  std::cerr << execute.label << ": " << results::StatusName(outcome.status) << ": "
            << outcome.reason << "\n";
  return 1;
}

}  // namespace ablate::runner

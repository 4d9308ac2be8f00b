// ablate task --list FILE: what one element of a Slurm job array runs (slurm_runs.h). It trains
// the run whose directory is line SLURM_ARRAY_TASK_ID of FILE, from the config.json the head
// wrote there, and writes its records to the run's own log; it never opens a database. Under
// srun with several tasks each is one rank of the run, and rank 0 alone writes.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "core/corpus.h"
#include "core/world.h"
#include "experiments/grid.h"
#include "results/run_records.h"
#include "runner/cli.h"
#include "runner/execute_run.h"
#include "runner/signals.h"
#include "runner/slurm.h"

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

fs::path RunDirOf(const std::string& list, long index) {
  std::ifstream in(list);
  if (!in) throw InputError(list, "", "cannot read the list of run directories");
  std::string line;
  for (long i = 0; std::getline(in, line); ++i) {
    if (i == index) return line;
  }
  throw InputError(list, "", "has no line " + std::to_string(index) + " (SLURM_ARRAY_TASK_ID)");
}

}  // namespace

int CmdTask(const Args& args) {
  po::options_description options("options");
  options.add_options()("list", po::value<std::string>()->required(),
                        "file of run directories, one per array element")(
      "index", po::value<long>(), "which line (default: $SLURM_ARRAY_TASK_ID)");
  AddDataDirOption(options);
  AddDeviceOptions(options, "CPU threads (0 = what Slurm gave)");
  auto vm = ParseOptions(args, "ablate task --list FILE [--index N] [OPTIONS]", options);
  if (!vm) return 0;
  long index = 0;
  if (vm->count("index")) {
    index = (*vm)["index"].as<long>();
  } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
    index = std::atol(id);
  } else {
    throw InputError("", "--index", "not given, and SLURM_ARRAY_TASK_ID is not set");
  }
  const fs::path run_dir = RunDirOf((*vm)["list"].as<std::string>(), index);
  const fs::path config = run_dir / "config.json";
  const auto run = experiments::LoadRunConfig(ReadRunConfigFile(config.string()), config.string());
  const std::optional<core::World> world = core::WorldFromEnvironment(core::ProcessEnvironment());
  const bool rank0 = !world || world->rank == 0;

  ExecuteOptions execute;
  execute.data_dir = DataDirFrom(*vm);
  execute.device = DeviceFrom(*vm);
  execute.threads = ThreadsFrom(*vm);
  if (execute.threads == 0) {
    const char* cpus = std::getenv("SLURM_CPUS_PER_TASK");
    execute.threads = cpus != nullptr ? std::max(1, std::atoi(cpus)) : 0;
  }
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

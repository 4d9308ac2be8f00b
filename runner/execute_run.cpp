#include "runner/execute_run.h"

#include <memory>
#include <ostream>

#include "base/error.h"
#include "core/collective.h"
#include "results/run_records.h"
#include "runner/cli.h"
#include "runner/finetune_stage.h"
#include "runner/local_ranks.h"
#include "runner/run_recorder.h"
#include "runner/signals.h"

namespace ablate::runner {

namespace fs = std::filesystem;
using results::RunStatus;

namespace {

// A stop came before the ranks had all joined: nothing was trained, and the run is interrupted.
struct StoppedWhileGathering {};

}  // namespace

RunOutcome ExecuteRun(const experiments::RunSpec& run, const fs::path& run_dir,
                      results::RunRecords* records, const ExecuteOptions& options,
                      std::ostream& progress) {
  const bool rank0 = !options.world || options.world->rank == 0;
  if (rank0) {
    WriteRunConfigFile(run_dir.string(), run.params);
    if (records) records->AddArtifact("run_dir", fs::absolute(run_dir).string(), std::nullopt);
  }
  RunOutcome outcome;
  // Progress is rank 0's to tell; the other ranks compute the same figures and keep quiet.
  std::ostream quiet(nullptr);
  std::ostream& out = rank0 ? progress : quiet;
  RunRecorder recorder(records, options.label, out, options.live_progress && rank0);
  try {
    core::TrainConfig config = run.config.Pretraining();
    config.device = options.device;
    config.threads = options.threads;
    // The ranks: started here (rank 0 waits for them to join), or given by a launcher.
    std::optional<LocalRanks> local;
    core::World world = options.world.value_or(core::World{});
    if (options.nproc > 1) {
      if (options.world) {
        throw InputError("", "--nproc",
                         "this process is already rank " + std::to_string(world.rank) + " of " +
                             std::to_string(world.size) + " (" + world.launcher +
                             "): a launcher's ranks start no ranks of their own");
      }
      local.emplace(options.nproc,
                    RankCommand{run_dir / "config.json", run_dir, options.data_dir, options.device,
                                options.threads, options.rank_timeout});
      world = local->world();
    }
    std::unique_ptr<core::Collective> collective;
    if (world.distributed()) {
      // Gathering the ranks ends early on a stop request (scancel, srun cancelling a step whose
      // other rank failed, Ctrl-C) or when a local rank has already exited.
      core::CollectiveOptions join;
      join.device = options.device;
      join.timeout = options.rank_timeout;
      join.give_up = [&]() -> std::string {
        if (StopSignalled()) return core::kStopRequested;
        return local ? local->Exited() : "";
      };
      try {
        collective = core::JoinWorld(world, join);
      } catch (const core::RankLost&) {
        if (StopSignalled()) throw StoppedWhileGathering();
        throw;
      }
    }
    if (records) {
      records->SetProvenance({ABLATE_GIT_COMMIT, core::LibTorchVersion(), options.device,
                              world.size, collective ? collective->backend() : "none",
                              world.local_size});
    }
    auto log = [&](const std::string& line) { out << options.label << ": " << line << "\n"; };
    const auto result =
        core::Train(config, options.data_dir, run_dir, recorder, log, collective.get());
    recorder.Flush();
    outcome.step = result.step;
    const bool peer_lost =
        result.outcome == core::TrainOutcome::kInterrupted && result.reason != core::kStopRequested;
    if (collective && !peer_lost) {
      // The ranks end at one step (a stop request is agreed on), so all of them get here; a
      // rank that exited at once could cut off a peer still finishing the last collective.
      try {
        collective->Barrier();
      } catch (const core::RankLost& e) {
        log(std::string("a rank was lost after training ended (nothing recorded is affected): ") +
            e.what());
      }
    }
    collective.reset();
    if (local) {
      // The other ranks end with this one; one that failed says why the run stopped.
      const std::string failure = local->Wait();
      if (!failure.empty() && result.outcome == core::TrainOutcome::kInterrupted)
        outcome.reason = failure + "; ";
    }
    if (result.outcome == core::TrainOutcome::kDiverged) {
      outcome.status = RunStatus::kDiverged;
      outcome.reason = result.reason;
    } else if (result.outcome == core::TrainOutcome::kInterrupted) {
      outcome.status = RunStatus::kInterrupted;
      outcome.reason += (result.reason == core::kStopRequested ? "stopped" : result.reason) +
                        " at step " + std::to_string(result.step) + "; resumes when run again";
    } else if (!rank0) {
      // Fine-tuning is rank 0's alone.
    } else if (auto stage = RunFinetuneStage(run.config, config, options.data_dir, run_dir, records,
                                             options.label, out);
               stage.interrupted) {
      outcome.status = RunStatus::kInterrupted;
      outcome.interrupted_task = stage.task;
      outcome.reason = "stopped while fine-tuning " + stage.task + "; resumes when run again";
    }
  } catch (const StoppedWhileGathering&) {
    outcome.status = RunStatus::kInterrupted;
    outcome.reason = "stopped while the ranks gathered; resumes when run again";
  } catch (const std::exception& e) {
    recorder.Flush();
    outcome.status = RunStatus::kFailed;
    outcome.reason = e.what();
    outcome.error = std::current_exception();
  }
  if (records) records->Finish(outcome.status, outcome.reason);
  return outcome;
}

}  // namespace ablate::runner

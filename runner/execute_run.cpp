#include "runner/execute_run.h"

#include <fstream>
#include <ostream>

#include "results/store.h"
#include "runner/finetune_stage.h"
#include "runner/run_recorder.h"

namespace ablate::runner {

namespace fs = std::filesystem;
using results::RunStatus;

RunOutcome ExecuteRun(const experiments::RunSpec& run, const fs::path& run_dir,
                      results::Store* store, int64_t run_id, const ExecuteOptions& options,
                      std::ostream& progress) {
  fs::create_directories(run_dir);
  std::ofstream(run_dir / "config.json") << run.params.dump(2) << "\n";
  if (store) {
    store->AddArtifact(run_id, "run_dir", fs::absolute(run_dir).string(), std::nullopt);
    store->SetProvenance(run_id, ABLATE_GIT_COMMIT, core::LibTorchVersion(), options.device);
  }
  RunOutcome outcome;
  RunRecorder recorder(store, run_id, options.label, progress, options.live_progress);
  try {
    core::TrainConfig config = run.config.Pretraining();
    config.device = options.device;
    config.threads = options.threads;
    auto log = [&](const std::string& line) { progress << options.label << ": " << line << "\n"; };
    const auto result = core::Train(config, options.data_dir, run_dir, recorder, log);
    recorder.Flush();
    outcome.step = result.step;
    if (result.outcome == core::TrainOutcome::kDiverged) {
      outcome.status = RunStatus::kDiverged;
      outcome.reason = result.reason;
    } else if (result.outcome == core::TrainOutcome::kInterrupted) {
      outcome.status = RunStatus::kInterrupted;
      outcome.reason =
          "stopped at step " + std::to_string(result.step) + "; resumes when run again";
    } else if (auto stage = RunFinetuneStage(run.config, config, options.data_dir, run_dir, store,
                                             run_id, options.label, progress);
               stage.interrupted) {
      outcome.status = RunStatus::kInterrupted;
      outcome.interrupted_task = stage.task;
      outcome.reason = "stopped while fine-tuning " + stage.task + "; resumes when run again";
    }
  } catch (const std::exception& e) {
    recorder.Flush();
    outcome.status = RunStatus::kFailed;
    outcome.reason = e.what();
    outcome.error = std::current_exception();
  }
  if (store) store->Finish(run_id, outcome.status, outcome.reason);
  return outcome;
}

}  // namespace ablate::runner

#include "runner/worker.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "experiments/grid.h"
#include "experiments/run_config.h"
#include "results/clock.h"
#include "results/store.h"
#include "runner/finetune_stage.h"
#include "runner/run_recorder.h"
#include "runner/signals.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;

bool ProcessExists(int64_t pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int RequeueAbandonedRuns(const std::string& db) {
  auto store = results::Store::Open(db);
  const std::string host = HostName();
  const double now = results::UnixNow();
  int requeued = 0;
  for (const auto& run : store.RunningRuns()) {
    std::string reason;
    if (run.host == host && !ProcessExists(run.pid)) {
      reason = "worker process " + std::to_string(run.pid) + " on " + host + " died";
    } else if (now - run.heartbeat_at > kStaleHeartbeatSeconds) {
      reason = "no heartbeat from " + run.host + " for " +
               std::to_string(int(now - run.heartbeat_at)) + " s";
    } else {
      continue;
    }
    if (store.RequeueRunning(run.run_id, reason)) {
      std::cerr << "ablate: requeued run " << run.run_id << ": " << reason << "\n";
      ++requeued;
    }
  }
  return requeued;
}

WorkerSummary RunWorker(const WorkerOptions& options) {
  WorkerSummary summary;
  auto store = results::Store::Open(options.db);
  const std::string host = HostName();
  for (int64_t done = 0; options.max_runs == 0 || done < options.max_runs; ++done) {
    if (StopSignalled()) {
      summary.stopped = true;
      break;
    }
    RequeueAbandonedRuns(options.db);
    auto claimed = store.ClaimNext(options.experiment, host, ::getpid());
    if (!claimed) break;

    const fs::path run_dir = options.runs_dir / claimed->experiment / claimed->key;
    fs::create_directories(run_dir);
    std::ofstream(run_dir / "config.json") << claimed->params.dump(2) << "\n";
    store.AddArtifact(claimed->run_id, "run_dir", fs::absolute(run_dir).string(), std::nullopt);
    store.SetProvenance(claimed->run_id, ABLATE_GIT_COMMIT, core::LibTorchVersion(),
                        options.device);
    const std::string label = (options.label.empty() ? "" : options.label + ": ") +
                              claimed->experiment + "/" + claimed->key;
    std::string status = "completed", reason;
    RunRecorder recorder(&store, claimed->run_id, label, std::cerr, options.live_progress);
    try {
      // Params come back from the database: validate them as a run config again (defaults that a
      // newer ablate added are filled in, and bad values fail the run, not the worker).
      auto run =
          experiments::LoadRunConfig(claimed->params, claimed->experiment + "/" + claimed->key);
      auto config = experiments::TrainConfigFromParams(run.params);
      config.device = options.device;
      config.threads = options.threads;
      auto log = [&](const std::string& line) { std::cerr << label << ": " << line << "\n"; };
      auto result = core::Train(config, options.data_dir, run_dir, recorder, log);
      recorder.Flush();
      if (result.outcome == core::TrainOutcome::kDiverged) {
        status = "diverged";
        reason = result.reason;
      } else if (result.outcome == core::TrainOutcome::kInterrupted) {
        status = "interrupted";
        reason = "stopped at step " + std::to_string(result.step) + "; resumes when run again";
      } else if (auto stage = RunFinetuneStage(run.params, config, options.data_dir, run_dir,
                                               &store, claimed->run_id, label, std::cerr);
                 stage.interrupted) {
        status = "interrupted";
        reason = "stopped while fine-tuning " + stage.task + "; resumes when run again";
      }
    } catch (const std::exception& e) {
      recorder.Flush();
      status = "failed";
      reason = e.what();
    }
    store.Finish(claimed->run_id, status, reason);
    if (status != "completed") std::cerr << label << ": " << status << ": " << reason << "\n";
    if (status == "completed") ++summary.completed;
    if (status == "failed") ++summary.failed;
    if (status == "diverged") ++summary.diverged;
    if (status == "interrupted") {
      ++summary.interrupted;
      summary.stopped = true;
      break;
    }
  }
  return summary;
}

}  // namespace ablate::runner

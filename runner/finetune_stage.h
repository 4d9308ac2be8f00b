// The downstream-evaluation stage of a run, after its pretraining completed: fine-tunes the final
// checkpoint on each task of eval.tasks (downstream/finetune.h) and records the scores as final
// metrics eval/<task>/<metric>, with progress lines and heartbeats like pretraining's; and beside
// them the no-pretraining baseline, eval/<task>/untrained/<metric>, whose units are shared by the
// runs under one runs root (<runs root>/no-pretraining/, the runs root being the directory above
// <experiment>/<run key>/). A task whose primary metric is recorded already is skipped. It does not
// pretrain.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

#include "core/trainer.h"
#include "experiments/run_config.h"
#include "results/run_records.h"

namespace ablate::runner {

struct FinetuneStageResult {
  bool interrupted = false;
  std::string task;  // the task being fine-tuned when interrupted
};

// `run` is the run's config, `train` the pretraining config it ran with (device and threads are
// used for fine-tuning too). `records` may be null (nothing recorded): then no task is
// skipped, but finished fine-tuning units are read back from the run directory. Throws InputError
// when a task cannot be loaded (e.g. its data is not fetched) and std::runtime_error on failures.
FinetuneStageResult RunFinetuneStage(const experiments::RunConfig& run,
                                     const core::TrainConfig& train,
                                     const std::filesystem::path& data_dir,
                                     const std::filesystem::path& run_dir,
                                     results::RunRecords* records, const std::string& label,
                                     std::ostream& progress);

}  // namespace ablate::runner

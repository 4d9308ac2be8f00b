// One run's configuration, typed: every row of the parameter table (params.h) binds to one field
// here, grouped as the grid names them (data.*, model.*, train.*, optim.*, eval.*), and every
// check between parameters lives in CheckRunConfig. Defaults live in the table only. Nothing here
// reads files or trains; core/ and downstream/ take the sections they need.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/train_config.h"
#include "downstream/finetune_config.h"
#include "downstream/task_data.h"

namespace ablate::experiments {

// eval.*: validation during pretraining, then fine-tuning on downstream tasks.
struct EvalConfig {
  core::ValidationConfig validation;  // eval.every, eval.sequences, eval.corpus
  // eval.tasks, parsed once (built-ins placed in the data directory by downstream::InDataDir).
  std::vector<downstream::TaskSpec> tasks;
  downstream::FinetuneConfig finetune;  // eval.lrs, eval.batch_size, ... (unset = the paper's)

  bool operator==(const EvalConfig&) const = default;
};

struct RunConfig {
  uint64_t seed = 0;
  core::DataConfig data;
  core::ModelConfig model;
  core::LoopConfig train;
  core::OptimConfig optim;
  EvalConfig eval;

  // What core::Train takes: the sections above, with the execution settings (device, threads)
  // left for the caller.
  core::TrainConfig Pretraining() const;

  bool operator==(const RunConfig&) const = default;
};

// Every field at the table's default.
RunConfig DefaultRunConfig();

// `params` must be complete and hold checked, canonical values (ExpandGrid / LoadRunConfig output,
// or a run's stored params). Throws InputError naming the parameter of a value that is in range
// but still means nothing (eval.lrs "1e-5,x"); it does not run CheckRunConfig.
RunConfig ToRunConfig(const nlohmann::json& params);

// A check between parameters that a run fails: the parameters involved and why.
struct ConfigProblem {
  std::vector<std::string> params;
  std::string message;
};
// The one place where parameters are checked against each other (and the downstream settings
// against what fine-tuning accepts), so a bad grid fails at expansion, not an hour into a run.
std::optional<ConfigProblem> CheckRunConfig(const RunConfig& config);

}  // namespace ablate::experiments

#include "experiments/run_config.h"

#include "base/error.h"
#include "experiments/params.h"

namespace ablate::experiments {

core::TrainConfig RunConfig::Pretraining() const {
  core::TrainConfig c;
  c.seed = seed;
  c.data = data;
  c.model = model;
  c.train = train;
  c.optim = optim;
  c.eval = eval.validation;
  return c;
}

RunConfig DefaultRunConfig() {
  RunConfig config;
  for (const auto& spec : ParamTable()) spec.bind(config, spec.default_value);
  return config;
}

RunConfig ToRunConfig(const nlohmann::json& params) {
  RunConfig config;
  for (const auto& spec : ParamTable()) spec.bind(config, params.at(spec.name));
  return config;
}

std::optional<ConfigProblem> CheckRunConfig(const RunConfig& c) {
  if (c.model.hidden % c.model.heads != 0) {
    return ConfigProblem{{"model.hidden", "model.heads"},
                         "model.hidden must be divisible by model.heads"};
  }
  if (c.optim.warmup_steps > c.train.steps) {
    return ConfigProblem{{"optim.warmup_steps", "train.steps"}, "warmup is longer than training"};
  }
  if (c.train.micro_batch > 0 && static_cast<uint64_t>(c.train.micro_batch) > c.train.batch_size) {
    return ConfigProblem{{"train.micro_batch", "train.batch_size"},
                         "a micro-batch cannot exceed the batch"};
  }
  const auto& finetune = c.eval.finetune;
  if (finetune.seq_len > c.data.seq_len) {
    return ConfigProblem{{"eval.seq_len", "data.seq_len"},
                         "eval.seq_len exceeds data.seq_len (the model has no positions beyond "
                         "it)"};
  }
  // Fine-tuning runs after pretraining: a typo in its settings should fail the grid, not the run
  // an hour later (eval.tasks is checked as it is parsed, with no data directory needed).
  try {
    finetune.Validate();
  } catch (const InputError& e) {
    return ConfigProblem{{"eval." + e.path()}, e.message()};
  }
  try {
    core::EvalCorpora(c.eval.validation.corpus);
  } catch (const InputError& e) {
    return ConfigProblem{{"eval.corpus"}, e.message()};
  }
  return std::nullopt;
}

}  // namespace ablate::experiments

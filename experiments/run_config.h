// Typed configs for core/ from a run's parameter object (as expanded from a grid): the one place
// where dotted parameter names meet the structs the libraries take.
#pragma once

#include <nlohmann/json.hpp>

#include "core/data_pipeline.h"
#include "core/trainer.h"
#include "downstream/finetune_config.h"

namespace ablate::experiments {

// `params` must be complete and valid (ExpandGrid / LoadRunConfig output).
core::DataConfig DataConfigFromParams(const nlohmann::json& params);
// Everything but the execution settings (device, threads), which are not run parameters.
core::TrainConfig TrainConfigFromParams(const nlohmann::json& params);
// The eval.* fine-tuning settings, unset ones left for downstream::Resolve, likewise without the
// execution settings. Throws InputError naming the parameter (eval.lrs, ...) of a bad value.
downstream::FinetuneConfig FinetuneConfigFromParams(const nlohmann::json& params);

}  // namespace ablate::experiments

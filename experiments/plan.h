// The compute plan of a grid, before anything trains: per run its tokens per update, total
// training tokens, passes over its corpus and approximate training FLOPs (6 x parameters x
// tokens), and the warnings a reviewer of the grid would raise (unequal compute inside a group
// that trades batch size for steps, runs that go through their corpus too often, static and
// dynamic masking that cannot differ). Pure: the data figures come from a lookup, so the plan is
// testable without data. It reads no corpus itself.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/data_pipeline.h"
#include "experiments/grid.h"

namespace ablate::experiments {

// A run's data figures, measured on its prepared corpus; nullopt when the corpus is not prepared.
struct RunData {
  core::DataPlan data;
  int64_t vocab_size = 0;
};
using RunDataLookup = std::function<std::optional<RunData>(const RunSpec&)>;

struct RunPlan {
  std::string key;
  int64_t steps = 0;
  int64_t batch_size = 0;
  std::optional<int64_t> parameters;
  std::optional<double> tokens_per_update, total_tokens, epochs, flops;
};

struct GridPlan {
  std::vector<RunPlan> runs;          // in the runs' order
  std::vector<std::string> warnings;  // one line each, without a "warning:" prefix
};

// Allowed spread of total training tokens inside a group that links train.batch_size to other
// parameters (Table 3's equal-compute comparison), and the passes over a corpus past which a run
// measures memorization more than pretraining.
constexpr double kEqualComputeTolerance = 0.05;
constexpr double kMaxEpochs = 100;

GridPlan PlanGrid(const GridSpec& grid, const std::vector<RunSpec>& runs,
                  const RunDataLookup& lookup);

}  // namespace ablate::experiments

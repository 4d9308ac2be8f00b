// The compute plan of a grid, before anything trains: per run its tokens per update, total
// training tokens, passes over its corpus and approximate training FLOPs (6 x parameters x
// tokens), the fine-tuning its eval.tasks add (learning rates x seeds x epochs x training
// examples), an estimated run time where earlier runs of the experiment measured this machine's
// rates, and the warnings a reviewer of the grid would raise (unequal compute among runs that trade
// batch size for steps, runs that go through their corpus too often, static and dynamic masking
// that cannot differ). Pure: data figures, task sizes and measurements come from the caller, so
// the plan is testable without data. It reads no corpus, task or database itself.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/data_pipeline.h"
#include "downstream/task_data.h"
#include "experiments/grid.h"

namespace ablate::experiments {

// A run's data figures, measured on its prepared corpus; nullopt when the corpus is not prepared.
struct RunData {
  core::DataPlan data;
  int64_t vocab_size = 0;
};
using RunDataLookup = std::function<std::optional<RunData>(const RunSpec&)>;

// A task of eval.tasks as far as it is known without loading it: its kind, which picks the
// paper's fine-tuning defaults (downstream::Resolve), and the size of its training split (nullopt
// when only loading the task would tell).
struct TaskFacts {
  std::string name;
  downstream::TaskKind kind = downstream::TaskKind::kClassification;
  std::optional<int64_t> train_examples;
};
// The tasks of one eval.tasks value, in its order.
using TaskLookup =
    std::function<std::vector<TaskFacts>(const std::vector<downstream::TaskSpec>& tasks)>;

// What an earlier run of the grid's experiment measured on this machine: pretraining's tokens and
// the seconds its updates took; the training examples its finished fine-tuning units went through
// (epochs x training examples, summed over units and tasks) and their seconds.
struct RecordedRun {
  std::string key;
  double tokens = 0, seconds = 0;
  double finetune_examples = 0, finetune_seconds = 0;
};

// One task's fine-tuning after a run's pretraining: each of the lrs x seeds units trains `epochs`
// passes over the training examples (downstream/finetune.h).
struct FinetunePlan {
  std::string task;
  int64_t lrs = 0, seeds = 0, epochs = 0;
  // After eval.max_train_examples; nullopt when the task's size is not known without loading it.
  std::optional<int64_t> train_examples;
  bool at_most = false;  // train_examples is eval.max_train_examples of a task of unknown size

  // lrs x seeds x epochs x train_examples: the training examples fine-tuning goes through.
  std::optional<double> ExamplePasses() const;
};

struct RunPlan {
  std::string key;
  int64_t steps = 0;
  int64_t batch_size = 0;
  std::optional<int64_t> parameters;
  std::optional<double> tokens_per_update, total_tokens, epochs, flops;
  std::vector<FinetunePlan> finetune;       // one per task of eval.tasks
  std::optional<double> finetune_examples;  // their example passes; nullopt if one is unknown
  bool finetune_at_most = false;            // finetune_examples (and seconds) are upper bounds
  std::optional<double> seconds;            // estimated: pretraining, then fine-tuning
};

// The measured rates the estimates use: those of all recorded runs pooled (a run with its own
// record uses its own).
struct MeasuredRates {
  size_t runs = 0;                                     // recorded runs that gave a rate
  std::optional<double> tokens_per_second;             // pretraining
  std::optional<double> finetune_examples_per_second;  // fine-tuning, dev scoring included
};

struct GridPlan {
  std::vector<RunPlan> runs;          // in the runs' order
  std::vector<std::string> warnings;  // one line each, without a "warning:" prefix
  MeasuredRates rates;
};

// Allowed spread of total training tokens among runs that trade train.batch_size for steps
// (Table 3's equal-compute comparison), and the passes over a corpus past which a run measures
// memorization more than pretraining.
constexpr double kEqualComputeTolerance = 0.05;
constexpr double kMaxEpochs = 100;
// Below this many sightings of each static mask, static and dynamic masking barely differ.
constexpr double kMinStaticMaskRepeats = 2;

// `tasks` may be empty (no fine-tuning figures); `recorded` are earlier runs of the experiment.
GridPlan PlanGrid(const GridSpec& grid, const std::vector<RunSpec>& runs,
                  const RunDataLookup& lookup, const TaskLookup& tasks = {},
                  const std::vector<RecordedRun>& recorded = {});

// "uci-sentiment: 1 lr x 1 seed x 4 epochs x 2400 training examples = 9.6k example passes";
// an unknown size is said in words.
std::string FinetuneText(const FinetunePlan& plan);

// "42s", "3m05s", "1h02m".
std::string DurationText(double seconds);

}  // namespace ablate::experiments

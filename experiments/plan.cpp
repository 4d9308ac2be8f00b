#include "experiments/plan.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>

#include "base/number_text.h"
#include "core/model_size.h"
#include "downstream/finetune_config.h"
#include "experiments/run_config.h"

namespace ablate::experiments {
namespace {

std::string Fixed(double x, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

std::string Count(int64_t n, const std::string& unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

// The parameters of a run outside `names` (the seed too, unless `names` holds it), as one
// comparable text.
std::string OtherParameters(const nlohmann::json& params, const auto& names) {
  nlohmann::json rest = params;
  for (const auto& name : names) rest.erase(std::string(name));
  return rest.dump();
}

// Training compute of runs compared at equal compute: tokens where every compared run's corpus is
// measured, else sequences (batch size x steps), which need no data.
class Compute {
 public:
  Compute(const std::vector<RunPlan>& plans, const std::vector<size_t>& compared) : plans_(plans) {
    for (size_t i : compared) measured_ = measured_ && plans[i].total_tokens.has_value();
  }

  double Amount(size_t i) const {
    return measured_ ? *plans_[i].total_tokens
                     : static_cast<double>(plans_[i].batch_size * plans_[i].steps);
  }
  std::string Text(size_t i) const {
    return measured_ ? Fixed(*plans_[i].total_tokens, "%.4g")
                     : std::to_string(plans_[i].batch_size * plans_[i].steps);
  }
  const char* Unit() const { return measured_ ? "training tokens" : "training sequences"; }

 private:
  const std::vector<RunPlan>& plans_;
  bool measured_ = true;
};

// The widest spread of compute inside any one group: the run with the most over the run with the
// least, less one.
struct Spread {
  double worst = 0;
  size_t low = 0, high = 0;
};
Spread WorstSpread(const std::vector<std::vector<size_t>>& groups, const Compute& compute) {
  Spread spread;
  for (const auto& members : groups) {
    auto [min_it, max_it] = std::minmax_element(
        members.begin(), members.end(),
        [&](size_t a, size_t b) { return compute.Amount(a) < compute.Amount(b); });
    if (compute.Amount(*min_it) <= 0) continue;
    const double s = compute.Amount(*max_it) / compute.Amount(*min_it) - 1;
    if (s > spread.worst) spread = {s, *min_it, *max_it};
  }
  return spread;
}

std::string SpreadText(const Spread& s) {
  return Fixed(100 * s.worst, "%.0f") + "% more, tolerance " +
         Fixed(100 * kEqualComputeTolerance, "%.0f") + "%";
}

// Linked groups that vary train.batch_size compare batch sizes at equal compute (Table 3): their
// runs should spend the same training tokens (sequences when tokens are not measured yet).
void WarnUnequalLinkedCompute(const GridSpec& grid, const std::vector<RunSpec>& runs,
                              const std::vector<RunPlan>& plans,
                              std::vector<std::string>& warnings) {
  std::vector<size_t> all(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) all[i] = i;
  const Compute compute(plans, all);
  for (const auto& dim : grid.dimensions) {
    if (dim.names.size() < 2 ||
        std::find(dim.names.begin(), dim.names.end(), "train.batch_size") == dim.names.end()) {
      continue;
    }
    std::map<std::string, std::vector<size_t>> points;
    for (size_t i = 0; i < runs.size(); ++i)
      points[OtherParameters(runs[i].params, dim.names)].push_back(i);
    std::vector<std::vector<size_t>> groups;
    for (auto& [rest, members] : points) groups.push_back(std::move(members));
    const Spread s = WorstSpread(groups, compute);
    if (s.worst <= kEqualComputeTolerance) continue;
    warnings.push_back(
        dim.path + " varies train.batch_size, but its runs are not at equal compute: run " +
        runs[s.high].key + " gets " + compute.Text(s.high) + " " + compute.Unit() + ", run " +
        runs[s.low].key + " " + compute.Text(s.low) + " (" + SpreadText(s) + ")");
  }
}

// What an equal-compute comparison of batch sizes changes besides the batch size: the steps it
// trades for it, the learning rate and warmup tuned to each batch size, and beta2, which the paper
// lowers for large batches (section 3.1); the seed, of which each point has several; and what does
// not change the weights a run trains: when it is scored and saved (a shorter run is scored as
// often) and the micro-batch that fits a batch into memory. Everything else (data, format,
// masking, model) must agree for two runs to be one comparison.
constexpr std::array<std::string_view, 9> kEqualComputeFree = {
    "train.batch_size", "train.steps", "optim.lr",          "optim.warmup_steps",
    "optim.beta2",      "seed",        "train.micro_batch", "train.checkpoint_every",
    "eval.every"};

// The include entry that sets train.batch_size a run comes from: its parameters are the base's
// with the entry's values, the seed aside where the grid's seeds give it. The first such entry
// when several give the same run; nullopt for runs of the base, axes and linked groups.
std::optional<size_t> BatchSizeEntry(const GridSpec& grid, const RunSpec& run) {
  for (size_t e = 0; e < grid.include.size(); ++e) {
    const nlohmann::json& values = grid.include[e].values;
    if (!values.contains("train.batch_size")) continue;
    bool same = true;
    for (const auto& [name, value] : run.params.items()) {
      if (name == "seed" && !values.contains("seed")) continue;
      const auto given = values.find(name);
      same = same && value == (given != values.end() ? *given : grid.base.at(name));
      if (!same) break;
    }
    if (same) return e;
  }
  return std::nullopt;
}

// Include entries that set train.batch_size are the batch-size points a grid without linked
// groups declares (micro.json's Table 3). Their runs that agree on everything but
// kEqualComputeFree, among which the batch size varies, are one equal-compute comparison. Runs of
// the base and of axes are left out: micro.json's base is Table 2's FULL-SENTENCES row, at its own
// batch size and compute; a grid that means its base as a batch-size point repeats it as an
// include entry (the run is the same, merged by key).
void WarnUnequalIncludedCompute(const GridSpec& grid, const std::vector<RunSpec>& runs,
                                const std::vector<RunPlan>& plans,
                                std::vector<std::string>& warnings) {
  std::map<size_t, size_t> entry_of;  // run -> include entry
  std::map<std::string, std::vector<size_t>> points;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (auto entry = BatchSizeEntry(grid, runs[i])) {
      entry_of[i] = *entry;
      points[OtherParameters(runs[i].params, kEqualComputeFree)].push_back(i);
    }
  }
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> compared;
  for (auto& [rest, members] : points) {
    std::set<int64_t> batch_sizes;
    for (size_t i : members) batch_sizes.insert(plans[i].batch_size);
    if (batch_sizes.size() < 2) continue;  // steps or data alone differ on purpose (Table 4)
    compared.insert(compared.end(), members.begin(), members.end());
    groups.push_back(std::move(members));
  }
  if (groups.empty()) return;
  const Compute compute(plans, compared);
  const Spread s = WorstSpread(groups, compute);
  if (s.worst <= kEqualComputeTolerance) return;
  const std::string& high = grid.include[entry_of.at(s.high)].path;
  const std::string& low = grid.include[entry_of.at(s.low)].path;
  warnings.push_back("include entries " + low + " and " + high +
                     " vary train.batch_size, but their runs are not at equal compute: run " +
                     runs[s.high].key + " (" + high + ") gets " + compute.Text(s.high) + " " +
                     compute.Unit() + ", run " + runs[s.low].key + " (" + low + ") " +
                     compute.Text(s.low) + " (" + SpreadText(s) + ")");
}

void WarnEpochs(const std::vector<RunSpec>& runs, const std::vector<RunPlan>& plans,
                std::vector<std::string>& warnings) {
  size_t over = 0, worst = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (!plans[i].epochs || *plans[i].epochs <= kMaxEpochs) continue;
    if (over++ == 0 || *plans[i].epochs > *plans[worst].epochs) worst = i;
  }
  if (over == 0) return;
  warnings.push_back(
      std::to_string(over) + " of " + std::to_string(runs.size()) +
      " runs would go through their corpus more than " + Fixed(kMaxEpochs, "%.0f") +
      " times (run " + runs[worst].key + ": " + Fixed(*plans[worst].epochs, "%.3g") +
      " epochs; the paper's runs see their data about 40 times): give a corpus of the paper's "
      "size as data.corpus=DIR, or fewer train.steps");
}

// A static run of E epochs over K masked copies uses copy e mod K in epoch e, so it sees each
// mask about E / K times. Up to K epochs no mask repeats: a static and a dynamic run of one seed
// draw the same masks and are the same run. Below two on average a mask is repeated at most
// once and some never are, so the two rows differ by little more than noise.
void WarnMaskingCannotDiffer(const std::vector<RunSpec>& runs, const std::vector<RunPlan>& plans,
                             std::vector<std::string>& warnings) {
  bool varies = false;
  for (const auto& run : runs)
    varies = varies || run.params.at("data.masking") != runs.front().params.at("data.masking");
  if (!varies) return;
  size_t statics = 0, same = 0, barely = 0, same_example = 0, barely_example = 0;
  auto copies = [&](size_t i) { return runs[i].params.at("data.static_copies").get<int64_t>(); };
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].params.at("data.masking") != core::MaskingModeName(core::MaskingMode::kStatic))
      continue;
    ++statics;
    if (!plans[i].epochs) continue;
    const double sightings = *plans[i].epochs / static_cast<double>(copies(i));
    if (sightings <= 1) {
      if (same++ == 0) same_example = i;
    } else if (sightings < kMinStaticMaskRepeats) {
      if (barely++ == 0) barely_example = i;
    }
  }
  const std::string advice =
      " Train for more epochs (a smaller data.max_tokens or more train.steps) or lower "
      "data.static_copies";
  const std::string of_statics = " of " + std::to_string(statics) + " static runs";
  if (same > 0) {
    warnings.push_back("the grid varies data.masking, but " + std::to_string(same) + of_statics +
                       " end within data.static_copies epochs (run " + runs[same_example].key +
                       ": " + Fixed(*plans[same_example].epochs, "%.3g") + " of " +
                       std::to_string(copies(same_example)) +
                       "), where static masks never repeat: they train exactly as the dynamic "
                       "run of the same seed." +
                       advice);
  }
  if (barely > 0) {
    const double epochs = *plans[barely_example].epochs;
    const int64_t k = copies(barely_example);
    warnings.push_back("the grid varies data.masking, but " + std::to_string(barely) + of_statics +
                       " see each static mask fewer than " + Fixed(kMinStaticMaskRepeats, "%.0f") +
                       " times (run " + runs[barely_example].key + ": " + Fixed(epochs, "%.3g") +
                       " epochs, so each of its " + std::to_string(k) + " static masks is seen " +
                       Fixed(epochs / static_cast<double>(k), "%.3g") +
                       " times on average): static and dynamic masking barely differ." + advice);
  }
}

// Each task's units, with the paper's settings where eval.* leaves them unset.
std::vector<FinetunePlan> PlanFinetune(const RunConfig& config,
                                       const std::vector<TaskFacts>& facts) {
  std::vector<FinetunePlan> out;
  for (const auto& task : facts) {
    const downstream::FinetuneConfig c = downstream::Resolve(config.eval.finetune, task.kind);
    FinetunePlan f;
    f.task = task.name;
    f.lrs = std::ssize(c.lrs);
    f.seeds = c.seeds;
    f.epochs = c.epochs;
    const int64_t cap = c.max_train_examples;
    if (task.train_examples) {
      f.train_examples = cap > 0 ? std::min(cap, *task.train_examples) : *task.train_examples;
    } else if (cap > 0) {
      f.train_examples = cap;
      f.at_most = true;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// A rate per recorded run (by key), and all of them pooled: their work over their seconds.
struct Rates {
  std::map<std::string, double> own;
  std::optional<double> pooled;
};

// The rate of `work` over `seconds` of each recorded run, and pooled.
Rates MeasureRates(const std::vector<RecordedRun>& recorded, double RecordedRun::*work,
                   double RecordedRun::*seconds) {
  Rates rates;
  double total_work = 0, total_seconds = 0;
  for (const auto& r : recorded) {
    if (r.*work <= 0 || r.*seconds <= 0) continue;
    rates.own[r.key] = r.*work / r.*seconds;
    total_work += r.*work;
    total_seconds += r.*seconds;
  }
  if (total_seconds > 0) rates.pooled = total_work / total_seconds;
  return rates;
}

std::optional<double> RateFor(const Rates& rates, const std::string& key) {
  const auto own = rates.own.find(key);
  return own != rates.own.end() ? std::optional<double>(own->second) : rates.pooled;
}

// Pretraining at its rate, then fine-tuning at its own, each the run's own rate where it has one;
// nullopt where a figure or a rate is missing.
void Estimate(const Rates& pretrain, const Rates& finetune, RunPlan& p) {
  const auto tokens_per_second = RateFor(pretrain, p.key);
  if (!p.total_tokens || !tokens_per_second) return;
  double seconds = *p.total_tokens / *tokens_per_second;
  if (!p.finetune.empty()) {
    const auto examples_per_second = RateFor(finetune, p.key);
    if (!p.finetune_examples || !examples_per_second) return;
    seconds += *p.finetune_examples / *examples_per_second;
  }
  p.seconds = seconds;
}

}  // namespace

std::optional<double> FinetunePlan::ExamplePasses() const {
  if (!train_examples) return std::nullopt;
  return static_cast<double>(lrs * seeds * epochs) * static_cast<double>(*train_examples);
}

std::string FinetuneText(const FinetunePlan& f) {
  const std::string units = f.task + ": " + Count(f.lrs, "lr") + " x " + Count(f.seeds, "seed") +
                            " x " + Count(f.epochs, "epoch") + " x ";
  if (!f.train_examples) {
    return units + "its training examples (not known before the task is loaded) = " +
           std::to_string(f.lrs * f.seeds * f.epochs) + " passes over its training split";
  }
  const std::string bound = f.at_most ? "at most " : "";
  return units + bound + std::to_string(*f.train_examples) + " training examples" +
         (f.at_most ? " (eval.max_train_examples)" : "") + " = " + bound +
         SiText(*f.ExamplePasses()) + " example passes";
}

std::string DurationText(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

GridPlan PlanGrid(const GridSpec& grid, const std::vector<RunSpec>& runs,
                  const RunDataLookup& lookup, const TaskLookup& tasks,
                  const std::vector<RecordedRun>& recorded) {
  GridPlan plan;
  std::map<std::string, std::vector<TaskFacts>> facts;  // by eval.tasks: runs share their tasks
  for (const auto& run : runs) {
    const RunConfig& config = run.config;
    RunPlan p;
    p.key = run.key;
    p.steps = config.train.steps;
    p.batch_size = static_cast<int64_t>(config.train.batch_size);
    if (auto data = lookup(run)) {
      const core::ModelSize size{data->vocab_size,    config.data.seq_len,
                                 config.model.layers, config.model.hidden,
                                 config.model.ffn,    core::HasNsp(config.data.format)};
      p.parameters = core::ModelParameterCount(size);
      p.tokens_per_update = data->data.tokens_per_update;
      p.total_tokens = *p.tokens_per_update * static_cast<double>(config.train.steps);
      if (data->data.sequences_per_epoch > 0) {
        p.epochs = data->data.sequences_per_update * static_cast<double>(config.train.steps) /
                   static_cast<double>(data->data.sequences_per_epoch);
      }
      p.flops = 6 * static_cast<double>(*p.parameters) * *p.total_tokens;
    }
    if (tasks && !config.eval.tasks.empty()) {
      const std::string& text = run.params.at("eval.tasks").get_ref<const std::string&>();
      auto found = facts.find(text);
      if (found == facts.end()) found = facts.emplace(text, tasks(config.eval.tasks)).first;
      p.finetune = PlanFinetune(config, found->second);
      double passes = 0;
      bool known = true;
      for (const auto& f : p.finetune) {
        const auto n = f.ExamplePasses();
        known = known && n.has_value();
        if (n) passes += *n;
        p.finetune_at_most = p.finetune_at_most || f.at_most;
      }
      if (known) p.finetune_examples = passes;
    }
    plan.runs.push_back(std::move(p));
  }
  const Rates pretrain = MeasureRates(recorded, &RecordedRun::tokens, &RecordedRun::seconds);
  // Fine-tuning's rate includes the dev scoring after each epoch, which its units' seconds do.
  const Rates finetune =
      MeasureRates(recorded, &RecordedRun::finetune_examples, &RecordedRun::finetune_seconds);
  std::set<std::string> measured;
  for (const auto& [key, rate] : pretrain.own) measured.insert(key);
  for (const auto& [key, rate] : finetune.own) measured.insert(key);
  plan.rates = {measured.size(), pretrain.pooled, finetune.pooled};
  for (auto& p : plan.runs) Estimate(pretrain, finetune, p);
  WarnUnequalLinkedCompute(grid, runs, plan.runs, plan.warnings);
  WarnUnequalIncludedCompute(grid, runs, plan.runs, plan.warnings);
  WarnEpochs(runs, plan.runs, plan.warnings);
  WarnMaskingCannotDiffer(runs, plan.runs, plan.warnings);
  return plan;
}

}  // namespace ablate::experiments

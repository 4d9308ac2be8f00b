#include "experiments/plan.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/model_size.h"
#include "experiments/run_config.h"

namespace ablate::experiments {
namespace {

std::string Fixed(double x, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

// The runs of one point of every other dimension: the parameters outside `names`, seed included.
std::string OtherParameters(const nlohmann::json& params, const std::vector<std::string>& names) {
  nlohmann::json rest = params;
  for (const auto& name : names) rest.erase(name);
  return rest.dump();
}

// Linked groups that vary train.batch_size compare batch sizes at equal compute (Table 3): their
// runs should spend the same training tokens (sequences when tokens are not measured yet).
void WarnUnequalCompute(const GridSpec& grid, const std::vector<RunSpec>& runs,
                        const std::vector<RunPlan>& plans, std::vector<std::string>& warnings) {
  for (const auto& dim : grid.dimensions) {
    if (dim.names.size() < 2 ||
        std::find(dim.names.begin(), dim.names.end(), "train.batch_size") == dim.names.end()) {
      continue;
    }
    bool measured = true;
    for (const auto& plan : plans) measured = measured && plan.total_tokens.has_value();
    std::map<std::string, std::vector<size_t>> points;
    for (size_t i = 0; i < runs.size(); ++i)
      points[OtherParameters(runs[i].params, dim.names)].push_back(i);
    double worst = 0;
    size_t low = 0, high = 0;
    for (const auto& [rest, members] : points) {
      auto amount = [&](size_t i) {
        return measured ? *plans[i].total_tokens
                        : static_cast<double>(plans[i].batch_size * plans[i].steps);
      };
      auto [min_it, max_it] =
          std::minmax_element(members.begin(), members.end(),
                              [&](size_t a, size_t b) { return amount(a) < amount(b); });
      if (amount(*min_it) <= 0) continue;
      const double spread = amount(*max_it) / amount(*min_it) - 1;
      if (spread > worst) {
        worst = spread;
        low = *min_it;
        high = *max_it;
      }
    }
    if (worst <= kEqualComputeTolerance) continue;
    const char* unit = measured ? "training tokens" : "training sequences";
    auto amount_text = [&](size_t i) {
      return measured ? Fixed(*plans[i].total_tokens, "%.4g")
                      : std::to_string(plans[i].batch_size * plans[i].steps);
    };
    warnings.push_back(dim.path +
                       " varies train.batch_size, but its runs are not at equal "
                       "compute: run " +
                       runs[high].key + " gets " + amount_text(high) + " " + unit + ", run " +
                       runs[low].key + " " + amount_text(low) + " (" + Fixed(100 * worst, "%.0f") +
                       "% more, tolerance " + Fixed(100 * kEqualComputeTolerance, "%.0f") + "%)");
  }
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

// Static masking repeats a mask only from epoch data.static_copies on; before that, a static and
// a dynamic run of one seed draw the same masks and are the same run.
void WarnMaskingCannotDiffer(const std::vector<RunSpec>& runs, const std::vector<RunPlan>& plans,
                             std::vector<std::string>& warnings) {
  bool varies = false;
  for (const auto& run : runs)
    varies = varies || run.params.at("data.masking") != runs.front().params.at("data.masking");
  if (!varies) return;
  size_t same = 0, statics = 0, example = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].params.at("data.masking") != "static") continue;
    ++statics;
    const double copies = runs[i].params.at("data.static_copies").get<double>();
    if (plans[i].epochs && *plans[i].epochs <= copies) {
      if (same++ == 0) example = i;
    }
  }
  if (same == 0) return;
  warnings.push_back(
      "the grid varies data.masking, but " + std::to_string(same) + " of " +
      std::to_string(statics) + " static runs end within data.static_copies epochs (run " +
      runs[example].key + ": " + Fixed(*plans[example].epochs, "%.3g") + " of " +
      runs[example].params.at("data.static_copies").dump() +
      "), where static masks never repeat: they train exactly as the dynamic run of the same "
      "seed. Train for more epochs (a smaller data.max_tokens or more train.steps) or lower "
      "data.static_copies");
}

}  // namespace

GridPlan PlanGrid(const GridSpec& grid, const std::vector<RunSpec>& runs,
                  const RunDataLookup& lookup) {
  GridPlan plan;
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
    plan.runs.push_back(std::move(p));
  }
  WarnUnequalCompute(grid, runs, plan.runs, plan.warnings);
  WarnEpochs(runs, plan.runs, plan.warnings);
  WarnMaskingCannotDiffer(runs, plan.runs, plan.warnings);
  return plan;
}

}  // namespace ablate::experiments

// The compute plan of a grid (experiments/plan.h) with its data figures measured on the prepared
// corpora under a data directory ("?" where a corpus is not prepared yet: nothing is built), and
// its warnings printed the way `ablate expand --plan` and `ablate run` show them.
#pragma once

#include <filesystem>
#include <ostream>

#include "experiments/plan.h"

namespace ablate::runner {

experiments::GridPlan PlanOnPreparedData(const experiments::GridSpec& grid,
                                         const std::vector<experiments::RunSpec>& runs,
                                         const std::filesystem::path& data_dir);

// One "warning: ..." line per warning.
void PrintPlanWarnings(std::ostream& out, const experiments::GridPlan& plan);

}  // namespace ablate::runner

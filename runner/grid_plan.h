// The compute plan of a grid (experiments/plan.h) with its data figures measured on the prepared
// corpora under a data directory ("?" where a corpus is not prepared yet: nothing is built), the
// sizes of its fine-tuning tasks where the fetched task says them (nothing is loaded), and, given
// a results database, the rates earlier runs of the experiment measured; and its warnings printed
// the way `ablate expand --plan` and `ablate run` show them.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "experiments/plan.h"

namespace ablate::runner {

// `db`: a results database whose runs of the grid's experiment give measured rates (their
// pretraining updates, and the fine-tuning units kept in their run directories). Throws InputError
// for a `db` that is not a results database.
experiments::GridPlan PlanOnPreparedData(const experiments::GridSpec& grid,
                                         const std::vector<experiments::RunSpec>& runs,
                                         const std::filesystem::path& data_dir,
                                         const std::optional<std::string>& db = std::nullopt);

// One "warning: ..." line per warning.
void PrintPlanWarnings(std::ostream& out, const experiments::GridPlan& plan);

}  // namespace ablate::runner

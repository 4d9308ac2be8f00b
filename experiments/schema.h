// A JSON Schema (draft 2020-12) of the grid format, generated from the parameter table so editors
// can complete and check grid files. It describes; validation proper is ParseGrid's job.
#pragma once

#include <nlohmann/json.hpp>

namespace ablate::experiments {

nlohmann::ordered_json GridJsonSchema();

}  // namespace ablate::experiments

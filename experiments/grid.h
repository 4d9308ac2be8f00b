// Grid files: parsing and validating the JSON grid format, and expanding a grid into its runs.
// Expansion is deterministic and every run gets a stable key; nothing here touches the database
// or trains anything.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/run_config.h"

namespace ablate::experiments {

// One parameter assignment from the file (an exclude or include entry), flat and canonical.
struct Assignment {
  nlohmann::json values;  // {"data.masking": "static", ...}
  std::string path;       // where it came from, e.g. /exclude/0
};

// A cartesian dimension: an axis (one name) or a linked group (several names moving together).
struct Dimension {
  std::vector<std::string> names;
  std::vector<std::vector<nlohmann::json>> points;  // points[i][j] is the value of names[j]
  std::string path;                                 // /axes/optim.lr or /linked/0
};

struct GridSpec {
  std::string source;  // the file name, for messages
  std::string text;    // the file's JSON exactly as read
  std::string name;
  std::string description;
  nlohmann::json base;  // every parameter: defaults overridden by the grid's base, canonical
  std::vector<Dimension> dimensions;
  std::vector<int64_t> seeds;  // empty: the seed comes from base
  std::vector<Assignment> exclude;
  std::vector<Assignment> include;
};

struct RunSpec {
  std::string key;        // 16 hex digits of SHA-256 over the canonical parameters
  nlohmann::json params;  // every parameter, canonical values, sorted by name
  RunConfig config;       // the same, typed and checked (CheckRunConfig)
};

// Throws InputError naming `source` and the JSON path (line and column for malformed JSON).
GridSpec ParseGrid(const std::string& text, const std::string& source);
GridSpec LoadGrid(const std::string& path);

// Runs in a fixed order: dimensions in file order (axes, then linked groups; the first varies
// slowest), seeds innermost, then include entries; excluded points dropped; points with equal
// parameters merged into one run (the first occurrence keeps its place).
std::vector<RunSpec> ExpandGrid(const GridSpec& grid);

// The stable key of a complete parameter set: independent of key order and number spelling. A
// parameter added after keys were first written counts only when it is not at its default
// (ParamSpec::keyed_at_default), so an ablate that adds one keeps every existing key.
std::string RunKey(const nlohmann::json& params);

// Command-line overrides (--set NAME=VALUE), checked like the grid's own values. VALUE is read as
// JSON where it is JSON (2000, 1e-4, true, "text"), else as text (books, 1e-5,2e-5). Throws
// InputError naming --set and the parameter for an unknown name or a bad value.
using Overrides = nlohmann::json;  // {name: canonical value}, in name order
Overrides ParseOverrides(const std::vector<std::string>& sets);

// Puts the overrides into the grid's base: defaults < base < overrides < axis and linked values.
// An override of a parameter an axis or linked group sets is an InputError saying so.
void ApplyOverrides(GridSpec& grid, const Overrides& overrides);

// " --set NAME=VALUE" for each override, as a user would type them again.
std::string OverridesText(const Overrides& overrides);

// Fills defaults and validates a run's parameter object (as `ablate expand --format json` prints
// it under "params"), for commands that take one run's config.
RunSpec LoadRunConfig(const nlohmann::json& params, const std::string& source);

}  // namespace ablate::experiments

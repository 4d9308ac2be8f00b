// The parameter table: every run parameter declared once (dotted name, type, default, allowed
// values, help, and the RunConfig field it binds to). Grid validation, `ablate params`, `ablate
// schema`, the docs and ToRunConfig all read it.
// It checks single values; it does not know about grids, files or the database.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ablate::experiments {

struct RunConfig;

enum class ParamType { kInt, kFloat, kString, kBool };

std::string_view TypeName(ParamType type);

struct ParamSpec {
  std::string name;  // dotted, e.g. "optim.lr"
  ParamType type;
  nlohmann::json default_value;
  std::optional<double> min;  // numeric bounds, inclusive unless the *_exclusive flag is set
  std::optional<double> max;
  bool min_exclusive = false;
  std::vector<std::string> choices;  // for strings: the allowed values (empty = any non-empty)
  std::string help;
  bool allow_empty = false;  // a string whose empty value means "none" or "the usual rule"
  // Stores a checked, canonical value into the row's field of a RunConfig (run_config.h), so a
  // parameter is one row here and one field there.
  using Bind = std::function<void(RunConfig&, const nlohmann::json&)>;
  Bind bind;
  // False for parameters added after run keys were first written: while at its default such a
  // parameter is left out of the run key (grid.h, RunKey), so adding it kept every existing key.
  bool keyed_at_default = true;

  // "> 0", "[0, 1)", "static | dynamic", ... for listings.
  std::string RangeText() const;
};

const std::vector<ParamSpec>& ParamTable();

// nullptr when unknown.
const ParamSpec* FindParam(std::string_view name);

// The closest known names (edit distance), for "did you mean" hints; empty when nothing is close.
std::vector<std::string> SuggestParams(std::string_view name);

// Checks one value against its spec and returns it in canonical form: ints as JSON integers (an
// integral float such as 256.0 or 1e3 is accepted), floats as JSON floats, strings and bools as
// given. Throws InputError(source, path, ...) naming the value and what was expected.
nlohmann::json CheckValue(const ParamSpec& spec, const nlohmann::json& value,
                          const std::string& source, const std::string& path);

// Canonical text of a canonical value: shortest round-trip decimal for floats, so 1e-4, 0.0001
// and 1.0e-04 all print "0.0001".
std::string CanonicalText(const nlohmann::json& value);

}  // namespace ablate::experiments

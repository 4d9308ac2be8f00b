#include "experiments/grid.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "base/hash.h"
#include "base/json_at.h"
#include "base/json_text.h"
#include "base/suggest.h"
#include "experiments/params.h"
#include "experiments/run_config.h"

namespace ablate::experiments {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const std::vector<std::string> kTopLevelKeys = {"$schema", "name",  "description", "base",   "axes",
                                                "linked",  "seeds", "exclude",     "include"};

class GridParser {
 public:
  GridParser(const std::string& text, std::string source) : source_(std::move(source)) {
    grid_.source = source_;
    grid_.text = text;
    root_ = ParseJsonText(text, source_);
  }

  GridSpec Parse() {
    const JsonAt root(root_, source_);
    root.ExpectObject();
    root.CheckKeys(kTopLevelKeys,
                   "; a grid has name, description, base, axes, linked, seeds, exclude, include");
    ParseName(root["name"]);
    if (auto d = root.Find("description")) grid_.description = d->String();
    ParseBase(root);
    std::set<std::string> varied;
    ParseAxes(root, varied);
    ParseLinked(root, varied);
    ParseSeeds(root, varied);
    grid_.exclude = ParseAssignments(root, "exclude");
    grid_.include = ParseAssignments(root, "include");
    return std::move(grid_);
  }

 private:
  const ParamSpec& Param(const std::string& name, const JsonAt& at) const {
    const ParamSpec* spec = FindParam(name);
    if (spec == nullptr) {
      at.Fail("unknown parameter \"" + name + "\"" + DidYouMean(SuggestParams(name)) +
              " (`ablate params` lists them)");
    }
    return *spec;
  }

  json Value(const std::string& name, const JsonAt& value) const {
    return CheckValue(Param(name, value), json::parse(value.value().dump()), source_, value.path());
  }

  void ParseName(const JsonAt& n) {
    if (n.Missing()) n.Fail("missing: every grid needs a name");
    grid_.name = n.String();
    // The name becomes a directory name (runs/<experiment>/...), so keep it portable.
    static const std::regex kNamePattern("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    if (!std::regex_match(grid_.name, kNamePattern)) {
      n.Fail("\"" + grid_.name +
             "\" is not a valid name: use letters, digits, '_', '.', '-' (at most 128, starting "
             "with a letter or digit)");
    }
  }

  // base accepts flat dotted names ({"optim.lr": 1e-4}) and nested groups ({"optim": {"lr": ..}}).
  void FlattenBase(const JsonAt& object, const std::string& prefix,
                   std::map<std::string, std::string>& seen) {
    for (const auto& [key, value] : object.Members()) {
      std::string name = prefix.empty() ? key : prefix + "." + key;
      if (FindParam(name) == nullptr && value.value().is_object()) {
        FlattenBase(value, name, seen);
        continue;
      }
      json canonical = Value(name, value);
      if (auto it = seen.find(name); it != seen.end()) {
        value.Fail(name + " is set twice in base (also at " + it->second + ")");
      }
      seen[name] = value.path();
      grid_.base[name] = canonical;
    }
  }

  void ParseBase(const JsonAt& root) {
    for (const auto& spec : ParamTable()) grid_.base[spec.name] = spec.default_value;
    const auto base = root.Find("base");
    if (!base) return;
    base->ExpectObject("an object of parameters");
    std::map<std::string, std::string> seen;
    FlattenBase(*base, "", seen);
  }

  std::vector<json> ValueList(const std::string& name, const JsonAt& list) const {
    const auto items = list.Elements("a list of values for " + name);
    if (items.empty()) list.Fail("empty list: " + name + " needs at least one value");
    std::vector<json> values;
    for (const auto& item : items) values.push_back(Value(name, item));
    return values;
  }

  void Claim(const std::string& name, const JsonAt& at, std::set<std::string>& varied) {
    if (!varied.insert(name).second) {
      at.Fail(name + " is varied twice (also at " + claimed_at_[name] + ")");
    }
    claimed_at_[name] = at.path();
  }

  void ParseAxes(const JsonAt& root, std::set<std::string>& varied) {
    const auto axes = root.Find("axes");
    if (!axes) return;
    for (const auto& [name, list] : axes->Members("an object {parameter: [values]}")) {
      Param(name, list);
      Claim(name, list, varied);
      Dimension dim{{name}, {}, list.path()};
      for (auto& v : ValueList(name, list)) dim.points.push_back({v});
      grid_.dimensions.push_back(std::move(dim));
    }
  }

  void ParseLinked(const JsonAt& root, std::set<std::string>& varied) {
    const auto linked = root.Find("linked");
    if (!linked) return;
    for (const auto& group : linked->Elements("a list of groups {parameter: [values], ...}")) {
      const auto members = group.Members("an object {parameter: [values], ...}");
      if (members.empty()) group.Fail("empty group: name the parameters that move together");
      Dimension dim{{}, {}, group.path()};
      std::string first_name;
      size_t length = 0;
      for (const auto& [name, list] : members) {
        Param(name, list);
        Claim(name, list, varied);
        auto values = ValueList(name, list);
        if (dim.names.empty()) {
          first_name = name;
          length = values.size();
          dim.points.resize(length);
        } else if (values.size() != length) {
          list.Fail("linked lists must have equal lengths: " + name + " has " +
                    std::to_string(values.size()) + " values, " + first_name + " has " +
                    std::to_string(length));
        }
        dim.names.push_back(name);
        for (size_t i = 0; i < length; ++i) dim.points[i].push_back(values[i]);
      }
      grid_.dimensions.push_back(std::move(dim));
    }
  }

  void ParseSeeds(const JsonAt& root, const std::set<std::string>& varied) {
    const auto seeds = root.Find("seeds");
    if (!seeds) return;
    if (varied.count("seed") != 0) {
      seeds->Fail("seed is already varied at " + claimed_at_.at("seed") + "; use one or the other");
    }
    const ParamSpec& spec = *FindParam("seed");
    if (seeds->value().is_number_integer()) {
      int64_t count = seeds->value().get<int64_t>();
      if (count < 1 || count > 100000)
        seeds->Fail("a seed count must be in [1, 100000], got " + seeds->value().dump());
      for (int64_t s = 1; s <= count; ++s) grid_.seeds.push_back(s);
      return;
    }
    const auto list = seeds->Elements("a count or a list of seeds");
    if (list.empty()) seeds->Fail("empty list: give at least one seed");
    std::set<int64_t> unique;
    for (const auto& item : list) {
      int64_t seed =
          CheckValue(spec, json::parse(item.value().dump()), source_, item.path()).get<int64_t>();
      if (!unique.insert(seed).second)
        item.Fail("seed " + std::to_string(seed) + " is listed twice");
      grid_.seeds.push_back(seed);
    }
  }

  std::vector<Assignment> ParseAssignments(const JsonAt& root, const std::string& field) {
    std::vector<Assignment> out;
    const auto list = root.Find(field);
    if (!list) return out;
    for (const auto& item : list->Elements("a list of objects {parameter: value, ...}")) {
      const auto members = item.Members("an object {parameter: value, ...}");
      if (members.empty()) item.Fail("empty " + field + " entry: name at least one parameter");
      Assignment a{json::object(), item.path()};
      for (const auto& [name, value] : members) a.values[name] = Value(name, value);
      out.push_back(std::move(a));
    }
    return out;
  }

  std::string source_;
  ordered_json root_;
  GridSpec grid_;
  std::map<std::string, std::string> claimed_at_;
};

bool Matches(const json& params, const json& partial) {
  for (const auto& [name, value] : partial.items()) {
    if (params.at(name) != value) return false;
  }
  return true;
}

std::string Describe(const json& params, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n + "=" + CanonicalText(params.at(n));
  return out;
}

// Constraints between parameters (CheckRunConfig), checked on every expanded run.
RunConfig CheckRun(const json& params, const std::string& source, const std::string& path) {
  auto fail = [&](const std::vector<std::string>& names, const std::string& why) {
    throw InputError(source, path, "run with " + Describe(params, names) + ": " + why);
  };
  RunConfig config;
  try {
    config = ToRunConfig(params);
  } catch (const InputError& e) {
    fail({e.path()}, e.message());
  }
  if (auto problem = CheckRunConfig(config)) fail(problem->params, problem->message);
  return config;
}

}  // namespace

GridSpec ParseGrid(const std::string& text, const std::string& source) {
  return GridParser(text, source).Parse();
}

GridSpec LoadGrid(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read grid file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseGrid(text.str(), path);
}

std::string RunKey(const json& params) {
  // nlohmann::json objects iterate in sorted key order, so the text is independent of file order.
  std::string canonical;
  for (const auto& [name, value] : params.items()) {
    const ParamSpec* spec = FindParam(name);
    if (spec != nullptr && !spec->keyed_at_default && value == spec->default_value) continue;
    canonical += name + "=" + CanonicalText(value) + "\n";
  }
  return Sha256Hex(canonical).substr(0, 16);
}

std::vector<RunSpec> ExpandGrid(const GridSpec& grid) {
  std::vector<json> points;
  // Odometer over the dimensions: the last dimension varies fastest.
  std::vector<size_t> index(grid.dimensions.size(), 0);
  while (true) {
    json point = grid.base;
    for (size_t d = 0; d < grid.dimensions.size(); ++d) {
      const auto& dim = grid.dimensions[d];
      for (size_t j = 0; j < dim.names.size(); ++j) point[dim.names[j]] = dim.points[index[d]][j];
    }
    points.push_back(std::move(point));
    size_t d = grid.dimensions.size();
    while (d > 0 && ++index[d - 1] == grid.dimensions[d - 1].points.size()) index[--d] = 0;
    if (d == 0) break;
  }

  for (const auto& ex : grid.exclude) {
    auto kept = std::remove_if(points.begin(), points.end(),
                               [&](const json& p) { return Matches(p, ex.values); });
    if (kept == points.end()) {
      throw InputError(grid.source, ex.path, "this exclude matches no run of the grid");
    }
    points.erase(kept, points.end());
  }

  std::vector<json> seeded;
  auto add_seeds = [&](const json& point, bool seed_fixed) {
    if (grid.seeds.empty() || seed_fixed) {
      seeded.push_back(point);
      return;
    }
    for (int64_t seed : grid.seeds) {
      json p = point;
      p["seed"] = seed;
      seeded.push_back(std::move(p));
    }
  };
  for (const auto& p : points) add_seeds(p, false);
  for (const auto& inc : grid.include) {
    json p = grid.base;
    for (const auto& [name, value] : inc.values.items()) p[name] = value;
    add_seeds(p, inc.values.contains("seed"));
  }

  std::vector<RunSpec> runs;
  std::set<std::string> keys;
  for (auto& p : seeded) {
    RunConfig config = CheckRun(p, grid.source, "/");
    std::string key = RunKey(p);
    if (keys.insert(key).second) runs.push_back({key, std::move(p), std::move(config)});
  }
  return runs;
}

Overrides ParseOverrides(const std::vector<std::string>& sets) {
  Overrides overrides = json::object();
  for (const auto& set : sets) {
    const size_t equals = set.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw InputError("", "--set", "\"" + set + "\": expected NAME=VALUE, e.g. train.steps=2000");
    }
    const std::string name = set.substr(0, equals), text = set.substr(equals + 1);
    const ParamSpec* spec = FindParam(name);
    if (spec == nullptr) {
      throw InputError("", "--set",
                       "unknown parameter \"" + name + "\"" + DidYouMean(SuggestParams(name)));
    }
    // Strings are taken as typed unless quoted as JSON; other types are read as JSON.
    json value = json::parse(text, nullptr, false);
    if (spec->type == ParamType::kString && !(value.is_string() && text.front() == '"')) {
      value = text;
    }
    if (value.is_discarded()) value = text;
    overrides[name] = CheckValue(*spec, value, "--set", name);
  }
  return overrides;
}

void ApplyOverrides(GridSpec& grid, const Overrides& overrides) {
  for (const auto& [name, value] : overrides.items()) {
    for (const auto& dim : grid.dimensions) {
      if (std::find(dim.names.begin(), dim.names.end(), name) != dim.names.end()) {
        throw InputError(grid.source, dim.path,
                         "--set " + name + " overrides a parameter this " +
                             (dim.names.size() > 1 ? std::string("linked group") : "axis") +
                             " varies: axis and linked values win over --set, so remove one of "
                             "them");
      }
    }
    grid.base[name] = value;
  }
}

std::string OverridesText(const Overrides& overrides) {
  std::string out;
  for (const auto& [name, value] : overrides.items()) {
    out += " --set " + name + "=" +
           (value.is_string() ? value.get<std::string>() : CanonicalText(value));
  }
  return out;
}

RunSpec LoadRunConfig(const json& params, const std::string& source) {
  if (!params.is_object()) throw InputError(source, "/", "expected an object of parameters");
  json full;
  for (const auto& spec : ParamTable()) full[spec.name] = spec.default_value;
  for (const auto& [name, value] : params.items()) {
    std::string path = JsonPointerJoin("", name);
    const ParamSpec* spec = FindParam(name);
    if (spec == nullptr) {
      throw InputError(source, path,
                       "unknown parameter \"" + name + "\"" + DidYouMean(SuggestParams(name)));
    }
    full[name] = CheckValue(*spec, value, source, path);
  }
  RunConfig config = CheckRun(full, source, "/");
  return {RunKey(full), std::move(full), std::move(config)};
}

}  // namespace ablate::experiments

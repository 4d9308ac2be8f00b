#include "experiments/grid.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "base/hash.h"
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

std::string JsonKind(const ordered_json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_null()) return "null";
  return "a number";
}

// JSON Pointer escaping (RFC 6901) so paths stay unambiguous for any key.
std::string PathJoin(const std::string& parent, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return parent + "/" + escaped;
}

std::string PathJoin(const std::string& parent, size_t index) {
  return parent + "/" + std::to_string(index);
}

class GridParser {
 public:
  GridParser(const std::string& text, std::string source) : source_(std::move(source)) {
    grid_.source = source_;
    grid_.text = text;
    root_ = ParseText(text);
  }

  GridSpec Parse() {
    Expect(root_, "", "an object", root_.is_object());
    for (const auto& [key, value] : root_.items()) {
      if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key) == kTopLevelKeys.end()) {
        Fail(PathJoin("", key), "unknown key \"" + key + "\"" +
                                    DidYouMean(ClosestNames(key, kTopLevelKeys)) +
                                    "; a grid has name, description, base, axes, linked, seeds, "
                                    "exclude, include");
      }
    }
    ParseName();
    if (root_.contains("description")) {
      const auto& d = root_["description"];
      Expect(d, "/description", "a string", d.is_string());
      grid_.description = d.get<std::string>();
    }
    ParseBase();
    std::set<std::string> varied;
    ParseAxes(varied);
    ParseLinked(varied);
    ParseSeeds(varied);
    grid_.exclude = ParseAssignments("exclude");
    grid_.include = ParseAssignments("include");
    return std::move(grid_);
  }

 private:
  ordered_json ParseText(const std::string& text) { return ParseJsonText(text, source_); }

  [[noreturn]] void Fail(const std::string& path, const std::string& message) const {
    throw InputError(source_, path.empty() ? "/" : path, message);
  }

  void Expect(const ordered_json& v, const std::string& path, const std::string& what,
              bool ok) const {
    if (!ok) Fail(path, "expected " + what + ", got " + JsonKind(v) + " " + Short(v));
  }

  static std::string Short(const ordered_json& v) {
    std::string text = v.dump();
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
  }

  const ParamSpec& Param(const std::string& name, const std::string& path) const {
    const ParamSpec* spec = FindParam(name);
    if (spec == nullptr) {
      Fail(path, "unknown parameter \"" + name + "\"" + DidYouMean(SuggestParams(name)) +
                     " (`ablate params` lists them)");
    }
    return *spec;
  }

  json Value(const std::string& name, const ordered_json& value, const std::string& path) const {
    return CheckValue(Param(name, path), json::parse(value.dump()), source_, path);
  }

  void ParseName() {
    if (!root_.contains("name")) Fail("/name", "missing: every grid needs a name");
    const auto& n = root_["name"];
    Expect(n, "/name", "a string", n.is_string());
    grid_.name = n.get<std::string>();
    // The name becomes a directory name (runs/<experiment>/...), so keep it portable.
    static const std::regex kNamePattern("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    if (!std::regex_match(grid_.name, kNamePattern)) {
      Fail("/name", "\"" + grid_.name +
                        "\" is not a valid name: use letters, digits, '_', '.', '-' (at most 128, "
                        "starting with a letter or digit)");
    }
  }

  // base accepts flat dotted names ({"optim.lr": 1e-4}) and nested groups ({"optim": {"lr": ..}}).
  void FlattenBase(const ordered_json& object, const std::string& prefix, const std::string& path,
                   std::map<std::string, std::string>& seen) {
    for (const auto& [key, value] : object.items()) {
      std::string name = prefix.empty() ? key : prefix + "." + key;
      std::string child = PathJoin(path, key);
      if (FindParam(name) == nullptr && value.is_object()) {
        FlattenBase(value, name, child, seen);
        continue;
      }
      json canonical = Value(name, value, child);
      if (auto it = seen.find(name); it != seen.end()) {
        Fail(child, name + " is set twice in base (also at " + it->second + ")");
      }
      seen[name] = child;
      grid_.base[name] = canonical;
    }
  }

  void ParseBase() {
    for (const auto& spec : ParamTable()) grid_.base[spec.name] = spec.default_value;
    if (!root_.contains("base")) return;
    const auto& base = root_["base"];
    Expect(base, "/base", "an object of parameters", base.is_object());
    std::map<std::string, std::string> seen;
    FlattenBase(base, "", "/base", seen);
  }

  std::vector<json> ValueList(const std::string& name, const ordered_json& list,
                              const std::string& path) const {
    Expect(list, path, "a list of values for " + name, list.is_array());
    if (list.empty()) Fail(path, "empty list: " + name + " needs at least one value");
    std::vector<json> values;
    for (size_t i = 0; i < list.size(); ++i)
      values.push_back(Value(name, list[i], PathJoin(path, i)));
    return values;
  }

  void Claim(const std::string& name, const std::string& path, std::set<std::string>& varied,
             std::map<std::string, std::string>& where) {
    if (!varied.insert(name).second) {
      Fail(path, name + " is varied twice (also at " + where[name] + ")");
    }
    where[name] = path;
  }

  void ParseAxes(std::set<std::string>& varied) {
    if (!root_.contains("axes")) return;
    const auto& axes = root_["axes"];
    Expect(axes, "/axes", "an object {parameter: [values]}", axes.is_object());
    for (const auto& [name, list] : axes.items()) {
      std::string path = PathJoin("/axes", name);
      Param(name, path);
      Claim(name, path, varied, claimed_at_);
      Dimension dim{{name}, {}, path};
      for (auto& v : ValueList(name, list, path)) dim.points.push_back({v});
      grid_.dimensions.push_back(std::move(dim));
    }
  }

  void ParseLinked(std::set<std::string>& varied) {
    if (!root_.contains("linked")) return;
    const auto& linked = root_["linked"];
    Expect(linked, "/linked", "a list of groups {parameter: [values], ...}", linked.is_array());
    for (size_t g = 0; g < linked.size(); ++g) {
      std::string group_path = PathJoin("/linked", g);
      const auto& group = linked[g];
      Expect(group, group_path, "an object {parameter: [values], ...}", group.is_object());
      if (group.empty()) Fail(group_path, "empty group: name the parameters that move together");
      Dimension dim{{}, {}, group_path};
      std::string first_name;
      size_t length = 0;
      for (const auto& [name, list] : group.items()) {
        std::string path = PathJoin(group_path, name);
        Param(name, path);
        Claim(name, path, varied, claimed_at_);
        auto values = ValueList(name, list, path);
        if (dim.names.empty()) {
          first_name = name;
          length = values.size();
          dim.points.resize(length);
        } else if (values.size() != length) {
          Fail(path, "linked lists must have equal lengths: " + name + " has " +
                         std::to_string(values.size()) + " values, " + first_name + " has " +
                         std::to_string(length));
        }
        dim.names.push_back(name);
        for (size_t i = 0; i < length; ++i) dim.points[i].push_back(values[i]);
      }
      grid_.dimensions.push_back(std::move(dim));
    }
  }

  void ParseSeeds(const std::set<std::string>& varied) {
    if (!root_.contains("seeds")) return;
    const auto& seeds = root_["seeds"];
    if (varied.count("seed") != 0) {
      Fail("/seeds",
           "seed is already varied at " + claimed_at_.at("seed") + "; use one or the other");
    }
    const ParamSpec& spec = *FindParam("seed");
    if (seeds.is_number_integer()) {
      int64_t count = seeds.get<int64_t>();
      if (count < 1 || count > 100000)
        Fail("/seeds", "a seed count must be in [1, 100000], got " + seeds.dump());
      for (int64_t s = 1; s <= count; ++s) grid_.seeds.push_back(s);
      return;
    }
    Expect(seeds, "/seeds", "a count or a list of seeds", seeds.is_array());
    if (seeds.empty()) Fail("/seeds", "empty list: give at least one seed");
    std::set<int64_t> unique;
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::string path = PathJoin("/seeds", i);
      int64_t seed = CheckValue(spec, json::parse(seeds[i].dump()), source_, path).get<int64_t>();
      if (!unique.insert(seed).second)
        Fail(path, "seed " + std::to_string(seed) + " is listed twice");
      grid_.seeds.push_back(seed);
    }
  }

  std::vector<Assignment> ParseAssignments(const std::string& field) {
    std::vector<Assignment> out;
    if (!root_.contains(field)) return out;
    const auto& list = root_[field];
    std::string path = "/" + field;
    Expect(list, path, "a list of objects {parameter: value, ...}", list.is_array());
    for (size_t i = 0; i < list.size(); ++i) {
      std::string item_path = PathJoin(path, i);
      const auto& item = list[i];
      Expect(item, item_path, "an object {parameter: value, ...}", item.is_object());
      if (item.empty()) Fail(item_path, "empty " + field + " entry: name at least one parameter");
      Assignment a{json::object(), item_path};
      for (const auto& [name, value] : item.items()) {
        a.values[name] = Value(name, value, PathJoin(item_path, name));
      }
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
  for (const auto& [name, value] : params.items())
    canonical += name + "=" + CanonicalText(value) + "\n";
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
    std::string path = PathJoin("", name);
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

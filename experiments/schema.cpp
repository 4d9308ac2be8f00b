#include "experiments/schema.h"

#include <map>

#include "experiments/params.h"

namespace ablate::experiments {
namespace {

using nlohmann::ordered_json;

ordered_json ValueSchema(const ParamSpec& spec) {
  ordered_json s;
  switch (spec.type) {
    case ParamType::kInt:
      s["type"] = "integer";
      break;
    case ParamType::kFloat:
      s["type"] = "number";
      break;
    case ParamType::kString:
      s["type"] = "string";
      if (!spec.choices.empty())
        s["enum"] = spec.choices;
      else if (!spec.allow_empty)
        s["minLength"] = 1;
      break;
    case ParamType::kBool:
      s["type"] = "boolean";
      break;
  }
  if (spec.min) s[spec.min_exclusive ? "exclusiveMinimum" : "minimum"] = *spec.min;
  if (spec.max && *spec.max < 1e12) s["maximum"] = *spec.max;
  s["default"] = spec.default_value;
  s["description"] = spec.help;
  return s;
}

// Every parameter by dotted name; `list` wraps each value schema in a non-empty array.
ordered_json FlatParams(bool list) {
  ordered_json props = ordered_json::object();
  for (const auto& spec : ParamTable()) {
    ordered_json v = ValueSchema(spec);
    if (list) {
      ordered_json a;
      a["type"] = "array";
      a["minItems"] = 1;
      a["items"] = v;
      a["description"] = spec.help;
      props[spec.name] = a;
    } else {
      props[spec.name] = v;
    }
  }
  return props;
}

ordered_json ObjectOf(ordered_json properties, int min_properties = 0) {
  ordered_json o;
  o["type"] = "object";
  o["properties"] = std::move(properties);
  o["additionalProperties"] = false;
  if (min_properties > 0) o["minProperties"] = min_properties;
  return o;
}

// base also accepts nested groups: {"optim": {"lr": 1e-4}}.
ordered_json BaseSchema() {
  ordered_json props = FlatParams(false);
  std::map<std::string, ordered_json> groups;
  for (const auto& spec : ParamTable()) {
    auto dot = spec.name.find('.');
    if (dot == std::string::npos) continue;
    groups[spec.name.substr(0, dot)][spec.name.substr(dot + 1)] = ValueSchema(spec);
  }
  for (auto& [group, members] : groups) props[group] = ObjectOf(members);
  ordered_json s = ObjectOf(props);
  s["description"] = "the default config of every run (parameter defaults fill the rest)";
  return s;
}

}  // namespace

ordered_json GridJsonSchema() {
  ordered_json partial = ObjectOf(FlatParams(false), 1);
  ordered_json seeds;
  seeds["description"] = "a count N (seeds 1..N) or a list of seeds; seeds vary innermost";
  seeds["oneOf"] = ordered_json::array({{{"type", "integer"}, {"minimum", 1}},
                                        {{"type", "array"},
                                         {"minItems", 1},
                                         {"uniqueItems", true},
                                         {"items", {{"type", "integer"}, {"minimum", 0}}}}});

  ordered_json props;
  props["$schema"] = {{"type", "string"}};
  props["name"] = {{"type", "string"},
                   {"pattern", "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"},
                   {"description", "experiment name (also the run directory name)"}};
  props["description"] = {{"type", "string"}};
  props["base"] = BaseSchema();
  props["axes"] = ObjectOf(FlatParams(true));
  props["axes"]["description"] = "cartesian axes: each parameter with its list of values";
  ordered_json group = ObjectOf(FlatParams(true), 1);
  props["linked"] = {{"type", "array"},
                     {"items", group},
                     {"description", "groups of equal-length lists that move together"}};
  props["seeds"] = seeds;
  props["exclude"] = {{"type", "array"}, {"items", partial}, {"description", "points to drop"}};
  props["include"] = {
      {"type", "array"}, {"items", partial}, {"description", "extra points over base"}};

  ordered_json schema;
  schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  schema["title"] = "ablate experiment grid";
  schema["type"] = "object";
  schema["required"] = {"name"};
  schema["properties"] = props;
  schema["additionalProperties"] = false;
  return schema;
}

}  // namespace ablate::experiments

#include "experiments/schema.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "experiments/params.h"

namespace ex = ablate::experiments;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("the schema is generated from the parameter table", "[schema]") {
  auto schema = ex::GridJsonSchema();
  const auto& axes = schema["properties"]["axes"]["properties"];
  CHECK(axes.size() == ex::ParamTable().size());
  CHECK(axes["data.format"]["items"]["enum"].size() == 4);
  CHECK(axes["optim.lr"]["items"]["exclusiveMinimum"] == 0.0);
  CHECK(schema["properties"]["base"]["properties"]["optim"]["properties"]["lr"]["type"] ==
        "number");
  CHECK(schema["required"] == nlohmann::json::array({"name"}));
}

TEST_CASE("docs/grid.schema.json is what `ablate schema` prints", "[schema]") {
  // Regenerate with: build/bin/ablate schema > docs/grid.schema.json
  CHECK(ReadFile(std::string(ABLATE_SOURCE_DIR) + "/docs/grid.schema.json") ==
        ex::GridJsonSchema().dump(2) + "\n");
}

TEST_CASE("the shipped grids validate against the schema (python3-jsonschema)", "[schema]") {
  // An independent JSON Schema validator checks that the schema accepts every shipped grid and
  // rejects a grid with an unknown parameter.
  if (std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) {
    WARN("python3-jsonschema is not installed (scripts/setup installs it): skipped");
    return;
  }
  std::string dir = ABLATE_SOURCE_DIR;
  std::string script = R"PY(
import glob, json, sys, jsonschema
schema = json.load(open(sys.argv[1] + '/docs/grid.schema.json'))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
grids = sorted(glob.glob(sys.argv[1] + '/experiments/**/*.json', recursive=True))
grids = [g for g in grids if not g.endswith('paper_reference.json') and not g.endswith('report.json')]
assert len(grids) >= 4, grids
for g in grids:
    errors = list(v.iter_errors(json.load(open(g))))
    assert not errors, (g, [e.message for e in errors])
bad = {'name': 'x', 'axes': {'optim.lrr': [1]}}
assert list(v.iter_errors(bad)), 'unknown parameter accepted'
print('ok', len(grids))
)PY";
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                     "/ablate_schema_check.py";
  std::ofstream(path) << script;
  CHECK(std::system(("/usr/bin/python3 " + path + " " + dir).c_str()) == 0);
  std::remove(path.c_str());
}

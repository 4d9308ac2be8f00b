#include "experiments/grid.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using ablate::InputError;
using nlohmann::json;
namespace ex = ablate::experiments;

namespace {

std::vector<ex::RunSpec> Expand(const std::string& text) {
  return ex::ExpandGrid(ex::ParseGrid(text, "g.json"));
}

// The one-line error a grid produces, or "no error".
std::string Error(const std::string& text) {
  try {
    Expand(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

std::vector<json> Column(const std::vector<ex::RunSpec>& runs, const std::string& name) {
  std::vector<json> out;
  for (const auto& r : runs) out.push_back(r.params.at(name));
  return out;
}

}  // namespace

TEST_CASE("axes expand as a cartesian product, first axis slowest, seeds innermost", "[grid]") {
  auto runs = Expand(R"({"name": "t", "axes": {"data.masking": ["static", "dynamic"],
                         "data.seq_len": [128, 256, 512]}, "seeds": 2})");
  REQUIRE(runs.size() == 12);
  CHECK(Column(runs, "data.masking") ==
        std::vector<json>{"static", "static", "static", "static", "static", "static", "dynamic",
                          "dynamic", "dynamic", "dynamic", "dynamic", "dynamic"});
  CHECK(Column(runs, "data.seq_len") ==
        std::vector<json>{128, 128, 256, 256, 512, 512, 128, 128, 256, 256, 512, 512});
  CHECK(Column(runs, "seed") == std::vector<json>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2});
  // Every run carries every parameter, defaults included.
  CHECK(runs[0].params.at("optim.beta2") == 0.999);
  CHECK(runs[0].params.size() == Expand(R"({"name": "t"})")[0].params.size());
}

TEST_CASE("linked lists move together, like the paper's batch-size table", "[grid]") {
  auto runs = Expand(R"({"name": "t3", "linked": [{"train.batch_size": [256, 2048, 8192],
                          "train.steps": [1000000, 125000, 31000], "optim.lr": [1e-4, 7e-4, 1e-3]}],
                          "seeds": [7]})");
  REQUIRE(runs.size() == 3);
  CHECK(Column(runs, "train.batch_size") == std::vector<json>{256, 2048, 8192});
  CHECK(Column(runs, "train.steps") == std::vector<json>{1000000, 125000, 31000});
  CHECK(Column(runs, "optim.lr") == std::vector<json>{1e-4, 7e-4, 1e-3});
  CHECK(Column(runs, "seed") == std::vector<json>{7, 7, 7});
}

TEST_CASE("exclude drops matching points and include adds points over base", "[grid]") {
  auto runs = Expand(R"({"name": "t", "base": {"train.steps": 100, "optim.warmup_steps": 10},
      "axes": {"data.format": ["SEGMENT-PAIR+NSP", "FULL-SENTENCES"],
               "data.masking": ["static", "dynamic"]},
      "exclude": [{"data.format": "SEGMENT-PAIR+NSP", "data.masking": "dynamic"}],
      "include": [{"data.format": "DOC-SENTENCES", "train.steps": 200}], "seeds": [1, 2]})");
  REQUIRE(runs.size() == 8);
  CHECK(Column(runs, "data.format") == std::vector<json>{"SEGMENT-PAIR+NSP", "SEGMENT-PAIR+NSP",
                                                         "FULL-SENTENCES", "FULL-SENTENCES",
                                                         "FULL-SENTENCES", "FULL-SENTENCES",
                                                         "DOC-SENTENCES", "DOC-SENTENCES"});
  CHECK(Column(runs, "data.masking") == std::vector<json>{"static", "static", "static", "static",
                                                          "dynamic", "dynamic", "static",
                                                          "static"});
  CHECK(Column(runs, "train.steps") == std::vector<json>{100, 100, 100, 100, 100, 100, 200, 200});
}

TEST_CASE("points with equal parameters are one run", "[grid]") {
  // The include repeats an axis point (seed 1 and 2 included): no new runs; one with seed 3 adds
  // one.
  auto runs = Expand(R"({"name": "t", "axes": {"data.masking": ["static", "dynamic"]},
      "seeds": 2, "include": [{"data.masking": "static"}, {"data.masking": "dynamic", "seed": 3}]})");
  REQUIRE(runs.size() == 5);
  CHECK(runs[4].params.at("seed") == 3);
}

TEST_CASE("run keys ignore key order, nesting and number spelling", "[grid]") {
  auto a = Expand(R"({"name": "a", "base": {"optim.lr": 1e-4, "train.batch_size": 256,
                      "model.hidden": 768}})");
  auto b = Expand(R"({"base": {"model": {"hidden": 768.0}, "train.batch_size": 2.56e2,
                      "optim": {"lr": 0.00010}}, "name": "b"})");
  REQUIRE(a.size() == 1);
  CHECK(a[0].key == b[0].key);
  CHECK(a[0].key.size() == 16);
  auto c = Expand(R"({"name": "c", "base": {"optim.lr": 2e-4}})");
  CHECK(c[0].key != a[0].key);
}

TEST_CASE("a run key is the SHA-256 of sorted name=value lines", "[grid]") {
  // printf 'data.masking="static"\noptim.lr=0.0001\nseed=1\n' | sha256sum | cut -c1-16
  json params = json::object();
  params["seed"] = 1;
  params["optim.lr"] = 1e-4;
  params["data.masking"] = "static";
  CHECK(ex::RunKey(params) == "06e0c8c3279fa8f1");
}

TEST_CASE("a parameter added later counts in the key only when it is not at its default",
          "[grid]") {
  json params = json::object();
  params["seed"] = 1;
  params["optim.lr"] = 1e-4;
  params["data.masking"] = "static";
  // eval.pooling came after keys were first written: at its default the key is the one above.
  params["eval.pooling"] = "first";
  CHECK(ex::RunKey(params) == "06e0c8c3279fa8f1");
  // printf 'data.masking="static"\neval.pooling="mean"\noptim.lr=0.0001\nseed=1\n' |
  //   sha256sum | cut -c1-16
  params["eval.pooling"] = "mean";
  CHECK(ex::RunKey(params) == "5d04265a03b8d4ff");
  // Every parameter of the first release is keyed at its default.
  params.erase("eval.pooling");
  params["optim.beta1"] = 0.9;
  CHECK(ex::RunKey(params) != "06e0c8c3279fa8f1");
}

TEST_CASE("bad grids get one error naming the file and JSON path", "[grid][errors]") {
  CHECK(Error(R"({"name": "t", "axes": {"optim.lrr": [1e-4]}})") ==
        "g.json: /axes/optim.lrr: unknown parameter \"optim.lrr\" (did you mean \"optim.lr\"?) "
        "(`ablate params` lists them)");
  CHECK(Error(R"({"name": "t", "axes": {"train.batch_size": [256, "2K"]}})") ==
        "g.json: /axes/train.batch_size/1: train.batch_size = \"2K\" is invalid: expected an "
        "integer");
  CHECK(Error(R"({"name": "t", "base": {"optim": {"beta2": 1.5}}})") ==
        "g.json: /base/optim/beta2: optim.beta2 = 1.5 is invalid: expected float in [0, "
        "0.999999999]");
  CHECK(Error(R"({"name": "t", "linked": [{"train.batch_size": [256, 2048],
                  "train.steps": [1000, 500, 250]}]})") ==
        "g.json: /linked/0/train.steps: linked lists must have equal lengths: train.steps has 3 "
        "values, train.batch_size has 2");
  CHECK(Error(R"({"name": "t", "axes": {"data.masking": ["static"]},
                  "exclude": [{"data.masking": "dynamic"}]})") ==
        "g.json: /exclude/0: this exclude matches no run of the grid");
  CHECK(Error(R"({"name": "t", "axes": {"data.masking": []}})") ==
        "g.json: /axes/data.masking: empty list: data.masking needs at least one value");
  CHECK(Error("{\"name\": \"t\",\n  \"axes\": {\"seed\": [1, 2,]}\n}") ==
        "g.json:2:26: malformed JSON: syntax error while parsing value - unexpected ']'; expected "
        "'[', '{', or a literal");
  // Found by the grid fuzzer: a number beyond a double was an uncaught exception.
  CHECK(Error(R"({"name": "t", "base": {"optim": {"lr": 15e982}}})") ==
        "g.json: malformed JSON: number overflow parsing '15e982'");
  CHECK(Error(R"({"name": "t", "axis": {}})") ==
        "g.json: /axis: unknown key \"axis\" (did you mean \"axes\"?); a grid has name, "
        "description, base, axes, linked, seeds, exclude, include");
  CHECK(Error(R"({"axes": {}})") == "g.json: /name: missing: every grid needs a name");
  CHECK(Error(R"({"name": "my grid"})") ==
        "g.json: /name: \"my grid\" is not a valid name: use letters, digits, '_', '.', '-' (at "
        "most 128, starting with a letter or digit)");
  CHECK(Error(R"({"name": "t", "axes": {"seed": [1, 2]}, "seeds": 3})") ==
        "g.json: /seeds: seed is already varied at /axes/seed; use one or the other");
  CHECK(Error(R"({"name": "t", "axes": {"optim.lr": [1e-4]}, "linked": [{"optim.lr": [2e-4]}]})") ==
        "g.json: /linked/0/optim.lr: optim.lr is varied twice (also at /axes/optim.lr)");
  CHECK(Error(R"({"name": "t", "base": {"optim.lr": 1e-4, "optim": {"lr": 2e-4}}})") ==
        "g.json: /base/optim/lr: optim.lr is set twice in base (also at /base/optim.lr)");
  CHECK(Error(R"({"name": "t", "seeds": [1, 1]})") == "g.json: /seeds/1: seed 1 is listed twice");
  CHECK(Error(R"({"name": "t", "axes": {"model.heads": [12, 10]}})") ==
        "g.json: /: run with model.hidden=768, model.heads=10: model.hidden must be divisible by "
        "model.heads");
  CHECK(Error(R"([1, 2])") == "g.json: /: expected an object, got an array [1,2]");
  CHECK(Error(R"({"name": "t", "axes": [1]})") ==
        "g.json: /axes: expected an object {parameter: [values]}, got an array [1]");
}

TEST_CASE("a run config fills defaults and validates like a grid", "[grid]") {
  auto grid_run = Expand(R"({"name": "t", "base": {"optim.lr": 5e-4, "seed": 3}})")[0];
  auto run = ex::LoadRunConfig(json{{"optim.lr", 0.0005}, {"seed", 3}}, "run.json");
  CHECK(run.key == grid_run.key);
  CHECK(run.params == grid_run.params);
  // The full params object `ablate expand --format json` prints loads back to the same key.
  CHECK(ex::LoadRunConfig(grid_run.params, "run.json").key == grid_run.key);
  CHECK_THROWS_WITH(ex::LoadRunConfig(json{{"optim.lrate", 1}}, "run.json"),
                    "run.json: /optim.lrate: unknown parameter \"optim.lrate\" (did you mean "
                    "\"optim.lr\"?)");
}

TEST_CASE("overrides from --set replace the grid base for every run, and axes still win",
          "[grid][set]") {
  auto grid = ex::ParseGrid(R"({"name": "t", "base": {"train.steps": 100, "optim.lr": 1e-3},
                                "axes": {"data.masking": ["static", "dynamic"]},
                                "include": [{"train.steps": 700}]})",
                            "g.json");
  const auto overrides =
      ex::ParseOverrides({"train.steps=2000", "optim.warmup_steps=100", "data.corpus=mixture",
                          "eval.lrs=1e-5,2e-5", "optim.lr=5e-4", "data.tokenizer=\"gpt2\""});
  // Values read as the grid's would be: ints, floats, and strings as typed.
  CHECK(overrides["train.steps"] == 2000);
  CHECK(overrides["optim.lr"] == 5e-4);
  CHECK(overrides["eval.lrs"] == "1e-5,2e-5");
  CHECK(overrides["data.tokenizer"] == "gpt2");
  ex::ApplyOverrides(grid, overrides);
  const auto runs = ex::ExpandGrid(grid);
  REQUIRE(runs.size() == 3);
  // defaults < base < --set: the base's 100 steps and 1e-3 are overridden.
  CHECK(Column(runs, "train.steps") == std::vector<json>{2000, 2000, 700});  // the include wins
  CHECK(Column(runs, "optim.lr") == std::vector<json>{5e-4, 5e-4, 5e-4});
  CHECK(Column(runs, "data.corpus") == std::vector<json>{"mixture", "mixture", "mixture"});
  CHECK(Column(runs, "data.masking") == std::vector<json>{"static", "dynamic", "static"});
  CHECK(ex::OverridesText(ex::ParseOverrides({"train.steps=20", "data.corpus=books"})) ==
        " --set data.corpus=books --set train.steps=20");
}

TEST_CASE("a bad --set names the parameter, and one an axis varies is refused", "[grid][set]") {
  auto error = [](const std::vector<std::string>& sets) {
    try {
      auto grid = ex::ParseGrid(R"({"name": "t", "axes": {"data.masking": ["static"]},
                                    "linked": [{"train.batch_size": [8], "optim.lr": [1e-3]}]})",
                                "g.json");
      ex::ApplyOverrides(grid, ex::ParseOverrides(sets));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error({"train.steps=10"}) == "no error");
  CHECK_THAT(error({"train.stepz=10"}), Catch::Contains("did you mean \"train.steps\""));
  CHECK_THAT(error({"train.steps"}), Catch::Contains("expected NAME=VALUE"));
  CHECK_THAT(error({"train.steps=ten"}),
             Catch::Contains("train.steps") && Catch::Contains("expected an integer"));
  CHECK_THAT(error({"data.masking=sometimes"}), Catch::Contains("static | dynamic"));
  CHECK_THAT(error({"data.masking=dynamic"}),
             Catch::Contains("/axes/data.masking") && Catch::Contains("axis"));
  CHECK_THAT(error({"optim.lr=1e-4"}),
             Catch::Contains("/linked/0") && Catch::Contains("linked group"));
}

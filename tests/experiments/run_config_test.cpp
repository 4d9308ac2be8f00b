#include "experiments/run_config.h"

#include <catch2/catch.hpp>
#include <vector>

#include "base/error.h"
#include "experiments/grid.h"
#include "experiments/params.h"

using nlohmann::json;
namespace ex = ablate::experiments;
using ablate::downstream::FinetuneConfig;

namespace {

// A valid value of `spec` other than its default.
json OtherValue(const ex::ParamSpec& spec) {
  const json& def = spec.default_value;
  switch (spec.type) {
    case ex::ParamType::kInt:
      return def.get<int64_t>() + 1;
    case ex::ParamType::kFloat: {
      const double x = def.get<double>();
      return x > 0 ? x / 2 : 0.5;
    }
    case ex::ParamType::kString:
      if (!spec.choices.empty())
        return def == spec.choices.front() ? spec.choices[1] : spec.choices[0];
      if (spec.name == "eval.lrs") return "0.5";
      return spec.name == "eval.tasks" ? "uci-sentiment" : "other";
    case ex::ParamType::kBool:
      return !def.get<bool>();
  }
  return def;
}

}  // namespace

TEST_CASE("every parameter binds to a field of its own", "[run_config]") {
  const ex::RunConfig defaults = ex::DefaultRunConfig();
  std::vector<ex::RunConfig> changed;
  for (const auto& spec : ex::ParamTable()) {
    ex::RunConfig config = defaults;
    const json value = ex::CheckValue(spec, OtherValue(spec), "test", spec.name);
    spec.bind(config, value);
    INFO(spec.name << " = " << value.dump());
    CHECK(config != defaults);  // the row reaches a field
    changed.push_back(config);
  }
  // Two rows writing one field would leave two equal configs.
  for (size_t i = 0; i < changed.size(); ++i) {
    for (size_t j = i + 1; j < changed.size(); ++j) {
      INFO(ex::ParamTable()[i].name << " and " << ex::ParamTable()[j].name);
      CHECK(changed[i] != changed[j]);
    }
  }
}

TEST_CASE("the defaults are the paper's BERT-BASE baseline and live in the table", "[run_config]") {
  const ex::RunConfig c = ex::DefaultRunConfig();
  // Liu et al. 2019, section 2 and Table 9 (BERT-BASE), and section 4.1's static masking.
  CHECK(c.seed == 1);
  CHECK(c.data.masking == ablate::core::MaskingMode::kStatic);
  CHECK(c.data.static_copies == 10);
  CHECK(c.data.mask_prob == 0.15);
  CHECK(c.data.seq_len == 512);
  CHECK(c.data.format == ablate::core::InputFormat::kSegmentPair);
  CHECK(c.model.layers == 12);
  CHECK(c.model.hidden == 768);
  CHECK(c.model.heads == 12);
  CHECK(c.model.ffn == 3072);
  CHECK(c.train.batch_size == 256);
  CHECK(c.train.steps == 1000000);
  CHECK(c.optim.lr == 1e-4);
  CHECK(c.optim.beta2 == 0.999);
  CHECK(c.optim.eps == 1e-6);
  CHECK(c.optim.warmup_steps == 10000);
  CHECK(c.eval.finetune.seeds == 5);
  CHECK(c.eval.finetune.lrs.empty());    // the paper's per task
  CHECK(!c.eval.finetune.weight_decay);  // likewise
  // The same values a run's stored params give.
  CHECK(ex::ToRunConfig(ex::LoadRunConfig(json::object(), "run.json").params) == c);
  // The pretraining sections are the run's, whole.
  const auto train = c.Pretraining();
  CHECK(train.data == c.data);
  CHECK(train.model == c.model);
  CHECK(train.eval == c.eval.validation);
  CHECK(train.seed == c.seed);
}

TEST_CASE("checks between parameters name every parameter involved", "[run_config]") {
  auto problem = [](const json& params) -> std::vector<std::string> {
    ex::RunConfig c = ex::DefaultRunConfig();
    for (const auto& [name, value] : params.items()) ex::FindParam(name)->bind(c, value);
    auto p = ex::CheckRunConfig(c);
    return p ? p->params : std::vector<std::string>{};
  };
  CHECK(problem(json::object()).empty());
  CHECK(problem({{"model.heads", 5}}) == std::vector<std::string>{"model.hidden", "model.heads"});
  CHECK(problem({{"optim.warmup_steps", 20}, {"train.steps", 10}}) ==
        std::vector<std::string>{"optim.warmup_steps", "train.steps"});
  CHECK(problem({{"train.micro_batch", 300}}) ==
        std::vector<std::string>{"train.micro_batch", "train.batch_size"});
  CHECK(problem({{"train.micro_batch", 256}}).empty());  // one micro-batch per update
  CHECK(problem({{"eval.seq_len", 513}}) ==
        std::vector<std::string>{"eval.seq_len", "data.seq_len"});
  CHECK(problem({{"eval.seq_len", 4}}) == std::vector<std::string>{"eval.seq_len"});
  // eval.tasks is checked once, as it is parsed into the config, before any check between
  // parameters.
  ex::RunConfig c = ex::DefaultRunConfig();
  CHECK_THROWS_WITH(ex::FindParam("eval.tasks")->bind(c, "no-such-task"),
                    Catch::StartsWith("eval.tasks: unknown task \"no-such-task\""));
}

TEST_CASE("bad fine-tuning settings name the parameter", "[run_config][errors]") {
  auto run = [](const nlohmann::json& params) {
    return ex::LoadRunConfig(params, "run.json").params;
  };
  auto from = [&](const nlohmann::json& params) {
    return ex::LoadRunConfig(params, "run.json").config.eval.finetune;
  };
  auto c = from({{"eval.lrs", "1e-5, 3e-5"}, {"eval.weight_decay", 0.0}, {"eval.seeds", 3}});
  CHECK(c.lrs == std::vector<double>{1e-5, 3e-5});
  CHECK(*c.weight_decay == 0);
  CHECK(c.seeds == 3);
  CHECK(!from(nlohmann::json::object()).weight_decay);  // -1: the paper's

  auto error = [&](const nlohmann::json& params) {
    try {
      run(params);
    } catch (const ablate::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error({{"eval.lrs", "1e-5,fast"}}),
             Catch::Contains("eval.lrs") && Catch::Contains("\"fast\""));
  CHECK_THAT(error({{"eval.lrs", "0"}}), Catch::Contains("eval.lrs"));
  CHECK_THAT(error({{"eval.lrs", "1e-5,0.00001"}}),
             Catch::Contains("eval.lrs") && Catch::Contains("listed twice"));
  CHECK_THAT(error({{"eval.weight_decay", -0.5}}), Catch::Contains("eval.weight_decay"));
  CHECK_THAT(error({{"eval.seq_len", 1024}}),
             Catch::Contains("eval.seq_len") && Catch::Contains("data.seq_len"));
  CHECK_THAT(error({{"eval.seq_len", 4}}), Catch::Contains("eval.seq_len"));
  CHECK_THAT(error({{"eval.tasks", "no-such-task"}}), Catch::Contains("eval.tasks"));
  CHECK_THAT(error({{"eval.seeds", 0}}), Catch::Contains("eval.seeds"));

  FinetuneConfig bad;
  bad.warmup_ratio = 1;
  CHECK_THROWS_WITH(bad.Validate(), Catch::Contains("warmup_ratio"));
}

#include "experiments/params.h"

#include <catch2/catch.hpp>
#include <set>

#include "base/error.h"
#include "base/suggest.h"
#include "core/input_format.h"
#include "core/masking.h"

using ablate::InputError;
using nlohmann::json;
namespace ex = ablate::experiments;

namespace {

json Check(const std::string& name, const json& value) {
  return ex::CheckValue(*ex::FindParam(name), value, "grid.json", "/base/" + name);
}

std::string CheckError(const std::string& name, const json& value) {
  try {
    Check(name, value);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("the parameter table declares the names the paper's ablations need", "[params]") {
  for (const char* name : {"data.corpus",
                           "data.format",
                           "data.masking",
                           "data.seq_len",
                           "data.static_copies",
                           "model.layers",
                           "model.hidden",
                           "model.heads",
                           "model.ffn",
                           "model.dropout",
                           "model.attention_dropout",
                           "train.batch_size",
                           "train.steps",
                           "optim.lr",
                           "optim.beta1",
                           "optim.beta2",
                           "optim.eps",
                           "optim.weight_decay",
                           "optim.warmup_steps",
                           "seed"}) {
    INFO(name);
    CHECK(ex::FindParam(name) != nullptr);
  }
  std::set<std::string> names;
  for (const auto& spec : ex::ParamTable()) {
    INFO(spec.name);
    CHECK(names.insert(spec.name).second);
    CHECK(!spec.help.empty());
    // Every default passes its own validation unchanged.
    CHECK(Check(spec.name, spec.default_value) == spec.default_value);
  }
}

TEST_CASE("defaults are the paper's BERT-BASE baseline", "[params]") {
  // Liu et al. 2019, section 2.2 and Table 9 (BERT-BASE pretraining).
  CHECK(ex::FindParam("optim.beta1")->default_value == 0.9);
  CHECK(ex::FindParam("optim.beta2")->default_value == 0.999);
  CHECK(ex::FindParam("optim.eps")->default_value == 1e-6);
  CHECK(ex::FindParam("optim.weight_decay")->default_value == 0.01);
  CHECK(ex::FindParam("optim.warmup_steps")->default_value == 10000);
  CHECK(ex::FindParam("optim.lr")->default_value == 1e-4);
  CHECK(ex::FindParam("train.batch_size")->default_value == 256);
  CHECK(ex::FindParam("train.steps")->default_value == 1000000);
  CHECK(ex::FindParam("data.seq_len")->default_value == 512);
  CHECK(ex::FindParam("data.mask_prob")->default_value == 0.15);
  CHECK(ex::FindParam("data.static_copies")->default_value == 10);
  CHECK(ex::FindParam("model.dropout")->default_value == 0.1);
  CHECK(ex::FindParam("model.hidden")->default_value == 768);
}

TEST_CASE("values are checked and canonicalized by type", "[params]") {
  CHECK(Check("train.batch_size", 256.0) == json(256));
  CHECK(Check("train.batch_size", 256.0).is_number_integer());
  CHECK(Check("train.steps", 1e6) == json(1000000));
  CHECK(Check("optim.lr", 1).is_number_float());
  CHECK(Check("optim.lr", 1e-4) == json(0.0001));
  CHECK(Check("data.masking", "dynamic") == json("dynamic"));

  CHECK(
      CheckError("train.batch_size", 2.5) ==
      "grid.json: /base/train.batch_size: train.batch_size = 2.5 is invalid: expected an integer");
  CHECK(CheckError("train.batch_size", "256") ==
        "grid.json: /base/train.batch_size: train.batch_size = \"256\" is invalid: expected an "
        "integer");
  CHECK(CheckError("train.batch_size", 0) ==
        "grid.json: /base/train.batch_size: train.batch_size = 0 is invalid: expected int in [1, "
        "inf)");
  CHECK_THAT(CheckError("optim.lr", 0), Catch::Contains("expected float in (0, 10]"));
  CHECK_THAT(CheckError("model.dropout", 1.5), Catch::Contains("expected float in [0, 0.99]"));
  CHECK_THAT(CheckError("data.format", "FULL-SENTENCE"),
             Catch::Contains("expected one of SEGMENT-PAIR+NSP | SENTENCE-PAIR+NSP | "
                             "FULL-SENTENCES | DOC-SENTENCES"));
  CHECK_THAT(CheckError("data.corpus", ""), Catch::Contains("expected a non-empty string"));
  CHECK_THAT(CheckError("seed", nullptr), Catch::Contains("expected an integer"));
}

TEST_CASE("canonical text does not depend on how a number was spelled", "[params]") {
  CHECK(ex::CanonicalText(json::parse("1e-4")) == "0.0001");
  CHECK(ex::CanonicalText(json::parse("0.00010")) == "0.0001");
  CHECK(ex::CanonicalText(json::parse("1.0E-04")) == "0.0001");
  CHECK(ex::CanonicalText(json(1.0)) == "1.0");
  CHECK(ex::CanonicalText(json(7e-4)) == "0.0007");
  CHECK(ex::CanonicalText(json(256)) == "256");
  CHECK(ex::CanonicalText(json("static")) == "\"static\"");
}

TEST_CASE("unknown names get a did-you-mean", "[params]") {
  CHECK(ex::SuggestParams("optim.lrr") == std::vector<std::string>{"optim.lr"});
  CHECK(ex::SuggestParams("lr") == std::vector<std::string>{"optim.lr"});
  CHECK(ex::SuggestParams("data.maskin") == std::vector<std::string>{"data.masking"});
  CHECK(ex::SuggestParams("batch_size") ==
        std::vector<std::string>{"train.batch_size", "eval.batch_size"});
  CHECK(ex::SuggestParams("completely.unrelated").empty());
  CHECK(ablate::DidYouMean({"a"}) == " (did you mean \"a\"?)");
  CHECK(ablate::DidYouMean({"a", "b"}) == " (did you mean \"a\" or \"b\"?)");
  CHECK(ablate::DidYouMean({}).empty());
}

TEST_CASE("data.format and data.masking take their choices from the tables core implements",
          "[params]") {
  const auto* format = ablate::experiments::FindParam("data.format");
  const auto* masking = ablate::experiments::FindParam("data.masking");
  REQUIRE(format != nullptr);
  REQUIRE(masking != nullptr);
  CHECK(format->choices == std::vector<std::string>{"SEGMENT-PAIR+NSP", "SENTENCE-PAIR+NSP",
                                                    "FULL-SENTENCES", "DOC-SENTENCES"});
  CHECK(format->choices == ablate::core::InputFormatNames());
  CHECK(masking->choices == std::vector<std::string>{"static", "dynamic"});
  for (const auto& name : masking->choices)
    CHECK(ablate::core::MaskingModeName(ablate::core::ParseMaskingMode(name)) == name);
  for (const auto& name : format->choices)
    CHECK(ablate::core::InputFormatName(ablate::core::ParseInputFormat(name)) == name);
  CHECK_THROWS_AS(ablate::core::ParseMaskingMode("Static"), ablate::InputError);
  CHECK_THROWS_AS(ablate::core::ParseInputFormat("FULL-SENTENCE"), ablate::InputError);
}

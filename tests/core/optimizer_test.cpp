// torch before Catch: glog's CHECK would otherwise silently replace Catch's.
// clang-format off
#include <torch/types.h>
// clang-format on
#include "core/optimizer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "core/model.h"

using namespace ablate::core;

namespace {

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A one-element-per-group optimizer over given values, for hand-worked updates.
struct Fixture {
  torch::Tensor decayed = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_();
  torch::Tensor exempt = torch::tensor({3.0}, torch::kDouble).requires_grad_();

  std::vector<ParamGroup> Groups(double weight_decay) const {
    return {ParamGroup{{"w"}, {decayed}, weight_decay}, ParamGroup{{"b"}, {exempt}, 0.0}};
  }
};

}  // namespace

TEST_CASE("the linear schedule warms up, peaks at warmup_steps and learns on every update",
          "[optimizer]") {
  // fairseq's polynomial_decay (power 1, end lr 0) sets, after n updates, the rate
  // peak * (1 - (n - warmup) / (total - warmup)); update s runs at the rate set after s - 1.
  LinearSchedule s{1e-3, 4, 10};
  CHECK(s.Lr(0) == 0);
  CHECK(s.Lr(1) == Approx(2.5e-4));
  CHECK(s.Lr(2) == Approx(5e-4));
  CHECK(s.Lr(4) == Approx(1e-3));
  CHECK(s.Lr(5) == Approx(1e-3));  // fairseq after 4 updates: 1 - 0/6
  CHECK(s.Lr(7) == Approx(1e-3 * 4 / 6));
  CHECK(s.Lr(9) == Approx(1e-3 * 2 / 6));
  CHECK(s.Lr(10) == Approx(1e-3 / 6));  // the last update still learns
  CHECK(s.Lr(11) == 0);
  for (int64_t step = 5; step <= 10; ++step) {
    const double fairseq = 1e-3 * (1.0 - static_cast<double>(step - 1 - 4) / (10 - 4));
    CHECK(s.Lr(step) == Approx(fairseq));
  }
  LinearSchedule no_warmup{2.0, 0, 4};
  CHECK(no_warmup.Lr(1) == Approx(2.0));
  CHECK(no_warmup.Lr(3) == Approx(1.0));
  CHECK(no_warmup.Lr(4) == Approx(0.5));
  CHECK(no_warmup.Lr(5) == 0);
  LinearSchedule one_update{1.0, 0, 1};
  CHECK(one_update.Lr(1) == Approx(1.0));
}

TEST_CASE("one AdamW step matches the hand-worked update", "[optimizer]") {
  for (bool fused : {true, false}) {
    Fixture f;
    AdamWOptions options;  // beta1 0.9, beta2 0.999, eps 1e-6
    options.weight_decay = 0.01;
    options.fused = fused;
    AdamW adam(f.Groups(options.weight_decay), options);
    f.decayed.mutable_grad() = torch::tensor({0.5, -0.1}, torch::kDouble);
    f.exempt.mutable_grad() = torch::tensor({0.2}, torch::kDouble);
    adam.Step(0.1);
    // Step 1: m = 0.1 g and v = 0.001 g^2, which the bias corrections (0.1, 0.001) turn back
    // into g and g^2, so the update is lr * g / (|g| + eps) after decaying p by lr * wd.
    INFO("fused " << fused);
    CHECK(f.decayed[0].item<double>() ==
          Approx(1.0 * (1 - 0.1 * 0.01) - 0.1 * 0.5 / (0.5 + 1e-6)).epsilon(1e-12));
    CHECK(f.decayed[1].item<double>() ==
          Approx(-2.0 * (1 - 0.1 * 0.01) + 0.1 * 0.1 / (0.1 + 1e-6)).epsilon(1e-12));
    CHECK(f.exempt[0].item<double>() == Approx(3.0 - 0.1 * 0.2 / (0.2 + 1e-6)).epsilon(1e-12));
    CHECK(adam.steps() == 1);

    // Step 2 with g = 0 on the exempt parameter: m = 0.09 g1, v = 0.000999 g1^2, corrections
    // 0.19 and 0.001999.
    f.exempt.mutable_grad() = torch::tensor({0.0}, torch::kDouble);
    f.decayed.mutable_grad() = torch::Tensor();  // no gradient: left alone
    const double before = f.decayed[0].item<double>();
    adam.Step(0.1);
    const double m = 0.09 * 0.2 / 0.19, v = 0.000999 * 0.04 / 0.001999;
    CHECK(f.exempt[0].item<double>() ==
          Approx(3.0 - 0.1 * 0.2 / (0.2 + 1e-6) - 0.1 * m / (std::sqrt(v) + 1e-6)).epsilon(1e-12));
    CHECK(f.decayed[0].item<double>() == before);
  }
}

TEST_CASE("the fused kernel and LibTorch's foreach ops agree over many steps", "[optimizer]") {
  torch::manual_seed(3);
  auto a = torch::randn({1000, 37}).requires_grad_();
  auto b = a.detach().clone().requires_grad_();
  AdamWOptions fused, plain;
  plain.fused = false;
  AdamW first({ParamGroup{{"a"}, {a}, 0.1}}, fused), second({ParamGroup{{"b"}, {b}, 0.1}}, plain);
  for (int step = 0; step < 20; ++step) {
    auto g = torch::randn({1000, 37});
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    first.Step(1e-2);
    second.Step(1e-2);
  }
  CHECK(torch::allclose(a, b, 1e-5, 1e-6));
}

TEST_CASE("biases and LayerNorm weights get no weight decay", "[optimizer]") {
  BertModel model(ModelOptions::Tiny());
  const auto groups = WeightDecayGroups(*model, 0.01);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].weight_decay == 0.01);
  CHECK(groups[1].weight_decay == 0);
  const auto& decay = groups[0].names;
  const auto& exempt = groups[1].names;
  CHECK(decay.size() + exempt.size() == model->named_parameters().size());
  for (const auto& name : decay) {
    INFO(name);
    CHECK(name.ends_with(".weight"));
    CHECK(name.find("norm") == std::string::npos);
  }
  for (const auto& name : exempt) {
    INFO(name);
    CHECK((name.ends_with("bias") || name.ends_with("norm.weight")));
  }
  for (const char* name :
       {"token_embedding.weight", "position_embedding.weight", "segment_embedding.weight",
        "layers.0.qkv.weight", "layers.1.ffn_out.weight", "mlm_dense.weight", "nsp_pooler.weight",
        "nsp_classifier.weight"}) {
    CHECK(Contains(decay, name));
  }
  for (const char* name : {"embedding_norm.weight", "embedding_norm.bias", "layers.0.qkv.bias",
                           "layers.0.attention_norm.weight", "layers.1.ffn_norm.weight",
                           "mlm_norm.weight", "mlm_bias", "nsp_classifier.bias"}) {
    CHECK(Contains(exempt, name));
  }
}

TEST_CASE("gradient clipping scales to the global norm and reports it", "[optimizer]") {
  Fixture f;
  AdamW adam(f.Groups(0), AdamWOptions{});
  f.decayed.mutable_grad() = torch::tensor({3.0, 0.0}, torch::kDouble);
  f.exempt.mutable_grad() = torch::tensor({4.0}, torch::kDouble);
  CHECK(adam.ClipGradNorm(0) == Approx(5.0));  // measure only
  CHECK(f.exempt.grad()[0].item<double>() == 4.0);
  CHECK(adam.ClipGradNorm(1.0) == Approx(5.0));
  CHECK(f.decayed.grad()[0].item<double>() == Approx(0.6).epsilon(1e-6));
  CHECK(f.exempt.grad()[0].item<double>() == Approx(0.8).epsilon(1e-6));
  CHECK(adam.ClipGradNorm(10.0) == Approx(1.0).epsilon(1e-6));  // under the limit: untouched
  CHECK(f.exempt.grad()[0].item<double>() == Approx(0.8).epsilon(1e-6));
  adam.ZeroGrad();
  CHECK_FALSE(f.exempt.grad().defined());
  CHECK(adam.ClipGradNorm(1.0) == 0);
}

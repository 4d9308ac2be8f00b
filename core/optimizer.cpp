#include "core/optimizer.h"

#include <torch/nn/modules/normalization.h>
#include <torch/serialize.h>

#include <cmath>
#include <unordered_set>

#include "base/error.h"
#include "core/fused_ops.h"

namespace ablate::core {
namespace {

std::string JoinNames(const std::vector<ParamGroup>& groups) {
  std::string out;
  for (const auto& group : groups) {
    for (const auto& name : group.names) out += name + "\n";
    out += "--\n";
  }
  return out;
}

torch::Tensor StringTensor(const std::string& text) {
  auto out = torch::empty({static_cast<int64_t>(text.size())}, torch::kByte);
  std::copy(text.begin(), text.end(), out.data_ptr<uint8_t>());
  return out;
}

std::string TensorString(const torch::Tensor& bytes) {
  const auto contiguous = bytes.to(torch::kCPU).contiguous();
  const auto* data = contiguous.data_ptr<uint8_t>();
  return std::string(data, data + contiguous.numel());
}

std::string MomentKey(const char* moment, size_t group, size_t index) {
  return std::string(moment) + "_" + std::to_string(group) + "_" + std::to_string(index);
}

}  // namespace

std::vector<ParamGroup> WeightDecayGroups(const torch::nn::Module& model, double weight_decay) {
  std::unordered_set<const torch::TensorImpl*> layer_norm_weights;
  for (const auto& module : model.modules()) {
    if (const auto* norm = module->as<torch::nn::LayerNorm>()) {
      layer_norm_weights.insert(norm->weight.unsafeGetTensorImpl());
    }
  }
  std::vector<ParamGroup> groups(2);
  groups[0].weight_decay = weight_decay;
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const bool is_bias = name == "bias" || name.ends_with(".bias") || name.ends_with("_bias");
    const bool exempt = is_bias || layer_norm_weights.count(item.value().unsafeGetTensorImpl()) > 0;
    auto& group = groups[exempt ? 1 : 0];
    group.names.push_back(name);
    group.params.push_back(item.value());
  }
  return groups;
}

double LinearSchedule::Lr(int64_t step) const {
  ABLATE_CHECK(warmup_steps >= 0 && total_steps >= 0, "negative schedule length");
  if (step <= 0) return 0;
  if (step <= warmup_steps) return peak_lr * static_cast<double>(step) / warmup_steps;
  if (step > total_steps) return 0;
  return peak_lr * static_cast<double>(total_steps - step + 1) /
         static_cast<double>(total_steps - warmup_steps);
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {
  for (const auto& group : groups_) {
    ABLATE_CHECK(group.names.size() == group.params.size(), "parameter group without names");
    auto& moments = moments_.emplace_back();
    for (const auto& p : group.params) {
      moments.push_back({torch::zeros_like(p, at::MemoryFormat::Contiguous),
                         torch::zeros_like(p, at::MemoryFormat::Contiguous)});
    }
  }
}

void AdamW::ZeroGrad() {
  for (auto& group : groups_) {
    for (auto& p : group.params) p.mutable_grad() = torch::Tensor();
  }
}

double AdamW::ClipGradNorm(double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
  }
  if (grads.empty()) return 0;
  auto norms = torch::_foreach_norm(grads, 2);
  for (auto& norm : norms) norm = norm.to(torch::kDouble);
  const double total = torch::stack(norms).norm().item<double>();
  if (max_norm > 0 && total > max_norm) {
    torch::NoGradGuard no_grad;
    torch::_foreach_mul_(grads, max_norm / (total + 1e-6));
  }
  return total;
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  AdamWScalars s;
  s.lr = lr;
  s.beta1 = options_.beta1;
  s.beta2 = options_.beta2;
  s.eps = options_.eps;
  s.bias_correction1 = 1 - std::pow(options_.beta1, static_cast<double>(steps_));
  s.bias_correction2 = 1 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (size_t g = 0; g < groups_.size(); ++g) {
    s.decay_factor = 1 - lr * groups_[g].weight_decay;
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;  // the unfused remainder
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      auto& p = groups_[g].params[i];
      if (!p.grad().defined()) continue;
      auto& m = moments_[g][i];
      if (options_.fused && HasFusedAdamW(p, p.grad(), m.exp_avg, m.exp_avg_sq)) {
        FusedAdamWUpdate(p, p.grad(), m.exp_avg, m.exp_avg_sq, s);
      } else {
        params.push_back(p);
        grads.push_back(p.grad());
        exp_avgs.push_back(m.exp_avg);
        exp_avg_sqs.push_back(m.exp_avg_sq);
      }
    }
    if (params.empty()) continue;
    // torch.optim.AdamW's foreach implementation, term for term.
    if (s.decay_factor != 1) torch::_foreach_mul_(params, s.decay_factor);
    torch::_foreach_mul_(exp_avgs, s.beta1);
    torch::_foreach_add_(exp_avgs, grads, 1 - s.beta1);
    torch::_foreach_mul_(exp_avg_sqs, s.beta2);
    torch::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - s.beta2);
    auto denominators = torch::_foreach_sqrt(exp_avg_sqs);
    torch::_foreach_div_(denominators, std::sqrt(s.bias_correction2));
    torch::_foreach_add_(denominators, s.eps);
    torch::_foreach_addcdiv_(params, exp_avgs, denominators, -s.lr / s.bias_correction1);
  }
}

void AdamW::Save(torch::serialize::OutputArchive& archive) const {
  archive.write("steps", torch::tensor(steps_));
  archive.write("names", StringTensor(JoinNames(groups_)));
  for (size_t g = 0; g < moments_.size(); ++g) {
    for (size_t i = 0; i < moments_[g].size(); ++i) {
      archive.write(MomentKey("exp_avg", g, i), moments_[g][i].exp_avg);
      archive.write(MomentKey("exp_avg_sq", g, i), moments_[g][i].exp_avg_sq);
    }
  }
}

void AdamW::Load(torch::serialize::InputArchive& archive) {
  torch::Tensor names, steps;
  archive.read("names", names);
  if (TensorString(names) != JoinNames(groups_)) {
    throw InputError("", "optimizer",
                     "the checkpoint's parameters differ from the model's (another config?)");
  }
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < moments_.size(); ++g) {
    for (size_t i = 0; i < moments_[g].size(); ++i) {
      for (auto [key, moment] : {std::pair{"exp_avg", &moments_[g][i].exp_avg},
                                 std::pair{"exp_avg_sq", &moments_[g][i].exp_avg_sq}}) {
        torch::Tensor value;
        archive.read(MomentKey(key, g, i), value);
        if (value.sizes() != moment->sizes()) {
          throw InputError("", "optimizer",
                           "moment " + MomentKey(key, g, i) + " has shape " +
                               c10::str(value.sizes()) + ", expected " + c10::str(moment->sizes()));
        }
        moment->copy_(value);
      }
    }
  }
  archive.read("steps", steps);
  steps_ = steps.item<int64_t>();
}

}  // namespace ablate::core

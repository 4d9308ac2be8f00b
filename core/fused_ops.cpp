#include "core/fused_ops.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "base/rng.h"

namespace ablate::core {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Elements per parallel task for the memory-bound loops below: large enough that a task's
// start-up is noise, small enough that two threads split a (B*T, H) activation evenly.
constexpr int64_t kGrain = 1 << 15;

uint64_t DrawSeed() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

torch::Tensor BatchedMatmulKernel(const torch::Tensor& a, const torch::Tensor& b, double alpha) {
  // Worker threads start with grad mode on whatever the caller's: out= ops refuse inputs that
  // require grad there, so they get plain tensors and no grad mode.
  const auto left = a.detach(), right = b.detach();
  auto out = torch::empty({a.size(0), a.size(1), b.size(2)}, a.options());
  at::parallel_for(0, a.size(0), 1, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard no_grad;
    for (int64_t i = begin; i < end; ++i) {
      auto product = out.select(0, i);
      at::addmm_out(product, product, left.select(0, i), right.select(0, i), 0, alpha);
    }
  });
  return out;
}

class BatchedMatmulFunction : public torch::autograd::Function<BatchedMatmulFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b,
                               double alpha) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["alpha"] = alpha;
    return BatchedMatmulKernel(a, b, alpha);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const double alpha = ctx->saved_data["alpha"].toDouble();
    const auto grad = grads[0].contiguous();
    return {BatchedMatmulKernel(grad, saved[1].transpose(1, 2), alpha),
            BatchedMatmulKernel(saved[0].transpose(1, 2), grad, alpha), torch::Tensor()};
  }
};

// An element is kept when the high 32 bits of its hash reach the threshold: P(drop) = p within
// 2^-32, independently per element, and any range of elements can be generated on any thread.
uint32_t DropThreshold(double p) {
  return static_cast<uint32_t>(std::min(p * 0x1.0p32, 0x1.0p32 - 1));
}

template <typename T>
void DropoutForwardKernel(const T* x, const T* residual, T* out, uint8_t* keep, int64_t n,
                          uint64_t seed, uint32_t threshold, T scale) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t bits = Mix64(seed + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL);
      keep[i] = static_cast<uint32_t>(bits >> 32) >= threshold;
    }
    // Separate from the hashing so that this loop vectorizes.
    if (residual != nullptr) {
      for (int64_t i = begin; i < end; ++i) out[i] = x[i] * (keep[i] * scale) + residual[i];
    } else {
      for (int64_t i = begin; i < end; ++i) out[i] = x[i] * (keep[i] * scale);
    }
  });
}

template <typename T>
void DropoutBackwardKernel(const T* grad, const uint8_t* keep, T* out, int64_t n, T scale) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = grad[i] * (keep[i] * scale);
  });
}

// The autograd pieces shared by Dropout and DropoutAdd; residual may be undefined. (Two
// Function classes because LibTorch 1.13 rejects undefined tensors among a Function's inputs.)
torch::Tensor DropoutForward(AutogradContext* ctx, const torch::Tensor& x,
                             const torch::Tensor& residual, double p) {
  const auto input = x.contiguous();
  const auto added = residual.defined() ? residual.contiguous() : residual;
  auto out = torch::empty_like(input, at::MemoryFormat::Contiguous);
  auto keep = torch::empty(input.sizes(), input.options().dtype(torch::kByte));
  const uint64_t seed = DrawSeed();
  const uint32_t threshold = DropThreshold(p);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "ablate_dropout", [&] {
    DropoutForwardKernel<scalar_t>(
        input.data_ptr<scalar_t>(), added.defined() ? added.data_ptr<scalar_t>() : nullptr,
        out.data_ptr<scalar_t>(), keep.data_ptr<uint8_t>(), input.numel(), seed, threshold,
        static_cast<scalar_t>(1.0 / (1.0 - p)));
  });
  ctx->save_for_backward({keep});
  ctx->saved_data["p"] = p;
  return out;
}

torch::Tensor DropoutBackward(AutogradContext* ctx, const torch::Tensor& upstream) {
  const auto keep = ctx->get_saved_variables()[0];
  const double p = ctx->saved_data["p"].toDouble();
  const auto grad = upstream.contiguous();
  auto grad_x = torch::empty_like(grad, at::MemoryFormat::Contiguous);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "ablate_dropout_backward", [&] {
    DropoutBackwardKernel<scalar_t>(grad.data_ptr<scalar_t>(), keep.data_ptr<uint8_t>(),
                                    grad_x.data_ptr<scalar_t>(), grad.numel(),
                                    static_cast<scalar_t>(1.0 / (1.0 - p)));
  });
  return grad_x;
}

class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double p) {
    return DropoutForward(ctx, x, torch::Tensor(), p);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {DropoutBackward(ctx, grads[0]), torch::Tensor()};
  }
};

class DropoutAddFunction : public torch::autograd::Function<DropoutAddFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& residual, double p) {
    return DropoutForward(ctx, x, residual, p);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {DropoutBackward(ctx, grads[0]), grads[0], torch::Tensor()};
  }
};

bool HasDropoutKernel(const torch::Tensor& x, const torch::Tensor& residual) {
  const bool floating = x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble;
  return x.is_cpu() && floating &&
         (!residual.defined() ||
          (residual.scalar_type() == x.scalar_type() && residual.sizes() == x.sizes()));
}

// Rows of log-probabilities turned into gradients per block: two passes over a block that stays
// in cache cost about one pass over memory.
constexpr int64_t kRowsPerBlock = 2;

// The log-probabilities a cross-entropy is taken from: in float32 at least (float64 for a float64
// model), whatever the logits' type.
torch::Tensor LossLogProbs(const torch::Tensor& logits) {
  const auto compute_type = logits.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  return torch::log_softmax(logits, 1, compute_type);  // (N, V)
}

class CrossEntropySumFunction : public torch::autograd::Function<CrossEntropySumFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets) {
    auto log_probs = LossLogProbs(logits);  // (N, V)
    auto loss = log_probs.gather(1, targets.unsqueeze(1)).sum().neg();
    ctx->save_for_backward({log_probs, targets});
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits.scalar_type());
    return loss;
  }

  // d/dlogits of sum_i -log softmax(z_i)[t_i] is softmax(z_i) - onehot(t_i), computed in place in
  // the saved log-probabilities (the version counter then rejects a second backward).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto grad = saved[0];
    const auto& targets = saved[1];
    const auto& scale = grads[0];  // ()
    if (grad.is_cpu()) {
      const double factor = scale.item<double>();
      at::parallel_for(0, grad.size(0), 1, [&](int64_t begin, int64_t end) {
        torch::NoGradGuard no_grad;  // worker threads start with grad mode on
        for (int64_t row = begin; row < end; row += kRowsPerBlock) {
          grad.slice(0, row, std::min(row + kRowsPerBlock, end)).exp_().mul_(factor);
        }
      });
    } else {
      grad.exp_().mul_(scale);
    }
    const auto minus_scale = scale.neg().to(grad.scalar_type()).reshape({1, 1});
    grad.scatter_add_(1, targets.unsqueeze(1), minus_scale.expand({grad.size(0), 1}));
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt());
    return {grad.to(dtype), torch::Tensor()};
  }
};

template <typename T>
void AdamWKernel(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
                 const AdamWScalars& s) {
  const T beta1 = s.beta1, beta2 = s.beta2, eps = s.eps, decay = s.decay_factor;
  const T one_minus_beta1 = 1 - s.beta1, one_minus_beta2 = 1 - s.beta2;
  const T step_size = s.lr / s.bias_correction1;
  const T inv_sqrt_bias_correction2 = 1 / std::sqrt(s.bias_correction2);
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T g = grad[i];
      const T m = beta1 * exp_avg[i] + one_minus_beta1 * g;
      const T v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      param[i] =
          param[i] * decay - step_size * m / (std::sqrt(v) * inv_sqrt_bias_correction2 + eps);
    }
  });
}

}  // namespace

torch::Tensor BatchedMatmul(const torch::Tensor& a, const torch::Tensor& b, double alpha) {
  TORCH_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1),
              "BatchedMatmul wants (N, M, K) and (N, K, P)");
  if (!a.is_cpu()) return alpha == 1 ? torch::bmm(a, b) : torch::bmm(a, b).mul_(alpha);
  return BatchedMatmulFunction::apply(a, b, alpha);
}

torch::Tensor Dropout(const torch::Tensor& x, double p, bool training) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p);
  if (!training || p == 0) return x;
  if (!HasDropoutKernel(x, torch::Tensor())) return torch::dropout(x, p, true);
  return DropoutFunction::apply(x, p);
}

torch::Tensor DropoutAdd(const torch::Tensor& x, const torch::Tensor& residual, double p,
                         bool training) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p);
  if (!training || p == 0) return x + residual;
  if (!HasDropoutKernel(x, residual)) return torch::dropout(x, p, true) + residual;
  return DropoutAddFunction::apply(x, residual, p);
}

torch::Tensor CrossEntropySum(const torch::Tensor& logits, const torch::Tensor& targets) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
              "CrossEntropySum wants logits (N, V) and targets (N)");
  return CrossEntropySumFunction::apply(logits, targets);
}

torch::Tensor CrossEntropyPerToken(const torch::Tensor& logits, const torch::Tensor& targets) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
              "CrossEntropyPerToken wants logits (N, V) and targets (N)");
  return LossLogProbs(logits).gather(1, targets.unsqueeze(1)).squeeze(1).neg();
}

bool HasFusedAdamW(const torch::Tensor& param, const torch::Tensor& grad,
                   const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq) {
  const auto dtype = param.scalar_type();
  if (dtype != torch::kFloat && dtype != torch::kDouble) return false;
  for (const auto* t : {&param, &grad, &exp_avg, &exp_avg_sq}) {
    if (!t->is_cpu() || !t->is_contiguous() || t->scalar_type() != dtype) return false;
  }
  return true;
}

void FusedAdamWUpdate(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg,
                      torch::Tensor& exp_avg_sq, const AdamWScalars& scalars) {
  TORCH_CHECK(HasFusedAdamW(param, grad, exp_avg, exp_avg_sq),
              "FusedAdamWUpdate wants contiguous CPU tensors of one floating dtype");
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "ablate_adamw", [&] {
    AdamWKernel<scalar_t>(param.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                          exp_avg.data_ptr<scalar_t>(), exp_avg_sq.data_ptr<scalar_t>(),
                          param.numel(), scalars);
  });
  // Written through raw pointers: tell autograd the tensors changed, as an in-place op would.
  for (auto* t : {&param, &exp_avg, &exp_avg_sq}) torch::autograd::impl::bump_version(*t);
}

}  // namespace ablate::core

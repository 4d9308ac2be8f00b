// The collective operations data-parallel training needs, over LibTorch's c10d process groups:
// Gloo for CPU tensors, NCCL for CUDA ones when this LibTorch has it. A rank that cannot join
// within the timeout, or a peer that dies during an operation, is a RankLost error, never a hang.
// It knows nothing of models or training (trainer.cpp uses it).
#pragma once

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/world.h"

namespace ablate::core {

// Another rank is gone (died, timed out, or never joined): the run cannot go on with this world.
class RankLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Collective {
 public:
  virtual ~Collective() = default;
  virtual const World& world() const = 0;
  virtual std::string backend() const = 0;  // "gloo" or "nccl"
  // Sums each tensor over the ranks, in place. Tensors are flattened into buckets of about
  // `bucket_bytes`, whose reductions are all in flight before the first is waited for.
  virtual void SumInPlace(const std::vector<torch::Tensor>& tensors) = 0;
  // Element-wise min and max of an int64 vector over the ranks.
  virtual std::pair<std::vector<int64_t>, std::vector<int64_t>> MinMax(
      const std::vector<int64_t>& values) = 0;
  // Returns once every rank has called it: ranks that leave together cannot close a connection
  // a peer's last operation still reads from.
  virtual void Barrier() = 0;
};

struct CollectiveOptions {
  std::string device = "cpu";  // the training device: cpu -> Gloo, cuda -> NCCL
  std::chrono::seconds timeout{300};
  int64_t bucket_bytes = 25 << 20;  // PyTorch DDP's default bucket size
  // Asked every few milliseconds while the ranks gather: a reason ("stopped by request", "rank 1
  // exited with code 2") ends the wait at once instead of at the timeout. Empty: keep waiting.
  std::function<std::string()> give_up;
};

// Joins the ranks of `world` (rank 0 serves the rendezvous TCPStore at master_addr:master_port).
// Throws RankLost when they do not all arrive within the timeout, or when give_up gives a reason
// first (the message then holds the reason).
std::unique_ptr<Collective> JoinWorld(const World& world, const CollectiveOptions& options);

// Whether this build can join a world at all (built with c10d).
bool CollectivesAvailable();

}  // namespace ablate::core

#include "core/collective.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/error.h"

#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace ablate::core {

#ifdef USE_C10D_GLOO
namespace {

std::string Where(const World& w) { return w.master_addr + ":" + std::to_string(w.master_port); }

template <class Group>
class C10dCollective : public Collective {
 public:
  C10dCollective(World world, c10::intrusive_ptr<Group> group, std::string backend,
                 CollectiveOptions options)
      : world_(std::move(world)),
        group_(std::move(group)),
        backend_(std::move(backend)),
        options_(std::move(options)) {}

  const World& world() const override { return world_; }
  std::string backend() const override { return backend_; }

  void SumInPlace(const std::vector<torch::Tensor>& tensors) override {
    // Buckets of tensors with one dtype and device, flattened; every reduction is started before
    // the first is waited for, so transfers of later buckets overlap the waits.
    struct Bucket {
      std::vector<torch::Tensor> members;
      torch::Tensor flat;
      c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    int64_t bytes = 0;
    for (const auto& t : tensors) {
      const bool fits = !buckets.empty() &&
                        bytes + static_cast<int64_t>(t.nbytes()) <= options_.bucket_bytes &&
                        buckets.back().members.front().dtype() == t.dtype() &&
                        buckets.back().members.front().device() == t.device();
      if (!fits) {
        buckets.emplace_back();
        bytes = 0;
      }
      buckets.back().members.push_back(t);
      bytes += static_cast<int64_t>(t.nbytes());
    }
    Guard("summing gradients", [&] {
      for (auto& b : buckets) {
        std::vector<torch::Tensor> flat_parts;
        for (const auto& t : b.members) flat_parts.push_back(t.reshape({-1}));
        b.flat = torch::cat(flat_parts);
        std::vector<torch::Tensor> io{b.flat};
        b.work = group_->allreduce(io);
      }
      for (auto& b : buckets) {
        b.work->wait();
        int64_t offset = 0;
        for (auto& t : b.members) {
          const int64_t n = t.numel();
          t.copy_(b.flat.narrow(0, offset, n).view_as(t));
          offset += n;
        }
      }
    });
  }

  std::pair<std::vector<int64_t>, std::vector<int64_t>> MinMax(
      const std::vector<int64_t>& values) override {
    const auto n = static_cast<int64_t>(values.size());
    auto device = backend_ == "nccl" ? torch::Device(torch::kCUDA, world_.local_rank)
                                     : torch::Device(torch::kCPU);
    torch::Tensor low = torch::tensor(values, torch::kInt64).to(device);
    torch::Tensor high = low.clone();
    Guard("comparing ranks", [&] {
      std::vector<torch::Tensor> a{low}, b{high};
      c10d::AllreduceOptions min_options, max_options;
      min_options.reduceOp = c10d::ReduceOp::MIN;
      max_options.reduceOp = c10d::ReduceOp::MAX;
      auto first = group_->allreduce(a, min_options);
      auto second = group_->allreduce(b, max_options);
      first->wait();
      second->wait();
    });
    low = low.cpu();
    high = high.cpu();
    return {std::vector<int64_t>(low.data_ptr<int64_t>(), low.data_ptr<int64_t>() + n),
            std::vector<int64_t>(high.data_ptr<int64_t>(), high.data_ptr<int64_t>() + n)};
  }

  void Barrier() override {
    Guard("waiting for the other ranks to finish", [&] { group_->barrier()->wait(); });
  }

 private:
  // A failed collective means a peer is gone or stuck: one error type the trainer can act on.
  template <class F>
  void Guard(const std::string& what, F&& f) {
    try {
      f();
    } catch (const RankLost&) {
      throw;
    } catch (const std::exception& e) {
      throw RankLost("rank " + std::to_string(world_.rank) + " of " + std::to_string(world_.size) +
                     " lost its peers while " + what + ": " + FirstLine(e.what()));
    }
  }

  static std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

  World world_;
  c10::intrusive_ptr<Group> group_;
  std::string backend_;
  CollectiveOptions options_;
};

c10::intrusive_ptr<c10d::Store> Rendezvous(const World& world, const CollectiveOptions& options) {
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(world.master_port);
  store_options.isServer = world.rank == 0;
  store_options.numWorkers = static_cast<size_t>(world.size);
  // TCPStore's own wait for the workers cannot be interrupted: each rank counts itself in under a
  // key of ours instead, and waits for the others in steps, asking give_up between them.
  store_options.waitWorkers = false;
  store_options.timeout = options.timeout;
  const std::string who = "rank " + std::to_string(world.rank) + " could not meet the run's " +
                          std::to_string(world.size) + " ranks at " + Where(world);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  try {
    auto store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    const std::string joined = "ablate/joined";
    for (int64_t count = store->add(joined, 1); count < world.size; count = store->add(joined, 0)) {
      if (options.give_up) {
        if (const std::string reason = options.give_up(); !reason.empty())
          throw RankLost(who + ": " + reason);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw RankLost(who + " within " + std::to_string(options.timeout.count()) +
                       " s: " + std::to_string(count) + " arrived");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return store;
  } catch (const RankLost&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw RankLost(who + " within " + std::to_string(options.timeout.count()) +
                   " s: " + what.substr(0, what.find('\n')));
  }
}

}  // namespace

bool CollectivesAvailable() { return true; }

std::unique_ptr<Collective> JoinWorld(const World& world, const CollectiveOptions& options) {
  auto store = Rendezvous(world, options);
  if (options.device.rfind("cuda", 0) == 0) {
#ifdef USE_C10D_NCCL
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = options.timeout;
    auto group =
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, world.rank, world.size, nccl_options);
    return std::make_unique<C10dCollective<c10d::ProcessGroupNCCL>>(world, group, "nccl", options);
#else
    throw InputError("", "--device",
                     "cuda with several ranks needs NCCL, and this LibTorch build has no "
                     "ProcessGroupNCCL");
#endif
  }
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
  // One node: the loopback device. Across nodes: the interface GLOO_SOCKET_IFNAME names, as in
  // PyTorch, else the one this host's name resolves to.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (world.local_size == world.size) {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  try {
    auto group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, world.rank, world.size, gloo_options);
    return std::make_unique<C10dCollective<c10d::ProcessGroupGloo>>(world, group, "gloo", options);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw RankLost("rank " + std::to_string(world.rank) + " could not connect to the run's " +
                   std::to_string(world.size) + " ranks: " + what.substr(0, what.find('\n')));
  }
}

#else

bool CollectivesAvailable() { return false; }

std::unique_ptr<Collective> JoinWorld(const World&, const CollectiveOptions&) {
  throw InputError("", "--nproc",
                   "this build of ablate has no c10d (LibTorch's distributed package), so a run "
                   "cannot use several ranks");
}

#endif

}  // namespace ablate::core

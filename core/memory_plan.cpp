#include "core/memory_plan.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/number_text.h"

namespace ablate::core {

namespace {

// A number field of a /proc file ("MemAvailable:  123456 kB"), in bytes.
std::optional<uint64_t> ProcField(const std::string& file, const std::string& field) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream words(line.substr(field.size() + 1));
    uint64_t value = 0;
    std::string unit;
    if (!(words >> value)) return std::nullopt;
    words >> unit;
    return unit == "kB" ? value * 1024 : value;
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadNumber(const std::string& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoull(text);
  } catch (...) {
    return std::nullopt;
  }
}

std::string Gb(double bytes) { return SiText(bytes) + "B"; }

}  // namespace

double ActivationBytesPerToken(const ActivationSizes& s) {
  const double per_layer = 12.0 * static_cast<double>(s.hidden) + 2.0 * static_cast<double>(s.ffn) +
                           2.0 * static_cast<double>(s.heads) * static_cast<double>(s.seq_len);
  const double head = 2.0 * s.mask_prob * static_cast<double>(s.vocab_size);
  return 4.0 *
         (per_layer * static_cast<double>(s.layers) + head + 4.0 * static_cast<double>(s.hidden));
}

std::optional<uint64_t> AvailableMemoryBytes() {
  std::optional<uint64_t> available = ProcField("/proc/meminfo", "MemAvailable");
  auto least = [&](std::optional<uint64_t> v) {
    if (v && (!available || *v < *available)) available = v;
  };
  // cgroup v2: the limit of this process's group, less what it uses.
  std::ifstream cgroup("/proc/self/cgroup");
  std::string line;
  while (std::getline(cgroup, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string dir = "/sys/fs/cgroup" + line.substr(3);
    const auto max = ReadNumber(dir + "/memory.max");
    const auto current = ReadNumber(dir + "/memory.current");
    if (max && current) least(*max > *current ? *max - *current : 0);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const auto used = ProcField("/proc/self/status", "VmSize").value_or(0);
    least(limit.rlim_cur > used ? limit.rlim_cur - used : 0);
  }
  return available;
}

MicroBatchChoice ChooseMicroBatch(int64_t requested, int64_t cap, double bytes_per_sequence,
                                  double fixed_bytes, std::optional<uint64_t> available) {
  MicroBatchChoice choice;
  // Half of what is free is for activations: the allocator's slack, temporaries of the backward
  // pass and the data pipeline need the rest.
  const double budget =
      available ? 0.5 * (static_cast<double>(*available) - fixed_bytes) : INFINITY;
  if (requested > 0) {
    choice.sequences = requested;
    choice.bytes_needed = bytes_per_sequence * static_cast<double>(requested);
    if (available && choice.bytes_needed > budget) {
      throw InputError(
          "", "train.micro_batch",
          std::to_string(requested) + " sequences need about " + Gb(choice.bytes_needed) +
              " of activations, more than the " + Gb(std::max(budget, 0.0)) +
              " this machine has for them (half of the " + Gb(static_cast<double>(*available)) +
              " free, after " + Gb(fixed_bytes) +
              " of weights and optimizer state): choose a smaller train.micro_batch, or 0 to "
              "have it chosen");
    }
    choice.reason = "train.micro_batch = " + std::to_string(requested);
    return choice;
  }
  int64_t fits = cap;
  if (available) {
    fits = static_cast<int64_t>(std::floor(std::max(budget, 0.0) / bytes_per_sequence));
    if (fits < 1) {
      throw InputError("", "train.micro_batch",
                       "one sequence needs about " + Gb(bytes_per_sequence) +
                           " of activations, more than the " + Gb(std::max(budget, 0.0)) +
                           " this machine has for them: the model or data.seq_len is too large "
                           "for this machine");
    }
  }
  choice.sequences = std::clamp<int64_t>(fits, 1, cap);
  choice.bytes_needed = bytes_per_sequence * static_cast<double>(choice.sequences);
  choice.reason = "micro-batch of " + std::to_string(choice.sequences) +
                  " sequences chosen to fit (about " + Gb(choice.bytes_needed) + " of activations" +
                  (available ? ", of " + Gb(static_cast<double>(*available)) + " free" : "") + ")";
  return choice;
}

}  // namespace ablate::core

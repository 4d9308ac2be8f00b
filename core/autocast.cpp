#include "core/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace ablate::core {

namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void Enable(AutocastDevice device, bool on) {
  const auto type = device == AutocastDevice::kCpu ? at::kCPU : at::kCUDA;
  if (on) at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, on);
}
#else
void Enable(AutocastDevice device, bool on) {
  if (device == AutocastDevice::kCpu) {
    if (on) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(on);
  } else {
    if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
  }
}
#endif

}  // namespace

BfloatAutocast::BfloatAutocast(AutocastDevice device) : device_(device) {
  Enable(device_, true);
  at::autocast::increment_nesting();
}

BfloatAutocast::~BfloatAutocast() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  Enable(device_, false);
}

}  // namespace ablate::core

#include "results/run_status.h"

#include <array>
#include <utility>

namespace ablate::results {
namespace {

constexpr std::array<std::pair<RunStatus, std::string_view>, 6> kNames = {{
    {RunStatus::kQueued, "queued"},
    {RunStatus::kRunning, "running"},
    {RunStatus::kCompleted, "completed"},
    {RunStatus::kFailed, "failed"},
    {RunStatus::kDiverged, "diverged"},
    {RunStatus::kInterrupted, "interrupted"},
}};

}  // namespace

std::string_view StatusName(RunStatus status) {
  for (const auto& [value, name] : kNames) {
    if (value == status) return name;
  }
  return "?";
}

std::optional<RunStatus> ParseStatus(std::string_view name) {
  for (const auto& [value, text] : kNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

bool IsFinal(RunStatus status) {
  return status != RunStatus::kQueued && status != RunStatus::kRunning;
}

}  // namespace ablate::results

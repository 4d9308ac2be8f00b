// The statuses a run moves through, one enum instead of string literals: queued -> running ->
// completed | failed | diverged | interrupted (interrupted, failed and diverged runs can be queued
// again). The names are what the runs table stores and SQL compares.
#pragma once

#include <optional>
#include <string_view>

namespace ablate::results {

enum class RunStatus { kQueued, kRunning, kCompleted, kFailed, kDiverged, kInterrupted };

std::string_view StatusName(RunStatus status);
// The status of a stored name; nullopt for any other text.
std::optional<RunStatus> ParseStatus(std::string_view name);
// completed, failed, diverged or interrupted: where a running run ends.
bool IsFinal(RunStatus status);

}  // namespace ablate::results

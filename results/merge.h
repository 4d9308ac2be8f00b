// `ablate merge`: whole results databases into one (two clusters, a laptop and a cluster).
// Experiments match by name, runs by (experiment, key); a run keeps its furthest status, metric
// points are united by (run, name, step), final metrics with their per-example outcomes,
// provenance and artifacts' paths are kept as recorded. Idempotent, and the sources are only
// read. The remote backends' bookkeeping of a database (run logs, remote jobs and tasks) belongs
// to its head and is not merged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/store.h"

namespace ablate::results {

// Which copy wins when a run is completed in both with different final metrics.
enum class MergePrefer {
  kNewest,  // the copy that finished later
  kFirst,   // the copy already in the destination (or in the source given first)
};

struct MergeResult {
  int experiments_added = 0;
  int runs_added = 0;
  int runs_advanced = 0;  // runs that took the source's further status
  int64_t points_added = 0;
  int finals_added = 0;
  int outcomes_added = 0;  // per-example outcome records, (run, source, replicate) each
  // One line per run completed in both with different final metrics, with what was kept.
  std::vector<std::string> conflicts;
};

// Merges the database at `source` into `into`, in one transaction. Throws InputError naming the
// source when it is not an ablate database or is newer than this build.
MergeResult Merge(Store& into, const std::string& source, MergePrefer prefer);

}  // namespace ablate::results

#include "runner/backend.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "base/error.h"
#include "base/list_text.h"
#include "base/suggest.h"
#include "results/collect.h"
#include "results/sqlite.h"

namespace ablate::runner {

// Each backend's factory, defined in its own file, beside its row below.
std::unique_ptr<Backend> MakeLocalBackend();  // backend_local.cpp
std::unique_ptr<Backend> MakeSlurmBackend();  // backend_slurm.cpp

const std::vector<BackendEntry>& Backends() {
  static const std::vector<BackendEntry> backends = {
      {"local", "--jobs worker processes here", MakeLocalBackend},
      {"slurm", "one job array element per queued run, at most --jobs at once", MakeSlurmBackend},
  };
  return backends;
}

void Backend::AddRunOptions(boost::program_options::options_description&) const {}

Scheduler Backend::scheduler() const { return {}; }

std::unique_ptr<Backend> MakeBackend(const std::string& name) {
  for (const auto& entry : Backends()) {
    if (name == entry.name) return entry.make();
  }
  const std::vector<std::string> names = BackendNames();
  throw InputError("", "--backend",
                   "unknown backend \"" + name + "\": expected " + OrList(names) +
                       DidYouMean(ClosestNames(name, names)));
}

std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const auto& entry : Backends()) names.emplace_back(entry.name);
  return names;
}

void CollectLogs(results::Store& store, const std::optional<std::string>& experiment,
                 std::ostream& err) {
  const results::CollectResult collected = results::Collect(store, experiment);
  for (const auto& problem : collected.problems) err << "ablate collect: " << problem << "\n";
  if (collected.skipped > 0) {
    err << "ablate collect: left out " << collected.skipped
        << " torn record(s) (a task died while writing them)\n";
  }
}

void CollectAndReconcile(results::Store& store, const std::string& experiment,
                         const std::vector<std::string>& ask, std::ostream& err) {
  CollectLogs(store, experiment.empty() ? std::nullopt : std::optional<std::string>(experiment),
              err);
  if (experiment.empty()) return;
  for (const auto& entry : Backends()) {
    if (std::find(ask.begin(), ask.end(), entry.name) != ask.end())
      entry.make()->Reconcile(store, experiment, err);
  }
}

void CollectBeforeReading(const std::string& db, const std::optional<std::string>& experiment,
                          const std::vector<std::string>& ask, std::ostream& err) {
  if (!std::filesystem::exists(db)) return;
  {
    const auto reader = results::Connection::Open(db, results::Connection::Mode::kReadOnly);
    if (!results::HasRunLogs(reader, experiment)) return;
  }
  if (::access(db.c_str(), W_OK) != 0) {
    err << "ablate: " << db << " is read-only here: showing what it holds, without the run logs' "
        << "newest records (ablate collect adds them)\n";
    return;
  }
  auto store = results::Store::Open(db);
  if (experiment) {
    CollectAndReconcile(store, *experiment, ask, err);
    return;
  }
  for (const auto& name : results::ExperimentsWithRunLogs(store.connection()))
    CollectAndReconcile(store, name, ask, err);
}

std::vector<Scheduler> Schedulers() {
  std::vector<Scheduler> schedulers;
  for (const auto& entry : Backends()) {
    Scheduler scheduler = entry.make()->scheduler();
    if (!scheduler.name.empty()) schedulers.push_back(std::move(scheduler));
  }
  return schedulers;
}

std::optional<Placement> PlacementFromEnvironment(const core::Environment& env) {
  auto read = [&](const std::string& variable) -> std::optional<std::string> {
    if (variable.empty()) return std::nullopt;
    return env(variable);
  };
  for (Scheduler& scheduler : Schedulers()) {
    const auto job = read(scheduler.job_variable);
    const auto index = read(scheduler.array_index_variable);
    const auto per_task = read(scheduler.cpus_per_task_variable);
    const auto on_node = read(scheduler.cpus_on_node_variable);
    if (!job && !index && !per_task && !on_node) continue;
    Placement placement;
    placement.scheduler = std::move(scheduler);
    placement.in_job = job.has_value();
    if (index) placement.array_index = std::atol(index->c_str());
    if (per_task) placement.cpus_per_task = std::atoi(per_task->c_str());
    if (on_node) placement.cpus_on_node = std::atoi(on_node->c_str());
    return placement;
  }
  return std::nullopt;
}

}  // namespace ablate::runner
